/* The board around the AUC firmware (Canaan's Avalon-USB-converter), built unchanged as a
 * 32-bit C++ host program (board.h): a 1 ms SIGALRM delivers the USB endpoint events; the
 * USB ROM driver (hardware, core and CDC parts) is a stand-in speaking to the harness over
 * stdin/stdout; the LPC11U I2C master peripheral is modelled register by register (the
 * firmware's own i2c_lpc11uxx.c drives it) with the I2C slaves behind a second pair of
 * pipes, answered by the harness (our emulated modules).
 *
 * The USB ROM stand-in and the harness's endpoints are the sticks' (../stick/usb_rom.c),
 * and so are the library objects (../stick/lpc11u.c).  The I2C slaves: FW_I2C_OUT (fd):
 * 'A' byte (the address byte, read bit included: does a slave acknowledge it?), 'W' addr
 * len data (a write phase ended), 'R' addr len (a read phase starts); FW_I2C_IN (fd):
 * 'A'/'N', or for 'R' len bytes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

#include "board.h"
#include "common.h"
#include "usb_rom.h"

extern int fw_main(void);

#define READ_AHEAD 64 /* bytes fetched from a slave when a read phase starts */

struct model_usb model_usb_regs;
LPC_I2C_T model_i2c = {{I2C_REG_CONSET}, {I2C_REG_STAT}, {I2C_REG_DAT}, {I2C_REG_OTHER},
	{I2C_REG_SCLH}, {I2C_REG_SCLL}, {I2C_REG_CONCLR}, {I2C_REG_OTHER}, {I2C_REG_OTHER},
	{I2C_REG_OTHER}, {I2C_REG_OTHER}, {I2C_REG_OTHER}};
void NVIC_SystemReset(void)
{
	board_event("RESET system");
	_exit(5);
}

/* the firmware's AVALON_Delay spins ticks of NOPs; a tick here is cgminer's figure for the
 * LPC11U14 ("4800 = 1ms in AUC", driver-avalon8.h), so cgminer's xdelay of 19200 waits 4 ms
 * (the firmware's own comment, "9600 = 0.1 ms", disagrees; nothing public settles it) */
extern "C" void __wrap_AVALON_Delay(unsigned int ticks) /* callers see it through avalon_api.h, extern "C" */
{
	board_sleep(ticks / 4800e3);
}

/* ---- GPIO, ADC, UART, SPI: what the AUC has of them ---- */
void model_gpio_set(uint32_t port, uint8_t pin, bool on) { (void)port; (void)pin; (void)on; }
bool model_gpio_get(uint32_t port, uint8_t pin) { (void)port; (void)pin; return false; }
void model_gpio_dir(uint32_t port, uint8_t pin, bool output) { (void)port; (void)pin; (void)output; }
uint16_t model_adc_value(uint8_t ch) { return ch == 7 ? 0x1c0 : 0; } /* its temperature ADC */
void model_wfi(void) { pause(); }
bool model_timer_pending(LPC_TIMER_T *t) { (void)t; return false; }
void model_uart_fcr(uint32_t fcr) { (void)fcr; }
uint32_t Chip_UART_SendRB(LPC_USART_T *u, RINGBUFF_T *rb, const void *d, int n) { (void)u; (void)rb; (void)d; return n; }
int Chip_UART_ReadRB(LPC_USART_T *u, RINGBUFF_T *rb, void *d, int n) { (void)u; (void)rb; (void)d; (void)n; return 0; }
void Chip_UART_IRQRBHandler(LPC_USART_T *u, RINGBUFF_T *rx, RINGBUFF_T *tx) { (void)u; (void)rx; (void)tx; }
void Chip_SSP_SetBitRate(LPC_SSP_T *s, uint32_t rate) { (void)s; (void)rate; }
uint32_t Chip_SSP_RWFrames_Blocking(LPC_SSP_T *s, Chip_SSP_DATA_SETUP_T *xf) { (void)s; return xf->length; }
uint32_t Chip_SSP_WriteFrames_Blocking(LPC_SSP_T *s, uint8_t *b, uint32_t n) { (void)s; (void)b; return n; }
void iap_entry(unsigned int cmd[], unsigned int result[]) { (void)cmd; result[0] = 1; }

/* ---- the I2C slaves, behind the harness ---- */
static int i2c_out = -1, i2c_in = -1;

static void read_all(int fd, uint8_t *buf, int len)
{
	while (len > 0) {
		int n = read(fd, buf, len);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			_exit(0);
		}
		buf += n;
		len -= n;
	}
}

static int slave_acknowledges(uint8_t address_byte)
{
	uint8_t req[2] = {'A', address_byte}, ans;
	(void)!write(i2c_out, req, 2);
	read_all(i2c_in, &ans, 1);
	return ans == 'A';
}

