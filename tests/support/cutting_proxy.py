"""A TCP proxy in front of Redis that can cut a client's connection part-way through what it sends."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

CHUNK = 65_536


class CuttingProxy:
    """Forwards both ways between its clients and Redis until armed; once armed with ``cut_after(n)``, it passes
    the next ``n`` bytes a client sends, then closes that client's connection and Redis's end of it."""

    def __init__(self, redis_url: str) -> None:
        parts = urlsplit(redis_url)
        self.redis_host, self.redis_port = parts.hostname or "127.0.0.1", parts.port or 6379
        self.database = parts.path
        self._budget: int | None = None
        self.cut = asyncio.Event()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        """The URL clients connect to instead of Redis's."""
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}{self.database}"

    def cut_after(self, sent_bytes: int) -> None:
        """Pass only the next ``sent_bytes`` a client sends, then cut its connection."""
        self._budget = sent_bytes

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        redis_reader, redis_writer = await asyncio.open_connection(self.redis_host, self.redis_port)
        upstream = asyncio.ensure_future(self._client_to_redis(client_reader, redis_writer))
        downstream = asyncio.ensure_future(self._pipe(redis_reader, client_writer))
        await asyncio.wait({upstream, downstream}, return_when=asyncio.FIRST_COMPLETED)
        for task in (upstream, downstream):
            task.cancel()
        for writer in (client_writer, redis_writer):
            writer.close()

    async def _client_to_redis(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(CHUNK):
            if self._budget is not None:
                passed, self._budget = data[: self._budget], self._budget - len(data)
                writer.write(passed)
                await writer.drain()
                if self._budget <= 0:
                    self._budget = None
                    self.cut.set()
                    return
                continue
            writer.write(data)
            await writer.drain()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()


@asynccontextmanager
async def cutting_proxy(redis_url: str) -> AsyncIterator[CuttingProxy]:
    """A running ``CuttingProxy`` in front of ``redis_url``."""
    proxy = CuttingProxy(redis_url)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()
