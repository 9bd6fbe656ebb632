"""The firmware tier's harness: Canaan's MM firmware, built unmodified for a 32-bit
big-endian MIPS host and run under ``qemu-mips-static``, with our peripheral model
(``model/``) standing in for the FPGA's registers and the hash chips.

``ASICDRV_MM_FIRMWARE`` names a clone or a git bundle of Canaan-Creative/MM; unset, every
test of the tier skips with one line.  Builds are cached per commit and model source in
``ASICDRV_FW_CACHE`` (default ``~/.cache/asicdrv-firmware``).

How a build works (docs/firmware-tier.md): the LM32 is big-endian and the firmware copies
protocol words into native integers, so a big-endian MIPS build needs no change; every
register access goes through ``readl``/``writel`` in ``io.h`` and the interrupt
controller through ``sdk/intr.h``, so ``model/shim.h``, forced in with ``-include``,
defines both headers' guards and routes them to the model.  ``delay()`` is wrapped
(``-Wl,--wrap=delay``) to sleep in real time for calls across files.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import select
import shutil
import subprocess
import tempfile
import threading
import time
import tty
from dataclasses import dataclass
from pathlib import Path

import pytest

MODEL_DIR = Path(__file__).parent / "model"
QEMU = "qemu-mips-static"
I2C_HZ = 400_000  # the AUC's I2C clock
CC = "mips-linux-gnu-gcc"


@dataclass(frozen=True)
class Recipe:
    """One firmware build: the ref in Canaan's repository, the files its Makefile
    compiles (without the LM32 start-up code), extra defines, the model's board file."""

    ref: str
    sources: tuple[str, ...]
    board: str
    defines: tuple[str, ...] = ()


# each Makefile's CSRCS, sdk/intr.c, and the minilibc the Makefiles link (its memcpy copies
# forwards, which twipwm.c's overlapping copy relies on)
_MINILIBC = ("minilibc/memcpy.c", "minilibc/memset.c")
_A2_SOURCES = (
    *"main.c uart.c sha256.c alink.c twipwm.c miner.c crc16.c shifter.c timer.c".split(),
    "sdk/intr.c",
    "minilibc/printf.c",
    *_MINILIBC,
)
_A4_SOURCES = (
    *"main.c sha256.c twipwm.c miner.c crc16.c shifter.c timer.c iic.c api.c mboot.c".split(),
    "ma.c",
    "sdk/intr.c",
    *_MINILIBC,
)

RECIPES = {
    "MM2": Recipe("avalon2", _A2_SOURCES, "periph_mm3.c"),
    "MM3": Recipe("avalon3", _A2_SOURCES, "periph_mm3.c"),
    "MM40": Recipe("avalon4", _A4_SOURCES, "periph_mm4.c", ("MM40",)),
    "MM41": Recipe("avalon4", _A4_SOURCES, "periph_mm4.c", ("MM41",)),
    "MM50": Recipe("avalon4", _A4_SOURCES, "periph_mm4.c", ("MM50",)),
}


def named_source(variable: str, repository: str) -> str:
    """The clone or bundle of ``repository`` that ``variable`` names: unset, the test skips
    with one line; set to nothing there, an error (a check that cannot run is no pass)."""
    source = os.environ.get(variable)
    if not source:
        pytest.skip(f"firmware tier: set {variable} to a clone or bundle of {repository}")
    if not os.path.exists(source):
        raise RuntimeError(f"{variable}={source!r}: no such clone or bundle")
    return source


def firmware_source() -> str:
    source = named_source("ASICDRV_MM_FIRMWARE", "Canaan's MM")
    missing = [tool for tool in (QEMU, CC) if shutil.which(tool) is None]
    if missing:  # the variable is set: a missing tool is an error, not a skip
        raise RuntimeError(
            f"ASICDRV_MM_FIRMWARE is set but {', '.join(missing)} is not installed "
            "(Debian: gcc-mips-linux-gnu libc6-dev-mips-cross qemu-user-static)"
        )
    return source


def _cache_dir() -> Path:
    root = os.environ.get("ASICDRV_FW_CACHE") or Path.home() / ".cache" / "asicdrv-firmware"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def _run(cmd: list[str], cwd: Path) -> None:
    """A build step; its compiler output in the error when it fails."""
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"firmware build failed: {' '.join(cmd)}\n{done.stderr[-3000:]}")


def _mirror(source: str, cache: Path) -> Path:
    """A bare copy of the firmware repository (a clone or a bundle), made once."""
    mirror = cache / ("src-" + hashlib.sha1(os.path.abspath(source).encode()).hexdigest()[:10])
    if not mirror.exists():
        tmp = Path(tempfile.mkdtemp(dir=cache))
        _git("clone", "--quiet", "--mirror", source, str(tmp / "git"))
        (tmp / "git").rename(mirror)
        shutil.rmtree(tmp)
    return mirror


