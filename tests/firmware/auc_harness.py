"""The AUC's firmware in the loop: Canaan's Avalon-USB-converter (tag AUC-20151208),
``firmware/auc``, built unchanged as a 32-bit C++ host program (its own I2C master driver
writes the LPC11U I2C registers, which ``auc/board.h`` makes objects of) around our board
model (``auc/auc.cpp``: the USB ROM's hardware, core and CDC parts, the I2C peripheral).

:class:`FirmwareAuc` is the running firmware on our virtual USB bus (bulk 0x01/0x81, the
firmware's own descriptors); its I2C slaves are an emulator's modules.  ``ASICDRV_AUC_FIRMWARE``
names a clone or bundle of the repository; unset, the tests skip with one line.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import queue
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
import usb.core

from harness import FirmwareModule, _cache_dir, _git, _mirror, _run
from stick_harness import FirmwareStick, _asm_headers, check_m32

AUC_DIR = Path(__file__).parent / "auc"
STICK_DIR = Path(__file__).parent / "stick"
AUC_REF = "AUC-20151208"
LIB = "firmware/nxplib/lpc_chip_11uxx_lib"
PACKET = 64


def auc_source() -> str:
    source = os.environ.get("ASICDRV_AUC_FIRMWARE")
    if not source:
        pytest.skip("AUC firmware tier: set ASICDRV_AUC_FIRMWARE to Canaan's Avalon-USB-converter")
    if not os.path.exists(source):
        raise RuntimeError(f"ASICDRV_AUC_FIRMWARE={source!r}: no such clone or bundle")
    if shutil.which("g++") is None:
        raise RuntimeError("ASICDRV_AUC_FIRMWARE is set but g++ is not installed")
    check_m32("ASICDRV_AUC_FIRMWARE")
    return source


def build_auc() -> Path:
    cache = _cache_dir()
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        mirror = _mirror(auc_source(), cache)
        commit = _git("--git-dir", str(mirror), "rev-parse", AUC_REF + "^{commit}")
        digest = hashlib.sha1()
        for path in [Path(__file__), *sorted(AUC_DIR.iterdir()), STICK_DIR / "board.h"]:
            digest.update(path.name.encode() + path.read_bytes())
        key = f"auc-{commit[:10]}-{digest.hexdigest()[:10]}"
        elf = cache / key / "auc.elf"
        if elf.exists():
            return elf
        work = Path(tempfile.mkdtemp(dir=cache))
        archive = subprocess.run(
            ["git", "--git-dir", str(mirror), "archive", commit, "firmware/auc", LIB],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
        fw, lib = work / "firmware" / "auc", work / LIB
        # C++ for the register objects, but nothing of C++'s library: no exceptions, no RTTI
        flags = ["-x", "c++", "-m32", "-O1", "-fcommon", "-w", "-fpermissive", "-nostdinc++"]
        flags += ["-fno-exceptions", "-fno-rtti", "-DBOARD_NXP_XPRESSO_11U14", "-DCORE_M0"]
        flags += [f"-I{AUC_DIR}", f"-I{fw / 'code' / 'inc'}", f"-I{lib / 'inc'}"]
        flags += [f"-I{lib / 'inc' / 'usbd'}", *_asm_headers(work)]
        objs = []
        sources = sorted((fw / "code" / "src").glob("*.c"))
        sources += [lib / "src" / "ring_buffer.c", AUC_DIR / "auc.cpp"]
        for src in sources:
            if src.stem == "cr_startup_lpc11uxx":  # the Cortex-M0 vector table
                continue
            obj = str(work / (src.stem + ".o"))
            rename = ["-Dmain=fw_main"] if src.stem == "main" else []
            _run(["g++", *flags, *rename, "-c", str(src), "-o", obj], fw)
            objs.append(obj)
        (cache / key).mkdir(exist_ok=True)
        out = str(cache / key / "auc.elf.tmp")
        _run(["gcc", "-m32", "-no-pie", "-Wl,--wrap=AVALON_Delay", *objs, "-o", out], fw)
        os.rename(out, elf)
        (cache / key / "version").write_text(AUC_REF)
        shutil.rmtree(work)
        return elf


class FirmwareAuc(FirmwareStick):
    """The AUC running its firmware, on the virtual USB bus; ``slaves(address, write, rlen)``
    answers its I2C master (an emulator's ``i2c_xfer``), ``present(address)`` its address
    phase."""

    def __init__(self, slaves, present):
        self.slaves, self.present = slaves, present
        to_harness = os.pipe()
        to_model = os.pipe()
        env = {"FW_I2C_OUT": str(to_harness[1]), "FW_I2C_IN": str(to_model[0])}
        self.module = FirmwareModule(
            build_auc(), runner=(), pass_fds=(to_harness[1], to_model[0]), env=env
        )
        os.close(to_harness[1])
        os.close(to_model[0])
        self._i2c_in = os.fdopen(to_harness[0], "rb", buffering=0)
        self._i2c_out = os.fdopen(to_model[1], "wb", buffering=0)
        self.i2c_log: list[tuple[str, int, bytes]] = []
        self.received: list[bytes] = []  # IN packets, as the host got them
        threading.Thread(target=self._serve_i2c, daemon=True).start()
        self._attach()
        self.version = AUC_REF
        self.replies: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read_reports, daemon=True).start()

    def _read_exact(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self._i2c_in.read(size - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def _serve_i2c(self) -> None:
        try:
            while True:
                tag, address = self._read_exact(2)
                if tag == ord("A"):
                    self._i2c_out.write(b"A" if self.present(address) else b"N")
                elif tag == ord("W"):
                    data = self._read_exact(self._read_exact(1)[0])
                    self.i2c_log.append(("W", address, data))
                    self.slaves(address, data, 0)
                else:  # "R"
                    size = self._read_exact(1)[0]
                    data = self.slaves(address, b"", size)
                    self.i2c_log.append(("R", address, data))
                    self._i2c_out.write(data.ljust(size, b"\xff")[:size])
        except (EOFError, OSError, ValueError):
            return

    def _read_reports(self) -> None:
        stream = self.module.proc.stdout
        while True:
            tag = stream.read(1)
            if not tag:
                return
            packet = stream.read(stream.read(1)[0])
            self.received.append(packet)
            self.replies.put(packet)

    def write(self, ep: int, data: bytes) -> int:
        self._count_transfer()
        if ep != 0x01:
            raise usb.core.USBError("Pipe error", -9, errno.EPIPE)
        packet = bytes(data[:PACKET])
        self.sent.append(packet)
        self._send(b"O" + bytes((len(packet),)) + packet)
        return len(data)
