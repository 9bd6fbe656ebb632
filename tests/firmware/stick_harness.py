"""The sticks' firmware in the loop: Canaan's Avalon nano 2 and Avalon4 mini firmware
(Avalon-nano repository, master), built unchanged as 32-bit host programs (``gcc -m32``:
ILP32 and little-endian like their Cortex-M0) with ``stick/board.h`` standing in for NXP's
LPC11Uxx board and chip headers and ``stick/stick.c`` for the board: the USB ROM driver,
the timer tick, ADC, GPIO (the nano's bit-banged TMP102, the mini's voltage shift register
and power good), the nano's A3233 on the UART and the mini's A3222 shift chain on SPI.

:class:`FirmwareStick` puts one running firmware on our virtual USB bus
(``asicdrv.emulator.usb_backend``) with the descriptors the firmware itself hands its USB
stack, so the driver's real pyusb path talks to it.  ``ASICDRV_STICK_FIRMWARE`` names a
clone or bundle of Canaan's Avalon-nano repository; unset, the tests skip with one line.
"""

from __future__ import annotations

import errno
import os
import queue
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import usb.core

from asicdrv.emulator.usb_backend import EmulatedUsbDevice
from harness import MODEL_DIR, FirmwareModule, _run, _version, cached_build, named_source

STICK_DIR = Path(__file__).parent / "stick"
STICK_REF = "master"  # b22b4ec, "PMU741: Update version"
LIB = "firmware/nxplib/lpc_chip_11uxx_lib"
# the board parts the sticks and the AUC share (LPC11U library objects, the USB ROM
# stand-in, and what every board model has: clock, events, control file)
BOARD_SOURCES = [STICK_DIR / "usb_rom.c", STICK_DIR / "lpc11u.c", MODEL_DIR / "common.c"]
BOARD_FILES = [*sorted(STICK_DIR.iterdir()), MODEL_DIR / "common.c", MODEL_DIR / "common.h"]
REPORT = 40  # the sticks' HID reports
PACKET = 64  # a full-speed endpoint's packet


@dataclass(frozen=True)
class StickRecipe:
    folder: str  # under firmware/
    define: str  # which board stick.c models
    wraps: tuple[str, ...]  # calls across files the board paces or times


RECIPES = {
    "nano": StickRecipe("nano", "STICK_NANO", ("delay", "hid_rxrb_cnt")),
    "4-mini": StickRecipe("mini", "STICK_MINI", ("delay", "wdt_feed")),
}


def stick_source() -> str:
    source = named_source("ASICDRV_STICK_FIRMWARE", "Canaan's Avalon-nano")
    check_m32("ASICDRV_STICK_FIRMWARE")
    return source


def check_m32(variable: str) -> None:
    """The variable is set: a compiler that cannot build 32-bit programs is an error."""
    probe = subprocess.run(["gcc", "-m32", "-print-libgcc-file-name"], capture_output=True)
    if probe.returncode or not os.path.exists(probe.stdout.decode().strip()):
        raise RuntimeError(
            f"{variable} is set but gcc cannot build 32-bit programs "
            "(Debian: lib32gcc-12-dev libc6-dev-i386)"
        )


