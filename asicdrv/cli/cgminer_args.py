"""A cgminer command line, taken by ``asicdrv run``: a user's working cgminer options start
asicdrv unchanged where they mean the same, and get one line on stderr naming the asicdrv
equivalent where they do not.  Options and meanings are cgminer's (``cgminer.c`` opt_config
table, ``driver-avalon8.c``); a cgminer.conf (JSON) given with ``-c`` goes through the same
translation, so it is checked the same way.

    translate(["-o", "stratum+tcp://pool:3333", "-u", "w", "-p", "x", "--api-listen"])
    -> (["--pool", "stratum+tcp://pool:3333", "--user", "w", "--pass", "x",
         "--api-listen", "127.0.0.1:4028"], [])
"""

from __future__ import annotations

import json
import re

from ..errors import ConfigError

API_PORT = 4028  # cgminer's --api-port default
# cgminer options asicdrv has no use for: accepted with a line saying so, so a working
# command line still starts (anything else unknown is an error with run's usage)
NO_EQUIVALENT = {
    "--api-mcast": 0,
    "--api-mcast-addr": 1,
    "--api-mcast-code": 1,
    "--api-mcast-port": 1,
    "--api-groups": 1,
    "--expiry": 1,
    "--scan-time": 1,
    "--queue": 1,
    "--no-submit-stale": 0,
    "--lowmem": 0,
    "--verbose": 0,
    "--real-quiet": 0,
    "--usb": 1,
    "--avalon8-smart-speed": 1,
    "--avalon8-ssplus-enable": 1,
    "--avalon8-aucspeed": 1,
    "--avalon8-aucxdelay": 1,
}
_AVALON = re.compile(r"--avalon8-(freq|voltage-level|fan|temp|polling-delay)$")
AVALON8_PLLS = 4


def translate(argv: list[str]) -> tuple[list[str], list[str]]:
    """(asicdrv run's arguments, notes to print): cgminer's options rewritten, ours kept."""
    out: list[str] = []
    notes: list[str] = []
    api: dict = {"on": False, "host": None, "port": API_PORT, "network": False}
    words = list(argv)
    i = 0
    while i < len(words):
        word = words[i]
        name, eq, inline = word.partition("=") if word.startswith("--") else (word, "", "")
        i += 1

        def value() -> str:
            nonlocal i
            if eq:
                return inline
            if i >= len(words) or words[i].startswith("--"):  # the next option, not a value
                raise ConfigError(f"{name} needs a value")
            i += 1
            return words[i - 1]

        if name in ("-o", "--url"):
            out += ["--pool", value()]
        elif name == "-u":
            out += ["--user", value()]
        elif name == "-p":
            out += ["--pass", value()]
        elif name in ("-O", "--userpass"):
            user, _, password = value().partition(":")
            out += ["--user", user, "--pass", password or "x"]
        elif name == "--api-listen" and not eq and not _listen_value(words, i):
            api["on"] = True  # cgminer's flag: the address comes from --api-host/--api-port
        elif name == "--api-port":
            api["port"] = _whole(value(), name)
        elif name == "--api-host":
            api["host"] = value()
        elif name == "--api-network":
            api["network"] = True
        elif name in ("-c", "--config"):
            path = value()
            converted = _cgminer_conf(path)
            if converted is None:
                out += ["--config", path]  # ours (TOML)
            else:
                words[i:i] = converted  # cgminer.conf: its options, translated in turn
        elif name in ("-l", "--log"):
            out += ["--status-interval", value()]
        elif name in ("-q", "--quiet"):
            out += ["--log-level", "warning"]
        elif name in ("-T", "--text-only", "--failover-only"):
            pass  # the same here: plain text, and pools tried in priority order
        elif match := _AVALON.match(name):
            out += _avalon(match.group(1), name, value(), notes)
        elif name in NO_EQUIVALENT:
            dropped = value() + " " if NO_EQUIVALENT[name] else ""
            notes.append(f"asicdrv run: cgminer's {name} {dropped}has no equivalent; ignored")
        else:
            out.append(word)
    if api["on"] or api["network"]:
        host = api["host"] or ("0.0.0.0" if api["network"] else "127.0.0.1")
        out += ["--api-listen", f"{host}:{api['port']}"]
        if api["network"] and "--api-allow" not in out:
            out += ["--api-allow", "R:0/0"]  # cgminer: any address, read-only
    return out, notes


def _avalon(what: str, name: str, text: str, notes: list[str]) -> list[str]:
    if what == "freq":  # set_avalon8_freq: the PLLs not given are 0 (off), not the first
        given = text.split(":")[:AVALON8_PLLS]
        return ["--frequency", ":".join(given + ["0"] * (AVALON8_PLLS - len(given)))]
    if what == "voltage-level":
        return ["--voltage-level", text]
    if what == "temp":
        return ["--temp-target", text]
    if what == "polling-delay":  # cgminer's milliseconds
        return ["--polling-delay", str(_whole(text, name) / 1000)]
    low, _, high = text.partition("-")
    high = high or low  # set_avalon8_fan: one value is both ends
    if not (low.isdigit() and high.isdigit() and int(low) <= int(high) <= 100):
        raise ConfigError(f"{name} takes MIN-MAX or one percentage 0..100, got {text!r}")
    if low == high:
        return ["--fan", low]  # one duty: asicdrv's fixed fan
    notes.append(
        f"asicdrv run: {name} {text}: the fan PID runs between each model's own limits "
        f"(asicdrv: --fan PERCENT for a fixed duty, --temp-target DEGC for the PID's aim)"
    )
    return []


def _listen_value(words: list[str], i: int) -> bool:
    """asicdrv's --api-listen [HOST:]PORT|off (cgminer's takes no value)."""
    if i >= len(words):
        return False
    return bool(re.fullmatch(r"off|(\[[^\]]+\]:|[^:\s]+:)?\d+", words[i]))


def _whole(text: str, name: str) -> int:
    if not text.strip().isdigit():
        raise ConfigError(f"{name} takes a whole number, got {text!r}")
    return int(text)


def _cgminer_conf(path: str) -> list[str] | None:
    """A cgminer.conf (JSON) as command-line options; None for a file of ours (TOML)."""
    with open(path, "rb") as f:
        data = f.read()
    if not data.lstrip().startswith(b"{"):
        return None  # ours: the TOML reader says what is wrong with it
    try:
        conf = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a cgminer.conf (JSON): {exc}") from None
    if not isinstance(conf, dict):
        raise ConfigError(f"{path}: a cgminer.conf is a JSON object")
    words: list[str] = []
    for pool in conf.pop("pools", []):
        if not isinstance(pool, dict) or "url" not in pool:
            raise ConfigError(f"{path}: each pool needs a url")
        words += ["--url", str(pool["url"])]
        if "user" in pool:
            words += ["-u", str(pool["user"])]
        if "pass" in pool:
            words += ["-p", str(pool["pass"])]
    for key, setting in conf.items():
        if setting is True:
            words.append(f"--{key}")
        elif setting not in (False, None):
            words += [f"--{key}", str(setting)]
    return words
