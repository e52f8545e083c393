"""MAX_SOCKETS_PER_CLIENT: off by default (many users may share one address behind a NAT or a proxy); when set, each
server closes a socket over it from one client address with 1013, counting the address uvicorn's proxy headers name."""

from typing import Any

from arq import ArqRedis
from chanx.fast_channels.testing import WebsocketCommunicator
from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from src.settings import Settings
from tests.support.communicator import socket_on
from tests.support.who_may_connect import app_on, served

PER_CLIENT = 2
OVER_IT = {
    "type": "websocket.close",
    "code": 1013,
    "reason": "This client address holds its most sockets (2); close one and try again.",
}


async def open_from(
    app: Any, address: str, sockets: list[WebsocketCommunicator], headers: list[tuple[bytes, bytes]] | None = None
) -> Any:
    """Open a socket from ``address`` (the ASGI scope's client): its first output, the connected frame or a close."""
    ws = socket_on(app, headers=headers or [])
    ws.scope["client"] = (address, 50_000 + len(sockets))
    sockets.append(ws)
    await ws.connect()
    return await ws.receive_output(timeout=1)


def with_per_client_limit(settings: Settings, pool: ArqRedis) -> FastAPI:
    return app_on(settings.model_copy(update={"max_sockets_per_client": PER_CLIENT}), pool)


async def test_max_sockets_per_client_is_off_by_default_so_many_sockets_from_one_address_are_served(
    app: FastAPI, settings: Settings, sockets: list[WebsocketCommunicator]
) -> None:
    outputs = [await open_from(app, "198.51.100.1", sockets) for _ in range(10)]

    assert settings.max_sockets_per_client is None
    assert all(served(output) for output in outputs)
    assert app.state.admission.clients == {}


async def test_a_socket_over_max_sockets_per_client_from_one_address_is_closed_with_1013_while_another_is_served(
    settings: Settings, pool: ArqRedis, sockets: list[WebsocketCommunicator]
) -> None:
    app = with_per_client_limit(settings, pool)
    for _ in range(PER_CLIENT):
        assert served(await open_from(app, "198.51.100.1", sockets))

    refused = await open_from(app, "198.51.100.1", sockets)
    other = await open_from(app, "198.51.100.2", sockets)

    assert refused == OVER_IT
    assert served(other)


async def test_a_closed_socket_makes_room_for_another_from_its_address(
    settings: Settings, pool: ArqRedis, sockets: list[WebsocketCommunicator]
) -> None:
    app = with_per_client_limit(settings, pool)
    for _ in range(PER_CLIENT):
        await open_from(app, "198.51.100.1", sockets)
    await sockets[0].disconnect()

    assert served(await open_from(app, "198.51.100.1", sockets))


async def test_behind_a_trusted_proxy_sockets_are_counted_by_the_client_the_proxy_names(
    settings: Settings, pool: ArqRedis, sockets: list[WebsocketCommunicator]
) -> None:
    """uvicorn's ``--forwarded-allow-ips`` (its ``ProxyHeadersMiddleware``) names the client; the proxy is not one."""
    app: Any = with_per_client_limit(settings, pool)  # an ASGI app, as uvicorn types it
    behind_proxy = ProxyHeadersMiddleware(app, trusted_hosts="10.0.0.1")

    def forwarded_for(client: str) -> list[tuple[bytes, bytes]]:
        return [(b"x-forwarded-for", client.encode())]

    first = [await open_from(behind_proxy, "10.0.0.1", sockets, forwarded_for("203.0.113.7")) for _ in range(2)]
    others = [await open_from(behind_proxy, "10.0.0.1", sockets, forwarded_for(f"203.0.113.{n}")) for n in (8, 9)]
    over = await open_from(behind_proxy, "10.0.0.1", sockets, forwarded_for("203.0.113.7"))

    assert all(served(output) for output in first + others)
    assert over == OVER_IT


async def test_a_socket_without_a_client_address_is_not_counted_per_client(
    settings: Settings, pool: ArqRedis, sockets: list[WebsocketCommunicator]
) -> None:
    """The ASGI scope may carry no client (a Unix socket, say): only ``MAX_CONNECTIONS`` bounds such sockets."""
    app = with_per_client_limit(settings, pool)
    outputs = []
    for _ in range(PER_CLIENT + 1):
        ws = socket_on(app)
        sockets.append(ws)
        await ws.connect()
        outputs.append(await ws.receive_output(timeout=1))

    assert all(served(output) for output in outputs)
