"""The controller's configuration: a TOML file and/or command-line options, checked in
full before any device is opened (a bad value never reaches a board).

    log_level = "info"            # debug, info, warning, error
    status_interval = 5           # seconds between status lines
    no_work_timeout = 120         # a pool silent this long is failed over
    retry_min = 1.0               # reconnect backoff: first step, seconds ...
    retry_max = 60.0              # ... and the longest

    [[pool]]                      # in priority order
    url = "stratum+tcp://pool.example.com:3333"
    user = "wallet.worker"
    password = "x"

    [[device]]                    # default: every AUC found
    url = "usb://1:4"
    frequency = 800               # MHz, or [f1, f2, f3, f4]
    voltage_level = 5
    fan = "auto"                  # or a percentage
    temp_target = 85              # the fan PID's hottest-chip target

    [device.modules.2]            # one module of that chain
    frequency = 750
"""

from __future__ import annotations

import math

from firmware_protocols.records import field, record

from ..device.limits import pll_frequencies
from .devices import DeviceConfig, ModuleSettings
from ..errors import ConfigError, LimitError
from ..models import (
    FAN_MAX_PERCENT,
    FAN_MIN_PERCENT,
    MAX_MODULES,
    OVERHEAT_C,
    check_voltage_level_any,
)
from .pool import PoolConfig

LOG_LEVELS = ("debug", "info", "warning", "error")
TOP_KEYS = {
    "log_level",
    "status_interval",
    "no_work_timeout",
    "retry_min",
    "retry_max",
    "pool",
    "device",
    "api_listen",
    "api_allow",
    "metrics_listen",
    "metrics_per_chip",
    "api_pyasic_nearest",
    "web",
    "web_allow",
}
POOL_KEYS = {"url", "user", "password"}
SETTING_KEYS = {"frequency", "voltage_level", "fan", "temp_target"}
DEVICE_KEYS = SETTING_KEYS | {"url", "modules"}


@record
class RunConfig:
    pools: list[PoolConfig] = field(default_factory=list)
    devices: list[DeviceConfig] = field(default_factory=list)  # empty: every AUC found
    log_level: str = "info"
    status_interval: float = 5.0
    no_work_timeout: float = 120.0
    retry_min: float = 1.0
    retry_max: float = 60.0
    api_listen: str = "127.0.0.1:4028"  # or "off"
    api_allow: str = "R:127.0.0.1"
    metrics_listen: str | None = None  # off unless given
    metrics_per_chip: bool = False
    # the API's VERSION PROD names the nearest model pyasic has a class for (off: the real one)
    api_pyasic_nearest: bool = False
    web: str | None = None  # the live page, off unless given
    web_allow: str = "127.0.0.1"  # who may read it (the API's syntax)


def load_file(path: str) -> RunConfig:
    try:  # loaded here: the parser and datetime cost a controller started without a file 1 MiB
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML (not UTF-8 text)") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML (nested too deep)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    return from_dict(data, where=path)


def from_dict(data: dict, where: str = "config") -> RunConfig:
    _known(data, TOP_KEYS, where)
    config = RunConfig()
    if "log_level" in data:
        level = data["log_level"]
        if level not in LOG_LEVELS:
            raise ConfigError(
                f"{where}: log_level must be one of {', '.join(LOG_LEVELS)}, got {_echo(level)}"
            )
        config.log_level = level
    for key, low, high in (
        ("status_interval", 0.1, 86400),
        ("no_work_timeout", 1, 86400),
        ("retry_min", 0.01, 3600),
        ("retry_max", 0.01, 86400),
    ):
        if key in data:
            setattr(config, key, _number(f"{where}: {key}", data[key], low, high))
    if config.retry_max < config.retry_min:
        raise ConfigError(f"{where}: retry_max is below retry_min")
    for key in ("api_listen", "api_allow", "metrics_listen", "web", "web_allow"):
        if key in data:
            if not isinstance(data[key], str):
                raise ConfigError(f'{where}: {key} must be text such as "0.0.0.0:4028"')
            setattr(config, key, data[key])
    for key in ("metrics_per_chip", "api_pyasic_nearest"):
        if key in data:
            if not isinstance(data[key], bool):
                raise ConfigError(f"{where}: {key} must be true or false")
            setattr(config, key, data[key])
    check_servers(config, where)
    for n, pool in enumerate(_tables(data.get("pool", []), f"{where}: pool")):
        _known(pool, POOL_KEYS, f"{where}: pool {n + 1}")
        if "url" not in pool or "user" not in pool:
            raise ConfigError(f"{where}: pool {n + 1} needs a url and a user")
        config.pools.append(PoolConfig(pool["url"], pool["user"], pool.get("password", "x")))
    for n, device in enumerate(_tables(data.get("device", []), f"{where}: device")):
        config.devices.append(device_config(device, f"{where}: device {n + 1}"))
    return config


