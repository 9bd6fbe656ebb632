"""MM packet type codes (cgminer ``driver-avalon8.h``, master and Canaan's ``avalon8`` branch).

Two branches disagree on one code: master has SET_ASIC_OTP = 0x50 (host -> MM); the newer
``avalon8`` branch, the one that knows firmware 851-190314, moves SET_ASIC_OTP to 0x2a, adds
0x2b..0x2f and uses 0x50 for STATUS_MINER_EN (MM -> host).  The direction tells them apart:
:func:`packet_name` takes it.
"""

from __future__ import annotations

from enum import IntEnum


class PacketType(IntEnum):
    # host -> MM, broadcast
    DETECT = 0x10
    STATIC = 0x11
    JOB_ID = 0x12
    COINBASE = 0x13
    MERKLES = 0x14
    HEADER = 0x15
    TARGET = 0x16
    JOB_FIN = 0x17
    # host -> MM, broadcast or addressed
    SET = 0x20
    SET_FIN = 0x21
    SET_VOLT = 0x22
    SET_FREQ = 0x23  # Avalon 4 only
    SET_PMU = 0x24
    SET_PLL = 0x25
    SET_SS = 0x26
    SET_FAC = 0x28
    SET_OC = 0x29
    # host -> MM, ``avalon8`` branch only
    SET_ASIC_OTP_2A = 0x2A
    SET_ADJ_FAC_UP = 0x2B
    SET_ADJ_FAC_DOWN = 0x2C
    SET_ADJ_CONTROL = 0x2D
    SET_POWER_MODE = 0x2E
    SET_MINER_EN = 0x2F
    # host -> MM (master); MM -> host STATUS_MINER_EN on the ``avalon8`` branch
    SET_ASIC_OTP = 0x50
    # host -> MM, Avalon 9 (cgminer avalon911 driver-avalon9.h): the auto-tuning options
    SET_ADJUST_VOLT = 0x51
    SET_ADJUST_FREQ = 0x52
    # host -> MM, addressed only
    POLLING = 0x30
    SYNC = 0x31
    TEST = 0x32
    RSTMMTX = 0x33
    GET_VOLT = 0x34
    # MM -> host
    ACKDETECT = 0x40
    STATUS = 0x41
    NONCE = 0x42
    TEST_RET = 0x43
    STATUS_LW = 0x44  # Avalon 4 only: local works per miner
    STATUS_HW = 0x45  # Avalon 4 only: hardware errors per miner
    STATUS_VOLT = 0x46
    STATUS_MA = 0x47  # Avalon 4 (MM50): per-ASIC moving-average errors
    STATUS_PMU = 0x48
    STATUS_PLL = 0x49
    STATUS_LOG = 0x4A
    STATUS_ASIC = 0x4B
    STATUS_PVT = 0x4C
    STATUS_FAC = 0x4D
    STATUS_OC = 0x4E
    STATUS_OTP = 0x4F


STATUS_MINER_EN = 0x50  # MM -> host on the ``avalon8`` branch (same code as SET_ASIC_OTP)
BROADCAST = 0  # I2C address that every module listens on

# How each code is shown; 0x2a is SET_ASIC_OTP in the branch that uses it.
_DISPLAY = {PacketType.SET_ASIC_OTP_2A: "SET_ASIC_OTP"}


def packet_name(ptype: int, from_device: bool | None = None) -> str:
    """The name of a type code; ``from_device`` settles 0x50 (None: both names)."""
    if ptype == STATUS_MINER_EN and from_device is not False:
        return "STATUS_MINER_EN" if from_device else "SET_ASIC_OTP/STATUS_MINER_EN"
    member = PacketType(ptype)
    return _DISPLAY.get(member, member.name)
