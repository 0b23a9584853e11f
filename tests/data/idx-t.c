/* Tests of src/data/idx.c: IDX files written here (plain and gzipped, in a temporary
 * directory) read back, every error message exactly, the binarisations, the label check,
 * and the Fashion-MNIST files of Debian's dataset-fashion-mnist when installed. */
#define _POSIX_C_SOURCE 200809L
#include <config.h>
#include "tap/basic.h"
#include "core/clock.h"
#include "core/error.h"
#include "data/idx.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <gsl/gsl_rng.h>

/* The temporary directory and the files made in it (removed at the end). */
static char tmpdir[] = "/tmp/idx-t.XXXXXX";
static char made[64][256];
static size_t nmade;

/* The path of file `name` in the temporary directory (a static buffer per call slot). */
static const char *
tmp_path(const char *name)
{
  if (nmade >= sizeof made / sizeof made[0])
    return "/nonexistent";
  snprintf(made[nmade], sizeof made[0], "%s/%s", tmpdir, name);
  return made[nmade++];
}

static void
remove_made(void)
{
  for (size_t i = 0; i < nmade; i++)
    unlink(made[i]);
  rmdir(tmpdir);
}

/* IDX bytes: magic 00 00 type nd, nd big-endian sizes, then len data bytes, then extra
 * bytes (trailing).  Returns a malloc'd buffer, its length in *out_len. */
static uint8_t *
idx_bytes(unsigned type, size_t nd, const uint32_t *dims, const uint8_t *data, size_t len,
          size_t extra, size_t *out_len)
{
  size_t total = 4 + 4 * nd + len + extra;
  uint8_t *b = malloc(total);
  b[0] = 0;
  b[1] = 0;
  b[2] = (uint8_t)type;
  b[3] = (uint8_t)nd;
  for (size_t k = 0; k < nd; k++) {
    b[4 + 4 * k] = (uint8_t)(dims[k] >> 24);
    b[5 + 4 * k] = (uint8_t)(dims[k] >> 16);
    b[6 + 4 * k] = (uint8_t)(dims[k] >> 8);
    b[7 + 4 * k] = (uint8_t)dims[k];
  }
  if (len)
    memcpy(b + 4 + 4 * nd, data, len);
  for (size_t i = 0; i < extra; i++)
    b[4 + 4 * nd + len + i] = (uint8_t)(0xA0 + i);
  *out_len = total;
  return b;
}

static const char *
write_plain(const char *name, const uint8_t *b, size_t len)
{
  const char *path = tmp_path(name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(b, 1, len, f) != len)
    diag("cannot write %s", path);
  if (f)
    fclose(f);
  return path;
}

/* A gzip file through zlib's gz layer (as gzip(1) would write it). */
static const char *
write_gz(const char *name, const uint8_t *b, size_t len)
{
  const char *path = tmp_path(name);
  gzFile gz = gzopen(path, "wb");
  if (!gz || gzwrite(gz, b, (unsigned)len) != (int)len)
    diag("cannot write %s", path);
  if (gz)
    gzclose(gz);
  return path;
}

/* The whole file, malloc'd; length in *len. */
static uint8_t *
slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  *len = 0;
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(sz > 0 ? (size_t)sz : 1);
  *len = fread(b, 1, (size_t)sz, f);
  fclose(f);
  return b;
}

/* Independent reference for the gzip cases: inflate the whole buffer with zlib's raw
 * inflate API (not the gz layer).  Returns the bytes produced; *msg gets inflate's
 * message ("" when none) and *ret its last return code. */
static size_t
inflate_ref(const uint8_t *in, size_t inlen, char *msg, size_t msgcap, int *ret)
{
  z_stream s;
  memset(&s, 0, sizeof s);
  size_t cap = 1 << 22;
  uint8_t *out = malloc(cap);
  inflateInit2(&s, 16 + MAX_WBITS); /* gzip wrapper */
  s.next_in = (Bytef *)(uintptr_t)in;
  s.avail_in = (uInt)inlen;
  s.next_out = out;
  s.avail_out = (uInt)cap;
  *ret = inflate(&s, Z_NO_FLUSH);
  snprintf(msg, msgcap, "%s", s.msg ? s.msg : "");
  size_t produced = s.total_out;
  inflateEnd(&s);
  free(out);
  return produced;
}

