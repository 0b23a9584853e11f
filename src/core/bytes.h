/* Small helpers for sizes and byte buffers: overflow-safe size arithmetic, and packing
 * values into a buffer and out again (the contexts MPI's ranks exchange, par/sched.h). */
#ifndef INFB_CORE_BYTES_H
#define INFB_CORE_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* a·b + c, or SIZE_MAX on overflow (SIZE_MAX in, SIZE_MAX out). */
static inline size_t
infb_mul_add(size_t a, size_t b, size_t c)
{
  if (b != 0 && a > (SIZE_MAX - c) / b)
    return SIZE_MAX;
  return a * b + c;
}

/* Append len bytes of p at *at of buf (room checked by the caller), advancing *at. */
static inline void
infb_bytes_put(char *buf, size_t *at, const void *p, size_t len)
{
  if (len)
    memcpy(buf + *at, p, len);
  *at += len;
}

/* Take len bytes from buf at *at into p (their presence checked by the caller),
 * advancing *at. */
static inline void
infb_bytes_take(const char *buf, size_t *at, void *p, size_t len)
{
  if (len)
    memcpy(p, buf + *at, len);
  *at += len;
}

#endif
