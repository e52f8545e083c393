"""Reading an in-process socket (chanx's ``WebsocketCommunicator``) past running jobs' progress frames."""

from typing import Any

from chanx.fast_channels.testing import WebsocketCommunicator

from tests.support.protocol import is_progress


async def receive_but_progress(ws: WebsocketCommunicator, timeout: float = 2.0) -> Any:
    """The next frame that is not a ``progress`` frame, each frame waited for with ``timeout``."""
    while is_progress(frame := await ws.receive_json_from(timeout=timeout)):
        pass
    return frame
