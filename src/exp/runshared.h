/* What the supervised runner (runner.c) and the latent-model runner (runlatent.c) share:
 * the results document's header, the run directory, the resolved config.ini, progress
 * reports, file stems and the final status. */
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
 * refused with INFB_ECONFIG unless opt->force.  *dir receives a new string (free()). */
int infb_run_make_dir(const infb_config *cfg, const infb_run_options *opt, char **dir);

/* DIR/config.ini: the canonical config under a header with its SHA-256, the program, GSL
 * and BLAS versions, the thread count, the seed and the source file. */
int infb_run_write_config(const infb_config *cfg, const char *dir);

/* Report progress through opt->progress (printf-style); nothing when it is NULL.
 * _count also passes done of total (a progress bar's fraction). */
void infb_run_progress(const infb_run_options *opt, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void infb_run_progress_count(const infb_run_options *opt, size_t done, size_t total,
                             const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Nonzero when an interrupt was requested. */
int infb_run_interrupted(const infb_run_options *opt);

/* A file-name-safe stem for an estimator entry: "map:strong" → "map-strong". */
void infb_run_stem(const char *name, char *out, size_t cap);

/* The final status of a run from the output status, the interrupt flag and the number
 * of failed estimators (runner.h documents the codes). */
int infb_run_status(int st, int interrupted, size_t nfailed);

#endif
