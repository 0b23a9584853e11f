/* Datasets in memory: allocation, row selection, random train/test splits and column
 * standardisation (see dataset.h). */
#include "config.h"
#include "data/dataset.h"
#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>

void
infb_dataset_free(infb_dataset *d)
{
  if (!d)
    return;
  if (d->names)
    for (size_t j = 0; j < d->p; j++)
      free(d->names[j]);
  free(d->names);
  free(d->X);
  free(d->y);
  free(d->target);
  free(d->source);
  free(d->line);
  free(d);
}

/* An empty shell with the arrays allocated (zeroed) but no names. */
static infb_dataset *
shell_alloc(size_t n, size_t p, int with_y)
{
  infb_dataset *d = infb_calloc(1, sizeof *d);
  if (!d)
    return NULL;
  d->n = n;
  d->p = p;
  if (p > 0 && n > ((size_t)-1) / p) {
    free(d);
    INFB_ERROR_NULL(GSL_ENOMEM, "dataset of %zu x %zu values overflows", n, p);
  }
  d->X = infb_calloc(n * p, sizeof *d->X);
  d->names = infb_calloc(p, sizeof *d->names);
  if (with_y)
    d->y = infb_calloc(n, sizeof *d->y);
  if (!d->X || !d->names || (with_y && !d->y)) {
    infb_dataset_free(d);
    return NULL;
  }
  return d;
}

infb_dataset *
infb_dataset_alloc(size_t n, size_t p, int with_y)
{
  infb_dataset *d = shell_alloc(n, p, with_y);
  if (!d)
    return NULL;
  for (size_t j = 0; j < p; j++) {
    char name[32];
    snprintf(name, sizeof name, "x%zu", j + 1);
    if (!(d->names[j] = infb_strdup(name))) {
      infb_dataset_free(d);
      return NULL;
    }
  }
  if ((with_y && !(d->target = infb_strdup("y"))) || !(d->source = infb_strdup("synthetic"))) {
    infb_dataset_free(d);
    return NULL;
  }
  return d;
}

/* Replace *slot by a copy of s (NULL stays NULL). */
static int
replace_string(char **slot, const char *s)
{
  char *c = NULL;
  if (s && !(c = infb_strdup(s)))
    return GSL_ENOMEM;
  free(*slot);
  *slot = c;
  return GSL_SUCCESS;
}

int
infb_dataset_set_name(infb_dataset *d, size_t j, const char *s)
{
  if (j >= d->p)
    return INFB_ERROR(GSL_EINVAL, "feature index %zu out of range (%zu features)", j, d->p);
  return replace_string(&d->names[j], s);
}

int
infb_dataset_set_target(infb_dataset *d, const char *s)
{
  return replace_string(&d->target, s);
}

int
infb_dataset_set_source(infb_dataset *d, const char *s)
{
  return replace_string(&d->source, s);
}

infb_dataset *
infb_dataset_rows(const infb_dataset *d, const size_t *rows, size_t nrows)
{
  for (size_t k = 0; k < nrows; k++)
    if (rows[k] >= d->n)
      INFB_ERROR_NULL(GSL_EINVAL, "row index %zu out of range (%zu rows)", rows[k], d->n);
  infb_dataset *out = shell_alloc(nrows, d->p, d->y != NULL);
  if (!out)
    return NULL;
  for (size_t j = 0; j < d->p; j++)
    if (replace_string(&out->names[j], d->names[j]) != GSL_SUCCESS) {
      infb_dataset_free(out);
      return NULL;
    }
  if (replace_string(&out->target, d->target) != GSL_SUCCESS ||
      replace_string(&out->source, d->source) != GSL_SUCCESS ||
      (d->line && !(out->line = infb_malloc(nrows ? nrows : 1, sizeof *out->line)))) {
    infb_dataset_free(out);
    return NULL;
  }
  for (size_t k = 0; k < nrows; k++) {
    if (d->p > 0)
      memcpy(out->X + k * d->p, d->X + rows[k] * d->p, d->p * sizeof *d->X);
    if (d->y)
      out->y[k] = d->y[rows[k]];
    if (d->line)
      out->line[k] = d->line[rows[k]];
  }
  return out;
}

