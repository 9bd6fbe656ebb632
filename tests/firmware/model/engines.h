#ifndef ASICDRV_ENGINES_H
#define ASICDRV_ENGINES_H
#include <stdint.h>
unsigned int hw_sha_read(unsigned long off);
void hw_sha_write(unsigned long off, uint32_t v);
unsigned int hw_timer_read(void);
void hw_timer_write(uint32_t v);
uint32_t word_pop(uint32_t *fifo, int *count);
void hw_twi_command(uint32_t cr, uint32_t wd);
/* a register at ``off`` from TWIPWM_BASE: 1 when the block has it; ``tachs`` is how many
 * tachometer words the board reads (the MM2/3 two, the MM4 one) */
int hw_twipwm_read(unsigned long off, int tachs, unsigned int *value);
int hw_twipwm_write(unsigned long off, uint32_t value);
void hw_hash_work(double now);
void hw_hashing_watch(double now);
#endif
