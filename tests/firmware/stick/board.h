/* Stand-in for NXP's LPC11Uxx board and chip library headers, so the Avalon nano and
 * Avalon4 mini firmware compiles unchanged as a 32-bit host program (gcc -m32: ILP32 and
 * little-endian like the Cortex-M0).  Every peripheral the firmware touches is a call into
 * the board model (stick.c); the types and constants are the library's, written here from
 * its headers (lpc_chip_11uxx_lib/inc).  lpc_types.h, error.h, ring_buffer.h and the usbd/
 * headers are the library's own, compiled as they are. */
#ifndef ASICDRV_STICK_BOARD_H
#define ASICDRV_STICK_BOARD_H

#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include "lpc_types.h"
#include "ring_buffer.h"

/* peripheral handles: the model only needs to tell them apart */
typedef struct { int id; } LPC_GPIO_T, LPC_IOCON_T, LPC_USART_T, LPC_ADC_T, LPC_SSP_T,
	LPC_WWDT_T;
typedef struct { volatile uint32_t PWMC; } LPC_TIMER_T; /* the LED code sets PWMC itself */
#define __ADC_11XX_H_ /* the firmware's avalon_adc.h includes the library's ADC header */
extern LPC_GPIO_T model_gpio;
extern LPC_IOCON_T model_iocon;
extern LPC_USART_T model_usart;
extern LPC_TIMER_T model_timer32_0, model_timer32_1, model_timer16_0, model_timer16_1;
extern LPC_ADC_T model_adc;
extern LPC_SSP_T model_ssp0, model_ssp1;
extern LPC_WWDT_T model_wwdt;
#define LPC_GPIO (&model_gpio)
#define LPC_IOCON (&model_iocon)
#define LPC_USART (&model_usart)
#define LPC_TIMER32_0 (&model_timer32_0)
#define LPC_TIMER32_1 (&model_timer32_1)
#define LPC_TIMER16_0 (&model_timer16_0)
#define LPC_TIMER16_1 (&model_timer16_1)
#define LPC_ADC (&model_adc)
#define LPC_SSP0 (&model_ssp0)
#define LPC_SSP1 (&model_ssp1)
#define LPC_WWDT (&model_wwdt)
#define LPC_USB0_BASE 0x40080000

/* the Cortex-M0 core */
typedef enum { TIMER_16_0_IRQn = 16, TIMER_32_0_IRQn = 18, UART0_IRQn = 21, USB0_IRQn = 22, WDT_IRQn = 25 } IRQn_Type;
struct model_nvic { volatile uint32_t ISER[1], ICER[1]; };
extern struct model_nvic model_nvic_regs;
#define NVIC (&model_nvic_regs)
static inline void NVIC_EnableIRQ(IRQn_Type irq) { (void)irq; }
static inline void NVIC_ClearPendingIRQ(IRQn_Type irq) { (void)irq; }
static inline void NVIC_SetPriority(IRQn_Type irq, uint32_t p) { (void)irq; (void)p; }
#define __NOP() __asm__ volatile("nop")
#define __REV(x) __builtin_bswap32(x)
void model_wfi(void);
void __disable_irq(void);      /* the mini's ISP re-entry (never taken here) */
void __set_MSP(uint32_t top);
#define __WFI() model_wfi()
extern uint32_t SystemCoreClock;
void SystemCoreClockUpdate(void);
void Board_Init(void);
void Board_SystemInit(void);
void Chip_SystemInit(void);
void Board_LED_Toggle(uint8_t led);

/* IOCON */
#define IOCON_FUNC0 0x0
#define IOCON_FUNC1 0x1
#define IOCON_FUNC2 0x2
#define IOCON_FUNC3 0x3
#define IOCON_MODE_INACT (0x0 << 3)
#define IOCON_MODE_PULLUP (0x2 << 3)
#define IOCON_DIGMODE_EN (0x1 << 7)
#define IOCON_STDI2C_EN (0x1 << 8)
#define FUNC0 0x0
#define FUNC1 0x1
#define FUNC2 0x2
#define FUNC3 0x3
static inline void Chip_IOCON_PinMuxSet(LPC_IOCON_T *p, uint8_t port, uint8_t pin, uint32_t f)
{
	(void)p; (void)port; (void)pin; (void)f;
}

/* GPIO: the model watches pins (power, bit-banged I2C, shift register, LOAD) */
void model_gpio_set(uint32_t port, uint8_t pin, bool on);
bool model_gpio_get(uint32_t port, uint8_t pin);
void model_gpio_dir(uint32_t port, uint8_t pin, bool output);
static inline void Chip_GPIO_SetPinState(LPC_GPIO_T *g, uint8_t port, uint8_t pin, bool on)
{
	(void)g;
	model_gpio_set(port, pin, on);
}
static inline bool Chip_GPIO_ReadPortBit(LPC_GPIO_T *g, uint32_t port, uint8_t pin)
{
	(void)g;
	return model_gpio_get(port, pin);
}
static inline void Chip_GPIO_SetPinDIROutput(LPC_GPIO_T *g, uint8_t port, uint8_t pin)
{
	(void)g;
	model_gpio_dir(port, pin, true);
}
static inline void Chip_GPIO_SetPinDIRInput(LPC_GPIO_T *g, uint8_t port, uint8_t pin)
{
	(void)g;
	model_gpio_dir(port, pin, false);
}

