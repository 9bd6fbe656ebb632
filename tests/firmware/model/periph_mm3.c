/* The Avalon 2/3 module board (MM2, MM3) around its firmware: the UART to the host, the
 * ALINK controller with a stand-in chain of hashing chips, the SHA engine, the TWI
 * temperature sensors, PWM and fan tachometers, the voltage shifter, the timer and GPIO.
 * Register layouts from the firmware's system_config.h and the branch's Verilog
 * (alink_slave.v, alink_define.v, txc.v, sha.v, sha_core.v, dbl_sha.v). */
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <stdlib.h>
#include <stdio.h>

#include "system_config.h"
#include "board.h"
#include "sha256_model.h"
#include "engines.h"

#define MINERS AVA2_DEFAULT_MINERS
#if defined(AVALON3_A3233_MACHINE) || defined(AVALON3_A3233_CARD)
#define HASH_NONCE_OFFSET 0x1000 /* miner.c: test_nonce() subtracts 0x1000 */
#define PG_SHIFT 7               /* timer.c read_power_good() */
#else                            /* the MM2 branch (A3255) */
#define HASH_NONCE_OFFSET 0x180
#define PG_SHIFT 6
#define GPIO_BASE (TIMER_BASE + 4)
#endif

/* ---- UART 0: the host line ---- */
static uint8_t rx_fifo[4096];
static int rx_head, rx_tail;

static void uart_fill(void)
{
	uint8_t buf[512];
	int space = (int)sizeof(rx_fifo) - 1 - ((rx_head - rx_tail) & 4095);
	if (space <= 0)
		return;
	int n = board_line_read(buf, space < 512 ? space : 512);
	for (int i = 0; i < n; i++) {
		rx_fifo[rx_head] = buf[i];
		rx_head = (rx_head + 1) & 4095;
	}
	if (rx_head != rx_tail)
		board_raise(IRQ_UART);
}

static unsigned int uart_read(unsigned long off)
{
	if (off == 5) /* lsr: data ready, transmitter empty */
		return (rx_head != rx_tail ? LM32_UART_LSR_DR : 0) | LM32_UART_LSR_THRR |
		       LM32_UART_LSR_TEMT;
	if (off == 0 && rx_head != rx_tail) {
		uint8_t c = rx_fifo[rx_tail];
		rx_tail = (rx_tail + 1) & 4095;
		if (rx_head == rx_tail)
			board_lower(IRQ_UART);
		return c;
	}
	return 0;
}

/* ---- ALINK and the stand-in chain ---- */
#define TX_DEPTH 1024
#define WORK_WORDS 23
static uint32_t tx_fifo[TX_DEPTH];
static int tx_count, tx_seen;
static uint32_t rx_words[512];
static int rx_count;
static uint32_t alink_en = (1u << MINERS) - 1, alink_scan;
static double phy_busy_until[MINERS];
static int phy_fresh[MINERS]; /* dispatched, busy not read yet */

/* Which chip finds a nonce: the chain splits the nonce range by the work's step. */
static int chip_of(uint32_t nonce, uint32_t step)
{
	return step ? (int)(nonce / step) : 0;
}

static void push_result(int phy, const uint32_t *work, uint32_t nonce)
{
	if (rx_count + 5 > 512)
		return; /* rx fifo full: the report is lost, as alink.v does */
	rx_words[rx_count++] = phy;
	rx_words[rx_count++] = work[0];
	rx_words[rx_count++] = work[1];
	rx_words[rx_count++] = 0;
	rx_words[rx_count++] = nonce;
}

/* The words as alink_send_work() orders them: 0-1 task id, 2 step, 3 timeout, 4-5 clock,
 * 6-8 header words 16-18 (as SHA-256 reads them), 9-13 a1 a0 e2 e1 e0, 14-21 the midstate,
 * 22 a2.  Chips count nonces as SHA-256 reads header word 19; they report that word plus
 * their pipeline offset (the firmware subtracts it and bswaps, miner.c test_nonce). */
static int solves(const uint32_t *w, uint32_t nonce_word)
{
	return sha256d_last_word(w + 14, w + 6, nonce_word) == 0;
}

/* Scan mode (the chip test): each healthy core searches a slice of nonces from the work's
 * start (word 1) and reports the solution it finds plus the chips' pipeline offset, as in
 * hash mode.  The firmware's test vectors start 0x5000 (MM3) or about 0x100 (MM2) below
 * their solution (alink.c asic_test_work and its expected answers); a vector's solution is
 * searched once and remembered. */
