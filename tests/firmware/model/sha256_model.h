#ifndef ASICDRV_SHA256_MODEL_H
#define ASICDRV_SHA256_MODEL_H
#include <stdint.h>
extern const uint32_t SHA256_IV[8];
void sha256_block(uint32_t state[8], const uint32_t block[16], uint32_t pre[6]);
uint32_t sha256d_last_word(const uint32_t midstate[8], const uint32_t tail[3], uint32_t nonce);
#endif
