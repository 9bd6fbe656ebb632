/* The Avalon 4 module board (MM40, MM41, MM50) around its firmware: the I2C slave the
 * host (the AUC) talks to, the FPGA's DNA, the API controller with a stand-in chain of
 * A3218 chips, the SHA engine, the TWI temperature sensor, PWM and tachometer, the blade
 * voltage shifters, the timers and GPIO.  Register layouts from the branch's
 * system_config.h and Verilog (api_slave.v, i2c.v); behaviour from how the firmware uses
 * them (iic.c, api.c, shifter.c, timer.c, twipwm.c).
 *
 * The host side of the I2C bus is a byte protocol on fd 0 / fd 1, one request at a time:
 *   'W' addr len data...  ->  'A' (acknowledged) or 'N' (nobody at that address)
 *   'R' addr len          ->  'D' data... or 'N' (nothing to send: no acknowledge) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "system_config.h"
#include "board.h"
#include "engines.h"
#include "sha256_model.h"

#define CHIPS (MINER_COUNT * ASIC_COUNT)
#define NONCE_OFFSET 0x4000 /* miner.c test_nonce() subtracts it */
#define EMPTY 0xbeafbeaf

/* ---- I2C slave (i2c.v as iic.c drives it) ---- */
static uint32_t i2c_rx[512], i2c_tx[512];
static int i2c_rx_n, i2c_tx_n, i2c_masked;
static uint32_t i2c_addr, i2c_flags;

static void i2c_irq(void)
{
	if (i2c_rx_n && !i2c_masked)
		board_raise(IRQ_IIC);
	else
		board_lower(IRQ_IIC);
}

static int i2c_hears(int addr, int reading)
{
	if (addr == (int)(i2c_addr & 0x7f))
		return 1;
	return addr == 0 && !reading; /* a general call: every module hears a broadcast */
}

static void host_request(const uint8_t *req, int len)
{
	uint8_t out[1 + 256];
	int addr = req[1], n = req[2];

	if (req[0] == 'W') {
		if (!i2c_hears(addr, 0)) {
			board_line_write((const uint8_t *)"N", 1);
			return;
		}
		if (getenv("FW_TRACE"))
			board_event("I2C W %d %02x idx %d/%d rx %d", addr, req[5], req[6], req[7],
				    i2c_rx_n);
		for (int i = 0; i + 4 <= n && i2c_rx_n < 512; i += 4)
			i2c_rx[i2c_rx_n++] = (uint32_t)req[3 + i] << 24 | req[4 + i] << 16 |
					     req[5 + i] << 8 | req[6 + i];
		i2c_irq();
		board_line_write((const uint8_t *)"A", 1);
		return;
	}
	(void)len;
	if (!i2c_hears(addr, 1) || i2c_tx_n * 4 < n || n > 256) {
		board_line_write((const uint8_t *)"N", 1);
		return;
	}
	out[0] = 'D';
	for (int i = 0; i < n / 4; i++) {
		uint32_t w = i2c_tx[i];
		out[1 + 4 * i] = w >> 24;
		out[2 + 4 * i] = w >> 16;
		out[3 + 4 * i] = w >> 8;
		out[4 + 4 * i] = w;
	}
	i2c_tx_n -= n / 4;
	memmove(i2c_tx, i2c_tx + n / 4, i2c_tx_n * 4);
	i2c_flags |= LM32_IIC_CR_RSTOP; /* the master read it all and sent STOP */
	board_line_write(out, 1 + n);
}

static void host_poll(void)
{
	static uint8_t buf[600];
	static int have;
	int n = board_line_read(buf + have, (int)sizeof(buf) - have);

	have += n;
	while (have >= 3) {
		int need = buf[0] == 'W' ? 3 + buf[2] : 3;
		if (have < need)
			break;
		host_request(buf, need);
		memmove(buf, buf + need, have - need);
		have -= need;
	}
}

static unsigned int i2c_read(unsigned long off)
{
	switch (off) {
	case 0x0:
		return (i2c_rx_n & 0x1ff) | (i2c_tx_n & 0x1ff) << 9 | i2c_flags;
	case 0x4:
		return i2c_addr;
	case 0xc: {
		uint32_t w = word_pop(i2c_rx, &i2c_rx_n);
		i2c_irq();
		return w;
	}
	}
	return 0;
}