def build_stick(model: str) -> Path:
    """The executable for ``model`` ("nano" or "4-mini"), built once per commit and model."""
    recipe = RECIPES[model]

    def compile_to(work: Path, commit: str, out: Path) -> str:
        fw = work / "firmware" / recipe.folder
        version = _version((fw / "Makefile").read_text(), commit, ())
        lib = work / LIB
        flags = ["-m32", "-O1", "-fcommon", "-w", f"-D{recipe.define}"]
        flags += [f"-I{STICK_DIR}", f"-I{fw / 'code' / 'inc'}", f"-I{lib / 'inc'}"]
        flags += [f"-I{lib / 'inc' / 'usbd'}", f"-I{MODEL_DIR}", *_asm_headers(work)]
        objs = []
        for src in sorted((fw / "code" / "src").glob("*.c")):
            if src.stem == "cr_startup_lpc11xx":  # the Cortex-M0 vector table
                continue
            obj = str(work / (src.stem + ".o"))
            rename = ["-Dmain=fw_main"] if src.stem == "hid_main" else []
            cmd = ["gcc", *flags, *rename, f'-DAVAM_VERSION="{version}"', "-c", str(src)]
            _run([*cmd, "-o", obj], fw)
            objs.append(obj)
        board = [
            str(p) for p in (STICK_DIR / "stick.c", *BOARD_SOURCES, MODEL_DIR / "sha256_model.c")
        ]
        board.append(str(lib / "src" / "ring_buffer.c"))
        wraps = [f"-Wl,--wrap={name}" for name in recipe.wraps]
        _run(["gcc", *flags, "-no-pie", *wraps, *objs, *board, "-o", str(out)], fw)
        return version

    inputs = [Path(__file__), *BOARD_FILES, MODEL_DIR / "sha256_model.c"]
    paths = [f"firmware/{recipe.folder}", LIB]
    return cached_build(
        f"stick-{recipe.folder}", stick_source(), STICK_REF, inputs, paths, compile_to
    )


def _asm_headers(work: Path) -> list[str]:
    """The kernel's <asm/...> headers for a 32-bit build: gcc-multilib links them into
    /usr/include, but it conflicts with the MIPS cross compiler (Debian 12); without it,
    the host's own (they serve both word sizes) through a private link."""
    if os.path.exists("/usr/include/asm"):
        return []
    arch = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True)
    (work / "asm-include").mkdir()
    (work / "asm-include" / "asm").symlink_to(f"/usr/include/{arch.stdout.strip()}/asm")
    return [f"-idirafter{work / 'asm-include'}"]


def _descriptors(data: bytes) -> list[bytes]:
    """A run of USB descriptors, each as its bLength says."""
    out = []
    while len(data) >= 2 and data[0] >= 2:
        out.append(data[: data[0]])
        data = data[data[0] :]
    return out


def _ctl(settings: dict) -> dict:
    """Control-file lines: ``temp`` (the TMP102, degC), ``adc=(channel, code)``, ``dead``
    (a bit per chip that never finds a nonce)."""
    out = dict(settings)
    if "dead" in out:
        out["dead_chips"] = out.pop("dead")
    if "temp" in out:
        out["tmp102"] = out.pop("temp")
    if "adc" in out:
        channel, value = out.pop("adc")
        out[f"adc {channel}"] = value
    return out


OUT_TIMEOUT_S = 2.0  # a host's OUT transfer gives up after this (a firmware that hangs)


