/* The board around the AUC firmware (Canaan's Avalon-USB-converter), built unchanged as a
 * 32-bit C++ host program (board.h): a 1 ms SIGALRM delivers the USB endpoint events; the
 * USB ROM driver (hardware, core and CDC parts) is a stand-in speaking to the harness over
 * stdin/stdout; the LPC11U I2C master peripheral is modelled register by register (the
 * firmware's own i2c_lpc11uxx.c drives it) with the I2C slaves behind a second pair of
 * pipes, answered by the harness (our emulated modules).
 *
 * Harness protocol.  stdin: 'O' len data (a bulk OUT packet), 'R' (the host reads the IN
 * endpoint), 'C' (that read timed out).  stdout: 'I' len data (a bulk IN packet).  FW_I2C_OUT
 * (fd): 'A' addr (is a slave there?), 'W' addr len data (a write phase ended), 'R' addr len
 * (a read phase starts); FW_I2C_IN (fd): 'A'/'N', or for 'R' len bytes.  stderr: events. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "board.h"
#include "app_usbd_cfg.h"

extern int fw_main(void);

#define PACKET 64
#define READ_AHEAD 64 /* bytes fetched from a slave when a read phase starts */

LPC_GPIO_T model_gpio;
LPC_IOCON_T model_iocon;
LPC_USART_T model_usart;
LPC_TIMER_T model_timer32_0, model_timer32_1, model_timer16_0, model_timer16_1;
LPC_ADC_T model_adc;
LPC_SSP_T model_ssp0, model_ssp1;
LPC_WWDT_T model_wwdt;
struct model_nvic model_nvic_regs;
struct model_usb model_usb_regs;
LPC_I2C_T model_i2c = {{I2C_REG_CONSET}, {I2C_REG_STAT}, {I2C_REG_DAT}, {I2C_REG_OTHER},
	{I2C_REG_SCLH}, {I2C_REG_SCLL}, {I2C_REG_CONCLR}, {I2C_REG_OTHER}, {I2C_REG_OTHER},
	{I2C_REG_OTHER}, {I2C_REG_OTHER}, {I2C_REG_OTHER}};
uint32_t SystemCoreClock = 48000000;
void SystemCoreClockUpdate(void) {}
void Board_Init(void) {}
void Board_SystemInit(void) {}
void Chip_SystemInit(void) {}
void Board_LED_Toggle(uint8_t led) { (void)led; }
void __disable_irq(void) {}
void __set_MSP(uint32_t top) { (void)top; _exit(4); }

static double t0;
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9 - t0;
}

static void event(const char *fmt, ...)
{
	char line[1200];
	va_list ap;
	int n = snprintf(line, sizeof(line), "EV %.3f ", now());
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(2, line, n);
}