static void i2c_write(unsigned long off, uint32_t v)
{
	switch (off) {
	case 0x0:
		i2c_flags &= ~(v & (LM32_IIC_CR_RSTOP | LM32_IIC_CR_RERR));
		if (v & (LM32_IIC_CR_RXFIFORESET | LM32_IIC_CR_LOGICRESET)) {
			board_event("I2C rx reset");
			i2c_rx_n = 0;
		}
		if (v & (LM32_IIC_CR_TXFIFORESET | LM32_IIC_CR_LOGICRESET))
			i2c_tx_n = 0;
		if (v & LM32_IIC_CR_RX_INTR_MASK_SET)
			i2c_masked = 1;
		if (v & LM32_IIC_CR_RX_INTR_MASK_CLEAR)
			i2c_masked = 0;
		i2c_irq();
		break;
	case 0x4:
		if ((v & 0x7f) != i2c_addr)
			board_event("ADDRESS %u", v & 0x7f);
		i2c_addr = v & 0x7f;
		break;
	case 0x8:
		if (i2c_tx_n < 512)
			i2c_tx[i2c_tx_n++] = v;
		break;
	}
}

/* ---- the FPGA's DNA: 57 bits shifted out MSB first ---- */
static uint64_t dna_shift, dna_last;

static void dna_write(uint32_t v)
{
	uint64_t dna = 0x1a2b3c4d5e6f7ULL ^ ((uint64_t)board_module_id() << 8);
	const char *env = getenv("FW_DNA");
	if (env)
		dna = strtoull(env, NULL, 16);
	if ((v & LM32_DNA_CLK) && !(dna_last & LM32_DNA_CLK)) {
		if (v & LM32_DNA_READ)
			dna_shift = dna & ((1ULL << 57) - 1);
		else if (v & LM32_DNA_SHIFT)
			dna_shift <<= 1;
	}
	dna_last = v;
}

/* ---- API and the stand-in A3218 chain ---- */
#define WORK_WORDS 23
#define RESULT_WORDS LM32_API_RET_LEN
static uint32_t api_tx[2048];
static int api_tx_n;
static uint32_t api_rx[4096];
static int api_rx_n;
static uint32_t api_timeout = 0x10, api_ram_index, api_lw_index;
static uint32_t api_local_work[MINER_COUNT];
static int api_sent; /* works taken since the last flush: picks the chip */
static double api_busy_until;

/* A chip answers a work two works later (api.c api_asic_test verifies round j against the
 * work of round j - 2): each chip keeps its last two works' answers. */
struct answer {
	uint32_t memo, nonce2, nonces[7];
	int n;
};
static struct answer pipeline[CHIPS][2];
static uint32_t chip_pll[CHIPS]; /* the PLL word a chip was given since its last reset */
static int volt_on[2];

/* A chip hashes only when its blade's regulators are on (miners 0-4: blade 0, 5-9:
 * blade 1; the MM50 has no blade shifters).  Its clock is the PLL word it was last given
 * (logged as a PLL event), or its reset default. */
static int chip_runs(int chip)
{
#if defined(MM40) || defined(MM41)
	return volt_on[chip / ASIC_COUNT / 5];
#else
	(void)chip;
	return 1;
#endif
}

/* The words as api_send_work() orders them: 0 the nonce start, 1 a2, 2-9 the midstate
 * (last word first), 10-14 e0 e1 e2 a0 a1, 15-17 header words 18, 17, 16, 18 memo,
 * 19 nonce2, 20-22 PLL words.  Chips count nonces as SHA-256 reads header word 19. */
static int solves(const uint32_t *w, uint32_t nonce_word)
{
	uint32_t mid[8], tail[3];
	for (int i = 0; i < 8; i++)
		mid[i] = w[9 - i];
	for (int i = 0; i < 3; i++)
		tail[i] = w[17 - i];
	return sha256d_last_word(mid, tail, nonce_word) == 0;
}

/* Our own test vectors for the FPGA's test RAM (api_gen_test_work reads 16 of 18 words):
 * the real ROM's content is only in a synthesised netlist.  Filled by test_vectors.h. */
#include "test_vectors.h"

