"""The root of the package's exception hierarchy.

It lives in the pure protocol layer so that ``asicdrv`` and ``firmware_protocols`` share
one hierarchy: every error either raises is an :class:`AsicError`.
"""


class AsicError(Exception):
    """Base class of every error raised by asicdrv and firmware_protocols."""


class LimitError(AsicError, ValueError):
    """A setting (frequency, voltage level, fan) is outside what the hardware allows."""


class ProtocolError(AsicError, ValueError):
    """Bytes that do not form a valid frame or payload."""


class FrameLengthError(ProtocolError):
    """A frame is shorter or longer than its format."""


class BadHeaderError(ProtocolError):
    """An MM frame does not start with ``CN``."""


class CrcError(ProtocolError):
    """The CRC-16 in a frame does not match its data."""

    def __init__(self, message: str, expected: int | None = None, actual: int | None = None):
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class UnknownTypeError(ProtocolError):
    """A packet or command type that the protocol does not define."""


class PayloadError(ProtocolError):
    """A payload field has a value its encoding cannot carry."""
