"""The ``construct`` layouts of :mod:`.dialects`: each generation's payloads that differ from
the Avalon 8's (sources named in :mod:`.dialects` and beside each layout).  Loaded with
``construct`` the first time a dialect's own layout is needed; the host's hot frames are read
and built by :mod:`.fast` and :mod:`.fast_encode`, checked against these.
"""

from __future__ import annotations

from construct import (
    Array,
    BitsInteger,
    BitStruct,
    Bytes,
    Flag,
    Int8ub,
    Int16ub,
    Int32sb,
    Int32ub,
    Padding,
    Struct,
)

from .payloads import Text

# A7: six PLLs; two ASIC timeout words ((0x2000000 / fmax) * 40 / 4 and ... * 98 / 100).
A7_SET_PLL = Struct(
    "pll_words" / Array(6, Int32ub), "asic_timeout" / Int32ub, "asic_timeout_98" / Int32ub
)
A7_STATUS_PLL = Struct("lock_counts" / Array(6, Int32ub), Padding(8))
# A7 STATUS_PVT: one frame for the module; per miner two bytes (cgminer keeps them as
# temp[0], temp[1]; their meaning is not given) and three sensor codes; cgminer drives the
# fan from the second code (its temp[3]), so we read that one as the miner's hottest.
A7_STATUS_PVT = Struct(
    "miners" / Array(4, Struct("ids" / Array(2, Int8ub), "temp_codes" / Array(3, Int16ub)))
)
A7_STATUS_ASIC = Struct(
    "spd_pass" / Int32ub,
    "spd_fail" / Int32ub,
    "sum_failed" / Int32ub,
    "sum_num" / Int32ub,
    "sum_xor" / Int32ub,
    "pll_counts" / Array(6, Int8ub),
    Padding(6),
)

# A9: six miners; SET_VOLT carries raw levels and the adjust_volt_freq flag word.
A9_SET_VOLT = Struct("voltage_words" / Array(6, Int32ub), "adjust_volt_freq" / Int32ub, Padding(4))
A9_SET_PLL = Struct(
    "pll_words" / Array(4, Int32ub),
    "pll_param" / Int32ub,
    "asic_timeout" / Int32ub,
    "miner_id" / Int32ub,
    "asic_id" / Int32ub,
)
A9_STATUS_PVT = Struct(
    "sensors" / Array(6, Struct("temp_code" / Int16ub, "volt_code" / Int16ub)), Padding(8)
)
# A9 / LC3: STATUS_VOLT is one BE16 for the module; 0x48 is STATUS_POWER (six power
# supply readings, valid when d[12] is non-zero).
SINGLE_VOLT = Struct("vout_raw" / Int16ub, Padding(30))
STATUS_POWER = Struct("power_supply" / Array(6, Int16ub), "valid" / Int8ub, Padding(19))

# Avalon 4 / 4.1 / 5 / 6 (cgminer driver-avalon4.c; MM4 firmware main.c).  Device frames
# carry their CRC low byte first.  STATIC ends with the pool difficulty and number; JOB_ID is
# the job tag alone; the per-module SET carries the voltage word, three PLL frequencies in
# MHz (f0 | f1 << 10 | f2 << 20) and the nonce2 window; NONCE and STATUS have their own order.
A4_STATIC = Struct(
    "coinbase_len" / Int32ub,
    "nonce2_offset" / Int32ub,
    "nonce2_size" / Int32ub,
    "merkle_offset" / Int32ub,
    "merkle_count" / Int32ub,
    "difficulty" / Int32ub,
    "pool" / Int32ub,
    Padding(4),
)
A4_JOB_ID = Struct("job_crc" / Int16ub, Padding(30))
A4_FREQUENCIES = BitStruct(
    Padding(2), "f2" / BitsInteger(10), "f1" / BitsInteger(10), "f0" / BitsInteger(10)
)
A4_SET = Struct(
    "ntime_roll" / Int32ub,
    "voltage_word" / Int32ub,
    "frequencies" / A4_FREQUENCIES,
    "nonce2_start" / Int32ub,
    "nonce2_range" / Int32ub,
    "flags" / BitStruct(Padding(6), "nonce_check" / Flag, "smart_speed" / Flag),
    "speed_bingo" / Int8ub,
    "speed_error" / Int8ub,
    Padding(9),
)
A4_NONCE = Struct(
    "chip" / Int16ub,
    "miner" / Int16ub,
    "pool" / Int32ub,
    "nonce2" / Int32ub,
    "ntime_offset" / Int32ub,
    "nonce_raw" / Int32ub,
    "job_crc" / Int16ub,
    Padding(10),
)
A4_STATUS = Struct(
    "temperature_mm" / Int32sb,
    "fan_rpm" / Int32ub,
    "frequency" / Int32ub,
    "voltage_word" / Int32ub,
    "local_works" / Int32ub,
    "hw_errors" / Int32ub,
    "power_good" / Int32ub,
    "error_code" / Int32ub,
)
# A4 0x48 is STATUS_M: six ADC readings (NTC 1-4, 12 V, 3.3 V), LED, PLL selection counts
A4_STATUS_M = Struct(
    "adc" / Array(6, Int16ub), "led" / Int32ub, "pll_select" / Array(7, Int16ub), Padding(2)
)
# A4 SET_VOLT: one BE16 code per miner at permuted slots (OPT = save << 4 | mode)
A4_SET_VOLT = Struct("codes" / Array(16, Int16ub))
# A4 SET_FREQ (MM avalon4 main.c, case AVA4_P_SET_FREQ; cgminer avalon4_set_freq): the
# three PLL (CPM) words for frequencies 0, 1, 2 (the firmware stores them as pll[2], pll[1],
# pll[0]), then the miner (1-based, 0 = all); OPT is the chip (0 = all).  Every chip gets
# the words with its next work.
A4_SET_FREQ = Struct("pll_words" / Array(3, Int32ub), "miner" / Int8ub, Padding(19))
# A4 TEST (MM avalon4 main.c, case AVA4_P_TEST): cores to test per chip (0: the firmware's
# 64), the voltage word both regulators are switched to for the test, the three
# frequencies as in SET, and the three PLL (CPM) words every chip is given.  The MM
# switches the voltage off again when the test is done.  Every field is used: a frame of
# zeros runs the chips at the word 0x0000 (1.6 V on an NCP5392P) and 0 MHz.
A4_TEST = Struct(
    "core_count" / Int32ub,
    "voltage_word" / Int32ub,
    "frequencies" / A4_FREQUENCIES,
    "pll_words" / Array(3, Int32ub),
    Padding(8),
)
# A4 TEST_RET (api.c api_asic_testcores): per miner, one frame per four chips, d[0] the
# miner and then each chip's count of failed test works (BE32); then one summary frame,
# d[0..3] the works that passed and d[4..7] all works.  Which is which follows from the
# order, so the host reads the raw bytes (see a4_test_ret_chips/_summary).
A4_TEST_RET = Struct("data" / Bytes(32))


