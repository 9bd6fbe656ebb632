"""What the controller drives: the configured chains (:class:`DeviceConfig`, per-module
:class:`ModuleSettings`), one :class:`ChainSlot` per chain, and the helpers that apply a
fan setting and list the modules that mine."""

from __future__ import annotations

from firmware_protocols.records import field, record

from ..device.chain import Chain
from ..device.status import ChainStatus, ModuleStatus

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    import threading
    from typing import Sequence, Union

    Frequency = Union[int, Sequence[int], None]


@record
class ModuleSettings:
    """Settings for one module (or, in :class:`DeviceConfig`, for every module of a chain).
    None leaves the default: the model's frequency and voltage, the fan on its PID."""

    frequency: Frequency = None  # MHz, or four PLL values
    voltage_level: int | None = None
    fan: int | str | None = None  # percent, or "auto"
    temp_target: float | None = None  # the fan PID's hottest-chip target, degC


@record
class DeviceConfig(ModuleSettings):
    url: str = "usb://"
    modules: dict[int, ModuleSettings] = field(default_factory=dict)  # by module id
    options: dict = field(default_factory=dict)  # more open() options


class ChainSlot:
    """One configured chain: opened, pumped for shares, reopened with backoff if lost."""

    def __init__(self, index: int, config: DeviceConfig):
        self.index = index
        self.config = config
        self.chain: Chain | None = None
        self.state = "closed"  # closed / mining / gone / refused
        self.last_error = ""
        self.opens = 0
        self.failures = 0
        self.final_status: ChainStatus | None = None  # the chain's last status, kept when it closes
        self.restart_requested = False
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.config.url


def mining_modules(status: dict) -> list[tuple[dict, ModuleStatus]]:
    """(chain, module) for every module of the chains mining, in chain and module order."""
    return [
        (chain, m)
        for chain in status["chains"]
        if chain["status"] is not None and chain["state"] == "mining"
        for m in chain["status"].modules
    ]


def apply_fan(chain: Chain, settings: ModuleSettings, module: int | None) -> None:
    if settings.fan is None or settings.fan == "auto":
        if settings.fan == "auto" or (module is not None and settings.temp_target):
            kwargs = {"target_c": settings.temp_target} if settings.temp_target else {}
            chain.set_auto_fan(module=module, **kwargs)
        return
    chain.set_fan(int(settings.fan), module=module)
