"""``job_watch`` through real processes: a job's frames reach a socket on another server that watches it, while the
socket that queued it is open and after it has gone, racing the outcome, across a worker crash; exactly one outcome
each time. Each test runs with either worker command."""

import asyncio
import itertools
from typing import Any

import httpx
import jwt
import pytest

from tests.support.processes import ServerProcess, WorkerProcess, running, wait_for_output
from tests.support.protocol import ENDING_STATUSES, ends, has_status, is_progress, job, payloads_of, unwatch, watch
from tests.support.ws_driver import JobSocket, JSONFrame

pytestmark = pytest.mark.processes

PROMPT = 5.0
#: generate works 4 s at scale 1: 2 s here, reporting every 0.25 s.
SETTINGS = {"job_time_scale": "0.5"}


async def until_final(ws: JobSocket, job_ids: list[str], timeout: float) -> None:
    """Until each of ``job_ids`` has had the frame that ends it on ``ws``, in whatever order (frames received before
    count)."""
    remaining = set(job_ids) - {
        frame["payload"].get("job_id") for frame in ws.data if frame.get("payload", {}).get("status") in ENDING_STATUSES
    }

    def ends_the_last(frame: JSONFrame) -> bool:
        if frame["payload"].get("status") in ENDING_STATUSES:
            remaining.discard(frame["payload"].get("job_id"))
        return not remaining

    if remaining:
        await ws.receive_until(ends_the_last, timeout=timeout)


def assert_watched_in_order(payloads: list[dict[str, Any]]) -> None:
    """A watch's frames: its status first, then progress never going down, then one outcome, the last frame."""
    assert payloads[0]["status"] in {"queued", "in_progress", "result"}, payloads[0]
    finals = [p for p in payloads if p["status"] in ENDING_STATUSES]
    assert len(finals) == 1, payloads
    assert payloads[-1] is finals[0]
    percents = [p["progress"] for p in payloads if "progress" in p]
    assert percents == sorted(percents), percents


async def queue(ws: JobSocket, job_type: str, content: str = "hello") -> str:
    await ws.send(job(job_type, content))
    frames = await ws.receive_until(has_status("queued"), timeout=PROMPT)
    job_id: str = frames[-1]["payload"]["job_id"]
    return job_id


async def test_a_socket_on_another_server_watches_a_job_while_its_own_socket_gets_its_frames_too(
    worker_class: type[WorkerProcess], redis_url: str, http: httpx.AsyncClient
) -> None:
    """Two tabs, two servers: both see the job move, and both get its one result, the same frame."""
    servers = [ServerProcess(redis_url, port=None, **SETTINGS) for _ in range(2)]
    with running(worker_class(redis_url, **SETTINGS), *servers):
        async with JobSocket(http, servers[0].ws_url) as owner, JobSocket(http, servers[1].ws_url) as watcher:
            await owner.receive(timeout=PROMPT)
            await watcher.receive(timeout=PROMPT)
            job_id = await queue(owner, "generate", "two tabs")
            seen = await owner.receive_until(lambda f: is_progress(f) and f["payload"]["progress"] > 0, timeout=PROMPT)
            await watcher.send(watch(job_id))
            watched = await watcher.receive_until(ends(job_id), timeout=PROMPT)
            owned = await owner.receive_until(ends(job_id), timeout=PROMPT)
            nothing_more = await watcher.receive_nothing(0.5)

    payloads = payloads_of(job_id, watched)
    assert_watched_in_order(payloads)
    assert payloads[0]["status"] == "in_progress"
    assert payloads[0]["progress"] >= seen[-1]["payload"]["progress"]
    assert sum(1 for p in payloads if p["status"] == "progress") >= 2  # pushed, not only answered
    assert payloads[-1] == owned[-1]["payload"]
    assert payloads[-1]["status"] == "result"
    assert nothing_more


