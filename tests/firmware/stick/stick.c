/* The board around the Avalon nano or Avalon4 mini firmware, built unchanged as a 32-bit
 * host program (board.h): a 1 ms SIGALRM is the firmware's timer interrupt and also
 * delivers the USB and UART interrupts; the USB ROM driver is a stand-in that speaks to
 * the test harness over stdin/stdout; the nano's A3233 (behind the UART) and the mini's
 * five A3222 (a shift chain behind SPI) find the nonces the test names, checked by real
 * double SHA-256.
 *
 * The USB ROM stand-in and the harness protocol are in usb_rom.c, the library objects in
 * lpc11u.c, the clock, events and control file in ../model/common.c. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "board.h"
#include "common.h"
#include "sha256_model.h"
#include "usb_rom.h"

extern int fw_main(void);
extern void TIMER32_0_IRQHandler(void);
void UART_IRQHandler(void) __attribute__((weak));

#define MAX_NONCES 16

/* ---- the control file ---- */
static struct {
	int temp_c;            /* the nano's TMP102 */
	int adc[8];            /* raw ADC codes, -1: the board's own value */
	uint32_t nonces[MAX_NONCES]; /* header nonces the chips find when they solve a work */
	int n_nonces;
	double work_s;         /* how long a chip takes to find them */
	int pg_fail;
	unsigned int dead;     /* chips (bit per chip) that never find a nonce */
	double delay_scale;    /* the firmware's delay() in real time times this */
} ctl;

static void parse_ctl(char *text)
{
	char *line, *save, *tok, *s2;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char key[32];
		int a, b;
		if (sscanf(line, "%31s", key) != 1)
			continue;
		char *val = line + strlen(key);
		if (!strcmp(key, "tmp102"))
			ctl.temp_c = atoi(val);
		else if (!strcmp(key, "adc") && sscanf(val, "%d %d", &a, &b) == 2 && a >= 0 && a < 8)
			ctl.adc[a] = b;
		else if (!strcmp(key, "work_s"))
			ctl.work_s = strtod(val, NULL);
		else if (!strcmp(key, "pg_fail"))
			ctl.pg_fail = atoi(val);
		else if (!strcmp(key, "delay_scale"))
			ctl.delay_scale = strtod(val, NULL);
		else if (!strcmp(key, "dead_chips"))
			ctl.dead = strtoul(val, NULL, 0);
		else if (!strcmp(key, "nonces")) {
			ctl.n_nonces = 0;
			for (tok = strtok_r(val, " ,", &s2); tok && ctl.n_nonces < MAX_NONCES;
			     tok = strtok_r(NULL, " ,", &s2))
				ctl.nonces[ctl.n_nonces++] = strtoul(tok, NULL, 16);
		}
	}
}

static void poll_ctl(void)
{
	char text[2048];
	if (board_read_ctl(text, sizeof(text)))
		parse_ctl(text);
}

/* the firmware's delay() spins a calibrated loop: run it in real time instead (scaled by
 * the control file's delay_scale: 1 is real time) */
void __wrap_delay(unsigned int ms)
{
	board_sleep(ms / 1000.0 * ctl.delay_scale);
}

/* A main loop that never waits would hold a host core: pause where it spins */
static void pace(void)
{
	struct timespec ts = {0, 300000};
	nanosleep(&ts, NULL);
}
void model_wfi(void)
{
	sigset_t none;
	sigemptyset(&none);
	sigsuspend(&none);
}
#ifdef STICK_NANO
extern uint32_t __real_hid_rxrb_cnt(void);
uint32_t __wrap_hid_rxrb_cnt(void)
{
	uint32_t n = __real_hid_rxrb_cnt();
	if (!n)
		pace();
	return n;
}
#else
extern void __real_wdt_feed(void);
void __wrap_wdt_feed(void)
{
	pace();
	__real_wdt_feed();
}
#endif

/* ---- the chips ---- */
static int solves(const uint32_t mid[8], const uint32_t tail[3], uint32_t word19)
{
	return sha256d_last_word(mid, tail, word19) == 0;
}

/* the header nonces the chips know, plus the one the firmware's own golden work has */
#define GOLDEN_WORD19 0x000187a2u
static int candidates(uint32_t words[MAX_NONCES + 1])
{
	int n = 0;
	for (int i = 0; i < ctl.n_nonces; i++)
		words[n++] = __builtin_bswap32(ctl.nonces[i]);
	words[n++] = GOLDEN_WORD19;
	return n;
}

#ifdef STICK_NANO
/* The nano: one A3233 on the UART.  Pins: P0.11 core power, P0.22/P0.7 VID, P0.20 reset,
 * P0.4/P0.5 the TMP102's SCL/SDA (bit-banged). */
