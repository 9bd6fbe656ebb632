"""Round trips for every packet type, and what bad frames raise."""

import pytest
from hypothesis import given, settings, strategies as st

from firmware_protocols import (
    BadHeaderError,
    CrcError,
    FrameLengthError,
    LimitError,
    PacketType,
    PayloadError,
    ProtocolError,
    UnknownTypeError,
    auc,
    crc16,
    decode_packet,
    decode_payload,
    encode_packet,
    encode_payload,
)
from firmware_protocols.encodings import (
    CPM_TABLE,
    celsius_to_auc_adc,
    auc_adc_to_celsius,
    fan_percent_to_pwm,
    mhz_to_pll_word,
    pll_word_to_mhz,
    pwm_to_fan_percent,
    voltage_level_to_word,
    word_to_voltage_level,
)

ALL_TYPES = list(PacketType)
data32 = st.binary(min_size=32, max_size=32)
byte = st.integers(0, 255)


@pytest.mark.parametrize("ptype", ALL_TYPES, ids=lambda t: t.name)
@settings(max_examples=40, deadline=None)
@given(data=data32)
def test_payload_round_trip_every_type(ptype, data):
    fields = decode_payload(ptype, data)
    rebuilt = encode_payload(ptype, fields)
    assert decode_payload(ptype, rebuilt) == fields
    assert len(rebuilt) == 32


@settings(max_examples=300, deadline=None)
@given(ptype=st.sampled_from(ALL_TYPES), opt=byte, idx=byte, cnt=byte, data=data32)
def test_frame_round_trip(ptype, opt, idx, cnt, data):
    frame = encode_packet(ptype, data=data, idx=idx, cnt=cnt, opt=opt)
    pkt = decode_packet(frame)
    assert (pkt.type, pkt.opt, pkt.idx, pkt.cnt, pkt.data) == (ptype, opt, idx, cnt, data)
    assert pkt.crc == crc16(data) and pkt.crc_ok
    assert pkt.to_bytes() == frame


@settings(max_examples=200, deadline=None)
@given(
    chip=st.integers(0, 0xFFFF),
    miner=st.integers(0, 0xFFFF),
    nonce2=st.integers(0, 2**32 - 1),
    ntime_offset=st.integers(0, 2**32 - 1),
    nonce=st.integers(0, 2**32 - 1),
    job_crc=st.integers(0, 0xFFFF),
    pool=st.integers(0, 0xFFFF),
)
def test_nonce_fields_round_trip(**fields):
    assert decode_packet(encode_packet(PacketType.NONCE, fields)).fields() == fields


@settings(max_examples=200, deadline=None)
@given(data=data32, position=st.integers(6, 39), bit=st.integers(0, 7))
def test_any_flipped_data_or_crc_bit_is_a_crc_error(data, position, bit):
    frame = bytearray(encode_packet(PacketType.STATUS, data=data))
    frame[position] ^= 1 << bit
    with pytest.raises(CrcError):
        decode_packet(bytes(frame))
    relaxed = decode_packet(bytes(frame), verify_crc=False)
    assert not relaxed.crc_ok


@settings(max_examples=100, deadline=None)
@given(data=data32, cut=st.integers(0, 39))
def test_short_frames(data, cut):
    frame = encode_packet(PacketType.NONCE, data=data)
    with pytest.raises(FrameLengthError):
        decode_packet(frame[:cut])
    with pytest.raises(FrameLengthError):
        decode_packet(frame + b"\0")


@given(data=data32, shift=st.integers(1, 39))
@settings(max_examples=100, deadline=None)
def test_shifted_frames_are_rejected(data, shift):
    """A frame read from the middle of a stream (two frames glued, a window shifted)."""
    stream = encode_packet(PacketType.NONCE, data=data) * 2
    window = stream[shift : shift + 40]
    with pytest.raises(ProtocolError):
        decode_packet(window)


def test_bad_header_and_unknown_type():
    frame = bytearray(encode_packet(PacketType.STATUS, {}))
    frame[0] = ord("X")
    with pytest.raises(BadHeaderError):
        decode_packet(bytes(frame))
    frame = bytearray(encode_packet(PacketType.STATUS, {}))
    frame[2] = 0x99
    with pytest.raises(UnknownTypeError):
        decode_packet(bytes(frame))
    with pytest.raises(UnknownTypeError):
        encode_packet(0x99, {})