/* Read expecting failure: NULL and the message "PATH: tail". */
static void
expect_error(const char *path, size_t nd, size_t max_items, const char *tail, const char *what)
{
  char want[1024];
  snprintf(want, sizeof want, "%s: %s", path, tail);
  infb_error_clear();
  infb_idx *x = infb_idx_read(path, nd, max_items);
  ok(x == NULL, "%s is rejected", what);
  is_string(want, infb_error_message(), "message for %s", what);
  infb_idx_free(x);
}

/* 5 images of 2×3 bytes, values 7·i + 3 mod 256 (distinct, covering 0..255 roughly). */
enum { N5 = 5, R5 = 2, C5 = 3, ITEM5 = R5 * C5 };
static uint8_t pix5[N5 * ITEM5];
static const uint32_t dims5[3] = {N5, R5, C5};

static void
check_read(const char *path, size_t max_items, size_t want_n, const char *what)
{
  infb_idx *x = infb_idx_read(path, 3, max_items);
  ok(x != NULL, "%s: reads", what);
  if (!x) {
    diag("%s", infb_error_message());
    for (int k = 0; k < 4; k++)
      skip("%s: not read", what);
    return;
  }
  ok(x->n == want_n && x->ndims == 3 && x->dims[0] == want_n && x->dims[1] == R5 &&
         x->dims[2] == C5,
     "%s: n = dims[0] = %zu, ndims 3, dims[1..2] = 2, 3", what, want_n);
  is_int(ITEM5, (long long)x->item, "%s: item = 2·3 bytes", what);
  ok(memcmp(x->data, pix5, want_n * ITEM5) == 0, "%s: data bytes are the written ones", what);
  is_string(path, x->source, "%s: source is the path", what);
  infb_idx_free(x);
}

static void
test_read(void)
{
  for (size_t i = 0; i < sizeof pix5; i++)
    pix5[i] = (uint8_t)(7 * i + 3);
  size_t len;
  uint8_t *b = idx_bytes(0x08, 3, dims5, pix5, sizeof pix5, 0, &len);
  const char *plain = write_plain("img.idx", b, len);
  const char *gz = write_gz("img.idx.gz", b, len);
  check_read(plain, 0, N5, "plain images, all items");
  check_read(gz, 0, N5, "gzipped images, all items");
  check_read(plain, 2, 2, "plain images, max_items 2");
  check_read(gz, 2, 2, "gzipped images, max_items 2");
  check_read(gz, N5, N5, "gzipped images, max_items = n");
  check_read(plain, 100, N5, "plain images, max_items 100 > n");
  free(b);

  /* Labels: one dimension, item 1. */
  const uint8_t lab[4] = {9, 0, 3, 255};
  const uint32_t dl[1] = {4};
  b = idx_bytes(0x08, 1, dl, lab, sizeof lab, 0, &len);
  const char *lp = write_gz("lab.idx.gz", b, len);
  infb_idx *x = infb_idx_read(lp, 1, 0);
  ok(x && x->n == 4 && x->ndims == 1 && x->dims[0] == 4 && x->item == 1 &&
         memcmp(x->data, lab, 4) == 0,
     "gzipped labels: n 4, ndims 1, item 1, bytes 9 0 3 255");
  infb_idx_free(x);
  free(b);

  /* Two dimensions are allowed too (item = the second size). */
  const uint32_t d2[2] = {3, 2};
  b = idx_bytes(0x08, 2, d2, pix5, 6, 0, &len);
  const char *p2 = write_plain("two.idx", b, len);
  x = infb_idx_read(p2, 2, 0);
  ok(x && x->n == 3 && x->ndims == 2 && x->item == 2 && memcmp(x->data, pix5, 6) == 0,
     "2-dimensional file 3×2: n 3, item 2, bytes");
  infb_idx_free(x);
  free(b);

  /* max_items stops reading early: a file missing its last items, or with trailing
   * bytes, reads fine when only the complete first items are kept. */
  b = idx_bytes(0x08, 3, dims5, pix5, 3 * ITEM5, 0, &len);
  const char *tp = write_plain("short.idx", b, len);
  const char *tg = write_gz("short.idx.gz", b, len);
  check_read(tp, 3, 3, "plain file holding 3 of 5 items, max_items 3");
  check_read(tg, 2, 2, "gzipped file holding 3 of 5 items, max_items 2");
  expect_error(tp, 3, 4, "is truncated in item 4 of 5: 24 bytes of data expected, 18 read",
               "plain file holding 3 of 5 items, max_items 4 (4·6 bytes wanted)");
  expect_error(tp, 3, 0, "is truncated in item 4 of 5: 30 bytes of data expected, 18 read",
               "plain file holding 3 of 5 items (5·6 bytes wanted)");
  expect_error(tg, 3, 0, "is truncated in item 4 of 5: 30 bytes of data expected, 18 read",
               "complete gzip stream of an IDX file holding 3 of 5 items");
  free(b);

  b = idx_bytes(0x08, 3, dims5, pix5, sizeof pix5, 3, &len);
  const char *xp = write_plain("trail.idx", b, len);
  const char *xg = write_gz("trail.idx.gz", b, len);
  check_read(xp, 4, 4, "plain file with 3 trailing bytes, max_items 4");
  expect_error(xp, 3, 0, "has trailing data (3 bytes)", "plain file with 3 trailing bytes");
  expect_error(xg, 3, 0, "has trailing data (3 bytes)", "gzipped file with 3 trailing bytes");
  free(b);
}

static void
test_header_errors(void)
{
  size_t len;
  char tail[512];

  snprintf(tail, sizeof tail, "cannot open (%s)", strerror(ENOENT));
  expect_error(tmp_path("missing.idx"), 3, 0, tail, "missing file");
  snprintf(tail, sizeof tail, "cannot read (%s)", strerror(EISDIR));
  expect_error(tmpdir, 3, 0, tail, "a directory");

  const char *p = write_plain("empty.idx", (const uint8_t *)"", 0);
  expect_error(p, 3, 0, "is empty", "empty file");
  p = write_plain("two-bytes.idx", (const uint8_t *)"\0\0", 2);
  expect_error(p, 3, 0, "is truncated: 4 bytes of header expected, 2 read", "2-byte file");

  /* Magic 00 00 08 03 then only 5 of the 12 size bytes: 4 + 12 = 16 expected, 9 read. */
  uint8_t *b = idx_bytes(0x08, 3, dims5, NULL, 0, 0, &len);
  p = write_plain("short-header.idx", b, 9);
  expect_error(p, 3, 0, "is truncated: 16 bytes of header expected, 9 read",
               "file cut inside the sizes");
  free(b);

  b = idx_bytes(0x08, 3, dims5, pix5, sizeof pix5, 0, &len);
  b[0] = 0x1F; /* not a gzip file either (0x1F 0x8B is) */
  b[1] = 0x02;
  p = write_plain("magic.idx", b, len);
  expect_error(p, 3, 0, "not an IDX file (magic 0x1F020803)", "non-zero leading bytes");
  b[0] = b[1] = 0;
  b[2] = 0x07;
  p = write_gz("magic7.idx.gz", b, len);
  expect_error(p, 3, 0, "not an IDX file (magic 0x00000703)", "unknown type 0x07 (gzipped)");
  b[2] = 0x0B;
  p = write_plain("short.idx16", b, len);
  expect_error(p, 3, 0, "holds 16-bit data; only unsigned bytes are supported",
               "type 0x0B (16-bit)");
  b[2] = 0x0E;
  p = write_gz("double.idx.gz", b, len);
  expect_error(p, 3, 0, "holds 64-bit float data; only unsigned bytes are supported",
               "type 0x0E (double)");
  b[2] = 0x08;
  p = write_plain("img3.idx", b, len);
  expect_error(p, 1, 0, "has 3 dimensions, expected 1", "images read as labels");
  free(b);

  const uint32_t dl[1] = {2};
  b = idx_bytes(0x08, 1, dl, pix5, 2, 0, &len);
  p = write_plain("lab1.idx", b, len);
  expect_error(p, 3, 0, "has 1 dimension, expected 3", "labels read as images");
  free(b);

  const uint32_t dz[3] = {4, 0, 3};
  b = idx_bytes(0x08, 3, dz, NULL, 0, 0, &len);
  p = write_plain("zero.idx", b, len);
  expect_error(p, 3, 0, "has size 0 in dimension 2 of 3", "a zero size");
  free(b);

  /* (2^32 − 1)^3 ≈ 2^96 bytes exceeds any size_t. */
  const uint32_t dbig[3] = {UINT32_MAX, UINT32_MAX, UINT32_MAX};
  b = idx_bytes(0x08, 3, dbig, NULL, 0, 0, &len);
  p = write_plain("huge.idx", b, len);
  expect_error(p, 3, 0, "is too large (sizes 4294967295 x 4294967295 x 4294967295 overflow size_t)",
               "sizes whose product overflows size_t");
  free(b);

  infb_error_clear();
  infb_idx *x = infb_idx_read(p, 0, 0);
  ok(x == NULL && infb_error_message()[0] != '\0', "expect_ndims 0 is rejected");
  x = infb_idx_read(p, 4, 0);
  ok(x == NULL, "expect_ndims 4 is rejected (dims holds 3)");
}

