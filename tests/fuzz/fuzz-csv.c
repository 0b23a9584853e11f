/* Fuzz target: the CSV reader (data/csv.h) from memory, then what the runners do with
 * its rows: the feature moments of standardize = yes, standardisation and a random split.
 * Input: one byte choosing the target and feature columns (below), then the file. */
#include <config.h>
#include "fuzz/fuzz.h"
#include "data/csv.h"
#include "data/dataset.h"

#include <math.h>
#include <stdlib.h>
#include <gsl/gsl_rng.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz_init();
  if (size < 1)
    return 0;
  /* Column choices: no target, all features; target y; target y and features x, a;
   * features b, a (no target). */
  static char x[] = "x", a[] = "a", b[] = "b";
  static char *xa[] = {x, a, NULL}, *ba[] = {b, a, NULL};
  const char *target = NULL;
  char *const *features = NULL;
  switch (data[0] & 3u) {
  case 1:
    target = "y";
    break;
  case 2:
    target = "y";
    features = xa;
    break;
  case 3:
    features = ba;
    break;
  default:
    break;
  }
  FILE *f = fuzz_memstream(data + 1, size - 1);
  infb_dataset *d = infb_csv_read_stream(f, "fuzz.csv", target, features);
  fclose(f);
  if (!d)
    return 0;
  /* The reader's promises: every cell finite, a line per row after the header. */
  for (size_t i = 0; i < d->n; i++) {
    if (!d->line || d->line[i] < 2 || (i > 0 && d->line[i] <= d->line[i - 1]))
      abort();
    for (size_t j = 0; j < d->p; j++)
      if (!isfinite(d->X[i * d->p + j]))
        abort();
    if (d->y && !isfinite(d->y[i]))
      abort();
  }
  double *mean = malloc(d->p * sizeof *mean), *sd = malloc(d->p * sizeof *sd);
  if (infb_dataset_moments(d, mean, sd) == 0) {
    for (size_t j = 0; j < d->p; j++)
      if (!isfinite(mean[j]) || !(sd[j] > 0.0) || !isfinite(sd[j]))
        abort(); /* standardize = yes must never divide by 0 or inf */
    infb_dataset_standardize(d, mean, sd);
  }
  free(mean);
  free(sd);
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  infb_dataset *train = NULL, *test = NULL;
  if (r && infb_dataset_split(d, 0.25, r, &train, &test) == 0 &&
      train->n + test->n != d->n)
    abort();
  infb_dataset_free(train);
  infb_dataset_free(test);
  gsl_rng_free(r);
  infb_dataset_free(d);
  return 0;
}
