/* The LPC11Uxx USB ROM driver as the sticks' and the AUC's firmware call it (its hardware,
 * core, HID, CDC and DFU parts), standing in for the chip's own, and the harness's side of
 * the two endpoints.  stdin: 'O' len data (an OUT packet), 'R' (the host reads the IN
 * endpoint), 'C' (that read timed out); stdout: 'I' len data (an IN packet).  One OUT
 * packet a call (a 1 ms tick: the host polls an endpoint once a frame); an IN packet waits
 * in the endpoint until the host reads it, then the firmware hears USB_EVT_IN. */
#include <unistd.h>

#include "board.h"
#include "app_usbd_cfg.h"
#include "common.h"
#include "usb_rom.h"

#define PACKET 64

/* the firmware declares these const; they are filled before it starts */
USBD_HW_API_T hw_api;
USBD_CORE_API_T core_api;
USBD_HID_API_T hid_api;
USBD_CDC_API_T cdc_api;
USBD_DFU_API_T dfu_api;

static USB_CORE_CTRL_T core;
static USB_CDC_CTRL_T cdc;
static USB_EP_HANDLER_T ep_in, ep_out;
static void *ep_in_data, *ep_out_data;
static uint8_t out_packet[PACKET], in_packet[PACKET];
static int out_len, in_len = -1, host_reading;

static ErrorCode_t usb_init(USBD_HANDLE_T *h, USB_CORE_DESCS_T *desc, USBD_API_INIT_PARAM_T *p)
{
	char text[1100];
	const uint8_t *cfg = desc->full_speed_desc, *s = desc->string_desc;
	int total = cfg[2] | cfg[3] << 8, slen = 0;
	(void)p;
	core.config_value = 1; /* enumerated and configured by the host */
	*h = &core;
	board_hex(text, desc->device_desc, 18);
	board_event("DESC device %s", text);
	board_hex(text, cfg, total < 500 ? total : 500);
	board_event("DESC config %s", text);
	while (s[slen] && slen < 500)
		slen += s[slen];
	board_hex(text, s, slen);
	board_event("DESC strings %s", text);
	return LPC_OK;
}

static void usb_connect(USBD_HANDLE_T h, uint32_t on) { (void)h; board_event("CONNECT %u", on); }
static void usb_isr(USBD_HANDLE_T h) { (void)h; }

static uint32_t usb_read_ep(USBD_HANDLE_T h, uint32_t ep, uint8_t *data)
{
	(void)h; (void)ep;
	memcpy(data, out_packet, out_len); /* the rest of the buffer keeps what it had */
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

static ErrorCode_t hid_init(USBD_HANDLE_T h, USBD_HID_INIT_PARAM_T *p)
{
	(void)h;
	ep_in = p->HID_EpIn_Hdlr;
	ep_out = p->HID_EpOut_Hdlr;
	return LPC_OK;
}

static ErrorCode_t cdc_init(USBD_HANDLE_T h, USBD_CDC_INIT_PARAM_T *p, USBD_HANDLE_T *phCdc)
{
	(void)h; (void)p;
	*phCdc = &cdc;
	return LPC_OK;
}

static ErrorCode_t dfu_init(USBD_HANDLE_T h, USBD_DFU_INIT_PARAM_T *p, uint32_t state)
{
	(void)h; (void)p; (void)state;
	return LPC_OK;
}

void board_usb_start(void)
{
	hw_api.Init = usb_init;
	hw_api.Connect = usb_connect;
	hw_api.ISR = usb_isr;
	hw_api.ReadEP = usb_read_ep;
	hw_api.ReadReqEP = usb_read_req_ep;
	hw_api.WriteEP = usb_write_ep;
	core_api.RegisterEpHandler = register_ep;
	hid_api.init = hid_init;
	cdc_api.init = cdc_init;
	dfu_api.init = dfu_init;
}

static uint8_t host_buf[8192];
static int host_len;

void board_usb_poll(void)
{
	int n = read(0, host_buf + host_len, sizeof(host_buf) - host_len);
	if (n == 0)
		_exit(0); /* the harness closed stdin */
	if (n > 0)
		host_len += n;
	int used = 0, delivered = 0;
	while (used < host_len) {
		uint8_t tag = host_buf[used];
		if (tag == 'O') {
			int len = used + 1 < host_len ? host_buf[used + 1] : 0;
			if (used + 1 >= host_len || host_len - used < 2 + len || delivered)
				break;
			out_len = len < PACKET ? len : PACKET;
			memcpy(out_packet, host_buf + used + 2, out_len);
			used += 2 + len;
			delivered = 1;
			if (ep_out)
				ep_out(&core, ep_out_data, USB_EVT_OUT);
			/* the handshake that ends the host's OUT transfer */
			(void)!write(1, "A", 1);
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
			ep_in(&core, ep_in_data, USB_EVT_IN);
	}
}
