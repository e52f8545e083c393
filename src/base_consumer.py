"""The project's base consumer: chanx's FastAPI consumer with the project's defaults."""

from chanx.fast_channels.websocket import AsyncJsonWebsocketConsumer
from chanx.messages.base import BaseMessage
from typing_extensions import TypeVar

Event = TypeVar("Event", bound=BaseMessage, default=BaseMessage)


class BaseConsumer(AsyncJsonWebsocketConsumer[Event]):
    """Base for this project's consumers: no completion frames, no per-frame logging, no yield per send."""

    send_completion = False
    log_websocket_message = False
    # Frames go straight to the transport; no extra turn of the loop after each send.
    send_message_immediately = False
