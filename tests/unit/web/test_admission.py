"""What one server takes on (``Admission``), on its own: the sockets it counts against ``MAX_CONNECTIONS`` (and per
client address against ``MAX_SOCKETS_PER_CLIENT``), and the enqueue backlog against ``MAX_ENQUEUE_BACKLOG`` that
holds sockets' next frames back until it is under the bound again; and through the app: a busy server answers later
instead of refusing, its bounds on sockets, on the jobs it takes before writing them and on ARQ's queue
(``MAX_QUEUE_DEPTH``) each saying so."""

import asyncio
from typing import Any

import pytest
from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator
from dirty_equals import IsStr
from fakeredis import FakeServer
from fastapi import FastAPI

from src.settings import Settings
from src.web.admission import Admission, Refusal
from src.web.job_queue import JobQueue
from tests.support.communicator import socket_on
from tests.support.protocol import PING, PONG, job_status

AT_CAPACITY = Refusal("capacity", "The server holds its most sockets (2); try again shortly.")


def admission(
    max_enqueue_backlog: int = 2, max_connections: int = 2, max_sockets_per_client: int | None = None
) -> Admission:
    return Admission(
        Settings(
            max_enqueue_backlog=max_enqueue_backlog,
            max_connections=max_connections,
            max_sockets_per_client=max_sockets_per_client,
        )
    )


async def let_run(waiter: "asyncio.Task[None]") -> bool:
    """Give the waiter one turn of the loop: whether it has returned (a wait on room there is returns at once)."""
    await asyncio.sleep(0)
    return waiter.done()


async def test_the_backlog_counts_each_job_taken_on_and_each_handed_off() -> None:
    taken = admission(max_enqueue_backlog=10)

    taken.take_on()
    taken.take_on()
    taken.take_on()
    assert taken.backlog == 3
    taken.hand_off()
    assert taken.backlog == 2


async def test_frames_wait_at_the_bound_and_are_read_once_a_job_leaves_the_backlog() -> None:
    taken = admission(max_enqueue_backlog=2)
    taken.take_on()
    assert await let_run(asyncio.create_task(taken.wait_for_room())), "one job under a bound of two: room"
    taken.take_on()

    waiter = asyncio.create_task(taken.wait_for_room())
    assert not await let_run(waiter)

    taken.hand_off()
    await asyncio.wait_for(waiter, timeout=1)  # returns: room again


async def test_a_backlog_that_went_over_the_bound_holds_frames_until_it_is_under_it() -> None:
    """Frames already read may take jobs on past the bound; handing one off back to the bound is not room yet."""
    taken = admission(max_enqueue_backlog=2)
    for _ in range(3):
        taken.take_on()
    waiter = asyncio.create_task(taken.wait_for_room())

    taken.hand_off()
    assert not await let_run(waiter)

    taken.hand_off()
    await asyncio.wait_for(waiter, timeout=1)  # returns: room again


def test_sockets_are_counted_up_to_max_connections_and_a_closed_one_makes_room() -> None:
    held = admission(max_connections=2)

    assert [held.open_socket(), held.open_socket(), held.open_socket()] == [None, None, AT_CAPACITY]
    assert held.sockets == 2
    held.close_socket()
    assert held.sockets == 1
    assert held.open_socket() is None
    assert held.sockets == 2


def test_sockets_from_one_address_are_counted_up_to_max_sockets_per_client_and_a_closed_one_makes_room() -> None:
    held = admission(max_connections=10, max_sockets_per_client=2)

    opened = [held.open_socket("10.0.0.1") for _ in range(3)]

    assert opened == [
        None,
        None,
        Refusal("client_sockets", "This client address holds its most sockets (2); close one and try again."),
    ]
    assert held.open_socket("10.0.0.2") is None  # another address is served
    held.close_socket("10.0.0.1")
    assert held.open_socket("10.0.0.1") is None
    assert (held.sockets, held.clients) == (3, {"10.0.0.1": 2, "10.0.0.2": 1})


def test_an_address_whose_sockets_all_closed_is_forgotten() -> None:
    held = admission(max_sockets_per_client=2)
    held.open_socket("10.0.0.1")

    held.close_socket("10.0.0.1")

    assert (held.sockets, held.clients) == (0, {})


def test_a_socket_refused_for_max_connections_is_not_counted_for_its_address() -> None:
    held = admission(max_connections=2, max_sockets_per_client=5)
    held.open_socket("10.0.0.1")
    held.open_socket("10.0.0.2")

    assert held.open_socket("10.0.0.1") == AT_CAPACITY
    assert held.clients == {"10.0.0.1": 1, "10.0.0.2": 1}


# --- a busy server, through the app ----------------------------------------------------------------------------

MAX_CONNECTIONS = 2
MAX_QUEUE_DEPTH = 1


@pytest.fixture
def settings() -> Settings:
    """The unit layer's settings with small bounds: two sockets, a backlog of one job, a queue of one."""
    return Settings(
        redis_url="redis://unit-tests-use-no-redis:1",
        job_time_scale=0.0,
        max_connections=MAX_CONNECTIONS,
        max_enqueue_backlog=1,
        max_queue_depth=MAX_QUEUE_DEPTH,
    )


async def open_socket(app: FastAPI, sockets: list[WebsocketCommunicator]) -> tuple[WebsocketCommunicator, Any]:
    """Open a socket on the app: the communicator and its first output (the connected frame, or a close)."""
    ws = socket_on(app)
    sockets.append(ws)
    await ws.connect()
    return ws, await ws.receive_output(timeout=1)


