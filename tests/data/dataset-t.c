/* Tests of src/data/dataset.c: allocation and names, row selection, random splits (sizes,
 * disjointness, order, reproducibility, uniformity), moments and standardisation. */
#include "config.h"
#include "tap/basic.h"
#include "core/error.h"
#include "core/rng.h"
#include "data/dataset.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A dataset of n rows with X[i] = (i, −i) and y[i] = 10·i, so each row names itself. */
static infb_dataset *
numbered(size_t n)
{
  infb_dataset *d = infb_dataset_alloc(n, 2, 1);
  for (size_t i = 0; d && i < n; i++) {
    d->X[2 * i] = (double)i;
    d->X[2 * i + 1] = -(double)i;
    d->y[i] = 10.0 * (double)i;
  }
  return d;
}

static void
test_alloc(void)
{
  infb_dataset *d = infb_dataset_alloc(3, 2, 1);
  ok(d && d->n == 3 && d->p == 2 && d->y != NULL, "alloc(3, 2, with y): shape and y");
  int zeros = d != NULL;
  for (size_t k = 0; d && k < 6; k++)
    zeros &= d->X[k] == 0.0;
  for (size_t k = 0; d && k < 3; k++)
    zeros &= d->y[k] == 0.0;
  ok(zeros, "alloc: X and y start at zero");
  ok(d && strcmp(d->names[0], "x1") == 0 && strcmp(d->names[1], "x2") == 0,
     "alloc: names x1, x2");
  is_string("y", d ? d->target : NULL, "alloc: target name y");
  is_string("synthetic", d ? d->source : NULL, "alloc: source 'synthetic'");

  char buf[16] = "bmi";
  ok(d && infb_dataset_set_name(d, 1, buf) == GSL_SUCCESS, "set_name(1, 'bmi') succeeds");
  strcpy(buf, "xxx");
  is_string("bmi", d ? d->names[1] : NULL, "set_name stores a copy");
  ok(d && infb_dataset_set_name(d, 2, "z") == GSL_EINVAL, "set_name(2) with p = 2 is GSL_EINVAL");
  ok(d && infb_dataset_set_target(d, "progression") == GSL_SUCCESS &&
         strcmp(d->target, "progression") == 0,
     "set_target replaces the target name");
  ok(d && infb_dataset_set_source(d, "a.csv") == GSL_SUCCESS && strcmp(d->source, "a.csv") == 0,
     "set_source replaces the source");
  infb_dataset_free(d);

  d = infb_dataset_alloc(4, 3, 0);
  ok(d && d->y == NULL && d->target == NULL && strcmp(d->names[2], "x3") == 0,
     "alloc(4, 3, no y): y and target NULL, names to x3");
  infb_dataset_free(d);
}

static void
test_rows(void)
{
  infb_dataset *d = numbered(5);
  infb_dataset_set_name(d, 0, "up");
  infb_dataset_set_source(d, "numbered");
  size_t pick[] = {4, 0, 4};
  infb_dataset *s = infb_dataset_rows(d, pick, 3);
  ok(s && s->n == 3 && s->p == 2, "rows {4, 0, 4}: 3 rows of 2");
  ok(s && s->X[0] == 4 && s->X[1] == -4 && s->X[2] == 0 && s->X[4] == 4 && s->X[5] == -4,
     "rows {4, 0, 4}: X rows 4, 0, 4 in that order");
  ok(s && s->y[0] == 40 && s->y[1] == 0 && s->y[2] == 40, "rows {4, 0, 4}: y 40, 0, 40");
  ok(s && strcmp(s->names[0], "up") == 0 && s->names[0] != d->names[0] &&
         strcmp(s->source, "numbered") == 0 && strcmp(s->target, "y") == 0,
     "rows: names, target and source are copies");
  ok(s && s->line == NULL, "rows of rows without line numbers have none");
  infb_dataset_free(s);
  d->line = malloc(5 * sizeof *d->line);
  for (size_t i = 0; i < 5; i++)
    d->line[i] = 10 + 3 * i;
  s = infb_dataset_rows(d, pick, 3);
  ok(s && s->line && s->line[0] == 22 && s->line[1] == 10 && s->line[2] == 22,
     "rows {4, 0, 4} of rows on lines 10, 13, ..., 22: lines 22, 10, 22");
  infb_dataset_free(s);
  size_t bad[] = {1, 5};
  s = infb_dataset_rows(d, bad, 2);
  ok(s == NULL, "rows with index 5 of 5 rows fails");
  infb_dataset_free(d);
}