static void chip_answer(int chip, const uint32_t *w, int testing, struct answer *a)
{
	a->memo = w[18];
	a->nonce2 = w[19];
	a->n = 0;
	if (w[20] != 1 || w[21] != 1 || w[22] != 1) { /* PLL words ride on the work */
		if (chip_pll[chip] != w[20] && chip % ASIC_COUNT == 0)
			board_event("PLL miner %d %08x %08x %08x", chip / ASIC_COUNT, w[20], w[21],
				    w[22]);
		chip_pll[chip] = w[20];
	}
	if ((ctl.dead[chip / ASIC_COUNT] >> (chip % ASIC_COUNT)) & 1 || !chip_runs(chip))
		return;
	if (testing) { /* the core finds the vector's answer in a slice above its start */
		for (int v = 0; v < 16; v++) {
			uint32_t answer = TEST_VECTORS[v][18];
			if (!memcmp(w + 1, TEST_VECTORS[v] + 1, 17 * 4) && answer - w[0] < 0x20000)
				a->nonces[a->n++] = answer + NONCE_OFFSET;
		}
		return;
	}
	static int traced;
	if (getenv("FW_TRACE") && traced++ < 2) {
		char hex[23 * 9 + 1];
		for (int i = 0; i < 23; i++)
			sprintf(hex + 9 * i, "%08x ", w[i]);
		board_event("WORK %s", hex);
	}
	for (int i = 0; i < ctl.n_nonces && a->n < 7; i++) {
		uint32_t word = __builtin_bswap32(ctl.nonces[i]);
		if (solves(w, word)) {
			a->nonces[a->n++] = word + NONCE_OFFSET;
			board_event("FOUND miner %d chip %d nonce %08x ntime+%u", chip / ASIC_COUNT,
				    chip % ASIC_COUNT, ctl.nonces[i], (w[18] >> 8) & 0xff);
		}
	}
}

static void api_tick(void)
{
	double now = board_now();
	/* a chip needs the API timeout (cycles of the 50 MHz clock) per work; the chain's
	 * chips work in parallel, so works leave the fifo CHIPS per timeout */
	double per_work = api_timeout / 50e6 / CHIPS;
	if (per_work > ctl.work_s / CHIPS)
		per_work = ctl.work_s / CHIPS;
	while (api_tx_n >= WORK_WORDS && now >= api_busy_until && api_rx_n + RESULT_WORDS <= 4096) {
		uint32_t w[WORK_WORDS];
		int chip = api_sent % CHIPS, miner = chip / ASIC_COUNT;
		int testing = api_timeout <= 0x100;
		memcpy(w, api_tx, sizeof(w));
		api_tx_n -= WORK_WORDS;
		memmove(api_tx, api_tx + WORK_WORDS, api_tx_n * 4);
		api_sent++;
		api_busy_until = (api_busy_until > now - 0.01 ? api_busy_until : now) + per_work;
		if (!testing) {
			static uint32_t last_nonce2 = 0xffffffff;
			if (w[19] != last_nonce2 && w[19] != last_nonce2 + 1)
				board_event("NONCE2 from %08x", w[19]); /* a (re)start of the window */
			last_nonce2 = w[19];
			hw_hash_work(now);
		}
		struct answer *old = &pipeline[chip][0];
		uint32_t *r = api_rx + api_rx_n;
		r[0] = old->memo;
		r[1] = old->nonce2;
		for (int i = 0; i < 8; i++)
			r[2 + i] = i < old->n ? old->nonces[i] : EMPTY;
		r[10] = 0xbeaf1200 | miner;
		api_rx_n += RESULT_WORDS;
		api_local_work[miner]++;
		pipeline[chip][0] = pipeline[chip][1];
		chip_answer(chip, w, testing, &pipeline[chip][1]);
	}
	hw_hashing_watch(now);
}

static unsigned int api_read(unsigned long off)
{
	api_tick();
	switch (off) {
	case 0x4:
		return word_pop(api_rx, &api_rx_n);
	case 0x8:
		return (api_rx_n & 0x3ff) << 20 | (api_tx_n & 0x3ff) << 2;
	case 0x14:
		return api_ram_index < 16 * 18 ? TEST_VECTORS[api_ram_index / 18][api_ram_index % 18]
					       : 0;
	case 0x18: {
		uint32_t n = api_local_work[api_lw_index % MINER_COUNT];
		api_local_work[api_lw_index % MINER_COUNT] = 0;
		return n;
	}
	}
	return 0;
}

static void api_write(unsigned long off, uint32_t v)
{
	switch (off) {
	case 0x0:
		if (api_tx_n < 2048)
			api_tx[api_tx_n++] = v;
		break;
	case 0x8:
		if (v & 0x2) { /* flush */
			api_tx_n = api_rx_n = api_sent = 0;
			memset(pipeline, 0, sizeof(pipeline));
		}
		break;
	case 0xc:
		api_timeout = v;
		break;
	case 0x14:
		api_ram_index = v & 0x1ff;
		break;
	case 0x18:
		api_lw_index = v;
		break;
	}
}

