"""cgminer's RPC API (port 4028) for farm tools such as pyasic: :class:`ApiServer` frames
requests and replies, :class:`ApiCommands` answers them from a controller."""

from .access import DEFAULT_ALLOW, Access
from .commands import ApiCommands
from .mm_string import mm_string
from .server import DEFAULT_PORT, ApiServer, parse_listen, parse_request

__all__ = [
    "DEFAULT_ALLOW",
    "DEFAULT_PORT",
    "Access",
    "ApiCommands",
    "ApiServer",
    "mm_string",
    "parse_listen",
    "parse_request",
]
