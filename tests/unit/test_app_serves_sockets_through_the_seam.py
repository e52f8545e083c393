"""The app serves each socket through the consumer app its parts make (``Parts.consumer_app``): the stock parts'
``as_asgi()``, or the fast path's own loop."""

from typing import Any

from arq import ArqRedis
from fast_channels.consumer.base import AsyncConsumer

from src.main import create_app
from src.parts import StockParts
from src.settings import Settings
from src.web.job_queue import JobQueue
from tests.support.communicator import socket_on
from tests.support.protocol import CONNECTED, PING, PONG


class ServingSpy(StockParts):
    """The stock parts, noting each socket their consumer app serves."""

    served: list[str]

    def consumer_app(self, consumer_class: type[AsyncConsumer]) -> Any:
        self.served = []
        stock = super().consumer_app(consumer_class)

        async def noting(scope: Any, receive: Any, send: Any) -> None:
            self.served.append(scope["path"])
            await stock(scope, receive, send)

        return noting


async def test_each_socket_is_served_by_the_consumer_app_of_the_apps_parts(settings: Settings, pool: ArqRedis) -> None:
    spy = ServingSpy(settings)
    app = create_app(settings, jobs=JobQueue(settings, spy, pool=pool))

    ws = socket_on(app)
    connected, _ = await ws.connect()
    assert connected
    assert await ws.receive_json_from(timeout=1) == CONNECTED
    await ws.send_json_to(PING)
    assert await ws.receive_json_from(timeout=1) == PONG
    await ws.disconnect()

    assert spy.served == ["/ws/background_jobs"]
