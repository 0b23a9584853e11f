/* What the supervised runner (runner.c) and the latent-model runner (runlatent.c, with
 * runlingauss.c and runvae.c) share: the results document's header, the run directory,
 * the resolved config.ini, progress reports, file stems and the final status. */
#ifndef INFB_EXP_RUNSHARED_H
#define INFB_EXP_RUNSHARED_H

#include <stddef.h>
#include <jansson.h>
#include "exp/config.h"
#include "exp/runner.h"

/* A new results document: schema_version, program, config {hash, seed, name, file},
 * data {source}, model {type} and an empty estimators object.  NULL on ENOMEM. */
json_t *infb_run_root(const infb_config *cfg);

/* Create the run directory (opt->outdir, else runs/<experiment name>); an existing one is
 * refused with INFB_ECONFIG unless opt->force or opt->resume.  Reusing one with force
 * (a new run) removes its results.json and stage records, so a later --resume cannot mix
 * two runs; resuming keeps everything.  Either way the temporaries of atomic writes that a
 * killed session left (NAME.tmp.PID, in the directory and its stages/) are removed.  An
 * empty opt->outdir is refused (INFB_ECONFIG, "the run directory's name is empty").  *dir
 * receives a new string (free()). */
int infb_run_make_dir(const infb_config *cfg, const infb_run_options *opt, char **dir);

/* DIR/config.ini: the canonical config under a header with its SHA-256, the program, GSL
 * and BLAS versions, the thread count, the seed, the source file and the absolute
 * directory its relative paths resolve against ("# base: DIR").  Nothing is written when
 * cfg was read from that very file (a resumed run keeps its record). */
int infb_run_write_config(const infb_config *cfg, const char *dir);

/* Report progress through opt->progress (printf-style); nothing when it is NULL.
 * _count also passes done of total (a progress bar's fraction). */
void infb_run_progress(const infb_run_options *opt, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void infb_run_progress_count(const infb_run_options *opt, size_t done, size_t total,
                             const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The step an output failed in: the last error's message becomes "STEP: MESSAGE" (step
 * printf-style, e.g. "amortized, training epoch 3"), and *write_failed is set when st is
 * GSL_EFAILED (the atomic writes' status: the directory is full, read-only or gone).
 * Returns st; GSL_SUCCESS and INFB_EINTR pass through untouched. */
int infb_run_step_error(int st, int *write_failed, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Nonzero when an interrupt was requested. */
int infb_run_interrupted(const infb_run_options *opt);

/* A file-name-safe stem for an estimator entry: "map:strong" → "map-strong". */
void infb_run_stem(const char *name, char *out, size_t cap);

/* The final status of a run from the output status, the interrupt flag and the number
 * of failed estimators (runner.h documents the codes). */
int infb_run_status(int st, int interrupted, size_t nfailed);

/* ------------------------------------------------------------------ resuming a run */

/* Resuming: replace root's config.hash and config.file by the values the run recorded
 * (opt->recorded_hash, opt->recorded_file) when they are set. */
void infb_run_root_recorded(json_t *root, const infb_run_options *opt);

/* The name of a stage ("train", "evaluate-train", "evaluate-test", "ais-train",
 * "ais-test", "bdmc"; "all" for
 * INFB_STAGE_ALL), and the stage of a name (-1 when unknown). */
const char *infb_run_stage_name(int stage);
int infb_run_stage_parse(const char *name);

/* What a run directory holds, for --resume (infb_run_dir_inspect). */
typedef struct infb_run_dir_info {
  int finished;                 /* results.json says the run ended: not interrupted, not
                                   stopped early, no estimator failed */
  char hash[INFB_SHA256_HEX];   /* the config hash recorded in config.ini's header */
  char *source;                 /* the source file it recorded (owned; NULL if none) */
  char *base;                   /* the absolute directory relative paths of the config
                                   resolve against (owned; NULL if not recorded) */
} infb_run_dir_info;

/* Inspect DIR: its config.ini header (written by infb_run_write_config) and whether its
 * results.json marks a finished run (a failed estimator's stages run again on --resume).  Errors (INFB_ECONFIG, raised): "DIR: no such
 * directory", "DIR holds no infbench run (no config.ini)", "DIR/config.ini has no
 * '# sha256:' line: it was not written by infbench run".  Free with
 * infb_run_dir_info_free. */
int infb_run_dir_inspect(const char *dir, infb_run_dir_info *info);
void infb_run_dir_info_free(infb_run_dir_info *info); /* NULL is a no-op */

/* The assignments "SECTION.KEY=BASE/VALUE" that make cfg's relative PATH keys (relative
 * to the directory of the file cfg was read from) point where they pointed for a config
 * whose paths resolved against BASE; *sets (NULL-terminated, free with
 * infb_strlist_free) may be empty.  GSL_ENOMEM. */
int infb_run_rebase_paths(const infb_config *cfg, const char *base, char ***sets, size_t *n);

/* Stage records: DIR/stages/STEM.STAGE.json, written atomically, holding
 *   {"estimator": STEM, "stage": STAGE, "config_hash": HASH, "done": true|false,
 *    "result": {...}}
 * where result is the stage's fragment of results.json (and what the runner needs to go
 * on without redoing the stage).  _save copies result (borrowed).  _load gives a new
 * reference in *result and the done flag, or *result = NULL when there is no record;
 * a record that does not parse, or of another config hash, is refused (INFB_EDATA,
 * naming the file).  Statuses of the atomic writes otherwise. */
int infb_run_stage_save(const char *dir, const char *stem, int stage, const char *hash,
                        int done, const json_t *result);
int infb_run_stage_load(const char *dir, const char *stem, int stage, const char *hash,
                        const char *legacy, json_t **result, int *done);

/* The hash a stage's record is keyed by: *hash, of only the keys the stage reads
 * (training: all but [evaluate], [qstar], [ais], [bdmc], [plot]; a gap report: all but
 * [ais], [bdmc], [plot]; AIS: training's, [ais] and [evaluate] points and split; BDMC:
 * training's, [bdmc] and [ais]'s chain settings), so that a finished run extended with
 * new stages (opt->recorded_cfg) keeps the ones whose keys did not change.  *legacy: the
 * run's recorded whole-config hash (opt->recorded_hash) when the keys the stage reads are
 * those of the recorded config (records written before stages had scopes hold it), else
 * "".  GSL_ENOMEM. */
/* Extending a run (opt->recorded_cfg): INFB_ECONFIG (raised, naming the stage record)
 * when a stage recorded in DIR/stages read a key whose value cfg changes, so that the
 * run is refused before anything is written.  GSL_SUCCESS when not extending. */
int infb_run_extend_check(const infb_config *cfg, const infb_run_options *opt, const char *dir);

int infb_run_stage_hashes(const infb_config *cfg, const infb_run_options *opt, int stage,
                          char hash[INFB_SHA256_HEX], char legacy[INFB_SHA256_HEX]);

#endif
