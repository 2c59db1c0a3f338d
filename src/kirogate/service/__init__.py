"""The service layer: the gateway's resources, answering requests, and operator actions.

- :mod:`~kirogate.service.gateway`: :class:`Gateway`, building and closing the resources;
- :mod:`~kirogate.service.answer`: :class:`Answer`, the failover loop up to the first event, and the relay loop;
- :mod:`~kirogate.service.operations`: operator actions on credentials;
- :mod:`~kirogate.service.jobs`: background token refresh and usage polling;
- :mod:`~kirogate.service.compression`: context compression.
"""

from kirogate.errors import UpstreamStreamException
from kirogate.service.answer import Answer, FinalChunk, relay
from kirogate.service.gateway import Gateway

__all__ = ["Answer", "FinalChunk", "Gateway", "UpstreamStreamException", "relay"]