/* clocks and system control: nothing to model */
#define SYSCTL_CLOCK_USB 14
#define SYSCTL_CLOCK_USBRAM 27
#define SYSCTL_CLOCK_CT32B1 10
#define SYSCTL_CLOCK_GPIO 6
#define SYSCTL_CLOCK_IOCON 16
#define SYSCTL_USBCLKSRC_PLLOUT 0
#define SYSCTL_CLKOUTSRC_MAINSYSCLK 3
#define SYSCTL_POWERDOWN_USBPAD_PD (1 << 10)
#define SYSCTL_POWERDOWN_WDTOSC_PD (1 << 6)
#define SYSCTL_WDTCLKSRC_WDTOSC 2
#define WDTLFO_OSC_1_05 1
static inline void Chip_Clock_EnablePeriphClock(int c) { (void)c; }
static inline void Chip_Clock_SetUSBClockSource(int s, uint32_t d) { (void)s; (void)d; }
static inline void Chip_Clock_SetCLKOUTSource(int s, uint32_t d) { (void)s; (void)d; }
static inline void Chip_Clock_SetSysClockDiv(uint32_t d) { (void)d; }
static inline void Chip_Clock_SetWDTOSC(int clk, uint8_t div) { (void)clk; (void)div; }
static inline void Chip_Clock_SetWDTClockSource(int s, uint32_t d) { (void)s; (void)d; }
static inline uint32_t Chip_Clock_GetSystemClockRate(void) { return 48000000; }
static inline uint32_t Chip_Clock_GetWDTOSCRate(void) { return 1050000 / 20; }
static inline void Chip_SYSCTL_PowerUp(uint32_t m) { (void)m; }

/* timers: TIMER32_0 is the firmware's 1 ms tick, raised by the model; the others drive
 * the LEDs' PWM */
typedef enum { TIMER_EXTMATCH_DO_NOTHING, TIMER_EXTMATCH_CLEAR, TIMER_EXTMATCH_SET,
	TIMER_EXTMATCH_TOGGLE } TIMER_PIN_MATCH_STATE_T;
bool model_timer_pending(LPC_TIMER_T *t);
static inline bool Chip_TIMER_MatchPending(LPC_TIMER_T *t, int8_t m) { (void)m; return model_timer_pending(t); }
static inline void Chip_TIMER_ClearMatch(LPC_TIMER_T *t, int8_t m) { (void)t; (void)m; }
static inline void Chip_TIMER_Init(LPC_TIMER_T *t) { (void)t; }
static inline void Chip_TIMER_Reset(LPC_TIMER_T *t) { (void)t; }
static inline void Chip_TIMER_Enable(LPC_TIMER_T *t) { (void)t; }
static inline void Chip_TIMER_Disable(LPC_TIMER_T *t) { (void)t; }
static inline void Chip_TIMER_MatchEnableInt(LPC_TIMER_T *t, int8_t m) { (void)t; (void)m; }
static inline void Chip_TIMER_ResetOnMatchEnable(LPC_TIMER_T *t, int8_t m) { (void)t; (void)m; }
static inline void Chip_TIMER_SetMatch(LPC_TIMER_T *t, int8_t m, uint32_t v) { (void)t; (void)m; (void)v; }
static inline void Chip_TIMER_PrescaleSet(LPC_TIMER_T *t, uint32_t v) { (void)t; (void)v; }
static inline void Chip_TIMER_ExtMatchControlSet(LPC_TIMER_T *t, int8_t i, TIMER_PIN_MATCH_STATE_T s,
	int8_t m) { (void)t; (void)i; (void)s; (void)m; }

/* ADC: each channel's value comes from the model */
typedef enum { ADC_CH0, ADC_CH1, ADC_CH2, ADC_CH3, ADC_CH4, ADC_CH5, ADC_CH6, ADC_CH7 } ADC_CHANNEL_T;
typedef enum { ADC_NO_START, ADC_START_NOW } ADC_START_MODE_T;
typedef enum { ADC_TRIGGERMODE_RISING, ADC_TRIGGERMODE_FALLING } ADC_EDGE_CFG_T;
typedef struct { uint32_t adcRate; uint8_t bitsAccuracy; bool burstMode; } ADC_CLOCK_SETUP_T;
#define ADC_DR_DONE_STAT 0
uint16_t model_adc_value(uint8_t channel);
static inline void Chip_ADC_Init(LPC_ADC_T *a, ADC_CLOCK_SETUP_T *s) { (void)a; (void)s; }
static inline void Chip_ADC_EnableChannel(LPC_ADC_T *a, ADC_CHANNEL_T c, FunctionalState s) { (void)a; (void)c; (void)s; }
static inline void Chip_ADC_SetStartMode(LPC_ADC_T *a, ADC_START_MODE_T m, ADC_EDGE_CFG_T e) { (void)a; (void)m; (void)e; }
static inline FlagStatus Chip_ADC_ReadStatus(LPC_ADC_T *a, uint8_t c, uint32_t t) { (void)a; (void)c; (void)t; return SET; }
static inline Status Chip_ADC_ReadValue(LPC_ADC_T *a, uint8_t c, uint16_t *data)
{
	(void)a;
	*data = model_adc_value(c);
	return SUCCESS;
}