def check_servers(config: RunConfig, where: str = "command line") -> None:
    """The API and metrics addresses and the access rules, before anything starts."""
    from ..farm.api import Access, parse_listen

    try:
        if config.api_listen != "off":
            parse_listen(config.api_listen)
        Access(config.api_allow)
        Access(config.web_allow)
        if config.metrics_listen:
            parse_listen(config.metrics_listen, default_port=9184)
        if config.web:
            parse_listen(config.web, default_port=8080)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def device_config(data: dict, where: str) -> DeviceConfig:
    _known(data, DEVICE_KEYS, where)
    url = data.get("url", "usb://")
    if not isinstance(url, str) or not url:
        raise ConfigError(f"{where}: url must be a device URL such as usb://1:4")
    settings = module_settings(data, where)
    modules = {}
    raw_modules = data.get("modules", {})
    if not isinstance(raw_modules, dict):
        raise ConfigError(f"{where}: modules must be a table of module ids")
    for key, table in raw_modules.items():
        if not str(key).isdigit() or not 1 <= int(key) <= MAX_MODULES:
            raise ConfigError(f"{where}: module id {_echo(key)} must be 1..{MAX_MODULES}")
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: modules.{key} must be a table")
        _known(table, SETTING_KEYS, f"{where}: module {key}")
        modules[int(key)] = module_settings(table, f"{where}: module {key}")
    return DeviceConfig(url=url, modules=modules, **vars(settings))


def module_settings(data: dict, where: str) -> ModuleSettings:
    """Checked against the widest limits of any model; the model's own limits apply once
    the module is detected."""
    settings = ModuleSettings()
    if "frequency" in data:
        settings.frequency = check_frequency(data["frequency"], where)
    if "voltage_level" in data:
        level = data["voltage_level"]
        if isinstance(level, bool) or not isinstance(level, int):
            raise ConfigError(f"{where}: voltage_level must be a whole number")
        try:
            check_voltage_level_any(level)
        except LimitError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        settings.voltage_level = level
    if "fan" in data:
        fan = data["fan"]
        if fan != "auto" and (
            isinstance(fan, bool)
            or not isinstance(fan, int)
            or not FAN_MIN_PERCENT <= fan <= FAN_MAX_PERCENT
        ):
            raise ConfigError(
                f'{where}: fan must be "auto" or {FAN_MIN_PERCENT}..'
                f"{FAN_MAX_PERCENT} (percent), got {_echo(fan)}"
            )
        settings.fan = fan
    if "temp_target" in data:
        settings.temp_target = _number(
            f"{where}: temp_target", data["temp_target"], 50, OVERHEAT_C - 5
        )
    return settings


def check_frequency(value, where: str):
    """As the device layer checks it (:func:`asicdrv.device.chain.pll_frequencies`)."""
    try:
        pll_frequencies(value)
    except LimitError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return value


def _known(data, keys: set, where: str) -> None:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table")
    unknown = sorted(set(data) - keys)
    if unknown:
        shown = ", ".join(_cut(str(k), 40) for k in unknown[:10])
        more = f" (and {len(unknown) - 10} more)" if len(unknown) > 10 else ""
        raise ConfigError(
            f"{where}: unknown key(s) {shown}{more}; known: {', '.join(sorted(keys))}"
        )


def _echo(value, width: int = 60) -> str:
    """A value as an error line shows it: repr, cut to ``width`` characters."""
    return _cut(repr(value), width)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _tables(value, where: str) -> list:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{where}: use [[{where.rsplit(' ', 1)[-1]}]] tables")
    return value


def _number(where: str, value, low: float, high: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not low <= value <= high
    ):
        raise ConfigError(f"{where} must be a number from {low:g} to {high:g}, got {_echo(value)}")
    return float(value)
