#ifndef ASICDRV_ENGINES_H
#define ASICDRV_ENGINES_H
#include <stdint.h>
unsigned int hw_sha_read(unsigned long off);
void hw_sha_write(unsigned long off, uint32_t v);
unsigned int hw_timer_read(void);
void hw_timer_write(uint32_t v);
#endif
