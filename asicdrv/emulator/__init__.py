"""A software chain of Avalon MM modules: the device side of the MM and AUC protocols.

    emu = Emulator(modules=2, model="851", seed=1, nonce_mask=12, faults="dead_chip")
    emu = Emulator(modules=3, model="741,851,LC3")   # a mixed chain, one model per module

Every model of :data:`asicdrv.MODELS` (Avalon 7, 8, 9, LC3) speaks its generation's
frames (:mod:`asicdrv.generations`).
    emu.i2c_xfer(address, frame, rlen)        # in-process link (fastest)
    backend = emu.usb_backend()               # pyusb backend: the AUC on a virtual bus
    with emu.serve_serial() as server: ...    # a pty carrying bare MM packets (module 1)

The model (``physics``, ``work``) is kept apart from the wire (``firmware``, ``bus``,
``usb_backend``, ``serial_pty``).
"""

from __future__ import annotations

import math
import random
import threading
import time
import weakref
from typing import Any, cast, IO, Callable

from ..errors import LimitError
from ..models import MODELS, ModelSpec, model_named
from .auc_bridge import AucBridge
from .bus import I2CBus
from .faults import CHIP_FAULTS, LINK_FAULTS, Fault, FaultSpecError, fault_value, parse_faults
from .firmware import MMFirmware
from .mm2 import MM2Firmware
from .mm4 import MM4Firmware
from .mini import MiniDevice
from .nano import NanoDevice
from .stick import EmulatedStick, StickDevice
from .physics import ModulePhysics
from .serial_pty import AvLineServer, SerialServer
from .traffic import TrafficLog
from .usb_backend import EmulatedAuc, EmulatedUsbBackend
from .work import Scanner

FIRMWARE_BUILD = "190314_4a27"  # version strings: model-build, 15 characters
CHIP_TICK_S = 0.02  # how often the chip thread lets the boards catch up
FIRMWARE = {"avalon2": MM2Firmware, "avalon4": MM4Firmware}  # generation -> MM firmware


