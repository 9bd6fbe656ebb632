/* the AUC firmware includes "chip.h": the same stand-in */
#include "board.h"