def test_bad_payload_values_are_typed_errors():
    with pytest.raises(PayloadError):
        encode_packet(PacketType.NONCE, {"chip": 70000})
    with pytest.raises(PayloadError):
        encode_packet(PacketType.NONCE, {"no_such_field": 1})
    with pytest.raises(PayloadError):
        encode_packet(PacketType.NONCE, idx=256)
    with pytest.raises(PayloadError):
        encode_packet(PacketType.NONCE, data=bytes(33))


def test_every_error_is_one_family():
    for cls in (BadHeaderError, CrcError, FrameLengthError, UnknownTypeError, PayloadError):
        assert issubclass(cls, ProtocolError)
    import asicdrv

    assert issubclass(ProtocolError, asicdrv.AsicError)
    assert issubclass(LimitError, ValueError) and issubclass(LimitError, asicdrv.AsicError)


# --- value encodings ------------------------------------------------------------------------
def test_voltage_levels_round_trip_and_limits():
    for level in range(-15, 16):
        assert word_to_voltage_level(voltage_level_to_word(level)) == level
    for bad in (-16, 16, 100):
        with pytest.raises(LimitError, match="-15..15"):
            voltage_level_to_word(bad)
    with pytest.raises(PayloadError):
        word_to_voltage_level(0x1234)


def test_fan_percent_round_trip_and_limits():
    for percent in range(101):
        assert pwm_to_fan_percent(fan_percent_to_pwm(percent)) == percent
    for bad in (-1, 101):
        with pytest.raises(LimitError):
            fan_percent_to_pwm(bad)


def test_pll_words_round_trip_and_limits():
    for mhz in range(0, 1201, 25):
        assert pll_word_to_mhz(mhz_to_pll_word(mhz)) == mhz
    assert len(set(CPM_TABLE)) == len(CPM_TABLE) == 49
    for bad in (-25, 1225, 1404, 860):
        with pytest.raises(LimitError):
            mhz_to_pll_word(bad)
    with pytest.raises(PayloadError):
        pll_word_to_mhz(0x12345678)


@given(st.floats(-20, 120))
def test_auc_temperature_inverse(celsius):
    assert auc_adc_to_celsius(celsius_to_auc_adc(celsius)) == pytest.approx(celsius, abs=0.5)


# --- AUC ----------------------------------------------------------------------------------------
@settings(max_examples=100, deadline=None)
@given(slave=st.integers(0, 127), write=st.binary(max_size=56), rlen=st.integers(0, 60))
def test_auc_xfer_round_trip(slave, write, rlen):
    req = auc.decode_request(auc.build_xfer(slave, write, rlen))
    assert req.command is auc.AucCommand.XFER
    assert req.fields == {
        "wlen": len(write),
        "rlen": rlen,
        "options": 0,
        "slave": slave,
        "write": write,
    }


@given(data=st.binary(max_size=60), trans=byte)
def test_auc_reply_round_trip(data, trans):
    reply = auc.build_reply(data, trans_id=trans)
    # exactly its length byte, never padded (cdc_i2c.c sends respQ[..][0] bytes)
    assert len(reply) == 4 + len(data) == reply[0] and not auc.is_request(reply)
    assert reply[1] == trans and auc.reply_data(reply) == data


@given(write=st.binary(max_size=56), pad=st.integers(0, 56))
def test_auc_request_may_be_short_or_padded(write, pad):
    """cgminer writes an XFER as its length byte says; other hosts pad to 64."""
    packet = auc.build_xfer(2, write, 40)
    padded = (packet + bytes(pad))[:64]
    assert auc.decode_request(packet).fields["write"] == write
    assert auc.decode_request(padded).fields["write"] == write


def test_auc_bad_packets():
    with pytest.raises(FrameLengthError):
        auc.decode_request(bytes(3))
    with pytest.raises(FrameLengthError):
        auc.decode_request(bytes(65))
    with pytest.raises(FrameLengthError):  # length byte says 48, only 20 arrived
        auc.decode_request(auc.build_xfer(1, bytes(40), 40)[:20])
    with pytest.raises(UnknownTypeError):
        auc.decode_request(bytes([4, 0, 0, 0xB0]) + bytes(60))
    bad_len = bytearray(auc.build_xfer(1, bytes(40), 40))
    bad_len[0] = 20
    with pytest.raises(PayloadError):
        auc.decode_request(bytes(bad_len))
    with pytest.raises(FrameLengthError):
        auc.reply_data(bytes([70]) + bytes(63))
    with pytest.raises(PayloadError):
        auc.build_xfer(1, bytes(57))