/* Check a split of numbered(n): sizes, every row exactly once, order kept, y with X. */
static void
check_split(const infb_dataset *train, const infb_dataset *test, size_t n, size_t ntest,
            const char *what)
{
  is_int((long long)ntest, test ? (long long)test->n : -1, "%s: test has %zu rows", what,
         ntest);
  is_int((long long)(n - ntest), train ? (long long)train->n : -1, "%s: train has %zu rows",
         what, n - ntest);
  if (!train || !test) {
    skip("%s: split failed", what);
    skip("%s: split failed", what);
    return;
  }
  int *seen = calloc(n, sizeof *seen);
  int good = 1;
  const infb_dataset *part[2] = {train, test};
  for (int k = 0; k < 2; k++)
    for (size_t i = 0; i < part[k]->n; i++) {
      double x = part[k]->X[2 * i];
      size_t r = (size_t)x;
      good &= x >= 0 && r < n && part[k]->X[2 * i + 1] == -x && part[k]->y[i] == 10 * x;
      if (r < n)
        seen[r]++;
      if (i > 0)
        good &= part[k]->X[2 * (i - 1)] < x; /* original order */
    }
  int cover = 1;
  for (size_t r = 0; r < n; r++)
    cover &= seen[r] == 1;
  free(seen);
  ok(cover, "%s: train and test are disjoint and cover all %zu rows", what, n);
  ok(good, "%s: rows intact (y = 10x) and in the original order in both parts", what);
}

/* The row numbers of a test part, for comparisons. */
static int
same_rows(const infb_dataset *a, const infb_dataset *b)
{
  if (!a || !b || a->n != b->n)
    return 0;
  for (size_t i = 0; i < a->n; i++)
    if (a->X[2 * i] != b->X[2 * i])
      return 0;
  return 1;
}

