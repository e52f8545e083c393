"""A WebSocket handshake written by hand, for headers a client library sets itself (``Host``)."""

import asyncio
import base64
import os

#: Seconds the server has to answer a handshake.
ANSWER_TIMEOUT = 5.0


async def handshake_status(port: int, path: str, headers: dict[str, str]) -> int:
    """Send a WebSocket upgrade request with exactly ``headers`` (``Host`` included) to 127.0.0.1:``port``; the
    HTTP status the server answers with (101: the socket opened)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        lines = [
            f"GET {path} HTTP/1.1",
            *(f"{name}: {value}" for name, value in headers.items()),
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
