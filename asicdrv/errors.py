"""The package's one exception hierarchy.

``AsicError`` and ``ProtocolError`` (with its frame-level subclasses) are defined in the pure
``firmware_protocols`` layer and re-exported here, so one ``except asicdrv.AsicError``
catches everything either package raises.

    AsicError
    ├── LimitError (also ValueError)     a setting outside the model's limits
    ├── ProtocolError (also ValueError)  bad frames: FrameLengthError, BadHeaderError,
    │                                    CrcError, UnknownTypeError, PayloadError
    ├── TransportError                   the link to the hardware
    │   ├── DeviceNotFound               nothing answers at that URL / no AUC on the bus
    │   ├── DeviceGone                   the device vanished (unplugged, USB error)
    │   ├── PermissionDenied             the OS refused access (udev rule missing)
    │   ├── PortBusy                     another process holds the port
    │   └── Timeout                      no reply in time
    ├── ModuleLost                       a module stopped answering and was detached
    ├── JobError                         a stratum job the MM cannot take
    ├── PoolError                        a stratum pool refused us or broke the protocol
    ├── ConfigError                      a controller configuration that cannot be used
    └── ChainClosed                      the chain was closed
        └── PollerStopped                its poller stopped on an unexpected error
"""

from firmware_protocols.errors import (
    AsicError,
    BadHeaderError,
    CrcError,
    FrameLengthError,
    LimitError,
    PayloadError,
    ProtocolError,
    UnknownTypeError,
)


class TransportError(AsicError):
    """The link to the hardware failed."""


class DeviceNotFound(TransportError):
    """No device answers at the given URL."""


class DeviceGone(TransportError):
    """The device disappeared (unplugged or a fatal USB/serial error)."""


class PermissionDenied(TransportError):
    """The operating system refused access to the device."""


class PortBusy(TransportError):
    """The port is held by another process."""


class Timeout(TransportError):
    """The device did not reply in time."""


class ModuleLost(AsicError):
    """A module stopped answering polls and was detached."""


class JobError(AsicError):
    """A job the MM cannot take (coinbase too long, too many merkle branches, ...)."""


class PoolError(AsicError):
    """A stratum pool refused us, broke the protocol or went away."""


class ConfigError(AsicError):
    """A controller configuration (file or arguments) that cannot be used."""


class ChainClosed(AsicError):
    """The chain was closed; reopen it."""


class PollerStopped(ChainClosed):
    """The chain's poller stopped on an error it could not handle; reopen the chain."""


__all__ = [
    "AsicError",
    "BadHeaderError",
    "ChainClosed",
    "ConfigError",
    "CrcError",
    "DeviceGone",
    "DeviceNotFound",
    "FrameLengthError",
    "JobError",
    "LimitError",
    "ModuleLost",
    "PayloadError",
    "PermissionDenied",
    "PollerStopped",
    "PoolError",
    "PortBusy",
    "ProtocolError",
    "Timeout",
    "TransportError",
    "UnknownTypeError",
]
