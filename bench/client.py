"""A lean load client: sockets that send jobs and match every frame to its job by ``job_id``.

One asyncio loop drives every socket. A socket's frames arrive in order, so the ``queuing`` frame of
its k-th job comes before that of its (k+1)-th: each ``queuing`` frame names the oldest job still
without an id, and the job's later frames are matched by that id. A job refused before queuing (too
many in flight) gets only an ``error`` frame, with an id not seen before: it ends the oldest job still
without an id.
"""

import asyncio
import json
import time
from collections import deque
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from src.apps.background_jobs.job_types import JOB_DURATIONS
from tests.support.protocol import job

#: The frame each benchmark job sends, by type: ``default`` (zero work) unless a scenario says otherwise.
JOB_FRAMES = {job_type: json.dumps(job(job_type, "bench")) for job_type in JOB_DURATIONS}

CONNECT_TIMEOUT = 30.0
CLOSE_TIMEOUT = 2.0
#: What the client offers by default: permessage-deflate, as every browser does (``websockets``' own default).
DEFAULT_COMPRESSION = "deflate"


def compression_name(compression: str | None) -> str:
    """The extension a ``compression`` setting offers, as the handshake names it: ``permessage-deflate`` or ``none``."""
    return "permessage-deflate" if compression == "deflate" else "none"


class Tracker:
    """Counts finished jobs across sockets, so a scenario can wait for all of them or stop at a stall."""

    def __init__(self) -> None:
        self.expected = 0
        self.finished = 0
        self._all_done = asyncio.Event()

    def expect(self, count: int) -> None:
        """``count`` more jobs will finish (or be lost)."""
        self.expected += count
        self._all_done.clear()

    def job_finished(self) -> None:
        """One more job has its outcome (or is known to be lost)."""
        self.finished += 1
        if self.finished >= self.expected:
            self._all_done.set()

    async def wait(self, stall_timeout: float) -> bool:
        """Wait until every expected job has finished; give up after ``stall_timeout`` s without one finishing."""
        last = -1
        while self.finished < self.expected:
            if self.finished == last:
                return False
            last = self.finished
            try:
                async with asyncio.timeout(stall_timeout):
                    await self._all_done.wait()
            except TimeoutError:
                pass
        return True


class Job:
    """One job sent on a socket: when it was sent, its id once ``queuing`` names it, and how it ended."""

    __slots__ = ("done", "error", "finished_at", "job_id", "sent_at", "status")

    def __init__(self, sent_at: float, done: "asyncio.Future[None]") -> None:
        self.sent_at = sent_at
        self.done = done
        self.job_id: str | None = None
        self.finished_at: float | None = None
        #: "result" or "error" from the server; "invalid" for a validation error; None while pending or lost.
        self.status: str | None = None
        #: The message of an ``error`` outcome.
        self.error: str | None = None

    @property
    def latency(self) -> float | None:
        """Seconds from send to the final frame, once there is one."""
        return None if self.finished_at is None else self.finished_at - self.sent_at


class JobSocket:
    """An open socket to the server whose reader task matches frames to the jobs sent on it."""

    def __init__(self, ws: ClientConnection, tracker: Tracker) -> None:
        self._ws = ws
        self._tracker = tracker
        self._loop = asyncio.get_running_loop()
        self._awaiting_id: deque[Job] = deque()
        self._by_id: dict[str, Job] = {}
        self._connected: asyncio.Future[None] = self._loop.create_future()
        #: Frames about jobs this socket did not send (or that had ended), or a second outcome: routing errors.
        self.unmatched = 0
        #: ``progress`` frames about this socket's running jobs.
        self.progress_frames = 0
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(
        cls,
        url: str,
        tracker: Tracker,
        timeout: float = CONNECT_TIMEOUT,
        compression: str | None = DEFAULT_COMPRESSION,
    ) -> "JobSocket":
        """Connect (no keepalive pings; ``compression="deflate"`` offers permessage-deflate, ``None`` nothing).

        Then wait for the ``connected`` status.
        """
        ws = await connect(
            url,
            ping_interval=None,
            compression=compression,
            proxy=None,
            open_timeout=timeout,
            close_timeout=CLOSE_TIMEOUT,
        )
        sock = cls(ws, tracker)
        try:
            async with asyncio.timeout(timeout):
                await sock._connected
        except BaseException:
            await sock.close()
            raise
        return sock

    @property
    def extensions(self) -> list[str]:
        """The extensions the handshake settled on (``permessage-deflate`` when the server took the offer)."""
        return [extension.name for extension in self._ws.protocol.extensions]

    async def send_job(self, job_type: str = "default") -> Job:
        """Send one job; the returned job's ``done`` resolves when it ends (or is lost with the socket)."""
        job = Job(time.perf_counter(), self._loop.create_future())
        self._awaiting_id.append(job)
        self._tracker.expect(1)
        try:
            await self._ws.send(JOB_FRAMES[job_type])
        except BaseException:
            self._awaiting_id.remove(job)
            self._tracker.expected -= 1
            raise
        return job

    async def close(self) -> None:
        """Close the socket and stop reading; jobs still pending count as lost."""
        await self._ws.close()
        await self._reader

    async def _read(self) -> None:
        try:
            async for message in self._ws:
                now = time.perf_counter()
                frame: dict[str, Any] = json.loads(message)
                action = frame.get("action")
                if action == "job_status":
                    self._on_status(frame["payload"], now)
                elif action == "error" and self._awaiting_id:
                    self._finish(self._awaiting_id.popleft(), "invalid", now)
        except ConnectionClosed:
            pass
        finally:
            if not self._connected.done():
                self._connected.set_exception(ConnectionError("closed before the connected status"))
            for pending in (*self._awaiting_id, *self._by_id.values()):
                self._finish(pending, None, None)
            self._awaiting_id.clear()
            self._by_id.clear()

    def _on_status(self, payload: dict[str, Any], now: float) -> None:
        status = payload["status"]
        if status == "queuing":
            if not self._awaiting_id:
                self.unmatched += 1
                return
            job = self._awaiting_id.popleft()
            job.job_id = payload["job_id"]
            self._by_id[payload["job_id"]] = job
        elif status in ("result", "error"):
            pending = self._by_id.pop(payload.get("job_id", ""), None)
            if pending is None and status == "error" and self._awaiting_id:
                pending = self._awaiting_id.popleft()  # refused before queuing (too many jobs in flight)
            if pending is None:
                self.unmatched += 1
            else:
                if status == "error":
                    pending.error = payload.get("message")
                self._finish(pending, status, now)
        elif status == "progress":
            if payload.get("job_id") in self._by_id:
                self.progress_frames += 1
            else:
                self.unmatched += 1  # progress of another socket's job, or after its outcome
        elif status == "connected" and not self._connected.done():
            self._connected.set_result(None)

    def _finish(self, job: Job, status: str | None, now: float | None) -> None:
        job.status = status
        job.finished_at = now
        if not job.done.done():
            job.done.set_result(None)
        self._tracker.job_finished()