# A9 SET_ADJUST_VOLT / SET_ADJUST_FREQ (cgminer avalon911 driver-avalon9.c
# avalon9_set_adjust_{volt,freq}_option): up init, factor, threshold, down init, factor,
# threshold, time, each BE32 (the inits signed)
A9_ADJUST = Struct(
    "up_init" / Int32sb,
    "up_factor" / Int32ub,
    "up_threshold" / Int32ub,
    "down_init" / Int32sb,
    "down_factor" / Int32ub,
    "down_threshold" / Int32ub,
    "time" / Int32ub,
    Padding(4),
)


# Avalon 2 / 3 (MM2/MM3 firmware; cgminer driver-avalon2.c, BFGMiner driver-avalonmm.c):
# 39-byte "AV" frames without OPT, decimal type codes, device CRC low byte first, the
# module id in the last data word of DETECT, POLLING and every device frame.

AV_ACKDETECT = Struct("version" / Text(15), Padding(13), "module_id" / Int32ub)
AV_POLLING = Struct(
    "fan_pwm" / Int32ub,
    "voltage_word" / Int32ub,
    "frequency" / Int32ub,
    "led" / Int32ub,
    Padding(8),
    "apply" / Int32ub,
    "module_id" / Int32ub,
)
AV_SET = Struct(
    "fan_pwm" / Int32ub,
    "voltage_word" / Int32ub,
    "frequency" / Int32ub,
    "nonce2_start" / Int32ub,
    "nonce2_range" / Int32ub,
    Padding(12),
)
AV_TEST = Struct("miner" / Int8ub, Padding(27), "module_id" / Int32ub)
# MM firmware alink.c alink_asic_test: one frame per miner, IDX always 1; d[0] the miner
# number from 1, d[1..10] each chip's count of failed cores (ASIC_COUNT chips: 10 on the
# MM3, 7 on the MM2), d[28..31] the module id
AV_TEST_RET = Struct(
    "miner_number" / Int8ub, "failed_cores" / Array(10, Int8ub), Padding(17), "module_id" / Int32ub
)
AV_SYNC = Struct(Padding(28), "module_id" / Int32ub)
AV_NONCE = Struct(
    "miner" / Int32ub,
    "pool" / Int32ub,
    "nonce2" / Int32ub,
    "ntime_offset" / Int32ub,
    "nonce_raw" / Int32ub,
    "job_crc" / Int16ub,
    Padding(6),
    "module_id" / Int32ub,
)
AV_STATUS = Struct(
    "temperatures" / Array(2, Int16ub),
    "fans_rpm" / Array(2, Int16ub),
    "frequency" / Int32ub,
    "voltage_word" / Int32ub,
    "local_works" / Int32ub,
    "hw_errors" / Int32ub,
    "power_good" / Int32ub,
    "module_id" / Int32ub,
)


# Avalon nano 2 ("3U") and Avalon4 mini (cgminer driver-avalon-miner.c; Avalon-nano
# firmware): the "CN" frame, CRC high byte first both ways, over 40-byte HID reports.  The
# host sends work (midstates), not stratum jobs; several codes mean other things here.
NANO_REPORT = Struct(
    "work_id" / Int32ub,
    Padding(2),
    "chip" / Int8ub,
    "ntime" / Int8ub,
    "nonce_raw" / Int32ub,
    Padding(1),
    "usb_fifo" / Int8ub,
    "work_fifo" / Int8ub,
    "nonce_fifo" / Int8ub,
)


NANO_DETECT = Struct(Padding(32))
NANO_SET_VOLT = Struct("voltage_code" / Int16ub, Padding(30))
NANO_SET_FREQ = Struct("pll_words" / Array(3, Int32ub), Padding(20))
NANO_WORK = Struct("chunk" / Bytes(32))
NANO_SETM = Struct("spi" / Int32ub, Padding(28))
NANO_POLLING = Struct(Padding(32))
NANO_GET_FREQ = Struct(Padding(32))
NANO_STATUS_M = Struct("words" / Array(8, Int32ub))
NANO_NONCE_M = Struct("reports" / Array(2, NANO_REPORT))
NANO_STATUS_FREQ = Struct("pll_words" / Array(3, Int32ub), Padding(20))
NANO_TEST = Struct(
    "core_count" / Int32ub,
    "voltage_code" / Int32ub,
    Padding(4),
    "pll_words" / Array(3, Int32ub),
    Padding(8),
)
NANO_TEST_RET = Struct("data" / Bytes(32))
