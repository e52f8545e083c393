"""The Host rule decides on the handshake's scope alone: the receive it is handed fails if ever read."""

import pytest

from src.web.host_allowlist import nothing_to_receive


async def test_the_receive_handed_to_the_host_rule_fails_loudly_if_read() -> None:
    """Should Starlette's rule ever read a message, the handshake fails instead of losing the client's frame."""
    with pytest.raises(RuntimeError, match=r"^the host rule reads no messages$"):
        await nothing_to_receive()