/* gzip streams cut short or corrupted; expected numbers and zlib messages come from
 * inflating the same bytes with the raw inflate API.  Random bytes make deflate store
 * them (a flip then only breaks the CRC); smooth images are Huffman-coded (a flip breaks
 * the code itself). */
static void
test_gzip_damage(int smooth)
{
  enum { N = 200, R = 28, C = 28 };
  const uint32_t dims[3] = {N, R, C};
  const char *kind = smooth ? "smooth" : "random";
  size_t bytes = (size_t)N * R * C;
  uint8_t *pix = malloc(bytes);
  uint32_t s = 12345u; /* an LCG (Numerical Recipes' constants) */
  for (size_t i = 0; i < bytes; i++) {
    s = 1664525u * s + 1013904223u;
    size_t r = i / C % R, c = i % C;
    pix[i] = smooth ? (uint8_t)(4 * (r + c) + (s >> 29)) : (uint8_t)(s >> 24);
  }
  char name[64];
#define NAME(base) (snprintf(name, sizeof name, "%s-%s", kind, base), name)
  char what[128];
#define WHAT(text) (snprintf(what, sizeof what, "%s images: %s", kind, text), what)
  size_t len, clen;
  uint8_t *b = idx_bytes(0x08, 3, dims, pix, bytes, 0, &len);
  const char *full = write_gz(NAME("big.idx.gz"), b, len);
  uint8_t *comp = slurp(full, &clen);
  diag("%s images: gzip file of %zu IDX bytes: %zu bytes", kind, len, clen);

  infb_idx *x = infb_idx_read(full, 3, 0);
  ok(x && x->n == N && memcmp(x->data, pix, bytes) == 0,
     "%s images: intact gzip file: 200 images read", kind);
  infb_idx_free(x);

  /* Cut in the middle of the compressed bytes. */
  char msg[256], tail[512];
  int ret;
  size_t cut = clen / 2;
  size_t produced = inflate_ref(comp, cut, msg, sizeof msg, &ret);
  ok(produced > 16 && produced < len,
     "%s images: reference: the cut stream inflates to %zu of %zu bytes", kind, produced, len);
  const char *p = write_plain(NAME("cut.idx.gz"), comp, cut);
  snprintf(tail, sizeof tail, "is truncated in item %zu of %d: %zu bytes of data expected, %zu read",
           (produced - 16) / (R * C) + 1, N, bytes, produced - 16);
  expect_error(p, 3, 0, tail, WHAT("gzip file cut in the middle"));
  x = infb_idx_read(p, 3, 10);
  ok(x && x->n == 10 && memcmp(x->data, pix, 10 * R * C) == 0,
     "%s images: gzip file cut in the middle, max_items 10: the first 10 read", kind);
  infb_idx_free(x);

  /* Data complete, the 8-byte trailer (CRC-32, length) cut to 4 bytes. */
  p = write_plain(NAME("cut-trailer.idx.gz"), comp, clen - 4);
  expect_error(p, 3, 0, "is corrupt (gzip: unexpected end of file)",
               WHAT("gzip file missing the last 4 trailer bytes"));

  /* Bytes flipped in the middle of the deflate data. */
  uint8_t *bad = malloc(clen);
  memcpy(bad, comp, clen);
  for (size_t i = clen / 2; i < clen / 2 + 4; i++)
    bad[i] ^= 0xFF;
  inflate_ref(bad, clen, msg, sizeof msg, &ret);
  ok(ret == Z_DATA_ERROR && msg[0], "%s images: reference: inflate rejects the flipped bytes (%s)",
     kind, msg);
  p = write_plain(NAME("flip.idx.gz"), bad, clen);
  snprintf(tail, sizeof tail, "is corrupt (gzip: %s)", msg);
  expect_error(p, 3, 0, tail, WHAT("gzip file with 4 bytes flipped in the middle"));

  /* Bytes flipped at the start of the deflate data (the gzip header is 10 bytes): the
   * block header breaks, an error of the compressed structure, not of the checksum. */
  memcpy(bad, comp, clen);
  for (size_t i = 12; i < 16; i++)
    bad[i] ^= 0xFF;
  inflate_ref(bad, clen, msg, sizeof msg, &ret);
  ok(ret == Z_DATA_ERROR && msg[0] && strcmp(msg, "incorrect data check") != 0,
     "%s images: reference: inflate rejects the broken block header (%s)", kind, msg);
  p = write_plain(NAME("flip-head.idx.gz"), bad, clen);
  snprintf(tail, sizeof tail, "is corrupt (gzip: %s)", msg);
  expect_error(p, 3, 0, tail, WHAT("gzip file with 4 bytes flipped in its block header"));

  /* A wrong CRC-32 in the trailer: the data decode, the check fails. */
  memcpy(bad, comp, clen);
  bad[clen - 8] ^= 0x01;
  inflate_ref(bad, clen, msg, sizeof msg, &ret);
  ok(ret == Z_DATA_ERROR && strcmp(msg, "incorrect data check") == 0,
     "%s images: reference: inflate reports the CRC mismatch (%s)", kind, msg);
  p = write_plain(NAME("crc.idx.gz"), bad, clen);
  snprintf(tail, sizeof tail, "is corrupt (gzip: %s)", msg);
  expect_error(p, 3, 0, tail, WHAT("gzip file with a wrong CRC-32"));

  free(bad);
  free(comp);
  free(b);
  free(pix);
#undef NAME
#undef WHAT
}

/* Headers that claim more than the file holds, and bytes after a gzip stream.  A
 * 16-byte file claiming 2^30 images of 28x28 once made the reader allocate 841 813 590 016
 * bytes ("out of memory"); the data buffer is now sized by what arrives.  A gzip stream
 * followed by other bytes was accepted (zlib's gz layer skips them) while a plain file
 * with trailing bytes was not: both are refused now. */
static void
test_lies_and_trails(void)
{
  size_t len;
  const uint32_t dlie[3] = {0x40000000u, 28, 28};
  uint8_t *b = idx_bytes(0x08, 3, dlie, NULL, 0, 0, &len);
  const char *p = write_plain("lie.idx", b, len);
  const char *g = write_gz("lie.idx.gz", b, len);
  expect_error(p, 3, 0,
               "is truncated in item 1 of 1073741824: 841813590016 bytes of data expected, 0 read",
               "a 16-byte file claiming 2^30 images of 28x28");
  expect_error(g, 3, 0,
               "is truncated in item 1 of 1073741824: 841813590016 bytes of data expected, 0 read",
               "a gzip file of 16 bytes claiming 2^30 images of 28x28");
  expect_error(g, 3, 1000, "is truncated in item 1 of 1073741824: 784000 bytes of data expected, 0 read",
               "the same, max_items 1000");
  free(b);
  /* Three images of 2x3 under a header claiming 2^30: the fourth is the first missing. */
  const uint32_t dlie5[3] = {0x40000000u, R5, C5};
  b = idx_bytes(0x08, 3, dlie5, pix5, 3 * ITEM5, 0, &len);
  g = write_gz("lie3.idx.gz", b, len);
  expect_error(g, 3, 0,
               "is truncated in item 4 of 1073741824: 6442450944 bytes of data expected, 18 read",
               "a gzip file of 3 images claiming 2^30");
  free(b);

  /* Bytes after the gzip stream. */
  b = idx_bytes(0x08, 3, dims5, pix5, sizeof pix5, 0, &len);
  const char *gz = write_gz("whole.idx.gz", b, len);
  size_t clen;
  uint8_t *comp = slurp(gz, &clen);
  uint8_t *more = malloc(2 * clen + 8);
  memcpy(more, comp, clen);
  memcpy(more + clen, "abc", 3);
  p = write_plain("garbage3.idx.gz", more, clen + 3);
  expect_error(p, 3, 0, "has trailing data after the gzip stream (3 bytes)",
               "a gzip file followed by 3 bytes 'abc'");
  check_read(p, 2, 2, "a gzip file followed by 3 bytes, max_items 2 (the end is not examined)");
  more[clen] = 0x1F;
  p = write_plain("garbage1.idx.gz", more, clen + 1);
  expect_error(p, 3, 0, "has trailing data after the gzip stream (1 byte)",
               "a gzip file followed by the byte 0x1F");
  memset(more + clen, 0, 8);
  p = write_plain("zeros.idx.gz", more, clen + 8);
  expect_error(p, 3, 0, "has trailing data after the gzip stream (8 bytes)",
               "a gzip file followed by 8 zero bytes");
  /* A second member is part of the stream (gzip(1) writes such files with cat). */
  memcpy(more + clen, comp, clen);
  p = write_plain("twice.idx.gz", more, 2 * clen);
  expect_error(p, 3, 0, "has trailing data (46 bytes)",
               "two gzip members of the whole file: the second's 46 bytes trail the data");
  /* A second member's magic with nothing after it: the stream is cut. */
  memcpy(more + clen, "\x1f\x8b\x08\x00", 4);
  p = write_plain("cutmember.idx.gz", more, clen + 4);
  expect_error(p, 3, 0, "is corrupt (gzip: unexpected end of file)",
               "a gzip file followed by the start of another member");
  free(more);
  free(comp);
  /* The file split across two members reads as one. */
  const char *g1 = write_gz("part1.idx.gz", b, 20);
  const char *g2 = write_gz("part2.idx.gz", b + 20, len - 20);
  size_t l1, l2;
  uint8_t *c1 = slurp(g1, &l1), *c2 = slurp(g2, &l2);
  uint8_t *cat = malloc(l1 + l2 + 4);
  memcpy(cat, c1, l1);
  memcpy(cat + l1, c2, l2);
  p = write_plain("members.idx.gz", cat, l1 + l2);
  check_read(p, 0, N5, "an IDX file split across two gzip members");
  p = write_plain("members-cut.idx.gz", cat, l1);
  expect_error(p, 3, 0, "is truncated in item 1 of 5: 30 bytes of data expected, 4 read",
               "the first of the two members alone");
  free(cat);
  free(c1);
  free(c2);

  /* From memory (fmemopen), plain and gzipped; the name is the source. */
  FILE *f = fmemopen(b, len, "rb");
  infb_idx *x = f ? infb_idx_read_stream(f, "mem.idx", 3, 0) : NULL;
  ok(x && x->n == N5 && x->item == ITEM5 && memcmp(x->data, pix5, sizeof pix5) == 0 &&
         strcmp(x->source, "mem.idx") == 0,
     "read_stream on fmemopen's plain bytes: 5 images, source mem.idx");
  infb_idx_free(x);
  if (f)
    fclose(f);
  comp = slurp(gz, &clen);
  f = fmemopen(comp, clen - 1, "rb");
  infb_error_clear();
  x = f ? infb_idx_read_stream(f, "mem.idx.gz", 3, 0) : NULL;
  ok(x == NULL, "read_stream on a gzip stream missing its last byte is refused");
  is_string("mem.idx.gz: is corrupt (gzip: unexpected end of file)", infb_error_message(),
            "read_stream: the message names the given name");
  if (f)
    fclose(f);
  free(comp);
  free(b);
}