#define CORE_SLICE 0x8000

static void run_scan_work(int phy, const uint32_t *w)
{
	static uint32_t key[32][4], answer[32]; /* a vector: its tail and first midstate word */
	static int known;
	int chip = (int)w[0], i;

	if (chip < 0 || chip >= 32 || (ctl.dead[phy] >> chip) & 1)
		return;
	for (i = 0; i < known; i++)
		if (!memcmp(key[i], w + 6, 12) && key[i][3] == w[14])
			break;
	if (i == known) {
		if (known == 32)
			return;
		memcpy(key[i], w + 6, 12);
		key[i][3] = w[14];
		answer[i] = w[1] - 1; /* none yet */
		for (uint32_t k = 0; k < CORE_SLICE; k++)
			if (solves(w, w[1] + k)) {
				answer[i] = w[1] + k;
				break;
			}
		known++;
	}
	if (answer[i] - w[1] < CORE_SLICE)
		push_result(phy, w, answer[i] + HASH_NONCE_OFFSET);
}

/* Hash mode: try the nonces the test named; a solution found by a live chip comes back
 * with the chips' pipeline offset. */
/* Hash mode: try the nonces the test named (block nonces, as the header stores them); a
 * solution found by a live chip comes back with the chips' pipeline offset. */
static void run_hash_work(int phy, const uint32_t *w)
{
	for (int i = 0; i < ctl.n_nonces; i++) {
		uint32_t word = __builtin_bswap32(ctl.nonces[i]);
		int chip = chip_of(word, w[2]);
		if (chip < 32 && (ctl.dead[phy] >> chip) & 1)
			continue;
		if (solves(w, word)) {
			push_result(phy, w, word + HASH_NONCE_OFFSET);
			board_event("FOUND miner %d nonce %08x", phy, ctl.nonces[i]);
		}
	}
}

static int trace_dispatches = -1;

static void alink_tick(void)
{
	if (trace_dispatches < 0)
		trace_dispatches = getenv("FW_TRACE") ? 12 : 0;
	double now = board_now();
	/* a work leaves the fifo only after the firmware has seen it counted (the real
	 * txc.v takes some cycles; alink_asic_idle() waits for a non-zero count) */
	while (tx_count >= WORK_WORDS && tx_seen) {
		int phy = -1;
		for (int i = 0; i < MINERS; i++)
			if (((alink_en >> i) & 1) && now >= phy_busy_until[i] && !phy_fresh[i]) {
				phy = i;
				break;
			}
		if (phy < 0)
			return;
		uint32_t w[WORK_WORDS];
		memcpy(w, tx_fifo, sizeof(w));
		tx_count -= WORK_WORDS;
		memmove(tx_fifo, tx_fifo + WORK_WORDS, tx_count * 4);
		tx_seen = 0;
		/* the firmware waits to see the chain busy only on test and idle works */
		phy_fresh[phy] = alink_scan || (w[4] & 0xf) == 0xb;
		/* a test work takes under the 1 ms the firmware waits for it (scaled with delay) */
		phy_busy_until[phy] = now + (alink_scan ? 0.0005 * ctl.delay_scale : ctl.work_s);
		if (trace_dispatches > 0 && trace_dispatches--)
			board_event("DISPATCH phy %d en %x scan %u w0 %08x w1 %08x w4 %08x", phy, alink_en,
				    alink_scan, w[0], w[1], w[4]);
		if (alink_scan)
			run_scan_work(phy, w);
		else if ((w[4] & 0xf) == 0xb) /* gated clock: alink_asic_idle() */
			continue;
		else {
			hw_hash_work(now);
			run_hash_work(phy, w);
		}
	}
}

static unsigned int alink_busy(void)
{
	unsigned int busy = 0;
	double now = board_now();
	for (int i = 0; i < MINERS; i++)
		if (now < phy_busy_until[i] || phy_fresh[i]) {
			busy |= 1u << i;
			phy_fresh[i] = 0;
		}
	return busy;
}

static unsigned int alink_read(unsigned long off)
{
	alink_tick();
	switch (off) {
	case 0x4:
		tx_seen = tx_count > 0;
		return (alink_scan ? LM32_ALINK_STATE_TEST : 0) | ((rx_count & 0x3ff) << 20) |
		       (rx_count ? 0 : LM32_ALINK_STATE_RXEMPTY) | ((tx_count & 0x7ff) << 4) |
		       (tx_count + 19 + 4 >= TX_DEPTH ? LM32_ALINK_STATE_TXFULL : 0);
	case 0x8:
		return alink_en;
	case 0xc:
		return alink_busy();
	case 0x10:
		return word_pop(rx_words, &rx_count);
	}
	return 0xdeaddead;
}

