"""Requests written by hand, for headers a client library sets itself (``Host``, once): WebSocket handshakes and
plain HTTP requests."""

import asyncio
import base64
import os
from collections.abc import Mapping, Sequence

#: Seconds the server has to answer a handshake.
ANSWER_TIMEOUT = 5.0


async def handshake_status(port: int, path: str, headers: Mapping[str, str] | Sequence[tuple[str, str]]) -> int:
    """Send a WebSocket upgrade request with exactly ``headers`` (``Host`` included; pairs to repeat a name) to
    127.0.0.1:``port``; the HTTP status the server answers with (101: the socket opened)."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        lines = [
            f"GET {path} HTTP/1.1",
            *(f"{name}: {value}" for name, value in pairs),
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
            "Sec-WebSocket-Version: 13",
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), ANSWER_TIMEOUT)
    finally:
        writer.close()
    return int(status_line.split()[1])


async def answer_to(port: int, request: bytes) -> tuple[int, bytes]:
    """Write ``request`` as it is to 127.0.0.1:``port``; the status and the body of the answer (read until the
    server closes the connection: send ``Connection: close``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), ANSWER_TIMEOUT)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body