static void
test_binarize(void)
{
  uint8_t px[6] = {0, 1, 127, 128, 254, 255};
  infb_idx x = {.n = 2, .ndims = 3, .dims = {2, 1, 3}, .item = 3, .data = px, .source = NULL};
  float out[6];

  infb_idx_to_unit(&x, out);
  int good = 1;
  for (size_t i = 0; i < 6; i++)
    good &= fabs(out[i] - px[i] / 255.0) <= 1e-7 * (px[i] / 255.0);
  ok(good && out[0] == 0.0f && out[5] == 1.0f, "to_unit: pixel/255 (0 → 0, 255 → 1)");

  /* 127/255 = 0.498 < 0.5 ≤ 128/255 = 0.502. */
  infb_idx_binarize_static(&x, 0.5, out);
  const float want05[6] = {0, 0, 0, 1, 1, 1};
  ok(memcmp(out, want05, sizeof out) == 0, "static at 0.5: 0 1 127 → 0, 128 254 255 → 1");
  /* A threshold of exactly 128/255: pixel 128 is ≥, 127 is not. */
  infb_idx_binarize_static(&x, 128.0 / 255.0, out);
  ok(memcmp(out, want05, sizeof out) == 0, "static at exactly 128/255: 128 → 1, 127 → 0");
  infb_idx_binarize_static(&x, 0.0, out);
  const float all1[6] = {1, 1, 1, 1, 1, 1};
  ok(memcmp(out, all1, sizeof out) == 0, "static at 0: every pixel → 1");
  infb_idx_binarize_static(&x, 1.0, out);
  const float only255[6] = {0, 0, 0, 0, 0, 1};
  ok(memcmp(out, only255, sizeof out) == 0, "static at 1: only 255 → 1");

  /* Dynamic: one U[0,1) per pixel in order, x = [u < pixel/255]. */
  enum { NDRAW = 20000, W = 7 };
  const uint8_t levels[W] = {0, 1, 51, 128, 204, 254, 255};
  uint8_t *big = malloc((size_t)NDRAW * W);
  for (size_t i = 0; i < NDRAW; i++)
    memcpy(big + i * W, levels, W);
  infb_idx y = {.n = NDRAW, .ndims = 3, .dims = {NDRAW, 1, W}, .item = W, .data = big};
  float *d1 = malloc(sizeof(float) * NDRAW * W), *d2 = malloc(sizeof(float) * NDRAW * W);
  gsl_rng *r1 = gsl_rng_alloc(gsl_rng_mt19937), *r2 = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r1, 42);
  gsl_rng_set(r2, 42);
  infb_idx_binarize_dynamic(&y, r1, d1);
  infb_idx_binarize_dynamic(&y, r2, d2);
  ok(memcmp(d1, d2, sizeof(float) * NDRAW * W) == 0, "dynamic: same seed, same draws");
  gsl_rng_set(r2, 43);
  infb_idx_binarize_dynamic(&y, r2, d2);
  ok(memcmp(d1, d2, sizeof(float) * NDRAW * W) != 0, "dynamic: another seed, other draws");

  gsl_rng_set(r2, 42);
  good = 1;
  for (size_t i = 0; i < (size_t)NDRAW * W; i++)
    good &= d1[i] == (gsl_rng_uniform(r2) < big[i] / 255.0 ? 1.0f : 0.0f);
  ok(good, "dynamic: x_i = [u_i < pixel_i/255] with u_i the i-th uniform of the stream");

  for (size_t k = 0; k < W; k++) {
    double m = 0;
    for (size_t i = 0; i < NDRAW; i++)
      m += d1[i * W + k];
    m /= NDRAW;
    double p = levels[k] / 255.0, se = sqrt(p * (1 - p) / NDRAW);
    if (levels[k] == 0 || levels[k] == 255)
      is_double_abs(p, m, 0.0, "dynamic: pixel %u is always %g", levels[k], p);
    else
      is_double_abs(p, m, 5 * se, "dynamic: mean of %d draws of pixel %u ≈ %u/255 (5 SE = %.4f)",
                    NDRAW, levels[k], levels[k], 5 * se);
  }

  /* A view of 2 items consumes exactly 2·7 uniforms. */
  infb_idx v = y;
  v.n = 2;
  v.dims[0] = 2;
  gsl_rng_set(r1, 7);
  gsl_rng_set(r2, 7);
  infb_idx_binarize_dynamic(&v, r1, d1);
  for (size_t i = 0; i < 2 * W; i++)
    gsl_rng_uniform(r2);
  ok(gsl_rng_get(r1) == gsl_rng_get(r2), "dynamic on 2 items of 7 pixels draws 14 uniforms");

  gsl_rng_free(r1);
  gsl_rng_free(r2);
  free(d1);
  free(d2);
  free(big);
}