#define A3233_WORK 88
static uint8_t uart_in[A3233_WORK];
static int uart_in_len;
static struct { double due; uint8_t bytes[4]; } found[8];
static int n_found;
static uint8_t uart_fifo[64];
static int uart_fifo_len;
static RINGBUFF_T *uart_rxrb;

static int powered(void) { return model_gpio_get(0, 11); }

static void a3233_work(const uint8_t *w)
{
	uint32_t mid[8], tail[3], cand[MAX_NONCES + 1], pll;
	memcpy(&pll, w + 4, 4);
	if (pll != 0x01000000u && pll != 1)
		board_event("PLL %08x", pll);
	memcpy(tail, w + 12, 12);   /* task data: header words 16..18 */
	memcpy(mid, w + 44, 32);    /* midstate H0..H7 */
	/* the chip switches once the 88 bytes are in (8 ms at 111111 baud): what it finds
	 * for the old work before then still comes back, the rest is abandoned */
	double start = board_now() + A3233_WORK * 10 / 111111.0;
	int kept = 0;
	for (int i = 0; i < n_found; i++)
		if (found[i].due <= start)
			found[kept++] = found[i];
	n_found = kept;
	if (!powered())
		return;
	int n = candidates(cand);
	double due = start + ctl.work_s;
	for (int i = 0; i < n && n_found < 8; i++) {
		if (!solves(mid, tail, cand[i]))
			continue;
		uint32_t out = cand[i] + 0x1000; /* the chip's pipeline offset, sent little-endian */
		found[n_found].due = due;
		memcpy(found[n_found].bytes, &out, 4);
		n_found++;
		board_event("FOUND 0 %08x", __builtin_bswap32(cand[i]));
	}
}

uint32_t Chip_UART_SendRB(LPC_USART_T *u, RINGBUFF_T *rb, const void *data, int bytes)
{
	(void)u; (void)rb;
	for (int i = 0; i < bytes; i++) {
		uart_in[uart_in_len++] = ((const uint8_t *)data)[i];
		if (uart_in_len == A3233_WORK) {
			a3233_work(uart_in);
			uart_in_len = 0;
		}
	}
	return bytes;
}

int Chip_UART_ReadRB(LPC_USART_T *u, RINGBUFF_T *rb, void *data, int bytes)
{
	(void)u;
	return RingBuffer_PopMult(rb, data, bytes);
}

void Chip_UART_IRQRBHandler(LPC_USART_T *u, RINGBUFF_T *rx, RINGBUFF_T *tx)
{
	(void)u; (void)tx;
	uart_rxrb = rx;
	RingBuffer_InsertMult(rx, uart_fifo, uart_fifo_len);
	uart_fifo_len = 0;
}

static void chips_tick(void)
{
	int kept = 0;
	for (int i = 0; i < n_found; i++) {
		if (found[i].due <= board_now() && uart_fifo_len + 4 <= (int)sizeof(uart_fifo)) {
			memcpy(uart_fifo + uart_fifo_len, found[i].bytes, 4);
			uart_fifo_len += 4;
		} else
			found[kept++] = found[i];
	}
	n_found = kept;
	if (uart_fifo_len && UART_IRQHandler)
		UART_IRQHandler();
}

void model_uart_fcr(uint32_t fcr)
{
	if (fcr & UART_FCR_RX_RS)
		uart_fifo_len = 0;
}

/* the TMP102 on a bit-banged bus: 9 clocks per byte (8 data, 1 acknowledge) */
static struct { int clocks, byte, reading, nbytes; uint16_t reg; int sda_out; } tmp102;
static void i2c_edge(int scl_was, int sda_was)
{
	int scl = model_gpio_get(0, 4), sda = model_gpio_get(0, 5);
	if (scl && scl_was && sda != sda_was) { /* START (SDA falls) or STOP (SDA rises) */
		tmp102.clocks = tmp102.byte = tmp102.nbytes = 0;
		if (!sda)
			tmp102.reading = 0;
		return;
	}
	if (!scl || scl_was)
		return;
	int bit = tmp102.clocks % 9;
	if (tmp102.reading && bit < 8) {
		uint16_t t = (uint16_t)(ctl.temp_c * 16) << 4; /* 12 bits, 0.0625 degC a step */
		int b = (tmp102.nbytes == 1 ? t >> 8 : t) >> (7 - bit) & 1;
		tmp102.sda_out = b;
	} else if (bit < 8) {
		tmp102.byte = (tmp102.byte << 1) | sda;
	} else if (!tmp102.reading) {
		if (tmp102.nbytes == 0 && (tmp102.byte & 0xfe) == 0x92)
			tmp102.reading = tmp102.byte & 1;
		tmp102.byte = 0;
	}
	if (bit == 8)
		tmp102.nbytes++;
	tmp102.clocks++;
}
#endif

