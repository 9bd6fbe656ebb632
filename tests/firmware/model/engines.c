/* Parts both MM boards share: the SHA engine (sha.v, sha_core.v, dbl_sha.v) and the
 * seconds timer (timer.c). */
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <stdlib.h>

#include "system_config.h"
#include "board.h"
#include "engines.h"
#include "sha256_model.h"

#define LM32_SHA256_CMD_INIT (1 << 0)
#define LM32_SHA256_CMD_RST (1 << 2)
#define LM32_SHA256_CMD_DBL (1 << 3)

/* ---- SHA engine (sha.v) ---- */
static uint32_t sha_hx[8], sha_state[8], sha_block_w[16], sha_pre[6], sha_last[8];
static int sha_n, sha_done, sha_hash_i, sha_pre_i;

static void sha_compress(void)
{
	sha256_block(sha_state, sha_block_w, sha_pre);
	memcpy(sha_last, sha_state, sizeof(sha_last));
	sha_n = 0;
	sha_done = 1;
}

static int sha_traced, sha_din_count, sha_hi_count;

static void sha_cmd(uint32_t v)
{
	if (getenv("FW_TRACE_SHA") && sha_traced < 40) {
		sha_traced++;
		board_event("SHACMD %x din %d hi %d hx0 %08x", v, sha_din_count, sha_hi_count,
			    sha_hx[0]);
		sha_din_count = sha_hi_count = 0;
	}
	if (v & LM32_SHA256_CMD_RST)
		memcpy(sha_hx, SHA256_IV, sizeof(sha_hx));
	if (v & (LM32_SHA256_CMD_INIT | LM32_SHA256_CMD_DBL)) {
		memcpy(sha_state, sha_hx, sizeof(sha_state));
		sha_n = sha_hash_i = sha_pre_i = 0;
	}
	if (v & LM32_SHA256_CMD_DBL) { /* dbl_sha.v: the last digest, padded, as one block */
		memset(sha_block_w, 0, sizeof(sha_block_w));
		memcpy(sha_block_w, sha_last, sizeof(sha_last));
		sha_block_w[8] = 0x80000000;
		sha_block_w[15] = 256;
		sha_compress();
	}
}

unsigned int hw_sha_read(unsigned long off)
{
	switch (off) {
	case 0x0:
		return sha_done << 1;
	case 0x8: {
		uint32_t v = sha_state[sha_hash_i & 7];
		if (++sha_hash_i == 8 && getenv("FW_TRACE_SHA"))
			board_event("DIGEST %08x%08x%08x%08x%08x%08x%08x%08x", sha_state[0],
				    sha_state[1], sha_state[2], sha_state[3], sha_state[4],
				    sha_state[5], sha_state[6], sha_state[7]);
		return v;
	}
	case 0x10: /* A0, A1, A2, E0, E1, E2 */
		return sha_pre_i < 6 ? sha_pre[sha_pre_i++] : 0;
	}
	return 0;
}

void hw_sha_write(unsigned long off, uint32_t v)
{
	switch (off) {
	case 0x0:
		sha_cmd(v);
		break;
	case 0x4:
		if (getenv("FW_TRACE_SHA") && sha_traced < 3)
			board_event("DIN %08x", v);
		sha_din_count++;
		sha_done = 0;
		sha_block_w[sha_n++] = v;
		if (sha_n == 16)
			sha_compress();
		break;
	case 0xc:
		sha_hi_count++;
		memmove(sha_hx, sha_hx + 1, 7 * 4);
		sha_hx[7] = v;
		break;
	}
}

/* ---- the seconds timer ---- */
static uint32_t timer_mask;
static uint32_t timer_load[2];
static double timer_start[2];

/* timer.c: bit 0 / 16 starts timer 0 / 1 with the seconds in bits 2-7 / 18-23; bits 1
 * and 17 are interrupt masks; reads give the seconds left. */
/* Only main()'s loop reads the timer, once a turn: the board is booted once it has turned
 * a while (READY), and the loop is paced like the LM32's rather than spinning a host core. */