def job(content: str = "hi") -> dict[str, Any]:
    """A default job frame."""
    return {"action": "job", "payload": {"type": "default", "content": content}}


async def test_a_handshake_over_max_connections_is_closed_with_1013_saying_so_and_welcome_once_one_closes(
    app: FastAPI, sockets: list[WebsocketCommunicator], caplog: pytest.LogCaptureFixture
) -> None:
    """A handshake past ``MAX_CONNECTIONS`` is closed with 1013 saying why, and logged; after a close, one is served."""
    held = [await open_socket(app, sockets) for _ in range(MAX_CONNECTIONS)]
    assert [output["type"] for _, output in held] == ["websocket.send"] * MAX_CONNECTIONS

    _, refused = await open_socket(app, sockets)

    assert refused == {
        "type": "websocket.close",
        "code": 1013,
        "reason": f"The server holds its most sockets ({MAX_CONNECTIONS}); try again shortly.",
    }
    assert [" ".join(r.getMessage().split()) for r in caplog.records if r.levelname == "WARNING"] == [
        f"[warning ] refusing a WebSocket: the server holds MAX_CONNECTIONS sockets limit={MAX_CONNECTIONS}"
    ]
    await held[0][0].disconnect()
    _, welcome = await open_socket(app, sockets)
    assert welcome["type"] == "websocket.send"


async def test_the_servers_sockets_are_counted_while_they_are_open(
    app: FastAPI, sockets: list[WebsocketCommunicator]
) -> None:
    admission: Admission = app.state.admission
    ws, _ = await open_socket(app, sockets)
    assert admission.sockets == 1

    await ws.disconnect()

    assert admission.sockets == 0


async def test_at_max_enqueue_backlog_the_next_frame_waits_unread_and_is_answered_once_the_backlog_drains(
    app: FastAPI, jobs: JobQueue, sockets: list[WebsocketCommunicator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At ``MAX_ENQUEUE_BACKLOG``, another socket's ``ping`` waits unread until Redis takes the job; then ``pong``."""
    release = asyncio.Event()
    enqueue = jobs.writer.enqueue

    async def slow_redis(*args: Any) -> bool:
        await release.wait()
        return await enqueue(*args)

    monkeypatch.setattr(jobs.writer, "enqueue", slow_redis)
    busy, _ = await open_socket(app, sockets)
    other, _ = await open_socket(app, sockets)
    await busy.send_json_to(job())
    queuing = await busy.receive_json_from(timeout=1)  # the one job of the backlog, being written

    await other.send_json_to(PING)
    assert await other.receive_nothing(timeout=0.2)  # not read while the backlog is full
    release.set()

    assert await busy.receive_json_from(timeout=1) == job_status(
        "queued", queuing["payload"]["job_id"], "default", IsStr(regex=r"📋 Job .+ queued successfully!")
    )
    assert await other.receive_json_from(timeout=1) == PONG


async def test_a_job_over_max_queue_depth_gets_an_error_saying_the_queue_is_full_and_is_not_queued(
    ws: WebsocketCommunicator, pool: ArqRedis
) -> None:
    """At ``MAX_QUEUE_DEPTH``, a job gets ``error`` saying the queue is full and is not queued; the socket goes on."""
    await ws.send_json_to(job("first"))
    assert [(await ws.receive_json_from(timeout=1))["payload"]["status"] for _ in range(2)] == ["queuing", "queued"]

    await ws.send_json_to(job("second"))

    queuing = await ws.receive_json_from(timeout=1)
    job_id = queuing["payload"]["job_id"]
    assert await ws.receive_json_from(timeout=1) == job_status(
        "error",
        job_id,
        "default",
        f"❌ Error queuing job: the job queue is full ({MAX_QUEUE_DEPTH} jobs); try again later",
    )
    assert job_id not in {job.job_id for job in await pool.queued_jobs()}
    await ws.send_json_to(PING)
    assert await ws.receive_json_from(timeout=1) == PONG  # the socket goes on


async def test_handshakes_that_arrive_together_share_one_ping_of_redis(
    app: FastAPI, jobs: JobQueue, sockets: list[WebsocketCommunicator], monkeypatch: pytest.MonkeyPatch
) -> None:
    pings: list[None] = []
    ping = jobs.pool.ping

    async def counted_ping(**kwargs: Any) -> Any:
        pings.append(None)
        await asyncio.sleep(0.05)  # Redis takes a moment: the other handshakes arrive meanwhile
        return await ping(**kwargs)

    monkeypatch.setattr(jobs.pool, "ping", counted_ping)

    outputs = await asyncio.gather(*(open_socket(app, sockets) for _ in range(MAX_CONNECTIONS)))

    assert [output for _, output in outputs] == [
        {"type": "websocket.send", "text": IsStr(regex=r'.*"connected".*')}
    ] * MAX_CONNECTIONS
    assert len(pings) == 1


async def test_after_an_enqueue_fails_the_next_handshake_asks_redis_again(
    app: FastAPI, jobs: JobQueue, sockets: list[WebsocketCommunicator], redis_server: FakeServer
) -> None:
    ws, _ = await open_socket(app, sockets)  # Redis answered a moment ago
    redis_server.connected = False

    await ws.send_json_to(job())
    assert [(await ws.receive_json_from(timeout=1))["payload"]["status"] for _ in range(2)] == ["queuing", "error"]
    _, refused = await open_socket(app, sockets)

    assert refused == {
        "type": "websocket.close",
        "code": 1013,
        "reason": "The job queue is unavailable; try again shortly.",
    }