static void hex(char *out, const uint8_t *data, int len)
{
	for (int i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", data[i]);
	out[2 * len] = 0;
}

void NVIC_SystemReset(void)
{
	event("RESET system");
	_exit(5);
}

/* the firmware's AVALON_Delay spins ticks of NOPs: about 2.4 us each at 48 MHz (its
 * default write-to-read delay, 9600, is "0.1 ms" in its comment; measured on the AUC about
 * 4 ms for a transfer's turn-around) */
extern "C" void __wrap_AVALON_Delay(unsigned int ticks) /* callers see it through avalon_api.h, extern "C" */
{
	double until = now() + ticks * 0.4e-6;
	while (now() < until) {
		struct timespec ts = {0, 50000};
		nanosleep(&ts, NULL);
	}
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
int Chip_UART_SendBlocking(LPC_USART_T *u, const void *data, int bytes) { (void)u; (void)data; return bytes; }
int Chip_UART_Read(LPC_USART_T *u, void *data, int bytes) { (void)u; (void)data; (void)bytes; return 0; }
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

static int slave_present(uint8_t addr)
{
	uint8_t req[2] = {'A', addr}, ans;
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
		if (!slave_present(i2c.addr)) {
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

uint32_t model_i2c_read(int reg)
{
	switch (reg) {
	case I2C_REG_CONSET: return i2c.con;
	case I2C_REG_STAT: return i2c.stat;
	case I2C_REG_DAT: return i2c.dat;
	}
	return 0;
}

void model_i2c_write(int reg, uint32_t value)
{
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

/* ---- the USB ROM driver: hardware, core and CDC parts ---- */
static USB_CORE_CTRL_T usb_core;
static USB_CDC_CTRL_T cdc_ctrl;
static USB_EP_HANDLER_T ep_in, ep_out;
static void *ep_in_data, *ep_out_data;
static uint8_t out_packet[PACKET], in_packet[PACKET];
static volatile int out_len, in_len = -1, host_reading;

static ErrorCode_t usb_init_hw(USBD_HANDLE_T *h, USB_CORE_DESCS_T *desc, USBD_API_INIT_PARAM_T *p)
{
	char text[1100];
	const uint8_t *cfg = desc->full_speed_desc, *s = desc->string_desc;
	int total = cfg[2] | cfg[3] << 8, slen = 0;
	(void)p;
	usb_core.config_value = 1; /* enumerated and configured by the host */
	*h = &usb_core;
	hex(text, desc->device_desc, 18);
	event("DESC device %s", text);
	hex(text, cfg, total < 500 ? total : 500);
	event("DESC config %s", text);
	while (s[slen] && slen < 500)
		slen += s[slen];
	hex(text, s, slen);
	event("DESC strings %s", text);
	return LPC_OK;
}
static void usb_connect(USBD_HANDLE_T h, uint32_t on) { (void)h; event("CONNECT %u", on); }
static void usb_isr(USBD_HANDLE_T h) { (void)h; }
static uint32_t usb_read_ep(USBD_HANDLE_T h, uint32_t ep, uint8_t *data)
{
	(void)h; (void)ep;
	memcpy(data, out_packet, out_len); /* the rest of the slot keeps what it had */
	return out_len;
}
static uint32_t usb_read_req_ep(USBD_HANDLE_T h, uint32_t ep, uint8_t *data, uint32_t len)
{
	(void)h; (void)ep; (void)data; (void)len;
	return 0;
}
static uint32_t usb_write_ep(USBD_HANDLE_T h, uint32_t ep, uint8_t *data, uint32_t cnt)
{
	(void)h; (void)ep;
	in_len = cnt < PACKET ? cnt : PACKET;
	memcpy(in_packet, data, in_len);
	return cnt;
}
static ErrorCode_t register_ep(USBD_HANDLE_T h, uint32_t index, USB_EP_HANDLER_T fn, void *data)
{
	(void)h;
	if (index & 1)
		ep_in = fn, ep_in_data = data;
	else
		ep_out = fn, ep_out_data = data;
	return LPC_OK;
}
static ErrorCode_t cdc_init(USBD_HANDLE_T h, USBD_CDC_INIT_PARAM_T *p, USBD_HANDLE_T *phCdc)
{
	(void)h; (void)p;
	*phCdc = &cdc_ctrl;
	return LPC_OK;
}
static USBD_HW_API_T make_hw_api()
{
	USBD_HW_API_T api;
	memset(&api, 0, sizeof(api));
	api.Init = usb_init_hw;
	api.Connect = usb_connect;
	api.ISR = usb_isr;
	api.ReadEP = usb_read_ep;
	api.ReadReqEP = usb_read_req_ep;
	api.WriteEP = usb_write_ep;
	return api;
}
static USBD_CORE_API_T make_core_api()
{
	USBD_CORE_API_T api;
	memset(&api, 0, sizeof(api));
	api.RegisterEpHandler = register_ep;
	return api;
}
static USBD_CDC_API_T make_cdc_api()
{
	USBD_CDC_API_T api;
	memset(&api, 0, sizeof(api));
	api.init = cdc_init;
	return api;
}
extern const USBD_HW_API_T hw_api = make_hw_api();
extern const USBD_CORE_API_T core_api = make_core_api();
extern const USBD_CDC_API_T cdc_api = make_cdc_api();

static uint8_t host_buf[8192];
static int host_len;
static void host_poll(void)
{
	int n = read(0, host_buf + host_len, sizeof(host_buf) - host_len);
	if (n == 0)
		_exit(0);
	if (n > 0)
		host_len += n;
	int used = 0, delivered = 0;
	while (used < host_len) {
		uint8_t tag = host_buf[used];
		if (tag == 'O') { /* a bulk endpoint: one packet a 1 ms frame here */
			if (host_len - used < 2 || host_len - used < 2 + host_buf[used + 1] || delivered)
				break;
			out_len = host_buf[used + 1] < PACKET ? host_buf[used + 1] : PACKET;
			memcpy(out_packet, host_buf + used + 2, out_len);
			used += 2 + host_buf[used + 1];
			delivered = 1;
			if (ep_out)
				ep_out(&usb_core, ep_out_data, USB_EVT_OUT);
			continue;
		}
		host_reading = tag == 'R';
		used++;
	}
	memmove(host_buf, host_buf + used, host_len - used);
	host_len -= used;
	if (host_reading && in_len >= 0) {
		uint8_t msg[2 + PACKET] = {'I', (uint8_t)in_len};
		memcpy(msg + 2, in_packet, in_len);
		(void)!write(1, msg, 2 + in_len);
		host_reading = 0;
		in_len = -1;
		if (ep_in)
			ep_in(&usb_core, ep_in_data, USB_EVT_IN);
	}
}

static void on_tick(int sig)
{
	(void)sig;
	host_poll();
}

static void map_fixed(unsigned long addr, size_t size)
{
	void *p = mmap((void *)addr, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != (void *)addr) {
		fprintf(stderr, "cannot map %#lx: %s\n", addr, strerror(errno));
		exit(3);
	}
}

int main(void)
{
	struct sigaction sa;
	struct itimerval it = {{0, 1000}, {0, 1000}};
	t0 = now();
	const char *o = getenv("FW_I2C_OUT"), *in = getenv("FW_I2C_IN");
	i2c_out = o ? atoi(o) : -1;
	i2c_in = in ? atoi(in) : -1;
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	map_fixed(0x20004000, 0x1000); /* USB RAM: the stack's and the bridge's buffers */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_tick;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	event("START");
	setitimer(ITIMER_REAL, &it, NULL);
	return fw_main();
}