def _version(makefile: str, commit: str, defines: tuple[str, ...]) -> str:
    """MM_VERSION as the branch's Makefile makes it: its prefix, then $(GIT_VERSION) (the
    commit cut to the Makefile's length), $(BOOTLOADER) (its default, 1) and $(GIT_STATUS)
    (0: a clean tree)."""
    cut = re.search(r"GIT_VERSION:=.*cut -c 1-(\d+)", makefile)
    values = {
        "GIT_VERSION": commit[: int(cut.group(1)) if cut else 7],
        "BOOTLOADER": "1",
        "GIT_STATUS": "0",
    }
    for line in makefile.splitlines():
        match = re.search(r"(?:MM|AVAM)_VERSION='\"([^\"]*)\"'", line)
        if match and all(d in line for d in defines):
            return re.sub(r"\$\((\w+)\)", lambda m: values.get(m.group(1), ""), match.group(1))
    raise RuntimeError("no MM_VERSION in the firmware Makefile")


def cached_build(
    name: str, source: str, ref: str, inputs: list[Path], paths: list[str], compile_to
) -> Path:
    """A firmware executable, built once per commit of ``ref`` and per content of ``inputs``
    (the board model, the recipe): ``paths`` of the repository are extracted into a work
    directory and ``compile_to(work, commit, out)`` builds ``out`` there and returns the
    firmware's version string.  A lock keeps parallel test workers from building twice."""
    cache = _cache_dir()
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        mirror = _mirror(source, cache)
        commit = _git("--git-dir", str(mirror), "rev-parse", ref + "^{commit}")
        digest = hashlib.sha1()
        for path in inputs:
            digest.update(path.name.encode() + path.read_bytes())
        key = f"{name}-{commit[:10]}-{digest.hexdigest()[:10]}"
        elf = cache / key / "firmware.elf"
        if elf.exists():
            return elf
        work = Path(tempfile.mkdtemp(dir=cache))
        archive = subprocess.run(
            ["git", "--git-dir", str(mirror), "archive", commit, *paths],
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(work)], input=archive, check=True)
        (cache / key).mkdir(exist_ok=True)
        out = cache / key / "firmware.elf.tmp"
        version = compile_to(work, commit, out)
        os.rename(out, elf)
        (cache / key / "version").write_text(version)
        shutil.rmtree(work)
        return elf


def build(model: str) -> Path:
    """The executable for ``model`` (MM2, MM3, ...), built once per commit and model."""
    recipe = RECIPES[model]

    def compile_to(work: Path, commit: str, out: Path) -> str:
        fw = work / "firmware"
        version = _version((fw / "Makefile").read_text(), commit, recipe.defines)
        model_c = [
            str(MODEL_DIR / f)
            for f in ("periph.c", "common.c", recipe.board, "engines.c", "sha256_model.c")
        ]
        # -fcommon as the old toolchain defaulted to; no delay-slot filling, so that a
        # faulting register access (periph.c on_fault) is never in a delay slot
        common = ["-O2", "-std=gnu99", "-fcommon", "-fno-delayed-branch", "-w"]
        common += ["-I.", "-Isdk", "-Iminilibc"]
        # the firmware's own minilibc memcpy/memset (a forward copy, which twipwm.c's
        # overlapping copy relies on) under names that leave the C library's alone
        firmware_only = ["-Dmemcpy=fw_memcpy", "-Dmemset=fw_memset"]
        common += [f"-D{d}" for d in recipe.defines]
        objs = []
        for src in recipe.sources:  # the firmware's own files, with the shim forced in
            obj = str(work / (src.replace("/", "_") + ".o"))
            cmd = [CC, *common, *firmware_only, "-include", str(MODEL_DIR / "shim.h")]
            cmd += [f'-DMM_VERSION="{version}"', "-c", src, "-o", obj]
            _run(cmd, fw)
            objs.append(obj)
        cmd = [CC, *common, f"-I{MODEL_DIR}", "-static", "-Wl,--wrap=delay", *objs, *model_c]
        _run([*cmd, "-o", str(out)], fw)
        return version

    inputs = [Path(__file__), *(p for p in sorted(MODEL_DIR.iterdir()) if p.is_file())]
    return cached_build(model, firmware_source(), recipe.ref, inputs, ["firmware"], compile_to)