/* UART: the nano's A3233 (work out, nonces back); the mini's debug port */
#define UART_LCR_WLEN8 (3 << 0)
#define UART_LCR_SBS_1BIT (0 << 2)
#define UART_FCR_FIFO_EN (1 << 0)
#define UART_FCR_RX_RS (1 << 1)
#define UART_FCR_TX_RS (1 << 2)
#define UART_FCR_TRG_LEV2 (2 << 6)
#define UART_IER_RBRINT (1 << 0)
#define UART_IER_RLSINT (1 << 2)
void model_uart_fcr(uint32_t fcr);
static inline void Chip_UART_Init(LPC_USART_T *u) { (void)u; }
static inline uint32_t Chip_UART_SetBaud(LPC_USART_T *u, uint32_t b) { (void)u; return b; }
static inline uint32_t Chip_UART_SetBaudFDR(LPC_USART_T *u, uint32_t b) { (void)u; return b; }
static inline void Chip_UART_ConfigData(LPC_USART_T *u, uint32_t c) { (void)u; (void)c; }
static inline void Chip_UART_SetupFIFOS(LPC_USART_T *u, uint32_t fcr) { (void)u; model_uart_fcr(fcr); }
static inline void Chip_UART_TXEnable(LPC_USART_T *u) { (void)u; }
static inline void Chip_UART_IntEnable(LPC_USART_T *u, uint32_t m) { (void)u; (void)m; }
uint32_t Chip_UART_SendRB(LPC_USART_T *u, RINGBUFF_T *rb, const void *data, int bytes);
int Chip_UART_ReadRB(LPC_USART_T *u, RINGBUFF_T *rb, void *data, int bytes);
void Chip_UART_IRQRBHandler(LPC_USART_T *u, RINGBUFF_T *rx, RINGBUFF_T *tx);
int Chip_UART_SendBlocking(LPC_USART_T *u, const void *data, int bytes);
int Chip_UART_Read(LPC_USART_T *u, void *data, int bytes);

/* SSP: the mini's A3222 chain */
typedef struct { void *tx_data; uint32_t tx_cnt; void *rx_data; uint32_t rx_cnt; uint32_t length; }
	Chip_SSP_DATA_SETUP_T;
#define SSP_BITS_8 7
#define SSP_FRAMEFORMAT_SPI 0
#define SSP_CLOCK_MODE0 0
static inline void Chip_SSP_Init(LPC_SSP_T *s) { (void)s; }
static inline void Chip_SSP_SetFormat(LPC_SSP_T *s, uint32_t b, uint32_t f, uint32_t m) { (void)s; (void)b; (void)f; (void)m; }
static inline void Chip_SSP_SetMaster(LPC_SSP_T *s, bool m) { (void)s; (void)m; }
static inline void Chip_SSP_Enable(LPC_SSP_T *s) { (void)s; }
void Chip_SSP_SetBitRate(LPC_SSP_T *s, uint32_t rate);
uint32_t Chip_SSP_RWFrames_Blocking(LPC_SSP_T *s, Chip_SSP_DATA_SETUP_T *xf);
uint32_t Chip_SSP_WriteFrames_Blocking(LPC_SSP_T *s, uint8_t *buf, uint32_t len);

/* watchdog: fed, never fires (the mini feeds it from its main loop) */
#define WWDT_WDMOD_WDEN (1 << 0)
#define WWDT_WDMOD_WDRESET (1 << 1)
#define WWDT_WDMOD_WDTOF (1 << 2)
#define WWDT_WDMOD_WDINT (1 << 3)
#define WWDT_CLKSRC_WATCHDOG_WDOSC 1
static inline void Chip_WWDT_Init(LPC_WWDT_T *w) { (void)w; }
static inline void Chip_WWDT_Start(LPC_WWDT_T *w) { (void)w; }
static inline void Chip_WWDT_Feed(LPC_WWDT_T *w) { (void)w; }
static inline void Chip_WWDT_SelClockSource(LPC_WWDT_T *w, uint32_t s) { (void)w; (void)s; }
static inline void Chip_WWDT_SetTimeOut(LPC_WWDT_T *w, uint32_t t) { (void)w; (void)t; }
static inline void Chip_WWDT_SetOption(LPC_WWDT_T *w, uint32_t o) { (void)w; (void)o; }
static inline void Chip_WWDT_ClearStatusFlag(LPC_WWDT_T *w, uint32_t f) { (void)w; (void)f; }
static inline uint32_t Chip_WWDT_GetStatus(LPC_WWDT_T *w) { (void)w; return 0; }

/* the boot ROM's IAP entry (the serial number) */
#define IAP_LOCATION 0x1fff1ff1
void iap_entry(unsigned int cmd_param[], unsigned int status_result[]);

#endif
