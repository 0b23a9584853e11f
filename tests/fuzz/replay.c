/* The corpus of one fuzz target replayed through it without libFuzzer, as a TAP test
 * program of `make check` (any compiler; under --enable-sanitizers, ASan and UBSan judge
 * each input as the fuzzer would): one test point per file of
 * $top_srcdir/tests/fuzz/corpus/FUZZ_TARGET, in name order.  An input that crashes or
 * aborts stops the program (the plan is then not met); a leak fails it at exit. */
#define _POSIX_C_SOURCE 200809L
#include <config.h>
#include "fuzz/fuzz.h"
#include "tap/basic.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef FUZZ_TARGET
#error "compile with -DFUZZ_TARGET='\"name\"' (the corpus directory's name)"
#endif

static int
by_name(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The whole file at path, malloc'd (at least 1 byte); NULL when unreadable. */
static uint8_t *
slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  size_t cap = 4096, n = 0, got;
  uint8_t *b = malloc(cap);
  while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      uint8_t *p = realloc(b, cap *= 2);
      if (!p)
        free(b);
      b = p;
    }
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(b);
    return NULL;
  }
  *len = n;
  return b;
}

int
main(void)
{
  char dir[4096];
  const char *top = getenv("top_srcdir");
  if (top && *top)
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", top, FUZZ_TARGET);
  else /* beside the fixtures, whose directory the TAP library knows */
    snprintf(dir, sizeof dir, "%s", path_fixture("../fuzz/corpus/" FUZZ_TARGET));
  DIR *d = opendir(dir);
  if (!d) {
    plan(1);
    ok(0, "the corpus %s can be read", dir);
    return test_done();
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  for (struct dirent *de; (de = readdir(d)) != NULL;) {
    if (de->d_name[0] == '.')
      continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 256;
      names = realloc(names, cap * sizeof *names);
    }
    names[n++] = strdup(de->d_name);
  }
  closedir(d);
  if (n == 0) {
    plan(1);
    ok(0, "the corpus %s holds inputs", dir);
    free(names);
    return test_done();
  }
  qsort(names, n, sizeof *names, by_name);
  plan((int)n);
  for (size_t i = 0; i < n; i++) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    size_t len = 0;
    uint8_t *data = slurp(path, &len);
    int readable = data != NULL;
    if (data) {
      /* A copy of exactly len bytes, so ASan sees any read past the input. */
      uint8_t *exact = malloc(len ? len : 1);
      memcpy(exact, data, len);
      free(data);
      LLVMFuzzerTestOneInput(exact, len);
      free(exact);
    }
    ok(readable, "%s: %s (%zu bytes) runs through the target", FUZZ_TARGET, names[i], len);
    free(names[i]);
  }
  free(names);
  return test_done();
}
