"""asicdrv: host driver for Canaan Avalon-style (Avalon 8 MM) hash boards.

import asicdrv
with asicdrv.open("emu://?modules=2&nonce_mask=12") as chain:
    chain.set_frequency(800)
    job = asicdrv.StratumJob.from_notify(params, extranonce1="...", extranonce2_size=4)
    chain.submit(job)
    share = chain.next_share(timeout=10)
"""

from firmware_protocols.lazy import lazy_attributes

from ._version import VERSION
from .errors import *  # noqa: F401,F403
from .errors import __all__ as _errors_all

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from .connect import open, register_link_scheme  # noqa: A004
    from .device.chain import Chain
    from .device.shares import Share
    from .device.status import ChainStatus, Module, ModuleStatus
    from .emulator import Emulator
    from .mining.stratum import StratumJob
    from .models import MODELS, ModelSpec

# loaded on first use (PEP 562): `import asicdrv` stays cheap on a small controller, and a
# program that never opens an emulator never loads it
_LAZY = {
    "Chain": ".device.chain",
    "open": ".connect",
    "register_link_scheme": ".connect",
    "Emulator": ".emulator",
    "MODELS": ".models",
    "ModelSpec": ".models",
    "Share": ".device.shares",
    "ChainStatus": ".device.status",
    "Module": ".device.status",
    "ModuleStatus": ".device.status",
    "StratumJob": ".mining.stratum",
}


__getattr__ = lazy_attributes(__name__, _LAZY, globals())


__version__ = VERSION
__all__ = [
    *_errors_all,
    "Chain",
    "ChainStatus",
    "Emulator",
    "MODELS",
    "ModelSpec",
    "Module",
    "ModuleStatus",
    "Share",
    "StratumJob",
    "__version__",
    "open",
    "register_link_scheme",
]
