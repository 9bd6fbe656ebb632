/* The LPC11Uxx USB ROM driver standing in for the device's (usb_rom.c). */
#ifndef ASICDRV_USB_ROM_H
#define ASICDRV_USB_ROM_H
#ifdef __cplusplus
extern "C" {
#endif
void board_usb_start(void); /* before the firmware's main: fills the API tables */
void board_usb_poll(void);  /* from the 1 ms tick: the host's packets in and out */
#ifdef __cplusplus
}
#endif
#endif