#ifdef STICK_MINI
/* The mini: five A3222 in a shift chain on SPI1, latched by LOAD (P1.19); the voltage
 * code in a 74HC595 (DS P0.20, SHCP P0.17, STCP P0.16, OE P0.14); power good on P0.7. */
#define CHIPS 5
#define A3222_WORK 92
static uint8_t shift_reg[CHIPS][A3222_WORK], current[CHIPS][A3222_WORK];
static int has_work[CHIPS];
static uint8_t hc595, voltage = 0xff;

static int powered(void) { return voltage != 0xff && !model_gpio_get(0, 14); }

static void empty_report(uint8_t *r)
{
	for (int i = 0; i < A3222_WORK; i += 4)
		memcpy(r + i, "\xbe\xaf\xbe\xaf", 4);
}

static void chain_reset(void)
{
	for (int c = 0; c < CHIPS; c++) {
		empty_report(shift_reg[c]);
		has_work[c] = 0;
	}
	board_event("RESET");
}

static void chain_load(void)
{
	uint32_t cand[MAX_NONCES + 1];
	int n = candidates(cand);
	for (int c = 0; c < CHIPS; c++) {
		uint8_t report[A3222_WORK];
		empty_report(report);
		if (has_work[c] && powered() && !(ctl.dead >> c & 1)) {
			const uint8_t *w = current[c];
			uint32_t mid[8], tail[3];
			int slots = 0;
			for (int i = 0; i < 8; i++)
				mid[i] = (uint32_t)w[8 + 4 * (7 - i)] << 24 | w[9 + 4 * (7 - i)] << 16 |
					w[10 + 4 * (7 - i)] << 8 | w[11 + 4 * (7 - i)];
			for (int i = 0; i < 3; i++)
				tail[i] = (uint32_t)w[68 - 4 * i] << 24 | w[69 - 4 * i] << 16 |
					w[70 - 4 * i] << 8 | w[71 - 4 * i];
			memcpy(report, w + 72, 8); /* work id, asic, ntime */
			for (int i = 0; i < n && slots < 8; i++) {
				if (!solves(mid, tail, cand[i]))
					continue;
				uint32_t raw = cand[i] + 0x4000; /* the chip's offset, big-endian */
				uint8_t *s = report + 8 + 4 * slots++;
				s[0] = raw >> 24; s[1] = raw >> 16; s[2] = raw >> 8; s[3] = raw;
				board_event("FOUND %d %08x", w[78], __builtin_bswap32(cand[i]));
			}
		}
		const uint8_t *next = shift_reg[c];
		has_work[c] = next[78] < CHIPS;
		if (has_work[c]) {
			memcpy(current[c], next, A3222_WORK);
			if (memcmp(next + 80, "\0\0\0\1\0\0\0\1\0\0\0\1", 12))
				board_event("PLL %d %02x%02x%02x%02x", next[78], next[80], next[81], next[82], next[83]);
		}
		memcpy(shift_reg[c], report, A3222_WORK);
	}
}

uint32_t Chip_SSP_RWFrames_Blocking(LPC_SSP_T *s, Chip_SSP_DATA_SETUP_T *xf)
{
	(void)s;
	if (xf->length != A3222_WORK)
		return ERROR;
	memcpy(xf->rx_data, shift_reg[CHIPS - 1], A3222_WORK);
	for (int c = CHIPS - 1; c > 0; c--)
		memcpy(shift_reg[c], shift_reg[c - 1], A3222_WORK);
	memcpy(shift_reg[0], xf->tx_data, A3222_WORK);
	xf->rx_cnt = xf->tx_cnt = xf->length;
	return xf->length;
}

uint32_t Chip_SSP_WriteFrames_Blocking(LPC_SSP_T *s, uint8_t *buf, uint32_t len)
{
	(void)s; (void)buf;
	if (model_gpio_get(1, 19)) {
		board_event("LOAD");
		chain_load();
	}
	return len;
}

void Chip_SSP_SetBitRate(LPC_SSP_T *s, uint32_t rate) { (void)s; board_event("SPI %u", rate); }
uint32_t Chip_UART_SendRB(LPC_USART_T *u, RINGBUFF_T *rb, const void *d, int n) { (void)u; (void)rb; (void)d; return n; }
int Chip_UART_ReadRB(LPC_USART_T *u, RINGBUFF_T *rb, void *d, int n) { (void)u; (void)rb; (void)d; (void)n; return 0; }
void Chip_UART_IRQRBHandler(LPC_USART_T *u, RINGBUFF_T *rx, RINGBUFF_T *tx) { (void)u; (void)rx; (void)tx; }
void model_uart_fcr(uint32_t fcr) { (void)fcr; }
static void chips_tick(void) {}
#endif

