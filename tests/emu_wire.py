"""A minimal host for emulator tests: raw packets over the emulator's in-process link."""

from firmware_protocols import PacketType as T, decode_packet, encode_packet
from firmware_protocols.encodings import mhz_to_pll_word


def detect_all(emu, max_modules=6, configure=True):
    """DETECT ids until nobody answers; with ``configure`` start each module's PLLs at
    the model's defaults, as a host's settings round does (they power up off)."""
    acks = []
    for module_id in range(1, max_modules + 1):
        reply = emu.i2c_xfer(0, encode_packet(T.DETECT, {"module_id": module_id}), 40)
        if not reply:
            break
        acks.append(decode_packet(reply))
        if configure:
            plls = [mhz_to_pll_word(f) for f in emu.spec.default_frequencies_mhz]
            send(
                emu,
                module_id,
                [
                    encode_packet(
                        T.SET_PLL, {"pll_words": plls}, idx=m + 1, cnt=emu.spec.miner_count
                    )
                    for m in range(emu.spec.miner_count)
                ],
            )
    return acks


def poll(emu, address, **fields):
    reply = emu.i2c_xfer(address, encode_packet(T.POLLING, fields), 40)
    return decode_packet(reply) if reply else None


def send(emu, address, frames):
    for frame in frames:
        emu.i2c_xfer(address, frame, 0)


def poll_until(emu, address, ptype, clock=None, step=0.02, limit=2000, predicate=None):
    """Poll until a packet of ``ptype`` arrives (advancing a fake clock when given)."""
    for _ in range(limit):
        if clock is not None:
            clock.advance(step)
            emu.advance()  # a fake clock: the test drives the chips
        pkt = poll(emu, address)
        if pkt is not None and pkt.type == ptype and (predicate is None or predicate(pkt)):
            return pkt
    raise AssertionError(f"no {ptype.name} in {limit} polls")


class FakeClock:
    def __init__(self, start=1000.0):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds
