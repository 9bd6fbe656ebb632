/* What every board model shares (the MM boards, the sticks, the AUC): the clock since the
 * start, the event log the test reads, the control file the test writes, fixed mappings. */
#ifndef ASICDRV_MODEL_COMMON_H
#define ASICDRV_MODEL_COMMON_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
void board_clock_start(void);
double board_now(void);                  /* seconds since board_clock_start() */
void board_event(const char *fmt, ...);  /* one "EV <seconds> ..." line on stderr */
void board_hex(char *out, const uint8_t *data, int len);
/* the control file (FW_CTL) into ``text`` when it changed since the last call (at most
 * every 20 ms): 1, else 0 */
int board_read_ctl(char *text, size_t size);
void board_map_fixed(unsigned long addr, size_t size); /* memory the firmware addresses */
void board_sleep(double seconds); /* real time, whatever signals arrive meanwhile */
void board_start_tick(void (*on_tick)(int), long usec); /* SIGALRM every usec: the interrupts */
#ifdef __cplusplus
}
#endif
#endif