#ifdef STICK_NANO
void Chip_SSP_SetBitRate(LPC_SSP_T *s, uint32_t rate) { (void)s; (void)rate; }
uint32_t Chip_SSP_RWFrames_Blocking(LPC_SSP_T *s, Chip_SSP_DATA_SETUP_T *xf) { (void)s; return xf->length; }
uint32_t Chip_SSP_WriteFrames_Blocking(LPC_SSP_T *s, uint8_t *b, uint32_t n) { (void)s; (void)b; return n; }
#endif

/* ---- GPIO ---- */
static uint8_t pin_state[2][32], pin_output[2][32];

void model_gpio_dir(uint32_t port, uint8_t pin, bool output) { pin_output[port & 1][pin & 31] = output; }

bool model_gpio_get(uint32_t port, uint8_t pin)
{
#ifdef STICK_NANO
	if (port == 0 && pin == 5 && !pin_output[0][5])
		return tmp102.sda_out;
#else
	if (port == 0 && pin == 7)
		return powered() && !ctl.pg_fail;
#endif
	return pin_state[port & 1][pin & 31];
}

void model_gpio_set(uint32_t port, uint8_t pin, bool on)
{
	int was = pin_state[port & 1][pin & 31];
#ifdef STICK_NANO
	int scl = pin_state[0][4], sda = pin_state[0][5];
#endif
	pin_state[port & 1][pin & 31] = on;
#ifdef STICK_NANO
	if (port == 0 && pin == 11 && was != on)
		board_event("POWER %s", on ? "on" : "off");
	if (port == 0 && (pin == 4 || pin == 5))
		i2c_edge(scl, sda);
#else
	if (port == 0 && pin == 17 && on && !was)
		hc595 = (hc595 << 1) | pin_state[0][20];
	if (port == 0 && pin == 2 && !on && was)  /* the chips' reset line pulled low */
		chain_reset();
	if (port == 0 && pin == 16 && on && !was && hc595 != voltage) {
		voltage = hc595;
		board_event("VOLT %02x", voltage);
	}
#endif
}

/* ---- ADC ---- */
uint16_t model_adc_value(uint8_t ch)
{
	if (ch < 8 && ctl.adc[ch] >= 0)
		return ctl.adc[ch];
#ifdef STICK_NANO
	/* 10 bits against 3.3 V; the 2.5 V rail through its divider (firmware: x 1024 / 5) */
	switch (ch) {
	case 1: return 2.5 * 1024 / 5;
	case 3: return powered() ? 1.8 * 1023 / 3.3 : 0;
	case 5: return powered() ? 0.675 * 1023 / 3.3 : 0;
	case 7: return powered() ? 0.9 * 1023 / 3.3 : 0;
	}
#else
	switch (ch) {
	case 1: return 744; /* the 12 V rail through its divider */
	case 2: case 7: return 400; /* NTCs well below the firmware's cut (200) */
	}
#endif
	return 0;
}

/* ---- the boot ROM's IAP call: the serial number ---- */
void iap_entry(unsigned int cmd[], unsigned int result[])
{
	result[0] = 1; /* CMD_NOT_SUPPORTED unless READ_UID */
	if (cmd[0] == 58) {
		result[0] = 0;
		result[1] = 0x0b1e0029; /* the UID words, as the ROM returns them */
		result[2] = 0x4a27d61a;
		result[3] = 0x11223344;
		result[4] = 0x55667788;
	}
}

/* ---- the 1 ms interrupt ---- */
static volatile int timer_irq;
bool model_timer_pending(LPC_TIMER_T *t) { return t == LPC_TIMER32_0 && timer_irq; }

static void on_tick(int sig)
{
	static int ticks;
	(void)sig;
	board_usb_poll();
	timer_irq = 1;
	TIMER32_0_IRQHandler();
	timer_irq = 0;
	chips_tick();
	if (++ticks % 50 == 0)
		poll_ctl();
}

int main(void)
{
	board_clock_start();
	board_usb_start();
	for (int i = 0; i < 8; i++)
		ctl.adc[i] = -1;
	ctl.temp_c = 30;
	ctl.work_s = 0.005;
	ctl.delay_scale = 1.0;
	poll_ctl();
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	board_map_fixed(0x20004000, 0x1000);  /* USB RAM: the stack's buffers (USB_STACK_MEM_BASE) */
	board_map_fixed(0x40044000, 0x1000);  /* IOCON: the nano writes one register directly */
	board_event("START");
	board_start_tick(on_tick, 1000);
	return fw_main();
}