static void pace_main_loop(void)
{
	static double last;
	static int reads;
	double now = board_now();
	if (++reads == 100)
		board_event("READY");
	if (now - last < 0.0002) {
		struct timespec ts = {0, 100000};
		nanosleep(&ts, 0);
	}
	last = now;
}

unsigned int hw_timer_read(void)
{
	uint32_t v = timer_mask;
	pace_main_loop();
	for (int t = 0; t < 2; t++) {
		uint32_t load = timer_load[t];
		double left = load - (board_now() - timer_start[t]);
		uint32_t secs = left <= 0 ? 0 : (uint32_t)left + 1;
		if (secs > load)
			secs = load;
		v |= secs << (t ? 18 : 2);
	}
	return v;
}

void hw_timer_write(uint32_t v)
{
	for (int t = 0; t < 2; t++)
		if (v & (1u << (t ? 16 : 0))) {
			timer_load[t] = (v >> (t ? 18 : 2)) & 0x3f;
			timer_start[t] = board_now();
		}
	timer_mask = v & 0x20002;
}


/* ---- a word FIFO's head, taken (0 when empty) ---- */
uint32_t word_pop(uint32_t *fifo, int *count)
{
	if (!*count)
		return 0;
	uint32_t w = fifo[0];
	memmove(fifo, fifo + 1, --*count * 4);
	return w;
}

/* ---- TWI (twipwm.c): LM75-style sensors, sensor k at address 0x48 + k ---- */
static int twi_addr, twi_byte;
static uint32_t twi_rd;

void hw_twi_command(uint32_t cr, uint32_t wd)
{
	switch ((cr >> 4) & 7) {
	case 0: /* start */
		twi_byte = -1;
		break;
	case 1: /* write byte: the first after start is the address */
		if (twi_byte == -1) {
			twi_addr = (wd >> 1) & 0x7f;
			twi_byte = 0;
		}
		break;
	case 2: { /* read byte with ack: the temperature's high byte, then its low byte */
		int sensor = twi_addr - 0x48;
		int raw = (sensor >= 0 && sensor < 4) ? ctl.temp[sensor] * 256 : 0xffff;
		twi_rd = twi_byte++ == 0 ? (raw >> 8) & 0xff : raw & 0xff;
		break;
	}
	}
}

/* ---- the TWI/PWM block (twipwm.c): the sensors above, the fan's PWM, its tachometers ---- */
static uint32_t twi_cr, twi_wd, pwm = 0x3ff;

int hw_twipwm_read(unsigned long off, int tachs, unsigned int *value)
{
	switch (off) {
	case 0x0:
		*value = twi_cr | LM32_TWIPWM_CR_TDONE;
		return 1;
	case 0x8:
		*value = twi_rd;
		return 1;
	case 0x18:
	case 0x1c: /* tachometers: revolutions per 2 s as the firmware * 30 */
		if (off == 0x18 || tachs > 1) {
			*value = (0x3ff - pwm) * 6000 / 0x3ff / 30;
			return 1;
		}
	}
	return 0;
}

int hw_twipwm_write(unsigned long off, uint32_t value)
{
	switch (off) {
	case 0x0:
		twi_cr = value & ~LM32_TWIPWM_CR_TDONE;
		if (value & LM32_TWIPWM_CR_TSTART)
			hw_twi_command(value, twi_wd);
		return 1;
	case 0x4:
		twi_wd = value;
		return 1;
	case 0xc:
		if (pwm != value)
			board_event("FAN pwm %03x", value);
		pwm = value;
		return 1;
	}
	return 0;
}

/* ---- hashing: on while works reach the chips, off half a second after the last ---- */
static int hashing;
static double last_hash_work;

void hw_hash_work(double now)
{
	if (!hashing)
		board_event("HASHING on");
	hashing = 1;
	last_hash_work = now;
}

void hw_hashing_watch(double now)
{
	if (hashing && now - last_hash_work > 0.5) {
		hashing = 0;
		board_event("HASHING off");
	}
}
