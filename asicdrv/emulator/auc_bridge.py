"""The AUC (USB -> I2C bridge) as its published firmware behaves, in front of an
:class:`~asicdrv.emulator.bus.I2CBus` of modules."""

from __future__ import annotations

import random
import time

from firmware_protocols import auc
from firmware_protocols.encodings import celsius_to_auc_adc
from .bus import I2CBus

TYPE_CHECKING = False  # typing is for type checkers only: it costs memory at run time
if TYPE_CHECKING:
    from typing import Callable

AUC_VERSION = b"AUC-20151208"  # the published build (Avalon-USB-converter's tag)
AUC_PCB_RISE_C = 8.0
AUC_INFO_STATE = 2  # CDC_I2C_STATE_CONNECTED: the firmware's loop runs only when configured
AUC_LATE_S = 0.3  # the auc_late fault: past the host's 200 ms USB timeout
BOOT_XFER_DELAY = 9600  # I2CM_XFER_DELAY_DEFAULT, until an INIT sets another
RING_BYTES = auc.QUEUE_SLOTS * auc.AUC_PACKET_SIZE
DEVICE_WRITE, DEVICE_READ = 0xA3, 0xA4  # LPCUSBSIO's RW requests; cgminer never sends them
I2C_COMMANDS = frozenset((DEVICE_WRITE, DEVICE_READ, auc.AucCommand.XFER))
IGNORE_NACK = 0x01  # XFER option (I2CM_XFER_OPTION_IGNORE_NACK)
# RW options (CDC_I2C_TRANSFER_OPTIONS_*)
RW_START, RW_STOP, RW_NACK_LAST, RW_NO_ADDRESS = 0x01, 0x02, 0x08, 0x40


