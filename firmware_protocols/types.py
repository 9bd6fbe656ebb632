"""MM packet type codes (cgminer ``driver-avalon8.h``)."""
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
    SET_PMU = 0x24
    SET_PLL = 0x25
    SET_SS = 0x26
    SET_FAC = 0x28
    SET_OC = 0x29
    SET_ASIC_OTP = 0x50
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
    STATUS_VOLT = 0x46
    STATUS_PMU = 0x48
    STATUS_PLL = 0x49
    STATUS_LOG = 0x4A
    STATUS_ASIC = 0x4B
    STATUS_PVT = 0x4C
    STATUS_FAC = 0x4D
    STATUS_OC = 0x4E
    STATUS_OTP = 0x4F


BROADCAST = 0  # I2C address that every module listens on
