"""asicdrv run --pool URL --user U [--pass P] [--pool ...] [--config FILE] [--device URL ...]

The mining controller: opens every chain (default: every AUC found), mines from the pools
in priority order with failover, prints a status line every few seconds, and on SIGINT or
SIGTERM puts every module in a safe idle state (PLLs off, fan at a safe level), sends the
shares already verified and exits 0.  A chain whose device vanishes is reopened with
backoff while the others keep mining.

Pools: give --pool once per pool, in priority order, each with its own --user/--pass or one
--user/--pass for all.  The config file (TOML, see docs/mining.md) holds the same and per-chain and
per-module settings; options on the command line replace the file's.

    asicdrv run --pool stratum+tcp://pool.example.com:3333 --user wallet.worker \\
                --pool stratum+tcp://backup.example.com:3333
    asicdrv run --config /etc/asicdrv.toml
    asicdrv run --device emu://?modules=3 --device emu://?modules=3 --pool ... --user ...
    asicdrv run --demo --seconds 20     # no hardware, no network: the built-in emulator
                                        # mining against a local pool that checks shares

Exit status: 0 stopped by a signal (or after --seconds), 2 a configuration or start-up
error (one line; no frame was sent to a board for a bad value).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time

from ..mining import config as cfg
from ..errors import ConfigError
from ..farm.listen import METRICS_PORT
from ..mining.devices import DeviceConfig
from ..mining.pool import PoolConfig
from ..testing import EASY_NONCE_MASK
from .common import add_command, positive_number

log = logging.getLogger("asicdrv.run")

WEB_PORT = 8080


def add_parser(sub) -> None:
    p = add_command(sub, "run", __doc__)
    p.add_argument("--config", metavar="FILE", help="TOML configuration (see docs/mining.md)")
    p.add_argument(
        "--pool",
        action="append",
        default=[],
        metavar="URL",
        help="stratum+tcp://host:port; repeat for backups, in priority order",
    )
    p.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="USER",
        help="worker name: one for all pools, or one per --pool",
    )
    p.add_argument(
        "--pass",
        dest="password",
        action="append",
        default=[],
        metavar="PASS",
        help="pool password (default x): one for all, or one per --pool",
    )
    p.add_argument(
        "--device",
        dest="devices",
        action="append",
        default=[],
        metavar="URL",
        help="a chain to mine on (repeat); default: every AUC found",
    )
    p.add_argument(
        "--frequency",
        type=_frequency,
        default=None,
        metavar="MHZ[:MHZ:MHZ:MHZ]",
        help="every module's frequency, or one per PLL (default: the model's)",
    )
    p.add_argument(
        "--polling-delay",
        type=positive_number,
        default=None,
        metavar="S",
        help="seconds between polls of a module (default 0.02)",
    )
    p.add_argument("--voltage-level", type=int, default=None, metavar="L")
    p.add_argument("--fan", default=None, metavar="PERCENT|auto")
    p.add_argument(
        "--temp-target",
        type=float,
        default=None,
        metavar="DEGC",
        help="the fan PID's hottest-chip target",
    )
    p.add_argument(
        "--status-interval",
        type=positive_number,
        default=None,
        metavar="S",
        help="seconds between status lines (default 5)",
    )
    p.add_argument(
        "--no-work-timeout",
        type=positive_number,
        default=None,
        metavar="S",
        help="fail over from a pool that sent no job this long (default 120)",
    )
    p.add_argument(
        "--retry-min",
        type=positive_number,
        default=None,
        metavar="S",
        help="first reconnect delay (default 1; doubles up to --retry-max)",
    )
    p.add_argument("--retry-max", type=positive_number, default=None, metavar="S")
    p.add_argument(
        "--api-listen",
        default=None,
        metavar="[HOST:]PORT|off",
        help="cgminer-compatible API (default 127.0.0.1:4028; off to disable)",
    )
    p.add_argument(
        "--api-allow",
        default=None,
        metavar="RULES",
        help="cgminer's syntax: W:addr[/mask] privileged, R:addr read-only, "
        "comma-separated (default R:127.0.0.1)",
    )
    p.add_argument(
        "--metrics-listen",
        nargs="?",
        const=f"127.0.0.1:{METRICS_PORT}",
        default=None,
        metavar="[HOST:]PORT",
        help=f"Prometheus metrics (off by default; port {METRICS_PORT} when given without a value)",
    )
    p.add_argument(
        "--metrics-per-chip",
        action="store_true",
        default=None,
        help="also per-chip temperature series (104 per module)",
    )
    p.add_argument(
        "--api-pyasic-nearest",
        action="store_true",
        default=None,
        help="API: name the nearest model pyasic knows in VERSION PROD (711 as 721, 831 as "
        "841, 910/911/910S as 921) so that it reads the boards; the real model stays in MODEL",
    )
    p.add_argument(
        "--web",
        default=None,
        metavar="[HOST:]PORT",
        help="serve the live page (off by default; 127.0.0.1 unless a host is given)",
    )
    p.add_argument(
        "--web-allow",
        default=None,
        metavar="RULES",
        help="who may read the live page: addresses or address/mask, comma-separated, as "
        "--api-allow (default 127.0.0.1)",
    )
    p.add_argument("--log-level", choices=cfg.LOG_LEVELS, default=None)
    p.add_argument(
        "--seconds",
        type=positive_number,
        default=None,
        help="stop (safely, as on SIGTERM) after this many seconds",
    )
    p.add_argument(
        "--demo",
        action="store_true",
        help="no pool or device given: mine on the built-in emulator (3 modules) "
        "against a local test pool that checks every share",
    )
    p.set_defaults(run=run)


def build_config(args) -> cfg.RunConfig:
    config = cfg.load_file(args.config) if args.config else cfg.RunConfig()
    if args.pool:
        config.pools = _pools(args.pool, args.user, args.password)
    elif args.user or args.password:
        raise ConfigError("--user/--pass need a --pool")
    devices = list(args.devices)
    if getattr(args, "global_device", None):
        devices.insert(0, args.global_device)
    if devices:
        config.devices = [DeviceConfig(url=url) for url in devices]
    overrides = {}
    if args.frequency is not None:
        overrides["frequency"] = args.frequency
    if args.voltage_level is not None:
        overrides["voltage_level"] = args.voltage_level
    if args.fan is not None:
        overrides["fan"] = "auto" if args.fan == "auto" else _fan(args.fan)
    if args.temp_target is not None:
        overrides["temp_target"] = args.temp_target
    checked = cfg.module_settings(overrides, "command line")
    for device in config.devices:
        for key in overrides:
            setattr(device, key, getattr(checked, key))
    for key in (
        "status_interval",
        "no_work_timeout",
        "retry_min",
        "retry_max",
        "log_level",
        "api_listen",
        "api_allow",
        "metrics_listen",
        "metrics_per_chip",
        "api_pyasic_nearest",
        "web",
        "web_allow",
    ):
        value = getattr(args, key)
        if value is not None:
            setattr(config, key, value)
    if config.retry_max < config.retry_min:
        raise ConfigError("--retry-max is below --retry-min")
    cfg.check_servers(config)
    if not config.devices:
        from ..transport.usb_auc import find_aucs

        aucs = find_aucs()
        if not aucs:
            raise ConfigError(
                "no AUC found (is it plugged in?); to mine on the built-in "
                "emulator give --device emu:// (or try --demo)"
            )
        config.devices = [
            DeviceConfig(url=f"usb://{d.bus}:{d.address}", **vars(checked)) for d in aucs
        ]
    if args.polling_delay is not None:
        for device in config.devices:
            device.options["polling_delay"] = args.polling_delay
    return config


def _pools(urls: list[str], users: list[str], passwords: list[str]) -> list[PoolConfig]:
    def per_pool(values: list[str], name: str, default: str | None) -> list[str]:
        if not values:
            if default is None:
                raise ConfigError(f"give {name} (one for all pools or one per --pool)")
            return [default] * len(urls)
        if len(values) == 1:
            return values * len(urls)
        if len(values) != len(urls):
            raise ConfigError(
                f"{len(values)} {name} for {len(urls)} pools: give one for all or one per --pool"
            )
        return values

    return [
        PoolConfig(u, w, p)
        for u, w, p in zip(
            urls, per_pool(users, "--user", None), per_pool(passwords, "--pass", "x")
        )
    ]


def _frequency(text: str) -> int | list[int]:
    parts = text.split(":")
    if not all(p.strip().isdigit() for p in parts) or len(parts) > 4:
        raise argparse.ArgumentTypeError(f"{text!r}: MHz, or one per PLL as A:B:C:D")
    values = [int(p) for p in parts]
    return values[0] if len(values) == 1 else values


def _fan(text: str) -> int:
    if not text.isdigit():
        raise ConfigError(f"--fan takes a percentage or auto, got {text!r}")
    return int(text)


DEMO_DEVICE = f"emu://?modules=3&nonce_mask={EASY_NONCE_MASK}"


def run(args) -> int:
    demo_pool = None
    if args.demo:
        if not args.pool and not args.config:
            from ..testing import TestPool, easy_difficulty  # the demo's alone

            demo_pool = TestPool(difficulty=easy_difficulty()).start()
            args.pool, args.user = [demo_pool.url], ["demo.worker"]
        if not args.devices and not getattr(args, "global_device", None) and not args.config:
            args.devices = [DEMO_DEVICE]
        print(
            f"demo: the built-in EMULATOR ({DEMO_DEVICE})"
            f"{' mining for a local test pool that checks every share' if demo_pool else ''}"
            f"; nothing here is hardware",
            file=sys.stderr,
        )
    try:
        return _run(args)
    finally:
        if demo_pool is not None:
            print(
                f"demo pool: {len(demo_pool.accepted)} shares accepted, "
                f"{len(demo_pool.rejected)} rejected",
                file=sys.stderr,
            )
            demo_pool.close()


def _run(args) -> int:
    # the controller loads here, not when another command starts; the farm side only as
    # far as it is switched on (prometheus_client, the live page: memory on a small board)
    from ..farm.api import ApiCommands, ApiServer, parse_listen
    from ..mining.controller import Controller

    config = build_config(args)
    interactive = sys.stderr.isatty()
    logging.basicConfig(
        level=config.log_level.upper(),
        stream=sys.stderr,
        force=True,
        format="%(asctime)s %(message)s" if interactive else "%(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if not config.pools:
        log.warning("no pool configured: the boards are detected and kept idle")
    controller = Controller(
        config.pools,
        config.devices,
        no_work_timeout=config.no_work_timeout,
        retry_min=config.retry_min,
        retry_max=config.retry_max,
    )
    stop = threading.Event()
    caught = []
    api = None
    if config.api_listen != "off":
        host, port = parse_listen(config.api_listen)

        def on_quit() -> None:
            caught.append("quit")
            stop.set()

        commands = ApiCommands(
            controller, on_quit=on_quit, pyasic_nearest=config.api_pyasic_nearest
        )
        try:
            api = ApiServer(commands, host, port, config.api_allow)
        except ConfigError:
            if not (args.demo and args.api_listen is None):
                raise
            # a demo must run on a machine where a miner already holds 4028
            log.warning("demo: %s:%d is taken; the API listens on a free port instead", host, port)
            api = ApiServer(commands, host, 0, config.api_allow)

    def on_signal(number, _frame):
        caught.append(signal.Signals(number).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    metrics = web = None
    try:
        # every listener is bound before any frame reaches a board: a port that is taken
        # is one line and exit 2, with the boards untouched
        if config.web:
            from ..farm.web import LivePage

            host, port = parse_listen(config.web, default_port=WEB_PORT)
            web = LivePage(controller, host, port, allow=config.web_allow)
        if config.metrics_listen:
            from ..farm.metrics import serve_metrics

            host, port = parse_listen(config.metrics_listen, default_port=METRICS_PORT)
            try:
                metrics = serve_metrics(controller, host, port, config.metrics_per_chip)
            except OSError as exc:
                raise ConfigError(
                    f"metrics cannot listen on {host}:{port}: {exc.strerror or exc}"
                ) from None
            log.info("metrics on http://%s:%d/metrics", host, metrics[0].server_port)
        controller.start()
        if api is not None:
            api.start()
        if web is not None:
            web.start()
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        while not stop.is_set():
            wait = config.status_interval
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    break
            if stop.wait(wait):
                break
            log.info("%s", status_line(controller.status()))
        log.info(
            "stopping (%s): idling the boards, sending verified shares",
            caught[0] if caught else "time is up",
        )
        controller.stop()
        log.info("stopped: %s", totals_line(controller.status()))
    finally:
        controller.stop()
        if api is not None:
            api.close()
        if metrics is not None:
            metrics[0].shutdown()
        if web is not None:
            web.close()
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0


def format_rate(ghs: float) -> str:
    hps = ghs * 1e9
    for unit, scale in (("TH/s", 1e12), ("GH/s", 1e9), ("MH/s", 1e6), ("kH/s", 1e3)):
        if hps >= scale:
            return f"{hps / scale:.2f} {unit}"
    return f"{hps:.0f} H/s"


def totals_line(status: dict) -> str:
    t = status["totals"]
    return (
        f"accepted {t['accepted']} rejected {t['rejected']} unknown {t['unknown']} "
        f"stale {t['stale']}"
    )


def status_line(status: dict) -> str:
    """One line: hash rate (5 s / 1 min / 15 min from verified shares, and what the modules
    report), shares, pool, hottest chip, fans."""
    from ..mining.controller import mining_modules

    rates = status["hashrate_ghs"]
    modules = [m for _, m in mining_modules(status)]
    reported = sum(m.hashrate_ghs for m in modules)
    hottest = max((m.hottest_chip_c for m in modules if m.hottest_chip_c is not None), default=None)
    fans = sorted({m.fan_percent for m in modules})
    fan = "-" if not fans else str(fans[0]) if len(fans) == 1 else f"{fans[0]}-{fans[-1]}"
    pool = next((p for p in status["pools"] if p["active"]), None)
    chains_up = sum(1 for c in status["chains"] if c["state"] == "mining")
    t = status["totals"]
    shares = f"A {t['accepted']} R {t['rejected']} U {t['unknown']} S {t['stale']}"
    return (
        f"5s {format_rate(rates['5s'])}, 1m {format_rate(rates['1m'])}, "
        f"15m {format_rate(rates['15m'])} (reported {format_rate(reported)}) | "
        f"{shares} | pool {pool['index'] if pool else 'none'} | hottest "
        f"{'-' if hottest is None else f'{hottest:.0f}'} C | fan {fan} % | "
        f"chains {chains_up}/{len(status['chains'])}, modules {len(modules)}"
    )