class AucBridge:
    """The AUC as its published firmware (``cdc_i2c.c``, ``i2c_lpc11uxx.c``, AUC-20151208)
    behaves, on what a host can see:

    - Requests and replies live in two rings of four 64-byte slots with no full check.  A
      USB packet overwrites its slot only as far as it is long, and the firmware never
      reads the length byte: the rest of a short packet is what the slot held before.
    - Requests are handled one at a time, in order; each reply takes the next reply slot
      and goes to the IN endpoint when the endpoint is free (the host read the last one).
      Four replies waiting behind the endpoint make the ring look empty: all four are lost.
    - RESET answers OK and aborts a transfer that hangs; it flushes nothing.  DEINIT gates
      the I2C block's clock off: the next XFER hangs until a RESET (then ERROR) or INIT.
    - XFER: SLA+W and the bytes (NAK 0x02 when nobody answers), then, with something to
      read, the write-to-read delay, SLA+R and ``rlen`` bytes (SLAVE_NAK 0x04 when nobody
      answers SLA+R).  Without a write it is a read alone, even of 0 bytes, which takes the
      module's pending reply.  A module acknowledges SLA+R only with a whole reply ready
      (:meth:`I2CBus.answers`); then the read is ``rlen`` bytes, 0xFF past the reply (the
      idle bus), and the reply 4 + rlen bytes, status OK.
    - Each reply is ready when its I2C transfer would have ended: the bytes at the bus
      clock plus the delay (``xfer_delay`` ticks of the firmware's busy loop, 4800 a
      millisecond as cgminer counts them).

    Not modelled (docs/emulator.md, "The AUC"): the 5 s watchdog reset of a hung AUC; 0xA3/0xA4 with
    the NO_ADDRESS option or an unbounded read; requests queued while a transfer runs (ours
    are handled as they arrive, so the request ring never overflows).
    """

    def __init__(
        self,
        bus: I2CBus,
        ambient_c: Callable[[], float],
        clock: Callable[[], float] = time.monotonic,
        late_rate: Callable[[], float] = lambda: 0.0,
        rng: random.Random | None = None,
    ):
        self.bus = bus
        self.ambient_c = ambient_c
        self.clock = clock
        self.late_rate = late_rate  # fault: that share of I2C replies leave AUC_LATE_S late
        self.rng = rng or random.Random(0)
        self.timed = True  # False: replies ready at once (benchmarks of the code alone)
        self.reboot()

    def reboot(self) -> None:
        """Power-on: empty rings, the I2C block on at 400 kHz with the firmware's delay."""
        # the request slots, then the reply slots, as one block of memory: a reply longer
        # than its slot runs into the next one, as on the AUC
        self.memory = bytearray(2 * RING_BYTES)
        self.req_write = self.req_read = 0
        self.resp_write = self.resp_read = 0
        self.reply_ready = [0.0] * auc.QUEUE_SLOTS
        self.endpoint: tuple[bytes, float] | None = None  # the IN endpoint: reply, ready at
        self.reset_requested = False
        self.i2c_clock = True
        self.clock_hz = auc.DEFAULT_I2C_CLOCK_HZ
        self.xfer_delay = BOOT_XFER_DELAY
        self.busy_until = 0.0
        self.hung = False  # a transfer waits for the I2C block (clock gated off, no START)
        self.open_write: tuple[int, bytes] | None = None  # a 0xA3 write without STOP
        self.bad_packets = 0  # requests with a command the firmware does not know

    @property
    def initialised(self) -> bool:
        """The I2C port is up (from power-on or INIT, until a DEINIT)."""
        return self.i2c_clock

    # --- the USB side --------------------------------------------------------------------------
    def handle(self, packet: bytes) -> None:
        """One USB OUT packet (0..64 bytes) into the next request slot; then the firmware's
        loop runs."""
        base = self.req_write * auc.AUC_PACKET_SIZE
        self.memory[base : base + len(packet)] = packet[: auc.AUC_PACKET_SIZE]
        if self.memory[base + 3] == auc.AucCommand.RESET:  # noticed in the USB interrupt
            self.reset_requested = True
        self.req_write = (self.req_write + 1) % auc.QUEUE_SLOTS
        self._run()

    def next_reply(self) -> tuple[bytes, float] | None:
        """The reply in the IN endpoint and when it is ready (None: the endpoint is empty)."""
        return self.endpoint

    def take_reply(self) -> bytes:
        """The host read the IN endpoint: it is free for the next reply."""
        assert self.endpoint is not None
        reply = self.endpoint[0]
        self.endpoint = None
        self._hand_over()
        return reply

    # --- the firmware's loop -------------------------------------------------------------------
    def _run(self) -> None:
        # a hung request is still in hand even when four more have wrapped the ring
        while self.hung or self.req_read != self.req_write:
            if not self._process(self.req_read * auc.AUC_PACKET_SIZE):
                return  # hung until a RESET arrives
            self.reset_requested = False
            self.req_read = (self.req_read + 1) % auc.QUEUE_SLOTS
            self.resp_write = (self.resp_write + 1) % auc.QUEUE_SLOTS
            self._hand_over()

    def _hand_over(self) -> None:
        if self.endpoint is None and self.resp_read != self.resp_write:
            base = RING_BYTES + self.resp_read * auc.AUC_PACKET_SIZE
            length = min(self.memory[base], auc.AUC_PACKET_SIZE)
            reply = bytes(self.memory[base : base + length])
            self.endpoint = (reply, self.reply_ready[self.resp_read])
            self.resp_read = (self.resp_read + 1) % auc.QUEUE_SLOTS

    def _process(self, request: int) -> bool:
        """Handle the request at ``request`` (an offset in memory) into the next reply slot;
        False while it hangs."""
        mem = self.memory
        command = mem[request + 3]
        if command in I2C_COMMANDS and self._hangs(request) and not self.reset_requested:
            self.hung = True
            return False
        start = max(self.clock(), self.busy_until)
        reply = RING_BYTES + self.resp_write * auc.AUC_PACKET_SIZE
        length, seconds = auc.AUC_HEADER_SIZE, 0.0
        status: int = auc.AucStatus.INVALID_CMD  # the template's, kept for an unknown command
        if command == auc.AucCommand.INIT:
            self.i2c_clock = True
            speed = int.from_bytes(mem[request + 4 : request + 8], "little")
            self.clock_hz = speed or self.clock_hz  # (0 would divide by zero on the AUC)
            delay = int.from_bytes(mem[request + 8 : request + 12], "little")
            self.xfer_delay = delay or self.xfer_delay  # 0 keeps the delay it had
            mem[reply + 4 : reply + 4 + len(AUC_VERSION)] = AUC_VERSION
            length, status = length + len(AUC_VERSION), auc.AucStatus.OK
        elif command == auc.AucCommand.DEINIT:
            self.i2c_clock = False
            status = auc.AucStatus.OK
        elif command == auc.AucCommand.RESET:
            status = auc.AucStatus.OK
        elif command == auc.AucCommand.INFO:
            info = auc.build_info_data(
                celsius_to_auc_adc(self.ambient_c() + AUC_PCB_RISE_C),
                (self.req_write - self.req_read) % auc.QUEUE_SLOTS,  # this INFO counts
                (self.resp_write - self.resp_read) % auc.QUEUE_SLOTS + 1,
                1 if self.endpoint is not None else 0,  # bit 0: a reply waits in the endpoint
                AUC_INFO_STATE,
            )
            mem[reply + 4 : reply + 4 + len(info)] = info
            length, status = length + len(info), auc.AucStatus.OK
        elif command in I2C_COMMANDS:
            if self.hung or self._hangs(request):  # aborted by a RESET
                self.hung = False
                status = auc.AucStatus.ERROR
            else:
                transfer = I2CTransfer(self, request, reply, start)
                read, status, seconds = transfer.run(command)
                length += read
        else:
            self.bad_packets += 1
        mem[reply] = length & 0xFF
        mem[reply + 1 : reply + 3] = mem[request + 1 : request + 3]  # ids echoed
        mem[reply + 3] = status
        self.busy_until = start + (seconds if self.timed else 0.0)
        rate = self.late_rate()
        late = rate and command in I2C_COMMANDS and self.rng.random() < rate
        self.reply_ready[self.resp_write] = self.busy_until + (AUC_LATE_S if late else 0.0)
        return True

    def _hangs(self, request: int) -> bool:
        """The firmware would wait for the I2C block without end: its clock is gated off
        (DEINIT), or a 0xA3/0xA4 asks for no START."""
        if not self.i2c_clock:
            return True
        options = self.memory[request + 6]
        return self.memory[request + 3] != auc.AucCommand.XFER and not options & RW_START

    def delay_s(self) -> float:
        return self.xfer_delay / auc.XFER_DELAY_TICKS_PER_S

    def byte_s(self) -> float:
        return 9 / self.clock_hz  # eight bits and the acknowledge


