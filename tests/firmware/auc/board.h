/* Stand-in for NXP's LPC11Uxx board and chip headers for the AUC firmware (Canaan's
 * Avalon-USB-converter), built unchanged as 32-bit C++: the firmware drives the I2C
 * peripheral through its registers (its own i2c_lpc11uxx.c), so each I2C register is an
 * object whose reads and writes reach the board model (auc.cpp).  Everything else is the
 * sticks' stand-in (../stick/board.h) plus what the AUC adds. */
#ifndef ASICDRV_AUC_BOARD_H
#define ASICDRV_AUC_BOARD_H

#include "../stick/board.h"

#define DEBUGOUT(...) ((void)0) /* the board library's debug print: off, as in release */
#define DEBUGSTR(s) ((void)0)

/* the I2C registers: reads and writes go to the model */
enum { I2C_REG_CONSET, I2C_REG_STAT, I2C_REG_DAT, I2C_REG_SCLH, I2C_REG_SCLL, I2C_REG_CONCLR,
	I2C_REG_OTHER };
uint32_t model_i2c_read(int reg);
void model_i2c_write(int reg, uint32_t value);
void model_i2c_clock(bool on);
struct I2CReg {
	int reg;
	operator uint32_t() const { return model_i2c_read(reg); }
	I2CReg &operator=(uint32_t v) { model_i2c_write(reg, v); return *this; }
};
typedef struct {
	I2CReg CONSET, STAT, DAT, ADR0, SCLH, SCLL, CONCLR, MMCTRL, ADR1, ADR2, ADR3, DATA_BUFFER;
} LPC_I2C_T;
extern LPC_I2C_T model_i2c;
#define LPC_I2C (&model_i2c)
#define LPC_I2C0 (&model_i2c)
typedef enum { I2C0, I2C_NUM_INTERFACE } I2C_ID_T;
#define I2C_CON_AA (1UL << 2)
#define I2C_CON_SI (1UL << 3)
#define I2C_CON_STO (1UL << 4)
#define I2C_CON_STA (1UL << 5)
#define I2C_CON_I2EN (1UL << 6)
#define I2C_CON_FLAGS (I2C_CON_AA | I2C_CON_SI | I2C_CON_STO | I2C_CON_STA)
#define I2C_STAT_CODE_BITMASK (0xF8)
#define I2C_I2DAT_BITMASK (0xFF)
/* as NXP's i2c_11xx.c: Init gates the block's clock on and clears its control bits, DeInit
 * clears them and gates the clock off (then the registers ignore writes) */
static inline void Chip_I2C_Init(I2C_ID_T id)
{
	(void)id;
	model_i2c_clock(true);
	model_i2c_write(I2C_REG_CONCLR, I2C_CON_AA | I2C_CON_SI | I2C_CON_STA | I2C_CON_I2EN);
}
static inline void Chip_I2C_DeInit(I2C_ID_T id)
{
	(void)id;
	model_i2c_write(I2C_REG_CONCLR, I2C_CON_I2EN | I2C_CON_SI | I2C_CON_STO | I2C_CON_STA | I2C_CON_AA);
	model_i2c_clock(false);
}
#define IOCON_FASTI2C_EN (0x2 << 8)
#define RESET_I2C0 1
static inline void Chip_SYSCTL_PeriphReset(int r) { (void)r; }
static inline uint32_t Chip_Clock_GetMainClockRate(void) { return 48000000; }
static inline void Chip_GPIO_Init(LPC_GPIO_T *g) { (void)g; }
typedef enum { I2C0_IRQn = 15 } I2C_IRQn_Type;
static inline void NVIC_DisableIRQ(int irq) { (void)irq; }
void NVIC_SystemReset(void);

/* the USB controller registers main.c's USB_IRQHandler reads (never called here: the
 * model calls the endpoint handlers itself) */
struct model_usb { uint32_t EPLISTSTART, DEVCMDSTAT; };
extern struct model_usb model_usb_regs;
#define LPC_USB (&model_usb_regs)

#endif
