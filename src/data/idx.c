/* IDX files (Y. LeCun's MNIST format, yann.lecun.com/exdb/mnist), plain or gzipped (RFC
 * 1952, inflated with zlib's inflate on our own reads of the stream, so that what follows
 * the gzip stream is ours to judge), and the static and dynamic binarisations of the VAE
 * protocol (Burda et al. 2016; Cremer et al. 2018; see /work/shared/PROTOCOL.md, Data). */
#define _POSIX_C_SOURCE 200809L /* fileno */
#include <config.h>
#include "data/idx.h"
#include "core/error.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* Bytes read (or inflated) per call, and the data buffer's first size when the file's
 * length is unknown (a gzip stream, a pipe): the buffer then grows by doubling as the data
 * arrive, so a header claiming more than the file holds costs at most twice what it does
 * hold, never the claimed size. */
#define READ_CHUNK_BYTES ((size_t)1 << 20)
/* The compressed input buffer (zlib's gz layer defaults to 8 KiB, many small reads). */
#define GZ_BUFFER_BYTES 131072u
/* Bytes per read when looking for (and counting) trailing data. */
#define TRAIL_CHUNK_BYTES 4096u
/* gzip's magic bytes (RFC 1952, 2.3.1) and inflate's window bits for a gzip wrapper. */
#define GZ_ID1 0x1Fu
#define GZ_ID2 0x8Bu
#define GZ_WINDOW_BITS (16 + MAX_WBITS)
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

/* ------------------------------------------------------------------ the byte source */

/* The IDX bytes of a stream: the file's own bytes, or the inflated bytes of its gzip
 * members (one or more, concatenated as gzip(1) allows).  Bytes after the last member
 * that do not start another one are an error, as trailing bytes of a plain file are. */
typedef struct source {
  FILE *f;
  const char *path;
  int gz;                 /* gzip: inflate in[] */
  int zinit;              /* z is initialised */
  int ended;              /* gzip: the last member ended and nothing follows */
  int cut;                /* gzip: the input ended inside a member */
  z_stream z;
  unsigned char *in;      /* GZ_BUFFER_BYTES of input; plain: the sniffed first bytes */
  size_t in_pos, in_len;  /* plain: the sniffed bytes not yet served */
} source;

/* Read up to cap bytes of the file into buf; *n the count.  INFB_EDATA (raised) on a read
 * error. */
static int
file_read(source *s, unsigned char *buf, size_t cap, size_t *n)
{
  *n = fread(buf, 1, cap, s->f);
  if (*n == 0 && ferror(s->f))
    return INFB_ERROR(INFB_EDATA, "%s: cannot read (%s)", s->path,
                      strerror(errno ? errno : EIO));
  return GSL_SUCCESS;
}

/* gzip: top up z's input to at least want bytes (fewer at the end of the file). */
static int
gz_fill(source *s, size_t want)
{
  if (s->z.avail_in >= want)
    return GSL_SUCCESS;
  if (s->z.avail_in > 0)
    memmove(s->in, s->z.next_in, s->z.avail_in);
  s->z.next_in = s->in;
  while (s->z.avail_in < want) {
    size_t n;
    int st = file_read(s, s->in + s->z.avail_in, GZ_BUFFER_BYTES - s->z.avail_in, &n);
    if (st)
      return st;
    if (n == 0)
      break;
    s->z.avail_in += (uInt)n;
  }
  return GSL_SUCCESS;
}

/* gzip: a member ended.  Another may follow (inflate is reset for it); anything else is
 * trailing data, counted to the end of the file for the message. */
static int
gz_member_end(source *s)
{
  int st = gz_fill(s, 2);
  if (st)
    return st;
  if (s->z.avail_in == 0) {
    s->ended = 1;
    return GSL_SUCCESS;
  }
  if (s->z.avail_in >= 2 && s->z.next_in[0] == GZ_ID1 && s->z.next_in[1] == GZ_ID2) {
    inflateReset(&s->z);
    return GSL_SUCCESS;
  }
  size_t extra = s->z.avail_in, n;
  s->z.avail_in = 0;
  do {
    if ((st = file_read(s, s->in, GZ_BUFFER_BYTES, &n)))
      return st;
    extra += n;
  } while (n > 0);
  return INFB_ERROR(INFB_EDATA, "%s: has trailing data after the gzip stream (%zu byte%s)",
                    s->path, extra, plural(extra));
}

