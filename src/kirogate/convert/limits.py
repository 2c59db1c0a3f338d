"""Shape limits on client input that the converters check where they read it.

JSON nests deeper on the way in than it can go out: the body parser takes 1,024 levels,
the serialiser stops at 255 (and the Kiro request wraps a tool schema or input in a few more
levels), so a deep value a converter keeps is rejected here, naming its field, instead of
failing later as a 500. Base64 with a non-ASCII character makes :mod:`binascii` raise a
plain :class:`ValueError`, not :class:`binascii.Error`; :func:`check_base64` catches both.
"""

from __future__ import annotations

import binascii
from typing import Any

from kirogate.errors import InvalidRequest

# Well under the serialiser's 255, leaving room for the levels the Kiro request and the
# response envelopes add around a kept value; no real JSON Schema comes near it.
MAX_JSON_DEPTH = 128

_CONTAINERS: tuple[type, ...] = (dict, list)
_SEQUENCES: tuple[type, ...] = (list, tuple)


def json_depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``value`` nests objects/arrays more than ``limit`` levels deep.

    Iterative, so a value nested thousands deep cannot exhaust the interpreter's stack; it
    stops at the first container past the limit.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    push = stack.append
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, _SEQUENCES):
            children = item
        else:
            continue
        if depth > limit:
            return True
        depth += 1
        # A plain loop with tuple isinstance checks: a generator per container and
        # ``dict | list`` checks cost more than the walk itself on a request body.
        for child in children:
            if isinstance(child, _CONTAINERS):
                push((child, depth))
    return False


def deep_path(value: Any, limit: int, named: int = 6) -> str | None:
    """Where ``value`` nests more than ``limit`` levels deep, or None: the path of the first
    such container, cut to ``named`` steps without a trailing index (``messages[0].content``,
    a field the client wrote, not hundreds of steps into its value). Iterative."""
    if not json_depth_exceeds(value, limit):
        return None  # the usual answer, found without carrying a path for every container
    # Past this point a container is too deep, and the walk below (the same order as
    # json_depth_exceeds', over containers only) reaches it before the stack runs out.
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(value, 1, ())]
    while True:
        item, depth, steps = stack.pop()
        children: Any = item.items() if isinstance(item, dict) else enumerate(item)
        if depth > limit:
            kept = list(steps[:named])
            while kept and isinstance(kept[-1], int):
                kept.pop()
            return "".join(
                f"[{step}]" if isinstance(step, int) else f".{step}" if number else str(step)
                for number, step in enumerate(kept)
            )
        stack.extend(
            (child, depth + 1, (*steps, key) if len(steps) < named else steps)
            for key, child in children
            if isinstance(child, dict | list)
        )


def check_depth(value: Any, where: str, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise :class:`InvalidRequest` naming ``where`` if ``value`` nests past ``limit``."""
    if json_depth_exceeds(value, limit):
        raise InvalidRequest(f"{where}: nested more than {limit} levels deep", param=where)


def check_base64(data: str, where: str, message: str = "is not valid base64") -> None:
    """Raise :class:`InvalidRequest` naming ``where`` unless ``data`` is strict base64."""
    try:
        binascii.a2b_base64(data, strict_mode=True)
    except ValueError:  # binascii.Error, or a non-ASCII character
        raise InvalidRequest(f"{where}: {message}", param=where) from None


def shown(value: Any, limit: int = 80) -> str:
    """``value`` as an error message may quote it: a scalar's short repr, else its JSON type.

    ``repr`` of a client's value nested hundreds deep raises RecursionError (the body parser
    takes 1,024 levels), and a long one would bloat the message.
    """
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
