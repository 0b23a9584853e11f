/* The experiment runner: data → estimators → evaluation → outputs.  It is driven by a
 * resolved configuration, reports progress through a callback, never prints, and writes
 * every output file atomically into the run directory.
 *
 * Stages: load data (before anything is created on disk, so bad data leaves nothing
 * behind), create the run directory, fit each estimator of [estimators] run in order
 * (one failure does not stop the others), evaluate, write config.ini, the TSVs, the
 * gnuplot scripts and results.json (last, so its presence marks a finished run). */
#ifndef INFB_EXP_RUNNER_H
#define INFB_EXP_RUNNER_H

#include <signal.h>
#include <jansson.h>
#include "exp/config.h"

typedef struct infb_run_options {
  const char *outdir;   /* run directory; NULL: runs/<experiment name> */
  int force;            /* reuse an existing run directory */
  /* Progress: called at each stage with a short description, and with done/total
   * counts for stages that have them (an epoch of total epochs; total 0: no count);
   * may be NULL. */
  void (*progress)(void *ctx, const char *what, size_t done, size_t total);
  void *progress_ctx;
  /* Set asynchronously (by a signal handler) to ask the runner to stop between stages;
   * may be NULL.  A VAE run also stops after the current epoch (its checkpoint written)
   * or the current group of evaluated points. */
  volatile sig_atomic_t *interrupted;
  /* Continue the run in outdir (infbench run --resume): the directory must exist and its
   * config.ini is kept as it is; a VAE run reuses the stages recorded there (the
   * training checkpoint with its trainer state, the finished evaluations).  Other
   * models simply run again. */
  int resume;
  /* Stop after this stage of every VAE estimator (INFB_STAGE_TRAIN or
   * INFB_STAGE_EVALUATE_TRAIN); INFB_STAGE_ALL (0): run to the end. */
  int stop_after;
  /* Resuming: the config hash and source file the run recorded in config.ini (reported in
   * results.json and the stage records in place of cfg's); NULL: cfg's own. */
  const char *recorded_hash, *recorded_file;
  /* Extending a run (infbench run --resume DIR --set ...): the configuration the run
   * recorded, before the new settings (NULL otherwise).  A stage record made under it is
   * reused when the keys that stage reads are unchanged (infb_run_stage_hashes). */
  const struct infb_config *recorded_cfg;
} infb_run_options;

/* The stages of a VAE estimator, in order (infbench run --stop-after). */
enum {
  INFB_STAGE_ALL = 0,            /* no stop */
  INFB_STAGE_TRAIN = 1,          /* training (a checkpoint every epoch) */
  INFB_STAGE_EVALUATE_TRAIN = 2, /* the gap report on the training points */
  INFB_STAGE_EVALUATE_TEST = 3,  /* the gap report on the test points */
  INFB_STAGE_AIS_TRAIN = 4,      /* [ais]: AIS on the training points */
  INFB_STAGE_AIS_TEST = 5,       /* [ais]: AIS on the test points */
  INFB_STAGE_BDMC = 6            /* [bdmc]: the BDMC sandwich on simulated points */
};

typedef struct infb_run_result {
  char *outdir;         /* the run directory used (owned) */
  json_t *results;      /* the results.json document (owned reference) */
  size_t nfailed;       /* estimators that failed */
  int created_dir;      /* the run directory was created (or reused) */
  int stopped;          /* stages were left for later (opt->stop_after): --resume goes on */
  int write_failed;     /* an output could not be written (a full disk, a read-only or
                           vanished directory): once that is fixed, --resume goes on */
} infb_run_result;

/* Run the experiment.  Returns GSL_SUCCESS when every estimator succeeded;
 * INFB_EDATA for bad data found at run time (the message, via infb_error_message, names
 * the file and record); INFB_ECONFIG when the run directory exists and !force
 * ("DIR exists; use --force to reuse it"); GSL_EFAILED when one or more estimators failed
 * (their reasons are in the results, which are still written); INFB_EINTR when
 * interrupted (the outputs of finished estimators and stages are written, results.json
 * with "interrupted": true); other statuses for I/O failures (a full disk: GSL_EFAILED,
 * the message naming the step and the file, res->write_failed set; an estimator's output
 * that failed is its failure, with the same message as its status).  A run stopped by opt->stop_after returns GSL_SUCCESS
 * with res->stopped set and "stopped_after" in results.json.  *res is always initialised; free it with infb_run_result_free. */
int infb_run(const infb_config *cfg, const infb_run_options *opt, infb_run_result *res);
void infb_run_result_free(infb_run_result *res);

#endif
