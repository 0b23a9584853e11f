/* SHA-256 through nettle, as lowercase hex. */
#ifndef INFB_CORE_SHA256_H
#define INFB_CORE_SHA256_H

#include <stddef.h>

#define INFB_SHA256_HEX 65 /* 64 hex digits and the NUL */

/* Write the SHA-256 of data[0..len) as 64 lowercase hex digits and a NUL into hex. */
void infb_sha256_hex(const void *data, size_t len, char hex[INFB_SHA256_HEX]);

#endif