/* ---- sensors, fan, power ---- */
/* TWI (the temperature the firmware reads is sensor 1, at 0x49), PWM, GPIO registers */
static uint32_t gpio = 0;
static uint32_t shift_value[2], volt_word[2] = {ASIC_0V, ASIC_0V};

/* shifter.c: 0 resets, word | 1 shifts in a word per regulator, 0x2 latches, 0x3 enables
 * the outputs, 0x7 switches them off.  Blade 0 feeds miners 0-4, blade 1 miners 5-9. */
static void shifter_write(int blade, uint32_t v)
{
	if (v == 0x7) {
		if (volt_on[blade])
			board_event("POWER blade %d off", blade);
		volt_on[blade] = 0;
	} else if (v == 0x3) {
		volt_on[blade] = 1;
		volt_word[blade] = shift_value[blade] & ~1u;
		board_event("POWER blade %d on %04x", blade, volt_word[blade]);
	} else if (v & 1) {
		shift_value[blade] = v;
	}
}

/* The ten power-good lines (timer.c read_power_good): five per blade on the MM40/41; the
 * MM50's firmware switches no regulator, so its lines are taken as always good. */
static uint32_t power_good(void)
{
	uint32_t pg = 0;
#if defined(MM40) || defined(MM41)
	for (int b = 0; b < 2; b++)
		if (volt_on[b])
			pg |= 0x1fu << (5 * b);
#else
	pg = 0x3ff;
#endif
	return pg & ~ctl.pg_fail;
}

unsigned int dev_read(unsigned long addr, int size)
{
	(void)size;
	board_poll_ctl();
	if (addr >= SHA256_BASE && addr < SHA256_BASE + 0x20)
		return hw_sha_read(addr - SHA256_BASE);
	if (addr >= API_BASE && addr < API_BASE + 0x40)
		return api_read(addr - API_BASE);
	if (addr >= IIC_BASE && addr < IIC_BASE + 0x10)
		return i2c_read(addr - IIC_BASE);
	unsigned int value;
	if (addr >= TWIPWM_BASE && addr < TWIPWM_BASE + 0x20 &&
	    hw_twipwm_read(addr - TWIPWM_BASE, 1, &value))
		return value;
	switch (addr) {
	case DNA_BASE:
		return ((dna_shift >> 56) & 1) << 4;
	case SHIFTER_BASE0:
	case SHIFTER_BASE1:
		return 0x8; /* shift done */
	case TIMER_BASE:
		return hw_timer_read();
	case GPIO_BASE:
		return power_good() << 16 | (gpio & 0xffff);
	case RBT_BASE:
		return 0;
	}
	if (addr >= MBOOT_BASE && addr < MBOOT_BASE + 0x10)
		return 0; /* the SPI flash answers zeros: no saved configuration */
	return 0;
}

void dev_write(unsigned long addr, unsigned int value, int size)
{
	(void)size;
	if (addr >= SHA256_BASE && addr < SHA256_BASE + 0x20) {
		hw_sha_write(addr - SHA256_BASE, value);
		return;
	}
	if (addr >= API_BASE && addr < API_BASE + 0x40) {
		api_write(addr - API_BASE, value);
		return;
	}
	if (addr >= IIC_BASE && addr < IIC_BASE + 0x10) {
		i2c_write(addr - IIC_BASE, value);
		return;
	}
	if (addr >= TWIPWM_BASE && addr < TWIPWM_BASE + 0x20 &&
	    hw_twipwm_write(addr - TWIPWM_BASE, value))
		return;
	switch (addr) {
	case DNA_BASE:
		dna_write(value);
		break;
	case SHIFTER_BASE0:
		shifter_write(0, value);
		break;
	case SHIFTER_BASE1:
		shifter_write(1, value);
		break;
	case TIMER_BASE:
		hw_timer_write(value);
		break;
	case GPIO_BASE:
		if ((gpio & 0xc) && !(value & 0xc)) { /* gpio_reset_asic: the chips reset */
			memset(chip_pll, 0, sizeof(chip_pll));
			memset(pipeline, 0, sizeof(pipeline));
		}
		gpio = value;
		break;
	}
}

void dev_tick(void)
{
	host_poll();
	hw_hashing_watch(board_now());
	board_poll_ctl();
}

void dev_line_ready(void) { host_poll(); }
