"""Counts the futures the running loop has made that are still alive: what a waiting socket holds on to."""

import asyncio
import gc
import weakref
from typing import Any

import pytest


class FutureWatch:
    """Watches every future the running loop makes (``loop.create_future``), to count those still alive."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        loop = asyncio.get_running_loop()
        make = loop.create_future
        self._made: list[weakref.ref[asyncio.Future[Any]]] = []

        def create_future() -> "asyncio.Future[Any]":
            future = make()
            self._made.append(weakref.ref(future))
            return future

        monkeypatch.setattr(loop, "create_future", create_future)

    def alive(self) -> int:
        """How many of the futures made are still referenced."""
        gc.collect()
        return sum(1 for ref in self._made if ref() is not None)
