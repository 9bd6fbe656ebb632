"""asicdrv: host driver for Canaan Avalon-style (Avalon 8 MM) hash boards."""
from .errors import *  # noqa: F401,F403
from .errors import __all__ as _errors_all

__version__ = "0.1.0"
__all__ = [*_errors_all, "__version__"]