class FirmwareStick(EmulatedUsbDevice):
    """One stick running its firmware, as a device on the emulator's pyusb backend:
    descriptors and strings as the firmware gives them to its USB stack, HID reports on
    0x01/0x81.  ``set(temp=70)``, ``set(adc=(2, 180))``, ``set(nonces=[...])`` drive the
    board; ``events(kind)`` are its log (POWER, VOLT, PLL, FOUND, LOAD, ...)."""

    report_size: int | None = REPORT

    def __init__(self, model: str, **settings):
        # the firmware's delay() (the mini's 0.75 s boot core test, its chip test, a power
        # on) at a quarter of real time: nothing the tests check depends on those waits,
        # and the host keeps its own (a chip test's pause) in real time
        settings.setdefault("delay_scale", 0.25)
        elf = build_stick(model)
        self.module = FirmwareModule(elf, runner=(), **_ctl(settings))
        self.version = self.module.version
        if model == "4-mini":  # its boot core test is over when it powers the chips off
            self.module.wait_event("VOLT", timeout=10, after=1)
        self._attach()
        self.replies: queue.Queue[bytes] = queue.Queue()
        self.acks = threading.Semaphore(0)
        threading.Thread(target=self._read_reports, daemon=True).start()

    def _attach(self) -> None:
        """On the bus: the descriptors and strings the firmware gave its USB stack."""
        self.module.wait_event("CONNECT", timeout=5)
        desc = {e[1][1]: bytes.fromhex(e[1][2]) for e in self.module.events("DESC")}
        self.device_desc = desc["device"]
        self.config = _descriptors(desc["config"])
        strings = []
        for d in _descriptors(desc["strings"]):
            if d[1] != 3:
                break
            strings.append(d)
        self.strings = {i: d[2:].decode("utf-16-le") for i, d in enumerate(strings) if i}
        self.bus, self.address = 1, 12
        self.connected, self.transfers, self.disconnect_after = True, 0, None
        self.configuration = 1
        self.claimed: set[int] = set()
        self.sent: list[bytes] = []  # OUT packets, as the host wrote them
        self.received: list[bytes] = []  # IN packets, as the host got them
        self._lock = threading.Lock()

    def set(self, **settings) -> None:
        self.module.set(**_ctl(settings))

    def events(self, kind: str | None = None):
        return self.module.events(kind)

    def wait_event(self, kind: str, timeout: float = 5.0, after: int = 0):
        return self.module.wait_event(kind, timeout, after)

    def _read_reports(self) -> None:
        stream = self.module.proc.stdout
        while True:
            tag = stream.read(1)
            if not tag:
                return
            if tag == b"A":  # the board took an OUT packet
                self.acks.release()
                continue
            packet = stream.read(stream.read(1)[0])
            self.received.append(packet)
            self.replies.put(packet)

    # --- what the pyusb backend asks of a device ------------------------------------------
    def descriptor(self):
        d = self.device_desc
        return self._device_descriptor(
            (d[4], d[5], d[6]),
            int.from_bytes(d[8:10], "little"),
            int.from_bytes(d[10:12], "little"),
            port=3,
            speed=2,
            bcd_usb=int.from_bytes(d[2:4], "little"),
            bcd_device=int.from_bytes(d[12:14], "little"),
            max_packet0=d[7],
            string_indexes=(d[14], d[15], d[16]),
            configurations=d[17],
        )

    def interfaces(self) -> dict[int, tuple[int, list]]:
        out: dict[int, tuple[int, list]] = {}
        current = None
        for d in self.config:
            if d[1] == 4:  # interface
                current = d[2]
                out[current] = (d[5], [])
            elif d[1] == 5 and current is not None:  # endpoint
                out[current][1].append((d[2], d[3], int.from_bytes(d[4:6], "little")))
        return out

    def _send(self, data: bytes) -> None:
        try:
            self.module.proc.stdin.write(data)
            self.module.proc.stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise usb.core.USBError("No such device", -4, errno.ENODEV) from exc

    def write(self, ep: int, data: bytes) -> int:
        self._count_transfer()
        if ep != 0x01:
            raise usb.core.USBError("Pipe error", -9, errno.EPIPE)
        packet = bytes(data[:PACKET])
        if self.report_size:  # a HID report is always its full size
            packet = packet[: self.report_size].ljust(self.report_size, b"\0")
        self.sent.append(packet)
        self._send(b"O" + bytes((len(packet),)) + packet)
        # a bulk or interrupt OUT transfer ends when the device takes the packet (its USB
        # stack takes one a millisecond); a firmware starved under load makes it wait
        if not self.acks.acquire(timeout=OUT_TIMEOUT_S):
            raise usb.core.USBTimeoutError("Operation timed out", -7, errno.ETIMEDOUT)
        return len(data)

    def read(self, ep: int, size: int, timeout_ms: int) -> bytes:
        self._count_transfer()
        if ep != 0x81:
            raise usb.core.USBError("Pipe error", -9, errno.EPIPE)
        with self._lock:
            self._send(b"R")
            try:
                return self.replies.get(timeout=timeout_ms / 1000)[:size]
            except queue.Empty:
                self._send(b"C")
                raise usb.core.USBTimeoutError("Operation timed out", -7, errno.ETIMEDOUT)

    def close(self) -> None:
        self.connected = False
        self.module.close()
