/* SHA-256 block function for the peripheral model (the SHA engine and the stand-in
 * hashing chips).  Written from FIPS 180-4; it also keeps the a/e working values after
 * rounds 0, 1 and 2, which the MM's SHA engine exposes as its "pre" register. */
#include <stdint.h>
#include "sha256_model.h"

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2};

const uint32_t SHA256_IV[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
			       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

void sha256_block(uint32_t state[8], const uint32_t block[16], uint32_t pre[6])
{
	uint32_t w[64], v[8];
	int i;

	for (i = 0; i < 16; i++)
		w[i] = block[i];
	for (i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	for (i = 0; i < 8; i++)
		v[i] = state[i];
	for (i = 0; i < 64; i++) {
		uint32_t e = v[4], a = v[0];
		uint32_t t1 = v[7] + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) +
			      ((e & v[5]) ^ (~e & v[6])) + K[i] + w[i];
		uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) +
			      ((a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]));
		v[7] = v[6];
		v[6] = v[5];
		v[5] = v[4];
		v[4] = v[3] + t1;
		v[3] = v[2];
		v[2] = v[1];
		v[1] = v[0];
		v[0] = t1 + t2;
		if (pre && i < 3) {
			pre[i] = v[0];     /* A0, A1, A2 */
			pre[3 + i] = v[4]; /* E0, E1, E2 */
		}
	}
	for (i = 0; i < 8; i++)
		state[i] += v[i];
}

/* Bitcoin's double SHA-256 of an 80-byte header whose first 64 bytes are summarised by
 * ``midstate``; ``tail`` holds header words 16..18 and ``nonce`` word 19 (big-endian
 * words as SHA-256 reads them).  Returns the last digest word, which is zero for every
 * hash with at least 32 leading zero bits (the chips' "share" condition). */
uint32_t sha256d_last_word(const uint32_t midstate[8], const uint32_t tail[3], uint32_t nonce)
{
	uint32_t block[16] = {0}, state[8], second[16] = {0};
	int i;

	block[0] = tail[0];
	block[1] = tail[1];
	block[2] = tail[2];
	block[3] = nonce;
	block[4] = 0x80000000;
	block[15] = 640;
	for (i = 0; i < 8; i++)
		state[i] = midstate[i];
	sha256_block(state, block, 0);
	for (i = 0; i < 8; i++)
		second[i] = state[i];
	second[8] = 0x80000000;
	second[15] = 256;
	for (i = 0; i < 8; i++)
		state[i] = SHA256_IV[i];
	sha256_block(state, second, 0);
	return state[7];
}