int
infb_dataset_split(const infb_dataset *d, double test_fraction, gsl_rng *r,
                   infb_dataset **train, infb_dataset **test)
{
  *train = NULL;
  *test = NULL;
  const char *src = d->source ? d->source : "dataset";
  if (!(test_fraction >= 0.0 && test_fraction < 1.0))
    return INFB_ERROR(GSL_EDOM, "%s: test fraction %g is not in [0, 1)", src, test_fraction);
  size_t n = d->n;
  if (test_fraction == 0.0) {
    size_t *all = infb_malloc(n, sizeof *all);
    if (!all)
      return GSL_ENOMEM;
    for (size_t i = 0; i < n; i++)
      all[i] = i;
    *train = infb_dataset_rows(d, all, n);
    free(all);
    return *train ? GSL_SUCCESS : GSL_ENOMEM;
  }
  size_t ntest = (size_t)round(test_fraction * (double)n);
  if (ntest == 0)
    return INFB_ERROR(INFB_EDATA,
                      "%s: a test fraction of %g of %zu rows leaves the test set empty", src,
                      test_fraction, n);
  if (ntest >= n)
    return INFB_ERROR(INFB_EDATA,
                      "%s: a test fraction of %g of %zu rows leaves the training set empty",
                      src, test_fraction, n);

  /* A uniformly random permutation; its first ntest entries are the test rows.  Marking
   * them and sweeping 0..n-1 keeps the original order within each part. */
  size_t *perm = infb_malloc(n, sizeof *perm);
  unsigned char *is_test = infb_calloc(n, 1);
  size_t *tr = infb_malloc(n - ntest, sizeof *tr);
  size_t *te = infb_malloc(ntest, sizeof *te);
  int status = GSL_ENOMEM;
  if (perm && is_test && tr && te) {
    for (size_t i = 0; i < n; i++)
      perm[i] = i;
    gsl_ran_shuffle(r, perm, n, sizeof *perm);
    for (size_t k = 0; k < ntest; k++)
      is_test[perm[k]] = 1;
    size_t a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
      if (is_test[i])
        te[b++] = i;
      else
        tr[a++] = i;
    }
    *train = infb_dataset_rows(d, tr, a);
    *test = infb_dataset_rows(d, te, b);
    if (*train && *test) {
      status = GSL_SUCCESS;
    } else {
      infb_dataset_free(*train);
      infb_dataset_free(*test);
      *train = *test = NULL;
    }
  }
  free(perm);
  free(is_test);
  free(tr);
  free(te);
  return status;
}

/* Column j's mean m or sd is not finite: name the value that made it so, the one
 * furthest from m (the largest in magnitude when m itself overflowed). */
static int
overflow_error(const infb_dataset *d, size_t j, double m, const char *name)
{
  const char *src = d->source ? d->source : "dataset";
  size_t worst = 0;
  double far = -1.0;
  for (size_t i = 0; i < d->n; i++) {
    double x = d->X[i * d->p + j], a = isfinite(m) ? fabs(x - m) : fabs(x);
    if (a > far) {
      far = a;
      worst = i;
    }
  }
  char row[64];
  if (d->line)
    snprintf(row, sizeof row, "line %zu", d->line[worst]);
  else
    snprintf(row, sizeof row, "row %zu", worst + 1);
  return INFB_ERROR(INFB_EDATA,
                    "%s: %s, column '%s': %g makes the column's %s overflow; rescale the "
                    "column or set standardize = no",
                    src, row, name, d->X[worst * d->p + j],
                    isfinite(m) ? "standard deviation" : "mean");
}

int
infb_dataset_moments(const infb_dataset *d, double *mean, double *sd)
{
  const char *src = d->source ? d->source : "dataset";
  if (d->n == 0)
    return INFB_ERROR(INFB_EDATA, "%s: no rows to compute feature moments from", src);
  size_t n = d->n, p = d->p;
  for (size_t j = 0; j < p; j++) {
    /* Two passes (mean, then squared deviations) for accuracy.  A column whose values
     * are all equal is constant even when rounding leaves the computed sd at ~1e-17. */
    double first = d->X[j], s = 0.0;
    int constant = 1;
    for (size_t i = 0; i < n; i++) {
      double v = d->X[i * p + j];
      s += v;
      if (v != first)
        constant = 0;
    }
    double m = s / (double)n, ss = 0.0;
    for (size_t i = 0; i < n; i++) {
      double dv = d->X[i * p + j] - m;
      ss += dv * dv;
    }
    double v = sqrt(ss / (double)n);
    const char *name = d->names && d->names[j] ? d->names[j] : "?";
    if (!isfinite(m) || !isfinite(v))
      return overflow_error(d, j, m, name);
    if (constant || v == 0.0)
      return INFB_ERROR(INFB_EDATA,
                        "%s: feature '%s' is constant; drop it or set standardize = no", src,
                        name);
    mean[j] = m;
    sd[j] = v;
  }
  return GSL_SUCCESS;
}

void
infb_dataset_standardize(infb_dataset *d, const double *mean, const double *sd)
{
  size_t n = d->n, p = d->p;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < p; j++)
      d->X[i * p + j] = (d->X[i * p + j] - mean[j]) / sd[j];
}
