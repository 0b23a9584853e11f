/* IDX files (the MNIST format: big-endian magic 0x0000 08 NN — unsigned bytes, NN
 * dimensions — then NN big-endian 32-bit sizes, then the data), plain or gzip-compressed
 * (zlib's gzread reads both), and the binarisations of the VAE protocol. */
#ifndef INFB_DATA_IDX_H
#define INFB_DATA_IDX_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_rng.h>

typedef struct infb_idx {
  size_t n;          /* items (the first dimension) */
  size_t ndims;      /* dimensions, 1 (labels) or 3 (images) */
  size_t dims[3];    /* sizes: dims[0] = n, then rows, cols */
  size_t item;       /* bytes per item: product of dims[1..] (1 for labels) */
  uint8_t *data;     /* n·item bytes */
  char *source;      /* the path, for messages */
} infb_idx;

/* Read the IDX file at path (".gz" or plain; detected from content), keeping at most
 * max_items items (0: all).  expect_ndims (1 or 3) must match the file.  Errors
 * (INFB_EDATA, message naming the path): "cannot open", "not an IDX file (magic
 * 0x...)", "holds 16-bit data; only unsigned bytes are supported", "has 1 dimension,
 * expected 3", "is truncated: 47040000 bytes of data expected, 1000 read", "is corrupt
 * (gzip: ...)", "has trailing data".  NULL on failure. */
infb_idx *infb_idx_read(const char *path, size_t expect_ndims, size_t max_items);
void infb_idx_free(infb_idx *x); /* NULL is a no-op */

/* Images as floats in [0, 1] (pixel/255): out has n·item entries. */
void infb_idx_to_unit(const infb_idx *x, float *out);

/* Static binarisation: out = 1 where pixel/255 ≥ threshold (0.5 in the protocol), else 0. */
void infb_idx_binarize_static(const infb_idx *x, double threshold, float *out);

/* Dynamic binarisation: out ~ Bernoulli(pixel/255), drawn from r in item order (one
 * uniform per pixel), redrawn by the caller every epoch. */
void infb_idx_binarize_dynamic(const infb_idx *x, gsl_rng *r, float *out);

/* Check that labels match images (same n) and every label is < nclasses: INFB_EDATA
 * naming both files otherwise. */
int infb_idx_check_labels(const infb_idx *images, const infb_idx *labels, size_t nclasses);

#endif