static void alink_write(unsigned long off, uint32_t v)
{
	switch (off) {
	case 0x0:
		if (tx_count < TX_DEPTH)
			tx_fifo[tx_count++] = v;
		tx_seen = 0; /* not counted by the firmware yet */
		break;
	case 0x4:
		alink_scan = v >> 31;
		if (v & LM32_ALINK_STATE_FLUSH) {
			tx_count = rx_count = tx_seen = 0;
			memset(phy_busy_until, 0, sizeof(phy_busy_until));
			memset(phy_fresh, 0, sizeof(phy_fresh));
		}
		break;
	case 0x8:
		alink_en = v;
		break;
	}
}

/* ---- the rest of the board ---- */
static uint32_t gpio_out; /* the GPIO register */
static uint32_t shift_value, volt_word = 0x8f00;
static int volt_on;

static void shifter_write(uint32_t v)
{
	if (v == 0x7) {
		if (volt_on)
			board_event("POWER off");
		volt_on = 0;
	} else if (v == 0x3) {
		volt_on = 1;
		volt_word = shift_value & ~1u;
		board_event("POWER on %04x", volt_word);
	} else if (v & 1) {
		shift_value = v;
	}
}

static unsigned int gpio_read(void)
{
	uint32_t pg = volt_on ? ((1u << MINERS) - 1) & ~ctl.pg_fail : 0;
	return (board_module_id() & 3) << 4 | pg << PG_SHIFT | (gpio_out & 0xf);
}

unsigned int dev_read(unsigned long addr, int size)
{
	(void)size;
	board_poll_ctl();
	if (getenv("FW_TRACE")) {
		static unsigned long last_addr; static int reps;
		if (addr == last_addr) { if (++reps == 100000) board_event("SPIN %lx", addr); }
		else { last_addr = addr; reps = 0; }
	}
	if (addr >= UART0_BASE && addr < UART0_BASE + 0x10)
		return uart_read(addr - UART0_BASE);
	if (addr >= UART1_BASE && addr < UART1_BASE + 0x10)
		return addr - UART1_BASE == 5 ? LM32_UART_LSR_THRR | LM32_UART_LSR_TEMT : 0;
	if (addr >= SHA256_BASE && addr < SHA256_BASE + 0x20)
		return hw_sha_read(addr - SHA256_BASE);
	if (addr >= ALINK_BASE && addr < ALINK_BASE + 0x20)
		return alink_read(addr - ALINK_BASE);
	unsigned int value;
	if (addr >= TWIPWM_BASE && addr < TWIPWM_BASE + 0x20 &&
	    hw_twipwm_read(addr - TWIPWM_BASE, 2, &value))
		return value;
	switch (addr) {
	case SHIFTER_BASE:
		return 0x8; /* shift done */
	case TIMER_BASE:
		return hw_timer_read();
	case GPIO_BASE:
		return gpio_read();
	}
	return 0;
}

void dev_write(unsigned long addr, unsigned int value, int size)
{
	(void)size;
	if (addr == UART0_BASE) {
		uint8_t c = value;
		board_line_write(&c, 1);
		return;
	}
	if (addr >= UART0_BASE && addr < UART1_BASE + 0x10)
		return; /* line settings, the debug UART */
	if (addr >= SHA256_BASE && addr < SHA256_BASE + 0x20) {
		hw_sha_write(addr - SHA256_BASE, value);
		return;
	}
	if (addr >= ALINK_BASE && addr < ALINK_BASE + 0x20) {
		alink_write(addr - ALINK_BASE, value);
		return;
	}
	if (addr >= TWIPWM_BASE && addr < TWIPWM_BASE + 0x20 &&
	    hw_twipwm_write(addr - TWIPWM_BASE, value))
		return;
	switch (addr) {
	case SHIFTER_BASE:
		shifter_write(value);
		break;
	case TIMER_BASE:
		hw_timer_write(value);
		break;
	case GPIO_BASE:
		gpio_out = value;
		break;
	}
}

void dev_tick(void)
{
	uart_fill();
	hw_hashing_watch(board_now());
	board_poll_ctl();
}

void dev_line_ready(void) { uart_fill(); }