class I2CTransfer:
    """One I2C request of the AUC (XFER 0xA5, WRITE 0xA3, READ 0xA4) on the bus, as the
    firmware's master drives it; the data comes from and goes to the bridge's memory."""

    def __init__(self, bridge: AucBridge, request: int, reply: int, start: float):
        self.bridge, self.bus, self.mem = bridge, bridge.bus, bridge.memory
        self.request, self.reply, self.at = request, reply, start
        self.seconds = 0.0

    def run(self, command: int) -> tuple[int, int, float]:
        """(bytes read into the reply, status, seconds on the bus)."""
        self._end_open_write()
        if command == auc.AucCommand.XFER:
            read, status = self._xfer()
        else:
            read, status = self._read_or_write(command == DEVICE_READ)
        return read, status, self.seconds

    def _tick(self, nbytes: int) -> None:
        self.seconds += nbytes * self.bridge.byte_s()

    def _present(self, address: int, reading: bool) -> bool:
        self._tick(1)  # the address byte
        return self.bus.answers(address, reading, at=self.at + self.seconds)

    def _write(self, address: int, data: bytes) -> None:
        self._tick(len(data))
        self.bus.write(address, data, at=self.at + self.seconds)

    def _read(self, address: int, count: int) -> bytes:
        """``count`` bytes from the module: its pending reply, then the idle bus."""
        self._tick(count)
        got = self.bus.read(address, at=self.at + self.seconds)
        return (got + b"\xff" * count)[:count]

    def _store(self, data: bytes) -> int:
        end = min(self.reply + 4 + len(data), len(self.mem))
        self.mem[self.reply + 4 : end] = data[: end - self.reply - 4]
        return len(data)

    def _xfer(self) -> tuple[int, int]:
        mem, base = self.mem, self.request
        wlen, rlen, options, slave = mem[base + 4 : base + 8]
        if not wlen:  # the address byte's read bit is "nothing to write"
            if not self._present(slave, reading=True):
                return 0, auc.AucStatus.SLAVE_NAK
            return self._store(self._read(slave, rlen)), auc.AucStatus.OK
        present = self._present(slave, reading=False)
        if not present and not options & IGNORE_NACK:
            return 0, auc.AucStatus.NAK
        data = bytes(mem[base + 8 : base + 8 + wlen])
        if present:
            self._write(slave, data)
        else:
            self._tick(len(data))
        if not rlen:
            return 0, auc.AucStatus.OK
        self.seconds += self.bridge.delay_s()  # "wait MM finish the operation"
        if not self._present(slave, reading=True):
            return 0, auc.AucStatus.SLAVE_NAK
        return self._store(self._read(slave, rlen)), auc.AucStatus.OK

    def _read_or_write(self, reading: bool) -> tuple[int, int]:
        """0xA3 / 0xA4 (LPCUSBSIO's RW request): LE16 length, options, address.  The write
        sends one byte more than its length and returns that many bytes of whatever its
        reply slot held; the read returns ``length`` bytes."""
        mem, base = self.mem, self.request
        length = int.from_bytes(mem[base + 4 : base + 6], "little")
        options, slave = mem[base + 6], mem[base + 7]
        if options & RW_NO_ADDRESS or (reading and options & RW_NACK_LAST and not length):
            return 0, auc.AucStatus.INVALID_PARAM  # not modelled: see the class docstring
        if not self._present(slave, reading):
            return 0, auc.AucStatus.SLAVE_NAK
        if reading:
            read = self._store(self._read(slave, length))
        else:
            data = bytes(mem[base + 8 : base + 9 + length])
            if options & RW_STOP:
                self._write(slave, data)
            else:
                self.bridge.open_write = (slave, data)
            read = length + 1  # the reply slot's bytes, as they were
        return read, auc.AucStatus.OK

    def _end_open_write(self) -> None:
        """A write left without STOP ends at the next START (a repeated START)."""
        if self.bridge.open_write is not None:
            address, data = self.bridge.open_write
            self.bridge.open_write = None
            self._write(address, data)