@settings(max_examples=200, deadline=None)
@given(ptype=st.sampled_from(ALL_TYPES), opt=byte, idx=byte, cnt=byte, data=data32)
def test_fast_decoder_agrees_with_the_construct_definition(ptype, opt, idx, cnt, data):
    from firmware_protocols.mm import FRAME

    frame = encode_packet(ptype, data=data, idx=idx, cnt=cnt, opt=opt)
    parsed = FRAME.parse(frame)
    pkt = decode_packet(frame)
    assert (parsed.type, parsed.opt, parsed.idx, parsed.cnt, parsed.data, parsed.crc) == (
        pkt.type,
        pkt.opt,
        pkt.idx,
        pkt.cnt,
        pkt.data,
        pkt.crc,
    )
    assert (
        FRAME.build(dict(type=ptype, opt=opt, idx=idx, cnt=cnt, data=data, crc=crc16(data)))
        == frame
    )


@settings(max_examples=300, deadline=None)
@given(data=data32)
def test_fast_payload_readers_agree_with_the_construct_definitions(data):
    """The struct readers used on every poll say exactly what the construct layouts say."""
    from firmware_protocols.fast import FAST_DECODERS
    from firmware_protocols.payloads import COMPILED, plain as _plain

    for ptype, fast in FAST_DECODERS.items():
        assert fast(data) == _plain(COMPILED[ptype].parse(data)), ptype


@settings(max_examples=300, deadline=None)
@given(data=data32)
def test_each_generations_fast_readers_agree_with_its_construct_layouts(data):
    """The same for the other generations' poll-time payloads (firmware_protocols.dialects)."""
    from firmware_protocols.dialects import DIALECTS
    from firmware_protocols.fast_dialects import FAST_BY_DIALECT
    from firmware_protocols.payloads import plain as _plain

    for name, readers in FAST_BY_DIALECT.items():
        layouts = DIALECTS[name].compiled
        for ptype, fast in readers.items():
            assert fast(data) == _plain(layouts[ptype].parse(data)), (name, ptype)


def _random_value(draw, sc):
    """A value construct can build for the subconstruct ``sc`` (what a caller may pass)."""
    from construct import Array, BitsInteger, Bytes, FormatField, Renamed, Struct
    from construct.core import Restreamed, Transformed

    if isinstance(sc, Renamed):
        return _random_value(draw, sc.subcon)
    if isinstance(sc, Struct):
        return {c.name: _random_value(draw, c) for c in sc.subcons if c.name}
    if isinstance(sc, (Transformed, Restreamed)):
        return _random_value(draw, sc.subcon)
    if isinstance(sc, Array):
        return [_random_value(draw, sc.subcon) for _ in range(sc.count)]
    if isinstance(sc, Bytes):
        return draw(st.binary(min_size=sc.length, max_size=sc.length))
    if isinstance(sc, BitsInteger):
        return draw(st.integers(0, (1 << sc.length) - 1))
    if isinstance(sc, FormatField):
        bits = 8 * sc.length
        if sc.fmtstr[-1].islower():  # signed
            return draw(st.integers(-(1 << bits - 1), (1 << bits - 1) - 1))
        return draw(st.integers(0, (1 << bits) - 1))
    assert type(sc).__name__ == "Flag", sc  # construct.Flag: a singleton of its own class
    return draw(st.booleans())


def _builder_cases():
    from firmware_protocols.dialects import DIALECTS
    from firmware_protocols.fast_encode import BASE, BY_DIALECT

    return [
        pytest.param(name, ptype, id=f"{name}-{PacketType(ptype).name}")
        for name in DIALECTS
        for ptype in sorted(set(BASE) | set(BY_DIALECT.get(name, {})))
    ]