async def test_a_watch_after_the_queuing_socket_has_gone_gets_the_outcome(
    worker_class: type[WorkerProcess], redis_url: str, http: httpx.AsyncClient
) -> None:
    """The tab that queued the job is closed; another socket, on another server, watches the job to its result."""
    servers = [ServerProcess(redis_url, port=None, **SETTINGS) for _ in range(2)]
    with running(worker_class(redis_url, **SETTINGS), *servers):
        async with JobSocket(http, servers[0].ws_url) as owner:
            await owner.receive(timeout=PROMPT)
            job_id = await queue(owner, "translate", "gone")
        async with JobSocket(http, servers[1].ws_url) as watcher:
            await watcher.receive(timeout=PROMPT)
            await watcher.send(watch(job_id))
            watched = await watcher.receive_until(ends(job_id), timeout=PROMPT)

    payloads = payloads_of(job_id, watched)
    assert_watched_in_order(payloads)
    assert payloads[0]["status"] in {"queued", "in_progress"}
    assert payloads[-1] == {
        "status": "result",
        "job_id": job_id,
        "job_type": "translate",
        "message": "🌍 Translated: 'gone' → '[TRANSLATED: gone]'",
    }


async def test_watches_racing_their_jobs_outcomes_get_exactly_one_outcome_each(
    worker_class: type[WorkerProcess], redis_url: str, http: httpx.AsyncClient
) -> None:
    """Short jobs, each watched from another server the moment it is queued, and again a little later: whichever
    comes first, the outcome pushed or the status answering the watch, each watch ends with exactly one outcome."""
    quick = {"job_time_scale": "0.02"}  # translate: 40 ms
    servers = [ServerProcess(redis_url, port=None, **quick) for _ in range(2)]
    with running(worker_class(redis_url, **quick), *servers):
        async with JobSocket(http, servers[0].ws_url) as owner, JobSocket(http, servers[1].ws_url) as watcher:
            await owner.receive(timeout=PROMPT)
            await watcher.receive(timeout=PROMPT)
            job_ids = []
            for delay in itertools.islice(itertools.cycle((0.0, 0.01, 0.03, 0.05)), 24):
                job_id = await queue(owner, "translate", "race")
                await asyncio.sleep(delay)  # where the watch lands against the job's end
                await watcher.send(watch(job_id))
                job_ids.append(job_id)
            await until_final(watcher, job_ids, timeout=PROMPT)
            await watcher.receive_nothing(0.5)
            frames = watcher.data

    for job_id in job_ids:
        payloads = payloads_of(job_id, frames)
        assert_watched_in_order(payloads)
        assert payloads[-1]["status"] == "result"


async def test_a_watch_goes_on_across_a_worker_crash_and_the_re_run(
    worker_class: type[WorkerProcess], redis_url: str, http: httpx.AsyncClient
) -> None:
    """The worker running a watched job is killed; a new worker re-runs it: the watch still ends in its one
    result, and its progress never went down."""
    settings = {"job_time_scale": "1", "job_timeout": "5", "worker_log_jobs": "true"}
    first, second = worker_class(redis_url, **settings), worker_class(redis_url, **settings)
    servers = [ServerProcess(redis_url, port=None, **settings) for _ in range(2)]
    with running(first, *servers):
        async with JobSocket(http, servers[0].ws_url) as owner, JobSocket(http, servers[1].ws_url) as watcher:
            await owner.receive(timeout=PROMPT)
            await watcher.receive(timeout=PROMPT)
            job_id = await queue(owner, "generate", "survive")
            await wait_for_output(first, f"→ {job_id}:generate", timeout=PROMPT)
            await watcher.send(watch(job_id))
            await watcher.receive_until(lambda f: is_progress(f) and f["payload"]["progress"] >= 25, timeout=PROMPT)
            first.kill()
            with running(second):
                watched = await watcher.receive_until(ends(job_id), timeout=45)
                await watcher.receive_nothing(0.5)
                frames = watcher.data

    payloads = payloads_of(job_id, frames)
    assert_watched_in_order(payloads)
    assert payloads[-1]["status"] == "result"
    assert watched[-1]["payload"]["message"].startswith("🤖 AI Response to 'survive'")


