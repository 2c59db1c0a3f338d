"""Who is asking: the client key (and its credential group) behind the request being served.

The access check (``api/access.py``) sets :data:`CALLER` once it has accepted a request's key;
what runs later in the same request reads it: the pool (a key bound to a credential group is
served by that group only), the request log (which key, from which address) and the usage
accounting (the key's tokens). It is a context variable, so tasks started by the request
inherit it and other requests never see it.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

DEFAULT_KEY_NAME = "default"


@dataclass(frozen=True, slots=True)
class Caller:
    """The accepted client of one request."""

    key_id: int | None  # the stored key's id; None for the configured key or an open gateway
    key_name: str = DEFAULT_KEY_NAME
    group: str | None = None  # the credential group the key is bound to, if any
    address: str | None = None  # the client's address as the access check decided it


CALLER: ContextVar[Caller | None] = ContextVar("kirogate_caller", default=None)


def current_caller() -> Caller | None:
    return CALLER.get()
