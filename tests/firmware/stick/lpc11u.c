/* What NXP's LPC11Uxx library provides that the sticks' and the AUC's firmware name but
 * the boards need nothing of: the peripheral objects board.h points at, the system clock,
 * board set-up calls, the debug UART's blocking calls, the start-up code's reset path. */
#include <unistd.h>

#include "board.h"

LPC_GPIO_T model_gpio;
LPC_IOCON_T model_iocon;
LPC_USART_T model_usart;
LPC_TIMER_T model_timer32_0, model_timer32_1, model_timer16_0, model_timer16_1;
LPC_ADC_T model_adc;
LPC_SSP_T model_ssp0, model_ssp1;
LPC_WWDT_T model_wwdt;
struct model_nvic model_nvic_regs;
uint32_t SystemCoreClock = 48000000;

void SystemCoreClockUpdate(void) {}
void Board_Init(void) {}
void Board_SystemInit(void) {}
void Chip_SystemInit(void) {}
void Board_LED_Toggle(uint8_t led) { (void)led; }
void __disable_irq(void) {}
void __set_MSP(uint32_t top) { (void)top; _exit(4); } /* the mini's ISP re-entry */
int Chip_UART_SendBlocking(LPC_USART_T *u, const void *data, int bytes) { (void)u; (void)data; return bytes; }
int Chip_UART_Read(LPC_USART_T *u, void *data, int bytes) { (void)u; (void)data; (void)bytes; return 0; }
