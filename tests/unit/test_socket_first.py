"""The background-jobs socket goes straight to its consumer, past the app's middleware; everything else does not."""

from collections.abc import MutableMapping
from typing import Any

import pytest
from fastapi import FastAPI

from src.main import WS_PATH, SocketFirst, create_app
from src.settings import Settings
from src.web.host_allowlist import HostAllowlist


class Recorder:
    """An ASGI app that notes the scopes it is called with."""

    def __init__(self) -> None:
        self.scopes: list[MutableMapping[str, Any]] = []

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        self.scopes.append(scope)


async def nothing() -> MutableMapping[str, Any]:
    return {}


async def drop(message: MutableMapping[str, Any]) -> None:
    """Send nowhere."""


@pytest.mark.parametrize(
    ("kind", "path", "to_consumer"),
    [("websocket", WS_PATH, True), ("websocket", "/ws/other", False), ("http", WS_PATH, False), ("http", "/", False)],
    ids=["the background-jobs socket", "a socket on another path", "HTTP on the socket's path", "HTTP on /"],
)
async def test_only_the_background_jobs_socket_goes_straight_to_the_consumer(
    kind: str, path: str, to_consumer: bool
) -> None:
    app, consumer = Recorder(), Recorder()
    shortcut = SocketFirst(app, path=WS_PATH, endpoint=consumer)
    scope: MutableMapping[str, Any] = {"type": kind, "path": path}

    await shortcut(scope, nothing, drop)

    assert (consumer.scopes, app.scopes) == (([scope], []) if to_consumer else ([], [scope]))


def test_the_app_checks_the_host_first_then_takes_the_shortcut_for_its_socket(settings: Settings) -> None:
    """The outermost middleware is the host allowlist, then the consumer's shortcut for ``/ws/background_jobs``."""
    app: FastAPI = create_app(settings)

    outermost: list[object] = [middleware.cls for middleware in app.user_middleware[:2]]
    assert outermost == [HostAllowlist, SocketFirst]
    assert app.user_middleware[1].kwargs["path"] == WS_PATH