class Emulator:
    # a chain of MM modules (on an I2C bus behind an AUC) or one USB stick
    modules: list[Any]
    bus: Any
    bridge: AucBridge | None
    auc: Any

    def __init__(
        self,
        modules: int = 1,
        model: str = "851",
        seed: int = 0,
        nonce_mask: int | None = None,
        nonce_start: int = 0,
        faults: str | list | tuple | None = None,
        *,
        ambient_c: float = 25.0,
        hashrate: float = 50_000,
        nonces_per_work: int = 1 << 32,
        thermal_tau_s: float = 2.0,
        log: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        chip_thread: bool | None = None,
    ):
        _check_whole("modules", modules, 1, 6)
        given = [m.strip() for m in model.split(",")] if isinstance(model, str) else [model]
        names = [model_named(name) for name in given]  # any case: lc3, mm41
        for name, asked in zip(names, given):
            if name is None:
                raise FaultSpecError(f"model must be one of {', '.join(MODELS)}, got {asked!r}")
        if len(names) not in (1, modules):
            raise FaultSpecError(f"give one model, or one per module ({modules}), not {len(names)}")
        lines = {MODELS[n].generation == "avalon2" for n in names}
        if len(lines) > 1:
            raise FaultSpecError(
                "Avalon 2/3 modules (MM2, MM3) share a serial line only with each other"
            )
        if True in lines and modules > 4:
            raise FaultSpecError("an Avalon 2/3 line holds at most 4 modules")
        sticks = [n for n in names if MODELS[n].generation == "avalon_nano"]
        if sticks and (modules != 1 or len(names) != 1):
            raise FaultSpecError(f"a {sticks[0]} is one USB stick: modules=1 and no other model")
        _check_whole("seed", seed, -(1 << 63), 1 << 63)
        if nonce_mask is not None:
            _check_whole("nonce_mask", nonce_mask, 1, 64)
        _check_whole("nonce_start", nonce_start, 0, 0xFFFFFFFF)
        _check_whole("nonces_per_work", nonces_per_work, 1, 1 << 32)
        _check_number("hashrate", hashrate, 0, 1e9)
        _check_number("thermal_tau_s", thermal_tau_s, 1e-3, 1e6, low_open=True)
        _check_number("ambient_c", ambient_c, -40, 80)
        self.specs: list[ModelSpec] = [MODELS[n] for n in names] * (modules // len(names))
        self.spec: ModelSpec = self.specs[0]
        self.seed = seed
        self.module_count = modules
        self.faults: tuple[Fault, ...] = self._checked_faults(faults)
        self.clock = clock
        self.traffic = TrafficLog(log)
        rng = random.Random(seed)
        self._backend: EmulatedUsbBackend | None = None
        self.transfers = 0
        self._stop = threading.Event()
        self._thread = None
        if sticks:
            self._build_stick(
                rng, nonce_mask, nonce_start, ambient_c, hashrate, nonces_per_work, thermal_tau_s
            )
        else:
            self._build_chain(
                rng, nonce_mask, nonce_start, ambient_c, hashrate, nonces_per_work, thermal_tau_s
            )
        # The chips hash on their own thread, whether or not the host polls.  With a
        # caller's clock (tests stepping time) the caller drives them with advance().
        if chip_thread if chip_thread is not None else clock is time.monotonic:
            self._thread = threading.Thread(
                target=_chip_loop,
                args=(weakref.ref(self), self._stop),
                name="emulator-chips",
                daemon=True,
            )
            self._thread.start()

    def _build_stick(
        self, rng, nonce_mask, nonce_start, ambient_c, hashrate, nonces_per_work, thermal_tau_s
    ) -> None:
        """A nano / 4-mini: one device on USB, reached through its HID endpoints."""
        spec = self.spec
        dna = bytes(rng.getrandbits(8) for _ in range(8))
        physics = ModulePhysics(
            spec, random.Random(rng.random()), ambient_c=ambient_c, thermal_tau_s=thermal_tau_s
        )
        dead = fault_value(self.faults, "dead_chip", 1)
        physics.dead_chips = {dead} if dead else set()
        device = NanoDevice if spec.name == "nano" else MiniDevice
        stick = device(
            spec,
            dna,
            physics,
            random.Random(rng.random()),
            hashrate=hashrate,
            nonce_mask=nonce_mask,
            nonce_start=nonce_start,
            nonces_per_work=nonces_per_work,
            clock=self.clock,
        )
        self.modules = [stick]
        self.bus = _StickBus(stick, self.clock)
        self.bridge = None
        self.auc = EmulatedStick(
            stick, self.traffic, disconnect_after=fault_value(self.faults, "disconnect", 1)
        )

    def _build_chain(
        self, rng, nonce_mask, nonce_start, ambient_c, hashrate, nonces_per_work, thermal_tau_s
    ) -> None:
        self.modules = [
            self._build_module(
                i + 1,
                rng,
                nonce_mask,
                nonce_start,
                ambient_c,
                hashrate,
                nonces_per_work,
                thermal_tau_s,
            )
            for i in range(self.module_count)
        ]

        def rate(name):
            return lambda position: fault_value(self.faults, name, position) or 0.0

        self.bus = I2CBus(
            self.modules,
            random.Random(self.seed + 1),
            clock=self.clock,
            drop=rate("drop"),
            crc_errors=rate("crc_errors"),
            stall=rate("stall"),
        )
        self.bridge = AucBridge(
            self.bus,
            lambda: self.modules[0].physics.ambient_c,
            clock=self.clock,
            late_rate=lambda: fault_value(self.faults, "auc_late", 1) or 0.0,
            rng=random.Random(self.seed + 2),
        )
        self.auc = EmulatedAuc(
            self.bridge, self.traffic, disconnect_after=fault_value(self.faults, "disconnect", 1)
        )

    def _build_module(
        self,
        position,
        rng,
        nonce_mask,
        nonce_start,
        ambient_c,
        hashrate,
        nonces_per_work,
        thermal_tau_s,
    ) -> MMFirmware:
        spec = self.specs[position - 1]
        dna = bytes(rng.getrandbits(8) for _ in range(8))
        firmware = FIRMWARE.get(spec.generation, MMFirmware)
        version = firmware.version_for(spec, FIRMWARE_BUILD)
        physics = ModulePhysics(
            spec, random.Random(rng.random()), ambient_c=ambient_c, thermal_tau_s=thermal_tau_s
        )
        scanner = Scanner(
            miner_count=spec.miner_count,
            asic_count=spec.asic_count,
            nonce_start=nonce_start,
            nonces_per_work=nonces_per_work,
        )
        module = firmware(
            position,
            spec,
            dna,
            version,
            physics,
            scanner,
            random.Random(rng.random()),
            hashrate=hashrate,
            pinned_nonce_mask=nonce_mask,
        )
        self._apply_module_faults(module)
        return module

    def _checked_faults(self, spec) -> tuple[Fault, ...]:
        """Parse faults and check their values against this chain and model."""
        faults = parse_faults(spec)
        for fault in faults:
            if fault.module is not None and fault.name in LINK_FAULTS:
                raise FaultSpecError(
                    f"fault {fault.name}@{fault.module}: {fault.name} is the AUC's, "
                    f"for every module: drop the @{fault.module}"
                )
            if fault.module is not None and not 1 <= fault.module <= self.module_count:
                raise FaultSpecError(
                    f"fault {fault.name}@{fault.module}: there are modules 1..{self.module_count}"
                )
            if fault.name in CHIP_FAULTS:
                miner, chip = cast(tuple[int, int], fault.value)
                specs = self.specs if fault.module is None else [self.specs[fault.module - 1]]
                for spec in specs:
                    if not (0 <= miner < spec.miner_count and 0 <= chip < spec.asic_count):
                        raise FaultSpecError(
                            f"fault {fault.name}:{miner}.{chip}: the {spec.name} has miners "
                            f"0..{spec.miner_count - 1}, chips 0..{spec.asic_count - 1}"
                        )
        return faults

    def _apply_module_faults(self, module: MMFirmware) -> None:
        position, physics = module.position, module.physics
        dead = fault_value(self.faults, "dead_chip", position)
        physics.dead_chips = {dead} if dead else set()
        physics.fan_stall = bool(fault_value(self.faults, "fan_stall", position))
        physics.overheat_c = fault_value(self.faults, "overheat", position) or 0.0
        module.bad_nonce_rate = fault_value(self.faults, "bad_nonce", position) or 0.0
        module.pvt_silent = bool(fault_value(self.faults, "pvt_silent", position))
        module.slow_chips = {
            f.value for f in self.faults if f.name == "slow_chip" and f.applies_to(position)
        }
        module.stuck_sensors = {
            f.value: None
            for f in self.faults
            if f.name == "stuck_sensor" and f.applies_to(position)
        }
        module.zero_sensors = {
            f.value for f in self.faults if f.name == "zero_sensor" and f.applies_to(position)
        }

    def set_faults(self, faults: str | list | tuple | None) -> None:
        """Replace the injected faults while running (a cable pulled, a sensor gone)."""
        checked = self._checked_faults(faults)
        with self.bus.lock:
            self.faults = checked
            for module in self.modules:
                self._apply_module_faults(module)
            self.auc.disconnect_after = fault_value(self.faults, "disconnect", 1)

    # --- ways in -------------------------------------------------------------------------------
    def i2c_xfer(self, address: int, write: bytes, rlen: int) -> bytes:
        """The in-process link: one I2C transfer, as the AUC would make it.  A
        ``disconnect`` fault unplugs the emulator after that many transfers."""
        if self.bridge is None:
            raise LimitError(f"a {self.spec.name} is a USB stick: reach it over usb, not I2C")
        self.transfers += 1
        limit = self.auc.disconnect_after
        if limit is not None and self.transfers > limit:
            self.auc.connected = False
        if write:
            self.traffic.record(">", write)
        reply = self.bus.xfer(address, write, rlen)
        if reply:
            self.traffic.record("<", reply)
        return reply

    def usb_backend(self) -> EmulatedUsbBackend:
        """A pyusb backend on which this emulator's AUC is attached."""
        if self._backend is None:
            self._backend = EmulatedUsbBackend([self.auc])
        return self._backend

    def i2c_device(self) -> "EmulatedI2CDevice":
        """The modules as a controller's own I2C bus sees them (no AUC): what
        :class:`~asicdrv.transport.i2c_linux.I2CLink` drives in place of ``/dev/i2c-N``."""
        return EmulatedI2CDevice(self)

    @property
    def serial_family(self) -> str | None:
        """What a serial link to this emulator names as its family (None: bare CN)."""
        return "avalon2" if self.spec.generation == "avalon2" else None

    def serve_serial(self) -> SerialServer:
        """A pty: an Avalon 2/3 line with every module (MM2, MM3), or module 1 as bare CN
        packets (other models); use as a context manager."""
        if self.bridge is None:
            raise LimitError(f"a {self.spec.name} is a USB stick: it has no serial line")
        server = AvLineServer if self.serial_family else SerialServer
        return server(
            self.bus, self.traffic, disconnect_after=fault_value(self.faults, "disconnect", 1)
        )

    # --- the bench -------------------------------------------------------------------------------
    def disconnect(self) -> None:
        """Unplug the AUC: enumeration no longer finds it and transfers fail (ENODEV)."""
        self.auc.connected = False

    def reconnect(self, power_cycle: bool = True) -> None:
        """Plug the AUC back in.  By default the modules are power-cycled with it (they
        forget their ids and answer DETECT again); with ``power_cycle=False`` they keep
        their ids and, as detected modules do, ignore DETECT."""
        if power_cycle:
            for module in self.modules:
                module.reboot()
        self.auc.connected = True
        self.auc.disconnect_after = None
        if self.bridge is not None:
            self.bridge.reboot()

    def set_ambient(self, celsius: float) -> None:
        for module in self.modules:
            module.physics.ambient_c = celsius

    def advance(self) -> None:
        """Bring every module's board model up to now (hashing included)."""
        self.bus.advance_all()

    def close(self) -> None:
        """Stop the chip thread (it also stops when the emulator is garbage)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    def __enter__(self) -> "Emulator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _check_whole(name: str, value, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FaultSpecError(f"{name} must be a whole number from {low} to {high}, got {value!r}")


def _check_number(name: str, value, low: float, high: float, low_open: bool = False) -> None:
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
        and low <= value <= high
    )
    if not ok:
        raise FaultSpecError(f"{name} must be a number from {low:g} to {high:g}, got {value!r}")


def _chip_loop(emulator_ref, stop: threading.Event) -> None:
    """The chips: every tick, each module hashes what its clock rate allows."""
    while not stop.wait(CHIP_TICK_S):
        emulator = emulator_ref()
        if emulator is None:
            return
        try:
            emulator.bus.advance_all()
        except Exception:  # noqa: BLE001 - a board model bug must not kill the chips
            emulator.chip_errors = getattr(emulator, "chip_errors", 0) + 1
        del emulator


__all__ = ["Emulator", "Fault", "FaultSpecError", "parse_faults"]


class _StickBus:
    """What the chip thread and the bench calls see of a stick: one device to advance."""

    def __init__(self, stick: StickDevice, clock: Callable[[], float]):
        self.stick, self.clock = stick, clock
        self.lock = stick.lock
        self.modules = [stick]

    def advance_all(self) -> None:
        self.stick.advance(self.clock())


class EmulatedI2CDevice:
    """An in-process I2C bus: a write is one transfer, a read another (as i2c-dev does
    them); an address that has nothing to send reads as no acknowledge (b"")."""

    def __init__(self, emulator: Emulator):
        self.emulator = emulator

    def _check(self) -> None:
        if not self.emulator.auc.connected:
            from ..errors import DeviceGone

            raise DeviceGone("the emulated I2C bus was disconnected")

    def write(self, address: int, data: bytes) -> None:
        self._check()
        self.emulator.i2c_xfer(address, data, 0)

    def read(self, address: int, size: int) -> bytes:
        self._check()
        return self.emulator.i2c_xfer(address, b"", size)

    def close(self) -> None:
        pass
