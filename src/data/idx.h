/* IDX files (the MNIST format: big-endian magic 0x0000 08 NN — unsigned bytes, NN
 * dimensions — then NN big-endian 32-bit sizes, then the data), plain or gzip-compressed
 * (detected from the content), and the binarisations of the VAE protocol. */
#ifndef INFB_DATA_IDX_H
#define INFB_DATA_IDX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <gsl/gsl_rng.h>

typedef struct infb_idx {
  size_t n;          /* items (the first dimension) */
  size_t ndims;      /* dimensions, 1 (labels) or 3 (images) */
  size_t dims[3];    /* sizes: dims[0] = n, then rows, cols */
  size_t item;       /* bytes per item: product of dims[1..] (1 for labels) */
  uint8_t *data;     /* n·item bytes */
  char *source;      /* the path, for messages */
} infb_idx;

/* Read the IDX file at path (gzip when it starts with gzip's magic bytes 1F 8B, else
 * plain), keeping at most max_items items (0: all).  expect_ndims (1, 2 or 3; 1 for
 * labels, 3 for images) must match the file.  Sizes must be non-zero and their product
 * must fit size_t.  The sizes are not trusted for memory: the data buffer is sized by the
 * file's length (plain) or grows as the data arrive (gzip), so a header claiming more
 * than the file holds is reported as truncated.  A gzip file may hold several members
 * (concatenated, as gzip(1) allows); any other byte after the last is an error, as
 * trailing bytes of a plain file are.  With max_items below the file's item count, reading
 * stops after the kept items (so the rest of the file, its trailing bytes and the gzip
 * checksum are not examined); n and dims[0] are then the kept count.  On failure returns
 * NULL and raises INFB_EDATA with one of these messages (PATH is the path as given; N,
 * M... are numbers):
 *   "PATH: cannot open (<strerror>)"                  open failed
 *   "PATH: cannot read (<reason>)"                    read error (e.g. a directory)
 *   "PATH: is empty"                                  zero bytes (or a gzip file of none)
 *   "PATH: is truncated: N bytes of header expected, M read"   magic or sizes cut short
 *   "PATH: not an IDX file (magic 0x0102ABCD)"        bytes 0-1 not zero or unknown type
 *   "PATH: holds 16-bit data; only unsigned bytes are supported"  (type 0x0B; likewise
 *        "signed 8-bit" 0x09, "32-bit" 0x0C, "32-bit float" 0x0D, "64-bit float" 0x0E)
 *   "PATH: has 1 dimension, expected 3"               ("has 3 dimensions, expected 1")
 *   "PATH: has size 0 in dimension 2 of 3"            (dimensions counted from 1)
 *   "PATH: is too large (sizes 4294967295 x 4294967295 x 4294967295 overflow size_t)"
 *   "PATH: is truncated in item 3 of 60000: 47040000 bytes of data expected, 1600 read"
 *        (the first incomplete item, counted from 1, of the header's count; expected:
 *        the kept items' bytes; a gzip stream cut short is reported the same way)
 *   "PATH: is corrupt (gzip: <zlib message>)"         e.g. "incorrect data check";
 *        also "unexpected end of file" when the data are complete but the stream is not
 *   "PATH: has trailing data (N bytes)"               bytes after the data (all items read;
 *        "1 byte"); in a gzip file, inflated bytes after the data
 *   "PATH: has trailing data after the gzip stream (N bytes)"   bytes after the last
 *        gzip member that do not start another
 * GSL_EINVAL for path NULL or expect_ndims outside 1..3; GSL_ENOMEM when out of memory. */
infb_idx *infb_idx_read(const char *path, size_t expect_ndims, size_t max_items);

/* The same from the open stream f, read from its current position to its end (not
 * closed); path names it in messages and becomes x->source.  f may be any stream (a pipe,
 * fmemopen's memory). */
infb_idx *infb_idx_read_stream(FILE *f, const char *path, size_t expect_ndims,
                               size_t max_items);
void infb_idx_free(infb_idx *x); /* NULL is a no-op */

/* The three conversions below read only x->n, x->item and x->data, so a copy of x with
 * data moved and n reduced converts a block of rows.
 * Images as floats in [0, 1] (pixel/255): out has n·item entries. */
void infb_idx_to_unit(const infb_idx *x, float *out);

/* Static binarisation: out = 1 where pixel/255 ≥ threshold (0.5 in the protocol), else 0. */
void infb_idx_binarize_static(const infb_idx *x, double threshold, float *out);

/* Dynamic binarisation: out ~ Bernoulli(pixel/255), drawn from r in item order (one
 * uniform per pixel), redrawn by the caller every epoch. */
void infb_idx_binarize_dynamic(const infb_idx *x, gsl_rng *r, float *out);

/* Check that labels match images (same n), labels have one byte per item, and every
 * label is < nclasses.  GSL_SUCCESS, or INFB_EDATA naming both files:
 *   "LABELS: 9999 labels, but IMAGES has 10000 images"
 *   "LABELS: holds 3 bytes per item, expected 1 (labels for IMAGES)"
 *   "LABELS: label 10 at index 5 is not below 10 classes (labels for IMAGES)"
 * (LABELS and IMAGES are the source paths; the index counts from 0.) */
int infb_idx_check_labels(const infb_idx *images, const infb_idx *labels, size_t nclasses);

#endif