static void slave_write(uint8_t addr, const uint8_t *data, int len)
{
	uint8_t req[3 + 256] = {'W', addr, (uint8_t)len};
	memcpy(req + 3, data, len);
	(void)!write(i2c_out, req, 3 + len);
}

static void slave_read(uint8_t addr, uint8_t *data, int len)
{
	uint8_t req[3] = {'R', addr, (uint8_t)len};
	(void)!write(i2c_out, req, 3);
	read_all(i2c_in, data, len);
}

/* ---- the LPC11U I2C master: states as its user manual numbers them ---- */
static struct {
	uint32_t con, stat, dat;
	int active, reading, addr;
	uint8_t wbuf[256];
	int wlen;
	uint8_t rbuf[READ_AHEAD];
	int rpos;
} i2c = {0, 0xF8, 0, 0, 0, 0, {0}, 0, {0}, 0};

static void flush_write(void)
{
	if (i2c.active && !i2c.reading && i2c.wlen)
		slave_write(i2c.addr, i2c.wbuf, i2c.wlen);
	i2c.wlen = 0;
}

static void i2c_step(void)
{
	if (!(i2c.con & I2C_CON_I2EN) || (i2c.con & I2C_CON_SI))
		return;
	if (i2c.con & I2C_CON_STO) { /* STOP: the transaction ends */
		flush_write();
		i2c.active = 0;
		i2c.stat = 0xF8;
		i2c.con &= ~I2C_CON_STO;
	}
	if (i2c.con & I2C_CON_STA) { /* START, or a repeated START inside a transaction */
		flush_write();
		i2c.stat = i2c.active ? 0x10 : 0x08;
		i2c.active = 1;
		i2c.con |= I2C_CON_SI;
		return;
	}
	switch (i2c.stat) {
	case 0x08:
	case 0x10: /* the address byte */
		i2c.addr = i2c.dat >> 1;
		i2c.reading = i2c.dat & 1;
		i2c.wlen = 0;
		if (!slave_acknowledges(i2c.dat)) {
			i2c.stat = i2c.reading ? 0x48 : 0x20;
		} else if (i2c.reading) {
			slave_read(i2c.addr, i2c.rbuf, READ_AHEAD);
			i2c.rpos = 0;
			i2c.stat = 0x40;
		} else {
			i2c.stat = 0x18;
		}
		break;
	case 0x18:
	case 0x28: /* a data byte out: the slaves acknowledge every byte */
		if (i2c.wlen < (int)sizeof(i2c.wbuf))
			i2c.wbuf[i2c.wlen++] = i2c.dat;
		i2c.stat = 0x28;
		break;
	case 0x40:
	case 0x50: /* a data byte in, acknowledged if AA */
		i2c.dat = i2c.rpos < READ_AHEAD ? i2c.rbuf[i2c.rpos++] : 0xFF;
		i2c.stat = (i2c.con & I2C_CON_AA) ? 0x50 : 0x58;
		break;
	default:
		return; /* waiting for a START or a STOP */
	}
	i2c.con |= I2C_CON_SI;
}

static bool i2c_clock; /* the block's clock gate (SYSAHBCLKCTRL): off, it ignores writes */

void model_i2c_clock(bool on) { i2c_clock = on; }

uint32_t model_i2c_read(int reg)
{
	if (!i2c_clock)
		return 0;
	switch (reg) {
	case I2C_REG_CONSET: return i2c.con;
	case I2C_REG_STAT: return i2c.stat;
	case I2C_REG_DAT: return i2c.dat;
	}
	return 0;
}

void model_i2c_write(int reg, uint32_t value)
{
	if (!i2c_clock)
		return;
	switch (reg) {
	case I2C_REG_CONSET:
		i2c.con |= value & (I2C_CON_FLAGS | I2C_CON_I2EN);
		break;
	case I2C_REG_CONCLR: /* STO cannot be cleared: the hardware ends it */
		i2c.con &= ~(value & (I2C_CON_AA | I2C_CON_SI | I2C_CON_STA | I2C_CON_I2EN));
		if (value & I2C_CON_I2EN)
			i2c.active = 0, i2c.stat = 0xF8;
		break;
	case I2C_REG_DAT:
		i2c.dat = value & 0xFF;
		return; /* the byte goes out when SI is cleared */
	default:
		return;
	}
	i2c_step();
}

static void on_tick(int sig)
{
	(void)sig;
	board_usb_poll();
}

int main(void)
{
	board_clock_start();
	board_usb_start();
	const char *o = getenv("FW_I2C_OUT"), *in = getenv("FW_I2C_IN");
	i2c_out = o ? atoi(o) : -1;
	i2c_in = in ? atoi(in) : -1;
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	board_map_fixed(0x20004000, 0x1000); /* USB RAM: the stack's and the bridge's buffers */
	board_event("START");
	board_start_tick(on_tick, 1000);
	return fw_main();
}