@pytest.mark.parametrize("dialect_name, ptype", _builder_cases())
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_fast_payload_builders_agree_with_the_construct_definitions(dialect_name, ptype, data):
    """The struct builders a host uses (fast_encode) make exactly the bytes the construct
    layouts make, from random fields, from some fields left out, and refuse what they
    refuse."""
    from firmware_protocols.dialects import DIALECTS
    from firmware_protocols.fast_encode import BY_DIALECT, fast_encoder
    from firmware_protocols.payloads import COMPILED, PAYLOADS, SOURCES, build

    dialect = DIALECTS[dialect_name]
    fast = fast_encoder(dialect, ptype)
    if fast is None:  # a layout of the dialect's own that no fast builder claims
        assert ptype in dialect.overrides and ptype not in BY_DIALECT.get(dialect_name, {})
        return
    layout = dialect.compiled.get(ptype) or COMPILED[ptype]
    source = SOURCES.get(id(layout), PAYLOADS.get(ptype))
    fields = _random_value(data.draw, source)
    some = {k: v for k, v in fields.items() if data.draw(st.booleans())}
    assert fast(fields) == build(layout, fields)
    assert fast(some) == build(layout, some), some
    with pytest.raises(ValueError):
        fast({"no_such_field": 1})


def test_the_builders_refuse_values_that_do_not_fit():
    for ptype, fields in (
        (PacketType.DETECT, {"module_id": 1 << 32}),
        (PacketType.POLLING, {"fan": {"change": True, "pwm": 1024}}),
        (PacketType.SET_VOLT, {"voltage_words": [1, 2]}),
        (PacketType.SYNC, {"dna": b"short"}),
        (PacketType.SET_FAC, {"factory": 200}),
        (PacketType.SET, {"flags": {"no_such_flag": True}}),
        (PacketType.SET_VOLT, {"voltage_words": None}),  # None is not "left out"
        (PacketType.SYNC, {"dna": "12345678"}),
        (PacketType.SYNC, {"dna": 12345678}),
        (PacketType.DETECT, {"module_id": None}),
    ):
        with pytest.raises(PayloadError):
            encode_payload(ptype, fields)


def test_a_host_builds_and_reads_the_a8_family_without_construct():
    """A host process driving an 851 over a serial line (the emulator in a process of its
    own) detects, configures, mines and polls without loading construct, and so does every
    frame an Avalon 7/8/9/LC3 host builds and reads: 8 MiB a controller board keeps; nor
    OpenSSL's libcrypto for its hashes."""
    import subprocess
    import sys

    emulator = subprocess.Popen(
        [sys.executable, "-m", "asicdrv", "emulate", "--serial", "--model", "851"]
        + ["--nonce-mask", "8", "--seconds", "60"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        path = emulator.stdout.readline().strip()
        script = HOST_WITHOUT_CONSTRUCT.replace("PATH", path)
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
        )
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "ok", result.stdout


HOST_WITHOUT_CONSTRUCT = """
import sys, time
import asicdrv
from asicdrv.bitcoin.known_blocks import GENESIS, notify_params
from firmware_protocols import PacketType as T, encode_packet, decode_packet
from firmware_protocols.fast_encode import BASE

params, en1, size, _ = notify_params(GENESIS, job_id="g")
job = asicdrv.StratumJob.from_notify(params, extranonce1=en1, extranonce2_size=size,
                                     difficulty=2**-20)
with asicdrv.open("serial://PATH", polling_delay=0.01) as chain:
    chain.submit(job)
    share = chain.next_share(timeout=20)
    chain.set_fan(60)
    status = chain.refresh(timeout=3)
assert share is not None, "no share"
assert "construct" not in sys.modules, "the chain loaded construct"
assert "_hashlib" not in sys.modules, "the host mapped OpenSSL (3.5 MiB) for SHA-256"
for ptype in BASE:
    encode_packet(ptype, {})
replies = ("ACKDETECT STATUS NONCE TEST_RET STATUS_VOLT STATUS_PMU STATUS_PLL STATUS_LOG "
           "STATUS_ASIC STATUS_PVT STATUS_FAC STATUS_OC STATUS_OTP")
for dialect in ("avalon7", "avalon8", "avalon9", "avalonlc3"):
    for ptype in (T.SET_PLL, T.SET_VOLT):
        frame = encode_packet(ptype, {}, dialect=dialect)
        decode_packet(frame, dialect=dialect)
    # the host's last check reads back its own voltage frames
    decode_packet(encode_packet(T.SET_VOLT, {}, dialect=dialect), dialect=dialect).fields()
    for name in replies.split():
        frame = encode_packet(T[name], data=bytes(32), dialect=dialect, from_device=True)
        decode_packet(frame, from_device=True, dialect=dialect).fields()
assert "construct" not in sys.modules, "a frame loaded construct"
print("ok")
"""
