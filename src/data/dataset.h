/* A dataset in memory: n rows of p numeric features and, for supervised models, a target.
 * Rows are observations; X is row-major so a row is a contiguous record. */
#ifndef INFB_DATA_DATASET_H
#define INFB_DATA_DATASET_H

#include <stddef.h>
#include <gsl/gsl_rng.h>

typedef struct infb_dataset {
  size_t n;      /* rows (observations) */
  size_t p;      /* feature columns */
  double *X;     /* n×p, row-major: X[i*p + j] is feature j of row i */
  double *y;     /* n targets, or NULL for a model without a target */
  char **names;  /* p feature names (owned) */
  char *target;  /* target name (owned), NULL when y is NULL */
  char *source;  /* where the rows came from, for messages: a path or "synthetic" */
  size_t *line;  /* n record numbers in the source file, for messages ("line L" of the CSV
                    reader, its header being line 1), or NULL (synthetic rows) */
} infb_dataset;

/* A dataset of n×p zeros (y too when with_y), names "x1".."xp", target "y" when with_y,
 * source "synthetic", line NULL.  NULL (error raised) on allocation failure. */
infb_dataset *infb_dataset_alloc(size_t n, size_t p, int with_y);
/* NULL is a no-op. */
void infb_dataset_free(infb_dataset *d);
/* Replace names[j] / target / source by a copy of s.  GSL_ENOMEM on failure; set_name
 * with j ≥ p fails with GSL_EINVAL. */
int infb_dataset_set_name(infb_dataset *d, size_t j, const char *s);
int infb_dataset_set_target(infb_dataset *d, const char *s);
int infb_dataset_set_source(infb_dataset *d, const char *s);

/* A new dataset made of rows[0..nrows) of d, in that order (indices < d->n).  Names,
 * target, source and the rows' line numbers are copied.  NULL on allocation failure, or (GSL_EINVAL raised) for
 * an index ≥ d->n. */
infb_dataset *infb_dataset_rows(const infb_dataset *d, const size_t *rows, size_t nrows);

/* Split d at random into train and test: round(test_fraction·n) rows go to test, chosen
 * by a seeded permutation from r (gsl_ran_shuffle of 0..n−1; its first round(f·n)
 * entries are the test rows); both keep d's row order.  test_fraction in [0, 1);
 * with 0, *train is a copy of d, *test is NULL and r is not used.  Fails with INFB_EDATA
 * when either part would be empty (when test_fraction > 0):
 *   "SOURCE: a test fraction of 0.01 of 20 rows leaves the test set empty"
 *   "SOURCE: a test fraction of 0.99 of 20 rows leaves the training set empty"
 * GSL_EDOM for a fraction outside [0, 1), or GSL_ENOMEM; then both are NULL.  The caller
 * frees both. */
int infb_dataset_split(const infb_dataset *d, double test_fraction, gsl_rng *r,
                       infb_dataset **train, infb_dataset **test);

/* Column means and standard deviations (divisor n) of X: mean[p], sd[p] supplied by the
 * caller.  A constant column (all values equal, or sd == 0) fails with INFB_EDATA naming
 * the feature and d->source:
 *   "SOURCE: feature 'x2' is constant; drop it or set standardize = no"
 * and so does a column whose mean or sd overflows (values near DBL_MAX, whose squares or
 * sums are infinite), naming the row furthest from the mean (the largest in magnitude
 * when the mean overflowed) by its line (d->line; "row I", counted from 1, without):
 *   "SOURCE: line 7, column 'x2': 1e+308 makes the column's standard deviation overflow;
 *    rescale the column or set standardize = no"    (or "the column's mean")
 * n == 0 fails with INFB_EDATA ("SOURCE: no rows to compute feature moments from"). */
int infb_dataset_moments(const infb_dataset *d, double *mean, double *sd);
/* X[:,j] ← (X[:,j] − mean[j]) / sd[j] in place. */
void infb_dataset_standardize(infb_dataset *d, const double *mean, const double *sd);

#endif
