/* IDX files (Y. LeCun's MNIST format, yann.lecun.com/exdb/mnist), plain or gzipped, read
 * through zlib's gz* layer, and the static and dynamic binarisations of the VAE protocol
 * (Burda et al. 2016; Cremer et al. 2018; see /work/shared/PROTOCOL.md, Data). */
#include <config.h>
#include "data/idx.h"
#include "core/error.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Bytes requested from gzread per call (gzread counts in unsigned and returns int). */
#define READ_CHUNK_BYTES ((size_t)1 << 20)
/* zlib's input buffer (its default of 8 KiB makes many small read() calls). */
#define GZ_BUFFER_BYTES 131072u
/* Bytes per read when looking for (and counting) trailing data. */
#define TRAIL_CHUNK_BYTES 4096u
/* IDX: two zero bytes, the type byte, the number of dimensions; then 4 bytes per size. */
#define MAGIC_BYTES 4u
#define SIZE_BYTES 4u
#define MAX_NDIMS 3u
#define TYPE_UBYTE 0x08u
/* The largest pixel value: pixel/255 is the grey level in [0, 1]. */
#define PIXEL_MAX 255.0
/* Pixel values a byte can hold (the lookup tables below). */
#define NLEVELS 256u

static const char *
plural(size_t k)
{
  return k == 1 ? "" : "s";
}

/* The readable part of gzerror's message: zlib prefixes it with "path: ". */
static const char *
gz_message(gzFile gz, const char *path, int *errnum)
{
  const char *msg = gzerror(gz, errnum);
  size_t lp = strlen(path);
  if (msg && strncmp(msg, path, lp) == 0 && msg[lp] == ':' && msg[lp + 1] == ' ')
    msg += lp + 2;
  return msg ? msg : "unknown error";
}

/* Raise the error of a gzread that returned −1. */
static void
read_failed(gzFile gz, const char *path)
{
  int errnum = Z_OK;
  const char *msg = gz_message(gz, path, &errnum);
  if (errnum == Z_ERRNO)
    INFB_ERROR(INFB_EDATA, "%s: cannot read (%s)", path, msg);
  else if (errnum == Z_MEM_ERROR)
    INFB_ERROR(GSL_ENOMEM, "%s: out of memory reading (gzip: %s)", path, msg);
  else
    INFB_ERROR(INFB_EDATA, "%s: is corrupt (gzip: %s)", path, msg);
}

/* Read up to len bytes into buf, in chunks; *got receives the count.  GSL_SUCCESS at
 * the end of the data (*got < len) or when len bytes were read; INFB_EDATA (raised)
 * when gzread fails. */
static int
read_full(gzFile gz, const char *path, uint8_t *buf, size_t len, size_t *got)
{
  *got = 0;
  while (*got < len) {
    size_t want = len - *got;
    if (want > READ_CHUNK_BYTES)
      want = READ_CHUNK_BYTES;
    int r = gzread(gz, buf + *got, (unsigned)want);
    if (r < 0) {
      read_failed(gz, path);
      return INFB_EDATA;
    }
    if (r == 0)
      break;
    *got += (size_t)r;
  }
  return GSL_SUCCESS;
}

/* A gzip stream cut short still reads as end of data; gzerror then says so.  For
 * checks after the data are complete. */
static int
stream_error(gzFile gz, const char *path)
{
  int errnum = Z_OK;
  const char *msg = gz_message(gz, path, &errnum);
  if (errnum != Z_OK)
    return INFB_ERROR(INFB_EDATA, "%s: is corrupt (gzip: %s)", path, msg);
  return GSL_SUCCESS;
}

static const char *
type_name(unsigned type)
{
  switch (type) {
  case 0x09u:
    return "signed 8-bit";
  case 0x0Bu:
    return "16-bit";
  case 0x0Cu:
    return "32-bit";
  case 0x0Du:
    return "32-bit float";
  case 0x0Eu:
    return "64-bit float";
  default:
    return NULL;
  }
}

/* The header: magic, then ndims big-endian sizes.  Fills x's ndims, dims (as in the
 * file) and returns the file's total data bytes in *total. */
