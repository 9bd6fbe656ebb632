/* Forced into every firmware file with -include: it takes the place of the firmware's
 * io.h and sdk/intr.h (their include guards are defined here, so the originals are
 * skipped) and routes every register access and interrupt-controller call to the
 * peripheral model in periph.c.  No firmware line is changed. */
#ifndef ASICDRV_FW_SHIM_H
#define ASICDRV_FW_SHIM_H

#define _IO_H_
#define _INTR_H_

#include <stdint.h>

unsigned int fw_read(unsigned long addr, int size);
unsigned int fw_write(unsigned long addr, unsigned int value, int size);

#ifndef bswap_16
#define bswap_16(v) ((uint16_t)((((v) & 0xff) << 8) | (((v) >> 8) & 0xff)))
#define bswap_32(v) __builtin_bswap32((uint32_t)(v))
#define bswap_64(v) __builtin_bswap64((uint64_t)(v))
#endif

#define readb(a) ((unsigned char)fw_read((unsigned long)(a), 1))
#define readw(a) ((unsigned short)fw_read((unsigned long)(a), 2))
#define readl(a) ((unsigned int)fw_read((unsigned long)(a), 4))
#define writeb(v, a) fw_write((unsigned long)(a), (unsigned int)(v), 1)
#define writew(v, a) fw_write((unsigned long)(a), (unsigned int)(v), 2)
#define writel(v, a) fw_write((unsigned long)(a), (unsigned int)(v), 4)

#define likely(x) (x)
#define unlikely(x) (x)
#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))

/* The LM32 interrupt controller (IE, IM, IP registers) */
void fw_irq_set_ie(unsigned int ie);
unsigned int fw_irq_get_ie(void);
void fw_irq_set_mask(unsigned int mask);
unsigned int fw_irq_get_mask(void);
unsigned int fw_irq_pending(void);
void fw_irq_ack(unsigned int mask);

static inline void irq_enable(unsigned int en) { fw_irq_set_ie(en); }
static inline unsigned int irq_getmask(void) { return fw_irq_get_mask(); }
static inline void irq_setmask(unsigned int mask) { fw_irq_set_mask(mask); }
static inline unsigned int irq_pending(void) { return fw_irq_pending(); }
static inline void irq_ack(unsigned int mask) { fw_irq_ack(mask); }
static inline unsigned int irq_getie(void) { return fw_irq_get_ie(); }
static inline void irq_setie(unsigned int ie) { fw_irq_set_ie(ie); }
void isr_register(int irq, void (*isr)(void));
void isr_unregister(int irq);

#endif
