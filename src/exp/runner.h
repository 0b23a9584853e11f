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
   * may be NULL. */
  volatile sig_atomic_t *interrupted;
} infb_run_options;

typedef struct infb_run_result {
  char *outdir;         /* the run directory used (owned) */
  json_t *results;      /* the results.json document (owned reference) */
  size_t nfailed;       /* estimators that failed */
  int created_dir;      /* the run directory was created (or reused) */
} infb_run_result;

/* Run the experiment.  Returns GSL_SUCCESS when every estimator succeeded;
 * INFB_EDATA for bad data found at run time (the message, via infb_error_message, names
 * the file and record); INFB_ECONFIG when the run directory exists and !force
 * ("DIR exists; use --force to reuse it"); GSL_EFAILED when one or more estimators failed
 * (their reasons are in the results, which are still written); INFB_EINTR when
 * interrupted (the outputs of finished estimators are written); other statuses for I/O
 * failures.  *res is always initialised; free it with infb_run_result_free. */
int infb_run(const infb_config *cfg, const infb_run_options *opt, infb_run_result *res);
void infb_run_result_free(infb_run_result *res);

#endif
