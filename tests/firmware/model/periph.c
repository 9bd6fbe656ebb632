/* The board around an unmodified MM firmware running under qemu-user: register access
 * (from shim.h), the LM32 interrupt controller modelled with a periodic signal, real-time
 * delays, the control file and the event log.  The devices themselves are in
 * periph_mm3.c (Avalon 2/3) and periph_mm4.c (Avalon 4). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <stdint.h>
#include <ucontext.h>
#include <unistd.h>

#include "board.h"

extern void isr(void); /* the firmware's interrupt dispatcher (sdk/intr.c) */

struct board_ctl ctl;
static volatile unsigned int irq_ie, irq_mask, irq_pend;
static volatile int in_isr, in_model, tick_missed;

int board_module_id(void)
{
	const char *id = getenv("FW_MODULE_ID");
	return id ? atoi(id) : 0;
}

/* ---- the control file ---- */
static void parse_ctl(char *text)
{
	char *line, *save;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char key[32];
		int a, b, off;
		if (sscanf(line, "%31s %n", key, &off) != 1)
			continue;
		char *val = line + off;
		if (!strcmp(key, "temp") && sscanf(val, "%d %d", &a, &b) == 2 && a >= 0 && a < 4)
			ctl.temp[a] = b;
		else if (!strcmp(key, "pg_fail"))
			ctl.pg_fail = strtoul(val, NULL, 0);
		else if (!strcmp(key, "dead") && sscanf(val, "%d %d", &a, &b) == 2 && a >= 0 && a < 32 && b >= 0 && b < 32)
			ctl.dead[a] |= 1u << b;
		else if (!strcmp(key, "alive"))
			memset(ctl.dead, 0, sizeof(ctl.dead));
		else if (!strcmp(key, "work_s"))
			ctl.work_s = strtod(val, NULL);
		else if (!strcmp(key, "delay_scale"))
			ctl.delay_scale = strtod(val, NULL);
		else if (!strcmp(key, "nonces")) {
			char *tok, *s2;
			ctl.n_nonces = 0;
			for (tok = strtok_r(val, " ,", &s2); tok && ctl.n_nonces < 16;
			     tok = strtok_r(NULL, " ,", &s2))
				ctl.nonces[ctl.n_nonces++] = strtoul(tok, NULL, 16);
		}
	}
}

void board_poll_ctl(void)
{
	char text[2048];
	if (board_read_ctl(text, sizeof(text)))
		parse_ctl(text);
}

/* ---- the host line ---- */
int board_line_read(uint8_t *buf, int max)
{
	int n = read(0, buf, max);
	if (n == 0) { /* the harness closed the line: the board is unplugged */
		board_event("EXIT line closed");
		_exit(0);
	}
	return n < 0 ? 0 : n;
}

void board_line_write(const uint8_t *buf, int len)
{
	while (len > 0) {
		int n = write(1, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0);
		buf += n;
		len -= n;
	}
}

/* ---- interrupts ---- */
void board_raise(unsigned int irq) { irq_pend |= irq; }
void board_lower(unsigned int irq) { irq_pend &= ~irq; }

void board_deliver(void)
{
	if (in_isr || !irq_ie || !(irq_pend & irq_mask))
		return;
	in_isr = 1;
	irq_ie = 0; /* as the LM32 does on entry */
	isr();
	irq_ie = 1;
	in_isr = 0;
}

void fw_irq_set_ie(unsigned int ie) { irq_ie = ie & 1; }
unsigned int fw_irq_get_ie(void) { return irq_ie; }
void fw_irq_set_mask(unsigned int mask) { irq_mask = mask; }
unsigned int fw_irq_get_mask(void) { return irq_mask; }
unsigned int fw_irq_pending(void) { return irq_pend; }
void fw_irq_ack(unsigned int mask) { (void)mask; /* level interrupts: the device lowers them */ }
void isr_register(int irq, void (*fn)(void)) { (void)irq; (void)fn; }
void isr_unregister(int irq) { (void)irq; }

/* The periodic "hardware" tick: devices that run on time, and interrupt delivery. */
static void on_tick(int sig)
{
	(void)sig;
	if (in_model) {
		tick_missed = 1; /* the main flow is inside the model: it ticks on its way out */
		return;
	}
	in_model = 1;
	dev_tick();
	in_model = 0;
	board_deliver();
}

static void tick_if_missed(void)
{
	if (tick_missed && !in_isr) {
		tick_missed = 0;
		on_tick(0);
	}
}

unsigned int fw_read(unsigned long addr, int size)
{
	in_model = 1;
	unsigned int v = dev_read(addr, size);
	in_model = 0;
	tick_if_missed();
	return v;
}

unsigned int fw_write(unsigned long addr, unsigned int value, int size)
{
	in_model = 1;
	dev_write(addr, value, size);
	in_model = 0;
	tick_if_missed();
	return value;
}

/* The firmware's delay() is a busy loop tuned for a 100 MHz LM32; calls from other files
 * reach this wrapper (-Wl,--wrap=delay) and sleep in real time, scaled by delay_scale. */
void __wrap_delay(unsigned int ms)
{
	double s = ms / 1000.0 * ctl.delay_scale;
	if (s < 20e-6)
		return; /* shorter than a system call under qemu: a test's scaled-down wait */
	board_sleep(s);
}

/* A register reached by a plain pointer, not readl/writel (the MM4's mboot.c): the address
 * is outside a MIPS user process, so the access faults; the load or store is decoded and
 * done by the model, and the firmware goes on after it.  Built with -fno-delayed-branch,
 * so a faulting access is never in a branch delay slot. */
static void on_fault(int sig, siginfo_t *si, void *context)
{
	ucontext_t *uc = context;
	uint32_t pc = (uint32_t)uc->uc_mcontext.pc;
	uint32_t ins = *(uint32_t *)(uintptr_t)pc;
	int op = ins >> 26, base = (ins >> 21) & 31, rt = (ins >> 16) & 31;
	uint32_t addr = (uint32_t)uc->uc_mcontext.gregs[base] + (int16_t)(ins & 0xffff);
	int size = (op & 3) == 3 ? 4 : (op & 1) ? 2 : 1;

	(void)sig;
	if ((addr >> 16) != 0x8000 || !(op >= 0x20 && op <= 0x2b)) {
		board_event("CRASH at pc %08x address %08x", pc, (uint32_t)(uintptr_t)si->si_addr);
		_exit(3);
	}
	{
		static int traced;
		if (getenv("FW_TRACE") && traced++ < 5)
			board_event("FAULT pc %08x op %02x address %08x", pc, op, addr);
	}
	in_model = 1;
	if (op >= 0x28) { /* sb, sh, sw */
		dev_write(addr, (uint32_t)uc->uc_mcontext.gregs[rt], size);
	} else {
		uint32_t v = dev_read(addr, size);
		if (op == 0x20) v = (int8_t)v;   /* lb */
		if (op == 0x21) v = (int16_t)v;  /* lh */
		if (rt)
			uc->uc_mcontext.gregs[rt] = (int32_t)v;
	}
	in_model = 0;
	uc->uc_mcontext.pc = pc + 4;
}

__attribute__((constructor)) static void board_start(void)
{
	struct sigaction sa;

	board_clock_start();
	ctl.work_s = 0.02;
	ctl.delay_scale = 1.0;
	for (int i = 0; i < 4; i++)
		ctl.temp[i] = 30;
	board_poll_ctl();
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	board_start_tick(on_tick, 2000);
	board_event("START module %d", board_module_id());
}
