/* Helpers of the fuzz targets (fuzz.h). */
#define _XOPEN_SOURCE 700 /* mkdtemp, fmemopen, nftw */
#include <config.h>
#include "fuzz/fuzz.h"
#include "core/error.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_errno.h>

void
fuzz_init(void)
{
  static int done;
  if (!done) {
    gsl_set_error_handler(infb_error_gsl_handler);
    done = 1;
  }
}

static char tmpdir[4096];

static int
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

static void
remove_tmpdir(void)
{
  if (tmpdir[0])
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *
fuzz_tmpdir(void)
{
  if (!tmpdir[0]) {
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/infbench-fuzz.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
      perror(tmpdir);
      abort();
    }
    atexit(remove_tmpdir);
  }
  return tmpdir;
}

void
fuzz_write_file(const char *path, const void *data, size_t len)
{
  FILE *f = fopen(path, "wb");
  if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
    perror(path);
    abort();
  }
}

size_t
fuzz_split(const uint8_t *data, size_t size, const uint8_t **part, size_t *len, size_t max)
{
  const size_t seplen = strlen(FUZZ_SEPARATOR);
  size_t n = 0, start = 0;
  for (size_t i = 0; n + 1 < max && i + seplen <= size; i++) {
    if (memcmp(data + i, FUZZ_SEPARATOR, seplen) != 0)
      continue;
    part[n] = data + start;
    len[n++] = i - start;
    start = i + seplen;
    i = start - 1;
  }
  part[n] = data + start;
  len[n++] = size - start;
  return n;
}

FILE *
fuzz_memstream(const uint8_t *data, size_t len)
{
  static char empty[1];
  FILE *f = fmemopen(len ? (void *)(uintptr_t)data : empty, len, "rb");
  if (!f) {
    perror("fmemopen");
    abort();
  }
  return f;
}