static void
test_split(void)
{
  infb_dataset *d = numbered(50), *train, *test, *train2, *test2;
  gsl_rng *r = infb_rng_stream(42, "data/split", 0);
  ok(infb_dataset_split(d, 0.3, r, &train, &test) == GSL_SUCCESS, "split(50 rows, 0.3)");
  check_split(train, test, 50, 15, "split(50, 0.3)");
  gsl_rng_free(r);

  /* The same stream gives the same split; another stream another one. */
  r = infb_rng_stream(42, "data/split", 0);
  infb_dataset_split(d, 0.3, r, &train2, &test2);
  ok(same_rows(test, test2) && same_rows(train, train2),
     "split is reproducible from the same stream (seed 42, data/split, 0)");
  gsl_rng_free(r);
  infb_dataset_free(train2);
  infb_dataset_free(test2);
  r = infb_rng_stream(43, "data/split", 0);
  infb_dataset_split(d, 0.3, r, &train2, &test2);
  ok(test2 && !same_rows(test, test2), "seed 43 gives a different test set than seed 42");
  gsl_rng_free(r);
  infb_dataset_free(train2);
  infb_dataset_free(test2);
  infb_dataset_free(train);
  infb_dataset_free(test);
  infb_dataset_free(d);

  /* round(), not truncation: 0.25·10 = 2.5 rounds to 3 (C round, half away from 0). */
  d = numbered(10);
  r = infb_rng_stream(1, "data/split", 0);
  ok(infb_dataset_split(d, 0.25, r, &train, &test) == GSL_SUCCESS, "split(10 rows, 0.25)");
  check_split(train, test, 10, 3, "split(10, 0.25)");
  infb_dataset_free(train);
  infb_dataset_free(test);

  /* Fraction 0: all rows train, no test, no draws. */
  gsl_rng *r2 = infb_rng_stream(1, "data/split", 0);
  gsl_rng_memcpy(r2, r);
  ok(infb_dataset_split(d, 0.0, r, &train, &test) == GSL_SUCCESS && test == NULL && train &&
         train->n == 10 && train->X[18] == 9,
     "split(10, 0): test NULL, train all 10 rows");
  ok(gsl_rng_get(r) == gsl_rng_get(r2), "split with fraction 0 draws nothing from r");
  gsl_rng_free(r2);
  infb_dataset_free(train);

  /* Empty parts and bad fractions. */
  infb_error_clear();
  ok(infb_dataset_split(d, 0.04, r, &train, &test) == INFB_EDATA && !train && !test,
     "split(10, 0.04) fails with INFB_EDATA (round(0.4) = 0 test rows)");
  is_string("synthetic: a test fraction of 0.04 of 10 rows leaves the test set empty",
            infb_error_message(), "message for an empty test set");
  ok(infb_dataset_split(d, 0.96, r, &train, &test) == INFB_EDATA && !train && !test,
     "split(10, 0.96) fails with INFB_EDATA (round(9.6) = 10 test rows)");
  is_string("synthetic: a test fraction of 0.96 of 10 rows leaves the training set empty",
            infb_error_message(), "message for an empty training set");
  ok(infb_dataset_split(d, 1.0, r, &train, &test) == GSL_EDOM, "split with fraction 1 is GSL_EDOM");
  ok(infb_dataset_split(d, -0.1, r, &train, &test) == GSL_EDOM,
     "split with fraction -0.1 is GSL_EDOM");
  gsl_rng_free(r);

  /* Uniformity: over S splits of 10 rows with 3 test rows, each row is in the test set
   * with probability 3/10; its count is Binomial(S, 0.3).  Within 5 standard errors. */
  const size_t S = 2000, n = 10, nt = 3;
  size_t count[10] = {0};
  r = infb_rng_stream(7, "test/uniform", 0);
  for (size_t s = 0; s < S; s++) {
    infb_dataset_split(d, 0.3, r, &train, &test);
    for (size_t i = 0; test && i < test->n; i++)
      count[(size_t)test->X[2 * i]]++;
    infb_dataset_free(train);
    infb_dataset_free(test);
  }
  gsl_rng_free(r);
  double pr = (double)nt / (double)n, mean = S * pr, se = sqrt(S * pr * (1 - pr)), worst = 0;
  for (size_t i = 0; i < n; i++)
    worst = fmax(worst, fabs((double)count[i] - mean) / se);
  ok(worst < 5, "each row is in the test set %g ± 5·%.1f of %zu splits (worst %.2f SE)", mean,
     se, S, worst);
  infb_dataset_free(d);
}

