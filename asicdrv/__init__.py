"""asicdrv: host driver for Canaan Avalon-style (Avalon 8 MM) hash boards.

import asicdrv
with asicdrv.open("emu://?modules=2&nonce_mask=12") as chain:
    chain.set_frequency(800)
    job = asicdrv.StratumJob.from_notify(params, extranonce1="...", extranonce2_size=4)
    chain.submit(job)
    share = chain.next_share(timeout=10)
"""

from ._version import VERSION
from .device.chain import Chain
from .connect import open, register_link_scheme  # noqa: A004
from .emulator import Emulator
from .errors import *  # noqa: F401,F403
from .errors import __all__ as _errors_all
from .models import MODELS, ModelSpec
from .device.shares import Share
from .device.status import ChainStatus, Module, ModuleStatus
from .mining.stratum import StratumJob

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