/* Up to len IDX bytes into buf; *got the count, less than len only at the end of the data
 * (for gzip: the last member's end, or the input's end inside a member: s->cut).
 * INFB_EDATA (raised) on a read error, corrupt gzip data or data after the gzip stream;
 * GSL_ENOMEM. */
static int
source_read(source *s, unsigned char *buf, size_t len, size_t *got)
{
  *got = 0;
  if (!s->gz) {
    size_t k = s->in_len - s->in_pos < len ? s->in_len - s->in_pos : len;
    memcpy(buf, s->in + s->in_pos, k);
    s->in_pos += k;
    *got = k;
    while (*got < len) {
      size_t n;
      int st = file_read(s, buf + *got, len - *got, &n);
      if (st)
        return st;
      if (n == 0)
        break;
      *got += n;
    }
    return GSL_SUCCESS;
  }
  while (*got < len && !s->ended && !s->cut) {
    int st = gz_fill(s, 1);
    if (st)
      return st;
    size_t want = len - *got < UINT_MAX ? len - *got : UINT_MAX;
    s->z.next_out = buf + *got;
    s->z.avail_out = (uInt)want;
    int ret = inflate(&s->z, Z_NO_FLUSH);
    *got += want - s->z.avail_out;
    if (ret == Z_STREAM_END) {
      if ((st = gz_member_end(s)))
        return st;
    } else if (ret == Z_BUF_ERROR || (ret == Z_OK && s->z.avail_in == 0 && feof(s->f))) {
      /* No progress possible: the input ended inside the member. */
      if (s->z.avail_in == 0 && feof(s->f) && s->z.avail_out > 0)
        s->cut = 1;
    } else if (ret == Z_MEM_ERROR) {
      return INFB_ERROR(GSL_ENOMEM, "%s: out of memory reading (gzip: %s)", s->path,
                        s->z.msg ? s->z.msg : zError(ret));
    } else if (ret != Z_OK) {
      return INFB_ERROR(INFB_EDATA, "%s: is corrupt (gzip: %s)", s->path,
                        s->z.msg ? s->z.msg : zError(ret));
    }
  }
  return GSL_SUCCESS;
}

/* Open the source on f: sniff gzip's magic. */
static int
source_open(source *s, FILE *f, const char *path)
{
  memset(s, 0, sizeof *s);
  s->f = f;
  s->path = path;
  s->in = infb_malloc(GZ_BUFFER_BYTES, 1);
  if (!s->in)
    return GSL_ENOMEM;
  size_t n = 0;
  while (n < 2) {
    size_t k;
    int st = file_read(s, s->in + n, 2 - n, &k);
    if (st)
      return st;
    if (k == 0)
      break;
    n += k;
  }
  if (n == 2 && s->in[0] == GZ_ID1 && s->in[1] == GZ_ID2) {
    s->gz = 1;
    s->z.next_in = s->in;
    s->z.avail_in = 2;
    int ret = inflateInit2(&s->z, GZ_WINDOW_BITS);
    if (ret != Z_OK)
      return INFB_ERROR(ret == Z_MEM_ERROR ? GSL_ENOMEM : GSL_EFAILED,
                        "%s: cannot start inflating (gzip: %s)", path, zError(ret));
    s->zinit = 1;
  } else {
    s->in_len = n;
  }
  return GSL_SUCCESS;
}

static void
source_close(source *s)
{
  if (s->zinit)
    inflateEnd(&s->z);
  free(s->in);
}

/* The file's bytes after the current position when f is a regular file; SIZE_MAX when
 * unknown (a pipe, a memory stream, gzip). */
static size_t
bytes_left(const source *s)
{
  struct stat sb;
  int fd = fileno(s->f);
  long pos = ftell(s->f);
  if (s->gz || fd < 0 || pos < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
      sb.st_size < pos)
    return SIZE_MAX;
  return (size_t)(sb.st_size - pos) + (s->in_len - s->in_pos);
}

/* After all items: any further byte is trailing data, unless the stream turns out to
 * be corrupt on the way (then that is the error). */
static int
check_end(source *s)
{
  unsigned char buf[TRAIL_CHUNK_BYTES];
  size_t extra = 0, got;
  do {
    int st = source_read(s, buf, sizeof buf, &got);
    if (st)
      return st;
    extra += got;
  } while (got > 0);
  if (s->cut)
    return INFB_ERROR(INFB_EDATA, "%s: is corrupt (gzip: unexpected end of file)", s->path);
  if (extra > 0)
    return INFB_ERROR(INFB_EDATA, "%s: has trailing data (%zu byte%s)", s->path, extra,
                      plural(extra));
  return GSL_SUCCESS;
}

