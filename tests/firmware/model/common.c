/* What every board model shares: see common.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static double t0;

static double monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void board_clock_start(void) { t0 = monotonic(); }

double board_now(void) { return monotonic() - t0; }

void board_event(const char *fmt, ...)
{
	char line[1200]; /* room for a configuration descriptor in hex */
	va_list ap;
	int n = snprintf(line, sizeof(line), "EV %.3f ", board_now());
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(2, line, n);
}

void board_hex(char *out, const uint8_t *data, int len)
{
	for (int i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", data[i]);
	out[2 * len] = 0;
}

int board_read_ctl(char *text, size_t size)
{
	static double last_check = -1;
	static struct timespec last_mtime;
	struct stat st;
	const char *path = getenv("FW_CTL");
	double now = board_now();

	if (!path || (last_check >= 0 && now - last_check < 0.02))
		return 0;
	last_check = now;
	if (stat(path, &st) || (st.st_mtim.tv_sec == last_mtime.tv_sec &&
				st.st_mtim.tv_nsec == last_mtime.tv_nsec))
		return 0;
	last_mtime = st.st_mtim;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	int n = read(fd, text, size - 1);
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = 0;
	return 1;
}

void board_map_fixed(unsigned long addr, size_t size)
{
	void *p = mmap((void *)addr, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != (void *)addr) {
		fprintf(stderr, "cannot map %#lx: %s\n", addr, strerror(errno));
		exit(3);
	}
}

void board_sleep(double seconds)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)seconds;
	until.tv_nsec += (long)((seconds - (time_t)seconds) * 1e9);
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
}

void board_start_tick(void (*on_tick)(int), long usec)
{
	struct sigaction sa;
	struct itimerval it = {{0, usec}, {0, usec}};
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_tick;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}