class FirmwareModule:
    """One MM running its firmware.  ``set(temp=(0, 95))`` etc. writes the control file the
    board model reads; ``events(kind)`` are the board's own log lines (``POWER on 8a00``,
    ``FOUND miner 2 nonce ...``) as (seconds since start, words)."""

    def __init__(
        self,
        elf: Path,
        module_id: int = 0,
        runner: tuple[str, ...] = (QEMU,),
        pass_fds: tuple[int, ...] = (),
        env: dict | None = None,
        **settings,
    ):
        self.module_id = module_id
        self.version = (elf.parent / "version").read_text()
        self._ctl_dir = tempfile.mkdtemp(prefix="asicdrv-fw-")
        self.ctl_path = os.path.join(self._ctl_dir, "ctl")
        self._ctl: dict[str, str] = {}
        self.set(**settings)
        env = dict(os.environ, **(env or {}), FW_MODULE_ID=str(module_id), FW_CTL=self.ctl_path)
        self.proc = subprocess.Popen(
            [*runner, str(elf)],
            pass_fds=pass_fds,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self._events: list[tuple[float, list[str]]] = []
        self._reader = threading.Thread(target=self._read_events, daemon=True)
        self._reader.start()

    def set(self, **settings) -> None:
        for key, value in settings.items():
            if key == "temp":
                sensor, celsius = value
                self._ctl[f"temp {sensor}"] = str(celsius)
            elif key == "nonces":
                self._ctl["nonces"] = " ".join(f"{n:08x}" for n in value)
            elif key == "dead":
                self._ctl["dead"] = "\n".join(f"dead {m} {c}" for m, c in value)
            else:
                self._ctl[key] = str(value)
        lines = [v if k == "dead" else f"{k} {v}" for k, v in self._ctl.items() if k != "dead"]
        if "dead" in self._ctl:
            lines += ["alive", self._ctl["dead"]]
        tmp = self.ctl_path + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, self.ctl_path)

    def _read_events(self) -> None:
        for raw in self.proc.stderr:
            words = raw.decode(errors="replace").split()
            if len(words) >= 3 and words[0] == "EV":
                self._events.append((float(words[1]), words[2:]))

    def events(self, kind: str | None = None) -> list[tuple[float, list[str]]]:
        return [e for e in list(self._events) if kind is None or e[1][0] == kind]

    def wait_event(self, kind: str, timeout: float = 5.0, after: int = 0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events(kind)
            if len(found) > after:
                return found[after]
            time.sleep(0.01)
        raise AssertionError(f"no {kind} event from the firmware in {timeout} s")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        shutil.rmtree(self._ctl_dir, ignore_errors=True)


class SerialLine:
    """An Avalon 2/3 line: a pty whose far end goes to every module on the line (their
    UART receive pins are wired together) and whose near end the driver opens as
    ``serial://<path>?family=avalon2``.  Only the addressed module transmits."""

    def __init__(self, modules: list[FirmwareModule]):
        self.modules = modules
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self._slave = slave
        self.path = os.ttyname(slave)
        self.url = f"serial://{self.path}?family=avalon2"
        self.host_bytes = bytearray()
        self.device_bytes = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        outs = {m.proc.stdout.fileno(): m for m in self.modules}
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master, *outs], [], [], 0.05)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    data = b""
                if fd == self.master:
                    self.host_bytes += data
                    for module in self.modules:
                        try:
                            module.proc.stdin.write(data)
                            module.proc.stdin.flush()
                        except (BrokenPipeError, ValueError):
                            pass
                elif data:
                    self.device_bytes += data
                    os.write(self.master, data)
                else:
                    outs.pop(fd, None)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass


class FirmwareI2CBus:
    """The I2C bus of MM4 modules running their firmware, as the link classes want it
    (``write(address, data)``, ``read(address, size)``): each module's board model speaks
    a small request/answer protocol on its stdin/stdout (model/periph_mm4.c).  A write
    reaches every module that hears the address (its own, or 0: a general call); a read is
    answered by the first module with data for it."""

    def __init__(self, modules: list[FirmwareModule]):
        self.modules = modules
        self.lock = threading.Lock()
        self.writes: list[tuple[int, bytes]] = []  # (address, frame) as the host wrote them
        for m in modules:
            os.set_blocking(m.proc.stdout.fileno(), True)

    def _ask(self, module: FirmwareModule, request: bytes, answer_size: int) -> bytes:
        module.proc.stdin.write(request)
        module.proc.stdin.flush()
        head = module.proc.stdout.read(1)
        if head == b"D":
            return head + module.proc.stdout.read(answer_size)
        return head

    def write(self, address: int, data: bytes) -> bool:
        """Whether any module acknowledged the frame."""
        with self.lock:
            self.writes.append((address, bytes(data)))
            heard = [
                self._ask(m, bytes((ord("W"), address, len(data))) + data, 0) for m in self.modules
            ]
            time.sleep((len(data) + 1) * 9 / I2C_HZ)  # the bytes' time on the wire
        return b"A" in heard

    def read(self, address: int, size: int) -> bytes:
        with self.lock:
            for m in self.modules:
                answer = self._ask(m, bytes((ord("R"), address, size)), size)
                if answer[:1] == b"D":
                    return answer[1:]
        return b""

    def close(self) -> None:
        pass
