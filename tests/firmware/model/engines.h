#ifndef ASICDRV_ENGINES_H
#define ASICDRV_ENGINES_H
#include <stdint.h>
unsigned int hw_sha_read(unsigned long off);
void hw_sha_write(unsigned long off, uint32_t v);
unsigned int hw_timer_read(void);
void hw_timer_write(uint32_t v);
uint32_t word_pop(uint32_t *fifo, int *count);
void hw_twi_command(uint32_t cr, uint32_t wd);
uint32_t hw_twi_read(void);
void hw_hash_work(double now);
void hw_hashing_watch(double now);
#endif