static void
test_labels(void)
{
  uint8_t ipx[8] = {0};
  uint8_t lab[4] = {0, 3, 9, 2};
  char isrc[] = "img.idx", lsrc[] = "lab.idx";
  infb_idx im = {.n = 4, .ndims = 3, .dims = {4, 1, 2}, .item = 2, .data = ipx, .source = isrc};
  infb_idx lb = {.n = 4, .ndims = 1, .dims = {4}, .item = 1, .data = lab, .source = lsrc};
  is_int(GSL_SUCCESS, infb_idx_check_labels(&im, &lb, 10), "labels 0 3 9 2 with 10 classes");
  is_int(INFB_EDATA, infb_idx_check_labels(&im, &lb, 9), "label 9 with 9 classes: INFB_EDATA");
  is_string("lab.idx: label 9 at index 2 is not below 9 classes (labels for img.idx)",
            infb_error_message(), "message for a label out of range");
  lb.n = lb.dims[0] = 3;
  is_int(INFB_EDATA, infb_idx_check_labels(&im, &lb, 10), "3 labels for 4 images: INFB_EDATA");
  is_string("lab.idx: 3 labels, but img.idx has 4 images", infb_error_message(),
            "message for mismatched counts");
  is_int(INFB_EDATA, infb_idx_check_labels(&im, &im, 10), "images as labels: INFB_EDATA");
  is_string("img.idx: holds 2 bytes per item, expected 1 (labels for img.idx)",
            infb_error_message(), "message for labels of more than one byte");
}