async def test_max_watches_refuses_one_more_and_unwatch_ends_a_watch(
    worker_class: type[WorkerProcess], redis_url: str, http: httpx.AsyncClient
) -> None:
    """With ``MAX_WATCHES=2`` a third watch gets an error saying so; ``job_unwatch`` answers ``unwatched``, no more
    of that job's frames come, and it frees a watch."""
    settings = {**SETTINGS, "max_watches": "2"}
    server = ServerProcess(redis_url, port=None, **settings)
    with running(worker_class(redis_url, **settings), server):
        async with JobSocket(http, server.ws_url) as owner, JobSocket(http, server.ws_url) as watcher:
            await owner.receive(timeout=PROMPT)
            await watcher.receive(timeout=PROMPT)
            job_ids = [await queue(owner, "generate", f"job {n}") for n in range(4)]
            for job_id in job_ids[:3]:
                await watcher.send(watch(job_id))
            about_third = await watcher.receive_until(
                lambda f: f["payload"].get("job_id") == job_ids[2], timeout=PROMPT
            )
            third = about_third[-1]["payload"]
            await watcher.send(unwatch(job_ids[0]))
            unwatched = await watcher.receive_until(has_status("unwatched"), timeout=PROMPT)
            await watcher.send(watch(job_ids[3]))
            await until_final(watcher, [job_ids[1], job_ids[3]], timeout=PROMPT)
            await until_final(owner, [job_ids[0]], timeout=PROMPT)
            await watcher.receive_nothing(0.3)
            frames = watcher.data

    assert third == {
        "status": "error",
        "job_id": job_ids[2],
        "job_type": "generate",
        "message": "❌ Too many jobs watched on this socket (2); unwatch one first",
    }
    assert unwatched[-1]["payload"] == {
        "status": "unwatched",
        "job_id": job_ids[0],
        "job_type": "generate",
        "message": f"👋 No longer watching job {job_ids[0]}",
    }
    after_unwatch = frames[frames.index(unwatched[-1]) + 1 :]
    assert payloads_of(job_ids[0], after_unwatch) == []
    assert [p["status"] for p in payloads_of(job_ids[2], frames)] == ["error"]  # refused: nothing pushed
    assert_watched_in_order(payloads_of(job_ids[1], frames))
    assert_watched_in_order(payloads_of(job_ids[3], frames))


async def test_another_users_job_answers_as_an_unknown_one_and_pushes_nothing(
    worker_class: type[WorkerProcess], redis_url: str, http: httpx.AsyncClient
) -> None:
    """With token auth on, bob's watch of alice's job is answered as his watch of a job that never was, and bob
    gets none of its frames while alice gets her result."""
    secret = "a-secret-long-enough-for-hs256-keys!"
    settings = {**SETTINGS, "auth_jwt_secret": secret}
    server = ServerProcess(redis_url, port=None, **settings)

    def url_for(user: str) -> str:
        token = jwt.encode({"sub": user, "exp": 4_000_000_000}, secret, algorithm="HS256")
        return f"{server.ws_url}?token={token}"

    with running(worker_class(redis_url, **settings), server):
        async with JobSocket(http, url_for("alice")) as alice, JobSocket(http, url_for("bob")) as bob:
            await alice.receive(timeout=PROMPT)
            await bob.receive(timeout=PROMPT)
            job_id = await queue(alice, "generate", "mine")
            never_was = "generate_" + "0" * 32
            await bob.send(watch(job_id))
            theirs = (await bob.receive(timeout=PROMPT))["payload"]
            await bob.send(watch(never_was))
            unknown = (await bob.receive(timeout=PROMPT))["payload"]
            await alice.receive_until(ends(job_id), timeout=PROMPT)
            quiet = await bob.receive_nothing(0.3)

    assert theirs == {**unknown, "job_id": job_id, "message": unknown["message"].replace(never_was, job_id)}
    assert theirs["status"] == "not_found"
    assert quiet
