"""Redis Sentinel: a master, a replica and three sentinels; a real server and worker find the master through
them. The master is SIGKILLed mid-traffic: the replica is promoted, the server and the worker carry on without
a restart, every job told ``queued`` before it gets its outcome (``REDIS_MIN_REPLICAS_ACK=1``: a job is
``queued`` only once the replica holds it), and once the old master is back as a replica, jobs sent then are
queued and get their results."""

import asyncio
import contextlib
from typing import Any, cast

import httpx
import pytest
import redis

from tests.support.processes import WORKER_COMMANDS, ServerProcess, WorkerProcess, running
from tests.support.protocol import job
from tests.support.sentinel_cluster import MASTER_NAME, SentinelCluster, sentinel_cluster
from tests.support.ws_driver import FrameTimeout, JobSocket

pytestmark = pytest.mark.processes

PROMPT = 5.0
#: default's 1 s of work at 0.2; a job re-run after the failover is given up on after 3 s.
SETTINGS = {
    "job_time_scale": "0.2",
    "job_timeout": "3",
    "redis_min_replicas_ack": "1",
    "worker_health_check_interval": "1",
    "redis_sentinel_master": MASTER_NAME,
}
#: Seconds between two jobs sent, and how long the traffic runs before the kill; jobs sent once the server is
#: ready again after the failover.
SEND_EVERY = 0.1
BEFORE_KILL = 1.5
AFTER_FAILOVER_JOBS = 5
#: Seconds the sentinels get to promote the replica, and every queued job to get its outcome.
FAILOVER_WITHIN = 30.0
OUTCOMES_WITHIN = 60.0


class Traffic:
    """One socket's jobs and what came back: the ids told ``queued`` (and when), and each job's outcome."""

    def __init__(self, ws: JobSocket) -> None:
        self.ws = ws
        self.sent = 0
        self.sent_in: list[str] = []  # the phase each job was sent in, oldest first, until its queuing frame
        self.phase_of: dict[str, str] = {}
        self.queued: dict[str, str] = {}  # job id -> the phase it was sent in
        self.outcomes: dict[str, str] = {}
        self.refused: list[tuple[str, str]] = []  # (phase, message)
        self.sending = True
        self.phase = "before"

    async def read(self) -> None:
        while True:
            try:
                payload: dict[str, Any] = (await self.ws.receive(timeout=OUTCOMES_WITHIN))["payload"]
            except FrameTimeout:
                return
            status = payload.get("status")
            if status == "queuing":
                self.phase_of[payload["job_id"]] = self.sent_in.pop(0)  # a socket's frames come in order
            elif status == "queued":
                self.queued[payload["job_id"]] = self.phase_of[payload["job_id"]]
            elif status in ("result", "error", "cancelled"):
                if payload["job_id"] in self.queued or status != "error":
                    self.outcomes[payload["job_id"]] = status
                else:
                    self.refused.append((self.phase_of.get(payload["job_id"], "?"), str(payload.get("message"))))

    async def send_for(self, seconds: float) -> None:
        """Send a job every ``SEND_EVERY`` for ``seconds``, or until told to stop (never cut off mid-send)."""
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        self.sending = True
        while self.sending and loop.time() < until:
            self.sent_in.append(self.phase)
            await self.ws.send(job("default", f"job {self.sent}"))
            self.sent += 1
            await asyncio.sleep(SEND_EVERY)

    async def send(self, count: int) -> None:
        for _ in range(count):
            self.sent_in.append(self.phase)
            await self.ws.send(job("default", f"job {self.sent}"))
            self.sent += 1

    async def all_answered(self) -> None:
        """Until every job sent has ended: refused at once, or queued and then given its outcome."""
        while len(self.outcomes) + len(self.refused) < self.sent or set(self.queued) - set(self.outcomes):  # noqa: ASYNC110
            await asyncio.sleep(0.1)


async def ready_again(http: httpx.AsyncClient, url: str) -> None:
    """Until the server's ``/readyz`` says it reaches the (new) master and a worker checked in there."""
    async with asyncio.timeout(FAILOVER_WITHIN):
        while (await http.get(url + "/readyz")).status_code != 200:  # noqa: ASYNC110
            await asyncio.sleep(0.1)


async def promoted(cluster: SentinelCluster) -> None:
    """Until the sentinels name the replica as the master."""
    while cluster.master_addr() != ("127.0.0.1", cluster.replica_port):  # noqa: ASYNC110
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("worker_class", WORKER_COMMANDS.values(), ids=WORKER_COMMANDS)
async def test_sentinel_failover_mid_traffic_loses_no_queued_job_and_needs_no_restart(
    worker_class: type[WorkerProcess], http: httpx.AsyncClient
) -> None:
    with sentinel_cluster() as cluster:
        cluster.wait_until_sentinels_know_the_replica()
        url = cluster.url(cluster.master_port)  # the processes take only its database from it
        settings = {**SETTINGS, "redis_sentinels": cluster.sentinels}
        server = ServerProcess(url, **cast(dict[str, Any], settings))
        worker = worker_class(url, **settings)
        with running(worker, server):
            async with JobSocket(http, server.ws_url) as ws:
                await ws.receive(timeout=PROMPT)
                traffic = Traffic(ws)
                reading = asyncio.create_task(traffic.read())
                try:
                    await traffic.send_for(BEFORE_KILL)
                    cluster.kill_master()
                    traffic.phase = "during"
                    sending = asyncio.create_task(traffic.send_for(FAILOVER_WITHIN))
                    await asyncio.wait_for(promoted(cluster), FAILOVER_WITHIN)
                    traffic.sending = False  # a cancel could cut a send off after its phase was noted
                    await sending
                    await ready_again(http, server.http_url)
                    # With one replica promoted there is none left to copy jobs to: REDIS_MIN_REPLICAS_ACK=1
                    # refuses every job (an error frame) until the old master is back, as a replica.
                    await asyncio.to_thread(cluster.revive_old_master)
                    traffic.phase = "after"
                    await traffic.send(AFTER_FAILOVER_JOBS)
                    try:
                        await asyncio.wait_for(traffic.all_answered(), OUTCOMES_WITHIN)
                    except TimeoutError:
                        missing = {job: traffic.queued[job] for job in set(traffic.queued) - set(traffic.outcomes)}
                        pytest.fail(f"no outcome within {OUTCOMES_WITHIN:g}s for {missing}:\n{worker.log()[-2000:]}")
                finally:
                    reading.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await reading
            still_running = (server.is_running(), worker.is_running())

        role = redis.Redis.from_url(cluster.url(cluster.replica_port)).execute_command("ROLE")  # type: ignore[no-untyped-call]

    assert role[0] in (b"master", "master")
    assert still_running == (True, True)
    phases = list(traffic.queued.values())
    assert phases.count("before") >= 5, traffic.refused
    refused_after = [message for phase, message in traffic.refused if phase == "after"]
    assert phases.count("after") == AFTER_FAILOVER_JOBS, refused_after  # once a replica is back, all are queued
    assert set(traffic.outcomes) >= set(traffic.queued)  # every job told queued got its outcome
    after = [job_id for job_id, phase in traffic.queued.items() if phase == "after"]
    assert {traffic.outcomes[job_id] for job_id in after} == {"result"}
