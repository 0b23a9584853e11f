/* SHA-256 (FIPS 180-4) from nettle. */
#include "config.h"
#include "core/sha256.h"

#include <nettle/sha2.h>

void
infb_sha256_hex(const void *data, size_t len, char hex[INFB_SHA256_HEX])
{
  static const char digits[] = "0123456789abcdef";
  struct sha256_ctx ctx;
  unsigned char d[SHA256_DIGEST_SIZE];
  sha256_init(&ctx);
  sha256_update(&ctx, len, data);
  sha256_digest(&ctx, sizeof d, d);
  for (size_t i = 0; i < sizeof d; i++) {
    hex[2 * i] = digits[d[i] >> 4];
    hex[2 * i + 1] = digits[d[i] & 15];
  }
  hex[64] = '\0';
}