static int
read_header(gzFile gz, const char *path, size_t expect_ndims, infb_idx *x, size_t *total)
{
  uint8_t h[MAGIC_BYTES + MAX_NDIMS * SIZE_BYTES];
  size_t got;
  int st = read_full(gz, path, h, MAGIC_BYTES, &got);
  if (st)
    return st;
  if (got == 0)
    return INFB_ERROR(INFB_EDATA, "%s: is empty", path);
  if (got < MAGIC_BYTES)
    return INFB_ERROR(INFB_EDATA, "%s: is truncated: %u bytes of header expected, %zu read",
                      path, MAGIC_BYTES, got);
  unsigned type = h[2], nd = h[3];
  if (h[0] != 0 || h[1] != 0 || (type != TYPE_UBYTE && !type_name(type)))
    return INFB_ERROR(INFB_EDATA, "%s: not an IDX file (magic 0x%02X%02X%02X%02X)", path,
                      h[0], h[1], h[2], h[3]);
  if (type != TYPE_UBYTE)
    return INFB_ERROR(INFB_EDATA, "%s: holds %s data; only unsigned bytes are supported",
                      path, type_name(type));
  if (nd != expect_ndims)
    return INFB_ERROR(INFB_EDATA, "%s: has %u dimension%s, expected %zu", path, nd,
                      plural(nd), expect_ndims);
  size_t want = (size_t)nd * SIZE_BYTES;
  st = read_full(gz, path, h + MAGIC_BYTES, want, &got);
  if (st)
    return st;
  if (got < want)
    return INFB_ERROR(INFB_EDATA, "%s: is truncated: %zu bytes of header expected, %zu read",
                      path, MAGIC_BYTES + want, MAGIC_BYTES + got);
  x->ndims = nd;
  for (size_t k = 0; k < nd; k++) {
    const uint8_t *b = h + MAGIC_BYTES + k * SIZE_BYTES;
    uint32_t v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    x->dims[k] = v;
  }
  for (size_t k = 0; k < nd; k++)
    if (x->dims[k] == 0)
      return INFB_ERROR(INFB_EDATA, "%s: has size 0 in dimension %zu of %zu", path, k + 1,
                        (size_t)nd);
  size_t prod = 1;
  int overflow = 0;
  for (size_t k = 0; k < nd; k++) {
    if (prod > SIZE_MAX / x->dims[k])
      overflow = 1;
    else
      prod *= x->dims[k];
  }
  if (overflow) {
    char sizes[3 * 24];
    size_t len = 0;
    for (size_t k = 0; k < nd; k++)
      len += (size_t)snprintf(sizes + len, sizeof sizes - len, "%s%zu", k ? " x " : "",
                              x->dims[k]);
    return INFB_ERROR(INFB_EDATA, "%s: is too large (sizes %s overflow size_t)", path, sizes);
  }
  *total = prod;
  return GSL_SUCCESS;
}

/* After all items: any further byte is trailing data, unless the stream turns out to
 * be corrupt on the way (then that is the error). */
static int
check_end(gzFile gz, const char *path)
{
  uint8_t buf[TRAIL_CHUNK_BYTES];
  size_t extra = 0;
  for (;;) {
    int r = gzread(gz, buf, (unsigned)sizeof buf);
    if (r < 0) {
      read_failed(gz, path);
      return INFB_EDATA;
    }
    if (r == 0)
      break;
    extra += (size_t)r;
  }
  int st = stream_error(gz, path);
  if (st)
    return st;
  if (extra > 0)
    return INFB_ERROR(INFB_EDATA, "%s: has trailing data (%zu byte%s)", path, extra,
                      plural(extra));
  return GSL_SUCCESS;
}