/* ------------------------------------------------------------------ the IDX format */

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
read_header(source *s, const char *path, size_t expect_ndims, infb_idx *x, size_t *total)
{
  uint8_t h[MAGIC_BYTES + MAX_NDIMS * SIZE_BYTES];
  size_t got;
  int st = source_read(s, h, MAGIC_BYTES, &got);
  if (st)
    return st;
  if (got == 0 && !s->cut)
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
  st = source_read(s, h + MAGIC_BYTES, want, &got);
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

/* The kept items' bytes into x->data: allocated for what the file can hold (its length
 * when known) and grown as the data arrive, so a header's sizes are never trusted for an
 * allocation. */
static int
read_data(source *s, const char *path, infb_idx *x, size_t nfile)
{
  size_t bytes = x->n * x->item; /* ≤ the header's total: no overflow */
  size_t left = bytes_left(s);
  size_t cap = left != SIZE_MAX ? (left > TRAIL_CHUNK_BYTES ? left : TRAIL_CHUNK_BYTES)
                                : READ_CHUNK_BYTES;
  if (cap > bytes)
    cap = bytes;
  x->data = infb_malloc(cap, 1);
  if (!x->data)
    return GSL_ENOMEM;
  size_t got = 0;
  while (got < bytes) {
    if (got == cap) {
      size_t grown = cap <= bytes / 2 ? 2 * cap : bytes;
      uint8_t *p = realloc(x->data, grown);
      if (!p)
        return INFB_ERROR(GSL_ENOMEM, "%s: out of memory reading %zu bytes of data", path,
                          grown);
      x->data = p;
      cap = grown;
    }
    size_t want = cap - got < READ_CHUNK_BYTES ? cap - got : READ_CHUNK_BYTES, n;
    int st = source_read(s, x->data + got, want, &n);
    if (st)
      return st;
    if (n == 0)
      break;
    got += n;
  }
  if (got < bytes)
    /* Whether the IDX content ends early or the gzip stream is cut short, the data are
     * missing: the same message. */
    return INFB_ERROR(INFB_EDATA,
                      "%s: is truncated in item %zu of %zu: %zu bytes of data expected, %zu "
                      "read",
                      path, got / x->item + 1, nfile, bytes, got);
  return GSL_SUCCESS;
}

infb_idx *
infb_idx_read_stream(FILE *f, const char *path, size_t expect_ndims, size_t max_items)
{
  if (!f || !path)
    INFB_ERROR_NULL(GSL_EINVAL, "infb_idx_read_stream: stream or name is NULL");
  if (expect_ndims < 1 || expect_ndims > MAX_NDIMS)
    INFB_ERROR_NULL(GSL_EINVAL, "%s: expected dimensions %zu, must be 1, 2 or 3", path,
                    expect_ndims);
  infb_idx *x = infb_calloc(1, sizeof *x);
  if (!x)
    return NULL;
  x->source = infb_strdup(path);
  source s;
  int st = x->source ? source_open(&s, f, path) : GSL_ENOMEM;
  size_t total = 0;
  if (!st)
    st = read_header(&s, path, expect_ndims, x, &total);
  if (!st) {
    size_t nfile = x->dims[0];
    x->item = total / nfile;
    x->n = max_items > 0 && max_items < nfile ? max_items : nfile;
    x->dims[0] = x->n;
    st = read_data(&s, path, x, nfile);
    if (!st && x->n == nfile)
      st = check_end(&s);
  }
  if (x->source)
    source_close(&s);
  if (st) {
    infb_idx_free(x);
    return NULL;
  }
  return x;
}

infb_idx *
infb_idx_read(const char *path, size_t expect_ndims, size_t max_items)
{
  if (!path)
    INFB_ERROR_NULL(GSL_EINVAL, "infb_idx_read: path is NULL");
  if (expect_ndims < 1 || expect_ndims > MAX_NDIMS)
    INFB_ERROR_NULL(GSL_EINVAL, "%s: expected dimensions %zu, must be 1, 2 or 3", path,
                    expect_ndims);
  errno = 0;
  FILE *f = fopen(path, "rb");
  if (!f)
    INFB_ERROR_NULL(errno == ENOMEM ? GSL_ENOMEM : INFB_EDATA, "%s: cannot open (%s)", path,
                    strerror(errno));
  infb_idx *x = infb_idx_read_stream(f, path, expect_ndims, max_items);
  fclose(f);
  return x;
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
