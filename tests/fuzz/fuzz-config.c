/* Fuzz target: the INI parser and config validation (exp/config.h) with --set overrides.
 * Input: the INI file's text, then optionally FUZZ_SEPARATOR and --set assignments, one
 * per line.  A config that reads and resolves must have a canonical text that is itself
 * a config with the same canonical text and hash (what --resume relies on: a run's
 * config.ini is that text); the accessors are called on every key of the table. */
#include <config.h>
#include "fuzz/fuzz.h"
#include "exp/config.h"
#include "exp/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* At most this many --set lines (each is a full validation). */
#define MAX_SETS 16

/* Every accessor on every key of the table, for the sections the config names. */
static void
touch_keys(const infb_config *c)
{
  for (size_t i = 0; i < infb_nkeys; i++) {
    const infb_key *k = &infb_keys[i];
    const char *v = infb_config_get(c, k->section, k->name);
    (void)infb_config_line(c, k->section, k->name);
    switch (k->type) {
    case INFB_KEY_INT:
      (void)infb_config_int(c, k->section, k->name);
      break;
    case INFB_KEY_DOUBLE:
    case INFB_KEY_DOUBLE_OR:
      (void)infb_config_double(c, k->section, k->name);
      break;
    case INFB_KEY_BOOL:
      (void)infb_config_bool(c, k->section, k->name);
      break;
    case INFB_KEY_PATH: {
      char *p = infb_config_path(c, k->section, k->name);
      free(p);
      break;
    }
    case INFB_KEY_SWEEP:
      if (v) {
        double *vals = NULL;
        size_t n = 0;
        if (infb_config_sweep(c, k->section, k->name, &vals, &n) == 0 && n == 0)
          abort(); /* a sweep has at least one value */
        free(vals);
      }
      break;
    default:
      break;
    }
  }
  for (char *const *e = infb_config_estimators(c); e && *e; e++)
    (void)infb_config_get(c, *e, "lambda");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz_init();
  const uint8_t *part[2];
  size_t len[2];
  size_t nparts = fuzz_split(data, size, part, len, 2);
  char msg[1024];
  infb_config *c = infb_config_alloc();
  if (!c)
    return 0;
  int st = infb_config_read_text(c, "fuzz/exp.ini", (const char *)part[0], len[0], msg,
                                 sizeof msg);
  if (!st && nparts > 1) {
    /* One assignment per line, as the shell passes --set's argument: a line holding a NUL
     * byte is skipped (a command line cannot hold one). */
    const char *p = (const char *)part[1], *end = p + len[1];
    for (size_t nset = 0; !st && p < end && nset < MAX_SETS; nset++) {
      const char *nl = memchr(p, '\n', (size_t)(end - p));
      size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
      if (!memchr(p, '\0', n)) {
        char *line = malloc(n + 1);
        memcpy(line, p, n);
        line[n] = '\0';
        st = infb_config_set(c, line, msg, sizeof msg);
        free(line);
      }
      p += n + 1;
    }
  }
  if (!st)
    st = infb_config_resolve(c, msg, sizeof msg);
  if (st) {
    /* Every error has a message, and it names where. */
    if (msg[0] == '\0')
      abort();
    infb_config_free(c);
    return 0;
  }
  touch_keys(c);
  char hash[INFB_SHA256_HEX], again_hash[INFB_SHA256_HEX];
  char *canon = infb_config_canonical(c);
  if (!canon || infb_config_hash(c, hash) != 0)
    abort();
  /* The canonical text reads back to itself. */
  infb_config *r = infb_config_alloc();
  st = infb_config_read_text(r, "fuzz/exp.ini", canon, strlen(canon), msg, sizeof msg);
  if (!st)
    st = infb_config_resolve(r, msg, sizeof msg);
  if (st) {
    fprintf(stderr, "canonical text does not read back: %s\n%s", msg, canon);
    abort();
  }
  char *again = infb_config_canonical(r);
  if (!again || strcmp(again, canon) != 0 || infb_config_hash(r, again_hash) != 0 ||
      strcmp(hash, again_hash) != 0) {
    fprintf(stderr, "canonical text changes when read back:\n%s\n---\n%s", canon,
            again ? again : "(null)");
    abort();
  }
  /* As a run's recorded config.ini: the same hash. */
  infb_config_set_recorded(r);
  if (infb_config_hash(r, again_hash) != 0 || strcmp(hash, again_hash) != 0) {
    fprintf(stderr, "recorded hash differs for:\n%s", canon);
    abort();
  }
  free(again);
  free(canon);
  infb_config_free(r);
  infb_config_free(c);
  return 0;
}