infb_idx *
infb_idx_read(const char *path, size_t expect_ndims, size_t max_items)
{
  if (!path)
    INFB_ERROR_NULL(GSL_EINVAL, "infb_idx_read: path is NULL");
  if (expect_ndims < 1 || expect_ndims > MAX_NDIMS)
    INFB_ERROR_NULL(GSL_EINVAL, "%s: expected dimensions %zu, must be 1, 2 or 3", path,
                    expect_ndims);
  infb_idx *x = infb_calloc(1, sizeof *x);
  if (!x)
    return NULL;
  x->source = infb_strdup(path);
  if (!x->source) {
    infb_idx_free(x);
    return NULL;
  }
  errno = 0;
  gzFile gz = gzopen(path, "rb");
  if (!gz) {
    if (errno)
      INFB_ERROR(INFB_EDATA, "%s: cannot open (%s)", path, strerror(errno));
    else
      INFB_ERROR(GSL_ENOMEM, "%s: cannot open (out of memory)", path);
    infb_idx_free(x);
    return NULL;
  }
  gzbuffer(gz, GZ_BUFFER_BYTES);

  size_t total = 0;
  int st = read_header(gz, path, expect_ndims, x, &total);
  if (st)
    goto fail;
  size_t nfile = x->dims[0];
  x->item = total / nfile;
  x->n = max_items > 0 && max_items < nfile ? max_items : nfile;
  x->dims[0] = x->n;
  size_t bytes = x->n * x->item; /* ≤ total: no overflow */
  x->data = infb_malloc(bytes, 1);
  if (!x->data) {
    st = GSL_ENOMEM;
    goto fail;
  }
  size_t got;
  st = read_full(gz, path, x->data, bytes, &got);
  if (st)
    goto fail;
  if (got < bytes) {
    /* Whether the IDX content ends early or the gzip stream is cut short, the data are
     * missing: the same message. */
    st = INFB_ERROR(INFB_EDATA, "%s: is truncated: %zu bytes of data expected, %zu read", path,
                    bytes, got);
    goto fail;
  }
  if (x->n == nfile) {
    st = check_end(gz, path);
    if (st)
      goto fail;
  }
  gzclose(gz);
  return x;

fail:
  gzclose(gz);
  infb_idx_free(x);
  return NULL;
}

void
infb_idx_free(infb_idx *x)
{
  if (!x)
    return;
  free(x->data);
  free(x->source);
  free(x);
}

/* Grey levels pixel/255, once per byte value. */
void
infb_idx_to_unit(const infb_idx *x, float *out)
{
  float level[NLEVELS];
  for (size_t v = 0; v < NLEVELS; v++)
    level[v] = (float)((double)v / PIXEL_MAX);
  size_t len = x->n * x->item;
  for (size_t i = 0; i < len; i++)
    out[i] = level[x->data[i]];
}

/* x = 1 where pixel/255 ≥ threshold, the comparison made in double once per byte value
 * (so a threshold of exactly v/255 includes v). */
void
infb_idx_binarize_static(const infb_idx *x, double threshold, float *out)
{
  float bit[NLEVELS];
  for (size_t v = 0; v < NLEVELS; v++)
    bit[v] = (double)v / PIXEL_MAX >= threshold ? 1.0f : 0.0f;
  size_t len = x->n * x->item;
  for (size_t i = 0; i < len; i++)
    out[i] = bit[x->data[i]];
}

/* x ~ Bernoulli(p), p = pixel/255, as [u < p] with u ~ U[0, 1): P(u < p) = p exactly, so
 * black pixels stay 0 and white pixels 1.  One uniform per pixel, in order. */
void
infb_idx_binarize_dynamic(const infb_idx *x, gsl_rng *r, float *out)
{
  double p[NLEVELS];
  for (size_t v = 0; v < NLEVELS; v++)
    p[v] = (double)v / PIXEL_MAX;
  size_t len = x->n * x->item;
  for (size_t i = 0; i < len; i++)
    out[i] = gsl_rng_uniform(r) < p[x->data[i]] ? 1.0f : 0.0f;
}

int
infb_idx_check_labels(const infb_idx *images, const infb_idx *labels, size_t nclasses)
{
  if (!images || !labels)
    return INFB_ERROR(GSL_EINVAL, "infb_idx_check_labels: NULL images or labels");
  if (labels->n != images->n)
    return INFB_ERROR(INFB_EDATA, "%s: %zu label%s, but %s has %zu image%s", labels->source,
                      labels->n, plural(labels->n), images->source, images->n,
                      plural(images->n));
  if (labels->item != 1)
    return INFB_ERROR(INFB_EDATA, "%s: holds %zu bytes per item, expected 1 (labels for %s)",
                      labels->source, labels->item, images->source);
  for (size_t i = 0; i < labels->n; i++)
    if (labels->data[i] >= nclasses)
      return INFB_ERROR(INFB_EDATA, "%s: label %u at index %zu is not below %zu class%s "
                        "(labels for %s)", labels->source, (unsigned)labels->data[i], i,
                        nclasses, nclasses == 1 ? "" : "es", images->source);
  return GSL_SUCCESS;
}
