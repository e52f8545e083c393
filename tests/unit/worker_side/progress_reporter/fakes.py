"""A notifier for the progress reporter's tests: it records the progress it is given."""

import asyncio

from src.apps.background_jobs.messages import JobOutcome, ProgressUpdate


class Heard:
    """A notifier that records the progress it is given, and lets a test wait for the n-th."""

    def __init__(self) -> None:
        self.updates: list[ProgressUpdate] = []
        self.arrived = asyncio.Event()

    async def notify(self, outcome: JobOutcome, channel_name: str) -> None:
        raise AssertionError("the reporter sends no outcome")

    async def progress(self, update: ProgressUpdate, channel_name: str) -> None:
        assert channel_name == "chan"
        self.updates.append(update)
        self.arrived.set()

    async def until(self, count: int, timeout: float = 2.0) -> list[tuple[int, str | None]]:
        """The reports heard, once there are ``count`` of them."""
        async with asyncio.timeout(timeout):
            while len(self.updates) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.sent

    @property
    def sent(self) -> list[tuple[int, str | None]]:
        return [(update.progress, update.partial) for update in self.updates]