/* Fashion-MNIST (Xiao, Rasul, Vollgraf 2017): 60 000 training and 10 000 test images of
 * 28×28, 10 balanced classes (6000 / 1000 per class); the first training label is 9
 * ("ankle boot"), as listed in the data set's README. */
#define FASHION_DIR "/usr/share/datasets/fashion-mnist/"
enum { NREAL = 13 };

static void
count_classes(const infb_idx *lab, size_t per_class, const char *what)
{
  size_t count[10] = {0};
  for (size_t i = 0; i < lab->n; i++)
    if (lab->data[i] < 10)
      count[lab->data[i]]++;
  int good = 1;
  for (size_t c = 0; c < 10; c++)
    good &= count[c] == per_class;
  if (!good)
    for (size_t c = 0; c < 10; c++)
      diag("%s class %zu: %zu", what, c, count[c]);
  ok(good, "%s: %zu labels in each of the 10 classes", what, per_class);
}

static void
test_fashion(void)
{
  const char *tri = FASHION_DIR "train-images-idx3-ubyte.gz";
  const char *trl = FASHION_DIR "train-labels-idx1-ubyte.gz";
  const char *tei = FASHION_DIR "t10k-images-idx3-ubyte.gz";
  const char *tel = FASHION_DIR "t10k-labels-idx1-ubyte.gz";
  if (access(tri, R_OK) || access(trl, R_OK) || access(tei, R_OK) || access(tel, R_OK)) {
    for (int k = 0; k < NREAL; k++)
      skip("Fashion-MNIST not installed (dataset-fashion-mnist)");
    return;
  }
  double t0 = infb_clock_seconds();
  infb_idx *im = infb_idx_read(tri, 3, 0);
  double t_full = infb_clock_seconds() - t0;
  infb_idx *lb = infb_idx_read(trl, 1, 0);
  if (!im || !lb)
    diag("%s", infb_error_message());
  ok(im && im->n == 60000 && im->dims[1] == 28 && im->dims[2] == 28 && im->item == 784,
     "train images: 60000 × 28 × 28");
  ok(lb && lb->n == 60000 && lb->item == 1, "train labels: 60000");
  diag("full training images read in %.3f s", t_full);
  if (im && lb) {
    is_int(GSL_SUCCESS, infb_idx_check_labels(im, lb, 10), "train labels: all < 10, n matches");
    count_classes(lb, 6000, "train");
    is_int(9, lb->data[0], "first training label is 9 (ankle boot)");
  } else {
    for (int k = 0; k < 3; k++)
      skip("training files not read");
  }

  t0 = infb_clock_seconds();
  infb_idx *head = infb_idx_read(tri, 3, 1000);
  double t_head = infb_clock_seconds() - t0;
  diag("first 1000 training images read in %.4f s", t_head);
  ok(head && head->n == 1000 && head->dims[0] == 1000 && head->item == 784,
     "max_items 1000: 1000 images of 784 bytes");
  ok(head && im && memcmp(head->data, im->data, 1000 * 784) == 0,
     "max_items 1000: the first 1000 images of the full read");
  infb_idx_free(head);
  infb_idx_free(im);
  infb_idx_free(lb);

  im = infb_idx_read(tei, 3, 0);
  lb = infb_idx_read(tel, 1, 0);
  ok(im && im->n == 10000 && im->dims[1] == 28 && im->dims[2] == 28,
     "test images: 10000 × 28 × 28");
  ok(lb && lb->n == 10000, "test labels: 10000");
  if (im && lb) {
    is_int(GSL_SUCCESS, infb_idx_check_labels(im, lb, 10), "test labels: all < 10, n matches");
    count_classes(lb, 1000, "test");
  } else {
    skip("test files not read");
    skip("test files not read");
  }
  infb_idx_free(im);
  infb_idx_free(lb);

  expect_error(trl, 3, 0, "has 1 dimension, expected 3", "Fashion-MNIST labels read as images");
}

int
main(void)
{
  plan(154 + 33);
  if (!mkdtemp(tmpdir)) {
    diag("cannot make a temporary directory: %s", strerror(errno));
    return 1;
  }
  test_read();
  test_header_errors();
  test_gzip_damage(0);
  test_gzip_damage(1);
  test_lies_and_trails();
  test_binarize();
  test_labels();
  test_fashion();
  infb_idx_free(NULL);
  ok(1, "infb_idx_free(NULL) is a no-op");
  remove_made();
  return test_done();
}