static void
test_moments(void)
{
  /* X = [[1, 2], [3, 4], [5, 9]]: means 3 and 5; sd (divisor n) √(8/3) and √(26/3). */
  infb_dataset *d = infb_dataset_alloc(3, 2, 0);
  const double X[] = {1, 2, 3, 4, 5, 9};
  memcpy(d->X, X, sizeof X);
  double mean[2], sd[2];
  ok(infb_dataset_moments(d, mean, sd) == GSL_SUCCESS, "moments of a 3x2 matrix");
  is_double_rel(3.0, mean[0], 1e-15, "mean of (1, 3, 5) = 3");
  is_double_rel(5.0, mean[1], 1e-15, "mean of (2, 4, 9) = 5");
  is_double_rel(sqrt(8.0 / 3.0), sd[0], 1e-15, "sd of (1, 3, 5) = sqrt(8/3)");
  is_double_rel(sqrt(26.0 / 3.0), sd[1], 1e-15, "sd of (2, 4, 9) = sqrt(26/3)");
  infb_dataset_standardize(d, mean, sd);
  is_double_rel(-2.0 / sqrt(8.0 / 3.0), d->X[0], 1e-15, "standardized X[0,0] = (1-3)/sqrt(8/3)");
  is_double_rel(4.0 / sqrt(26.0 / 3.0), d->X[5], 1e-15, "standardized X[2,1] = (9-5)/sqrt(26/3)");
  double m2[2], s2[2];
  infb_dataset_moments(d, m2, s2);
  ok(fabs(m2[0]) < 1e-15 && fabs(m2[1]) < 1e-15 && fabs(s2[0] - 1) < 1e-15 &&
         fabs(s2[1] - 1) < 1e-15,
     "after standardize: column means 0 and sds 1");
  infb_dataset_free(d);

  /* A constant column, 0.1 three times (whose computed mean is not exactly 0.1). */
  d = infb_dataset_alloc(3, 2, 0);
  const double C[] = {1, 0.1, 2, 0.1, 4, 0.1};
  memcpy(d->X, C, sizeof C);
  infb_dataset_set_source(d, "data/toy.csv");
  infb_error_clear();
  ok(infb_dataset_moments(d, mean, sd) == INFB_EDATA, "constant column x2 fails with INFB_EDATA");
  is_string("data/toy.csv: feature 'x2' is constant; drop it or set standardize = no",
            infb_error_message(), "message names the feature and the source");
  infb_dataset_free(d);

  /* Values near DBL_MAX: (1e308 − mean)² overflows, so the sd would be +inf and the
   * standardised column all zeros (map and bayes then gave it a weight of exactly 0).
   * An error naming the row furthest from the mean instead; 1e150 (squares 1e300) is
   * fine. */
  d = infb_dataset_alloc(3, 2, 0);
  const double H[] = {1, 1, 1e150, 1e308, -1e150, 2};
  memcpy(d->X, H, sizeof H);
  infb_error_clear();
  ok(infb_dataset_moments(d, mean, sd) == INFB_EDATA, "1e308 in column x2 fails with INFB_EDATA");
  is_string("synthetic: row 2, column 'x2': 1e+308 makes the column's standard deviation "
            "overflow; rescale the column or set standardize = no",
            infb_error_message(), "message names the source, the row, the column and the value");
  d->X[3] = 1e150;
  ok(infb_dataset_moments(d, mean, sd) == GSL_SUCCESS && isfinite(sd[0]) && isfinite(sd[1]) &&
         sd[0] > 1e149,
     "values of 1e150 (squares 1e300) give finite moments");
  /* Two values of 1.5e308 overflow the sum itself: the mean is +inf.  The largest value
   * is named, by its line when the rows carry one. */
  const double M[] = {1.5e308, 1, 1.5e308, 2, -1, 3};
  memcpy(d->X, M, sizeof M);
  d->line = malloc(3 * sizeof *d->line);
  d->line[0] = 4;
  d->line[1] = 7;
  d->line[2] = 9;
  infb_dataset_set_source(d, "data/big.csv");
  infb_error_clear();
  ok(infb_dataset_moments(d, mean, sd) == INFB_EDATA, "a mean of +inf fails with INFB_EDATA");
  is_string("data/big.csv: line 4, column 'x1': 1.5e+308 makes the column's mean overflow; "
            "rescale the column or set standardize = no",
            infb_error_message(), "message names the line of the first largest value");
  infb_dataset_free(d);

  d = infb_dataset_alloc(0, 2, 0);
  ok(infb_dataset_moments(d, mean, sd) == INFB_EDATA, "moments of 0 rows fail with INFB_EDATA");
  is_string("synthetic: no rows to compute feature moments from", infb_error_message(),
            "message for 0 rows");
  infb_dataset_free(d);
}

int
main(void)
{
  plan(11 + 7 + 21 + 17 + 1);
  test_alloc();
  test_rows();
  test_split();
  test_moments();
  infb_dataset_free(NULL);
  ok(1, "infb_dataset_free(NULL) is a no-op (did not crash)");
  return test_done();
}
