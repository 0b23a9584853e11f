/* Fuzz target: what `infbench run --resume DIR` reads of a run directory before running:
 * infb_run_dir_inspect (config.ini's header, results.json), the recorded config.ini as a
 * config (read, resolved, marked recorded, hashed, its relative paths rebased), and the
 * stage records (infb_run_stage_load), as cmd_run.c's load_resumed and the runners do.
 * Input: the files of the directory, separated by FUZZ_SEPARATOR lines, in this order:
 * config.ini, results.json, then the stage records of `amortized` (train,
 * evaluate-train, evaluate-test) and of `meanfield` (train).  A missing part is a missing
 * file.  The directory is rewritten for every input. */
#define _POSIX_C_SOURCE 200809L
#include <config.h>
#include "fuzz/fuzz.h"
#include "core/strparse.h"
#include "exp/config.h"
#include "exp/runner.h"
#include "exp/runshared.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>

static const struct {
  const char *stem;
  int stage;
} records[] = {{"amortized", INFB_STAGE_TRAIN},
               {"amortized", INFB_STAGE_EVALUATE_TRAIN},
               {"amortized", INFB_STAGE_EVALUATE_TEST},
               {"meanfield", INFB_STAGE_TRAIN}};
enum { NRECORDS = sizeof records / sizeof records[0], NPARTS = 2 + NRECORDS };

static char dir[4200];

/* Write DIR/name with the part, or remove it when the input has no such part. */
static void
put(const char *name, size_t k, size_t nparts, const uint8_t *const *part, const size_t *len)
{
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (k < nparts)
    fuzz_write_file(path, part[k], len[k]);
  else if (remove(path) != 0 && errno != ENOENT)
    abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz_init();
  if (!dir[0]) {
    snprintf(dir, sizeof dir, "%s/run", fuzz_tmpdir());
    char stages[4400];
    snprintf(stages, sizeof stages, "%s/stages", dir);
    if ((mkdir(dir, 0777) != 0 && errno != EEXIST) ||
        (mkdir(stages, 0777) != 0 && errno != EEXIST))
      abort();
  }
  const uint8_t *part[NPARTS];
  size_t len[NPARTS];
  size_t nparts = fuzz_split(data, size, part, len, NPARTS);
  put("config.ini", 0, nparts, part, len);
  put("results.json", 1, nparts, part, len);
  for (size_t r = 0; r < NRECORDS; r++) {
    char name[128];
    snprintf(name, sizeof name, "stages/%s.%s.json", records[r].stem,
             infb_run_stage_name(records[r].stage));
    put(name, 2 + r, nparts, part, len);
  }

  infb_run_dir_info info;
  if (infb_run_dir_inspect(dir, &info) != 0)
    return 0;
  if (strlen(info.hash) != INFB_SHA256_HEX - 1)
    abort(); /* inspect succeeds only with a whole hash */
  if (!info.finished) {
    char path[4400], msg[1024], hex[INFB_SHA256_HEX];
    snprintf(path, sizeof path, "%s/config.ini", dir);
    infb_config *c = infb_config_alloc();
    int st = infb_config_read(c, path, msg, sizeof msg);
    if (!st)
      st = infb_config_resolve(c, msg, sizeof msg);
    if (!st) {
      infb_config_set_recorded(c);
      if (infb_config_hash(c, hex) != 0)
        abort();
      char **sets = NULL;
      size_t nsets = 0;
      if (info.base && infb_run_rebase_paths(c, info.base, &sets, &nsets) == 0) {
        /* The rebased paths are valid overrides of the same config. */
        infb_config *r = infb_config_alloc();
        st = infb_config_read(r, path, msg, sizeof msg);
        for (size_t i = 0; !st && i < nsets; i++)
          st = infb_config_set(r, sets[i], msg, sizeof msg);
        if (!st)
          st = infb_config_resolve(r, msg, sizeof msg);
        if (st) {
          fprintf(stderr, "a rebased config does not resolve: %s\n", msg);
          abort();
        }
        infb_config_free(r);
      }
      infb_strlist_free(sets);
    }
    infb_config_free(c);
    for (size_t r = 0; r < NRECORDS; r++) {
      json_t *rec = NULL;
      int done = 0;
      if (infb_run_stage_load(dir, records[r].stem, records[r].stage, info.hash, NULL, &rec,
                              &done) == 0 && (rec != NULL) != (2 + r < nparts))
        abort(); /* a record is found exactly when the file exists */
      json_decref(rec);
    }
  }
  infb_run_dir_info_free(&info);
  return 0;
}
