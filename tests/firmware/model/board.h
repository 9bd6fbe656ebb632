/* What the peripheral model's parts share: time, the control file the test writes, the
 * event log the test reads, and the host line (fd 0 in, fd 1 out). */
#ifndef ASICDRV_BOARD_H
#define ASICDRV_BOARD_H
#include <stdint.h>
#include "common.h" /* board_now, board_event, board_read_ctl */

/* Values the test sets in the control file (FW_CTL), re-read when it changes. */
struct board_ctl {
	int temp[4];        /* degrees C seen by the sensors */
	uint32_t pg_fail;   /* power-good bits forced low */
	uint32_t dead[32];  /* per miner: bit c set = chip c gives no results */
	uint32_t nonces[16];/* candidate nonces the stand-in chips try on each work */
	int n_nonces;
	double work_s;      /* time a chain spends on one work */
	double delay_scale; /* firmware delay(ms) sleeps ms * this */
};
extern struct board_ctl ctl;
void board_poll_ctl(void);
int board_module_id(void);

/* The host line: bytes from fd 0 wait here for the UART (or I2C) model. */
int board_line_read(uint8_t *buf, int max);
void board_line_write(const uint8_t *buf, int len);

/* Interrupt lines raised by the devices; delivered by periph.c. */
void board_raise(unsigned int irq);
void board_lower(unsigned int irq);
void board_deliver(void);

/* The generation's register map (periph_mm3.c or periph_mm4.c). */
unsigned int dev_read(unsigned long addr, int size);
void dev_write(unsigned long addr, unsigned int value, int size);
void dev_tick(void); /* called often: devices that run on time */
void dev_line_ready(void); /* bytes arrived from the host */
#endif
