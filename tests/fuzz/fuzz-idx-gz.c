/* Fuzz target: the IDX reader (data/idx.h) through gzip.  Input: one byte of options
 * (those of fuzz-idx.c; bit 4 below), then the bytes.  Bit 4 clear: the bytes are the
 * file as it is (seeded with gzip files: damaged streams, trailers, members, trailing
 * bytes); set: the bytes are an IDX file's content, gzip-compressed here before reading
 * (so mutations of the IDX content reach the reader through an intact gzip stream). */
#include <config.h>
#include "fuzz/fuzz.h"
#include "data/idx.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const size_t max_items[4] = {0, 1, 2, 1000};

/* gzip (RFC 1952) of len bytes, at zlib's fastest level; *out_len its size. */
static uint8_t *
gzip_bytes(const uint8_t *in, size_t len, size_t *out_len)
{
  z_stream z = {0};
  if (deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    abort();
  size_t cap = deflateBound(&z, (uLong)len) + 32;
  uint8_t *out = malloc(cap);
  z.next_in = (Bytef *)(uintptr_t)in;
  z.avail_in = (uInt)len;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  if (deflate(&z, Z_FINISH) != Z_STREAM_END)
    abort();
  *out_len = z.total_out;
  deflateEnd(&z);
  return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz_init();
  if (size < 1)
    return 0;
  size_t nd = data[0] & 3u ? data[0] & 3u : 3;
  size_t keep = max_items[(data[0] >> 2) & 3u];
  const uint8_t *bytes = data + 1;
  size_t len = size - 1;
  uint8_t *gz = NULL;
  if (data[0] & 16u)
    bytes = gz = gzip_bytes(data + 1, size - 1, &len);
  FILE *f = fuzz_memstream(bytes, len);
  infb_idx *x = infb_idx_read_stream(f, "fuzz.idx.gz", nd, keep);
  fclose(f);
  if (x && (x->ndims != nd || x->n == 0 || (keep && x->n > keep) || x->item == 0))
    abort();
  /* Compressed here, the content must read as it would plain (unless it is itself
   * gzip, which plain reading would inflate). */
  if (gz && !(size >= 3 && data[1] == 0x1F && data[2] == 0x8B)) {
    f = fuzz_memstream(data + 1, size - 1);
    infb_idx *y = infb_idx_read_stream(f, "fuzz.idx.gz", nd, keep);
    fclose(f);
    if ((x == NULL) != (y == NULL) ||
        (x && (x->n != y->n || x->item != y->item || memcmp(x->data, y->data, x->n * x->item))))
      abort();
    infb_idx_free(y);
  }
  infb_idx_free(x);
  free(gz);
  return 0;
}
