/* Fuzz target: the IDX reader (data/idx.h) on a file's bytes as they are, plain or gzip
 * (the reader tells them by gzip's magic bytes).  Input: one byte of options (below),
 * then the file. */
#include <config.h>
#include "fuzz/fuzz.h"
#include "data/idx.h"

#include <stdlib.h>

/* Bits 0-1 of the options byte: the expected dimensions (0 and 3: 3, images; 1: labels;
 * 2: two); bits 2-3: max_items 0 (all), 1, 2 or 1000. */
static const size_t max_items[4] = {0, 1, 2, 1000};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz_init();
  if (size < 1)
    return 0;
  size_t nd = data[0] & 3u ? data[0] & 3u : 3;
  size_t keep = max_items[(data[0] >> 2) & 3u];
  FILE *f = fuzz_memstream(data + 1, size - 1);
  infb_idx *x = infb_idx_read_stream(f, "fuzz.idx", nd, keep);
  fclose(f);
  if (x) {
    /* What the reader promises, and what the binarisations then read. */
    if (x->ndims != nd || x->n == 0 || (keep && x->n > keep) || x->dims[0] != x->n ||
        x->item == 0)
      abort();
    float *out = malloc(x->n * x->item * sizeof *out);
    infb_idx_binarize_static(x, 0.5, out);
    free(out);
  }
  infb_idx_free(x);
  return 0;
}
