"""Text the wire can carry: UTF-8 has no bytes for a lone surrogate, which a Python string can hold.

JSON's ``\\ud800`` escape decodes to one (a browser's ``JSON.stringify`` writes such escapes for a broken
string), and encoding it later raises ``UnicodeEncodeError``: in a frame, in Redis, in the channel layer.
The web side refuses a frame that holds one; whatever a worker sends shows each as U+FFFD instead.
"""

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

LONE_SURROGATE = re.compile("[\ud800-\udfff]")
#: What a lone surrogate is shown as: the replacement character, as decoders show undecodable bytes.
REPLACEMENT = "\ufffd"


def carried_text(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (itself when it has none, which is the rule)."""
    if text.isascii():
        return text
    return LONE_SURROGATE.sub(REPLACEMENT, text)


@dataclass(frozen=True)
class LoneSurrogate:
    """Where a decoded frame holds a lone surrogate: the path to the string (a key, or a value), and the first one."""

    path: tuple[str | int, ...]
    index: int
    code_point: int
    in_key: bool

    def field(self) -> str:
        """The path written out: ``payload.content``, ``items[2]``; ``the frame`` for a bare string."""
        written = ""
        for step in self.path:
            written += f"[{step}]" if isinstance(step, int) else f".{step}" if written else step
        return written or "the frame"

    def validation_error(self) -> ValidationError:
        """chanx's error frame for it: its location is the path (a key's own surrogates escaped), its message names
        the field."""
        what = "key" if self.in_key else "text"
        message = (
            f"{self.field()}: the {what} holds a lone surrogate (U+{self.code_point:04X}) at index {self.index}, "
            "which UTF-8 cannot carry; send valid Unicode"
        )
        error = InitErrorDetails(type=PydanticCustomError("lone_surrogate", message), loc=self.path, input=None)
        return ValidationError.from_exception_data("Frame", [error])


def escaped(text: str) -> str:
    """``text`` with each lone surrogate written as its ``\\uXXXX`` escape: for naming a key that holds one."""
    return LONE_SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def lone_surrogate(value: Any) -> LoneSurrogate | None:
    """Where a decoded JSON value holds a lone surrogate, in a key or in a string (None if nowhere)."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            found = LONE_SURROGATE.search(item)
            if found is not None:
                return LoneSurrogate(path, found.start(), ord(found.group()), in_key=False)
        elif isinstance(item, dict):
            children: list[tuple[tuple[str | int, ...], Any]] = []
            for key, child in item.items():
                found = LONE_SURROGATE.search(key)
                if found is not None:
                    return LoneSurrogate((*path, escaped(key)), found.start(), ord(found.group()), in_key=True)
                children.append(((*path, key), child))
            stack.extend(reversed(children))
        elif isinstance(item, list):
            stack.extend(((*path, index), child) for index, child in reversed(list(enumerate(item))))
    return None
