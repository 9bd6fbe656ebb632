"""The AUC's firmware in the loop: Canaan's Avalon-USB-converter (tag AUC-20151208),
``firmware/auc``, built unchanged as a 32-bit C++ host program (its own I2C master driver
writes the LPC11U I2C registers, which ``auc/board.h`` makes objects of) around our board
model (``auc/auc.cpp``: the USB ROM's hardware, core and CDC parts, the I2C peripheral).

:class:`FirmwareAuc` is the running firmware on our virtual USB bus (bulk 0x01/0x81, the
firmware's own descriptors); its I2C slaves are an emulator's modules.  ``ASICDRV_AUC_FIRMWARE``
names a clone or bundle of the repository; unset, the tests skip with one line.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
from pathlib import Path


from harness import MODEL_DIR, FirmwareModule, _run, cached_build, named_source
from stick_harness import BOARD_FILES, BOARD_SOURCES, FirmwareStick, _asm_headers, check_m32

AUC_DIR = Path(__file__).parent / "auc"
STICK_DIR = Path(__file__).parent / "stick"
AUC_REF = "AUC-20151208"
LIB = "firmware/nxplib/lpc_chip_11uxx_lib"


def auc_source() -> str:
    source = named_source("ASICDRV_AUC_FIRMWARE", "Canaan's Avalon-USB-converter")
    if shutil.which("g++") is None:
        raise RuntimeError("ASICDRV_AUC_FIRMWARE is set but g++ is not installed")
    check_m32("ASICDRV_AUC_FIRMWARE")
    return source


def build_auc() -> Path:
    """The AUC's executable, built once per commit and board model."""

    def compile_to(work: Path, commit: str, out: Path) -> str:
        fw, lib = work / "firmware" / "auc", work / LIB
        # C++ for the register objects, but nothing of C++'s library: no exceptions, no RTTI
        flags = ["-x", "c++", "-m32", "-O1", "-fcommon", "-w", "-fpermissive", "-nostdinc++"]
        flags += ["-fno-exceptions", "-fno-rtti", "-DBOARD_NXP_XPRESSO_11U14", "-DCORE_M0"]
        flags += [f"-I{AUC_DIR}", f"-I{fw / 'code' / 'inc'}", f"-I{lib / 'inc'}"]
        flags += [f"-I{lib / 'inc' / 'usbd'}", f"-I{STICK_DIR}", f"-I{MODEL_DIR}"]
        flags += _asm_headers(work)
        objs = []
        sources = sorted((fw / "code" / "src").glob("*.c"))
        sources += [lib / "src" / "ring_buffer.c", AUC_DIR / "auc.cpp", *BOARD_SOURCES]
        for src in sources:
            if src.stem == "cr_startup_lpc11uxx":  # the Cortex-M0 vector table
                continue
            obj = str(work / (src.stem + ".o"))
            rename = ["-Dmain=fw_main"] if src.stem == "main" else []
            _run(["g++", *flags, *rename, "-c", str(src), "-o", obj], fw)
            objs.append(obj)
        _run(["gcc", "-m32", "-no-pie", "-Wl,--wrap=AVALON_Delay", *objs, "-o", str(out)], fw)
        return AUC_REF

    inputs = [Path(__file__), *sorted(AUC_DIR.iterdir()), *BOARD_FILES]
    return cached_build("auc", auc_source(), AUC_REF, inputs, ["firmware/auc", LIB], compile_to)


class FirmwareAuc(FirmwareStick):
    """The AUC running its firmware, on the virtual USB bus; ``slaves(address, write, rlen)``
    answers its I2C master (an emulator's ``i2c_xfer``), ``present(address, reading)`` its
    address phase (``I2CBus.answers``)."""

    report_size = None  # bulk packets: as long as the host writes them

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
        threading.Thread(target=self._serve_i2c, daemon=True).start()
        self._attach()
        self.version = AUC_REF
        self.replies: queue.Queue[bytes] = queue.Queue()
        self.acks = threading.Semaphore(0)
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
                if tag == ord("A"):  # the address byte: the address and the read bit
                    heard = self.present(address >> 1, bool(address & 1))
                    self._i2c_out.write(b"A" if heard else b"N")
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
