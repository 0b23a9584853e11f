/* The comparison table printed by `infbench run`, read back from results.json so the
 * screen and the file can never disagree. */
#include "config.h"
#include "cli/cli.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static double
num(const json_t *o, const char *key)
{
  const json_t *v = json_object_get(o, key);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

static void
cell(double v, const char *fmt)
{
  if (isfinite(v))
    printf(fmt, v);
  else
    printf("%12s", "-");
}

void
infb_cli_print_report(const json_t *root)
{
  const json_t *cfg = json_object_get(root, "config");
  const json_t *data = json_object_get(root, "data");
  const json_t *model = json_object_get(root, "model");
  const json_t *ests = json_object_get(root, "estimators");
  const json_t *order = json_object_get(root, "order");
  const char *hash = json_string_value(json_object_get(cfg, "hash"));
  printf("experiment %s (seed %lld, config sha256 %.12s)\n",
         json_string_value(json_object_get(cfg, "name")),
         (long long)json_integer_value(json_object_get(cfg, "seed")), hash ? hash : "?");
  const json_t *feats = json_object_get(data, "features");
  printf("data: %s, %lld training / %lld test rows, %zu feature%s, target %s%s\n",
         json_string_value(json_object_get(data, "source")),
         (long long)json_integer_value(json_object_get(data, "n_train")),
         (long long)json_integer_value(json_object_get(data, "n_test")), json_array_size(feats),
         json_array_size(feats) == 1 ? "" : "s",
         json_string_value(json_object_get(data, "target")),
         json_is_true(json_object_get(data, "standardized")) ? " (features standardised)" : "");
  printf("model: %s, intercept %s%s\n\n", json_string_value(json_object_get(model, "type")),
         json_is_true(json_object_get(model, "intercept")) ? "yes, prior " : "no",
         json_is_true(json_object_get(model, "intercept"))
             ? json_string_value(json_object_get(model, "intercept_prior"))
             : "");

  printf("%-14s %12s %12s %12s %12s %12s %8s %9s\n", "estimator", "train ll/obs", "test ll/obs",
         "log evidence", "lambda/alpha", "KL gap", "iters", "seconds");
  size_t n = json_array_size(order), nfail = 0;
  for (size_t k = 0; k < n; k++) {
    const char *name = json_string_value(json_array_get(order, k));
    const json_t *o = json_object_get(ests, name);
    if (!o)
      continue;
    const char *status = json_string_value(json_object_get(o, "status"));
    printf("%-14s ", name);
    if (!status || strcmp(status, "ok") != 0) {
      printf("FAILED (see below)\n");
      nfail++;
      continue;
    }
    double lam = num(o, "lambda");
    if (!isfinite(lam))
      lam = num(o, "alpha");
    cell(num(o, "train_loglik"), "%12.5f");
    putchar(' ');
    cell(num(o, "test_loglik"), "%12.5f");
    putchar(' ');
    cell(num(o, "log_evidence"), "%12.4f");
    putchar(' ');
    cell(lam, "%12.4g");
    putchar(' ');
    cell(num(o, "gap"), "%12.3g");
    printf(" %8lld %9.4f\n", (long long)json_integer_value(json_object_get(o, "iterations")),
           num(o, "seconds"));
  }
  if (nfail) {
    printf("\n");
    for (size_t k = 0; k < n; k++) {
      const char *name = json_string_value(json_array_get(order, k));
      const json_t *o = json_object_get(ests, name);
      const char *status = json_string_value(json_object_get(o, "status"));
      if (status && strcmp(status, "ok") != 0)
        printf("%s failed: %s\n", name, status);
    }
  }

  /* Weights in original units, one column per estimator, for modest p. */
  size_t p = json_array_size(feats);
  if (p == 0 || p > 12)
    return;
  /* Synthetic data: the true weights beside the estimates. */
  const json_t *truth = json_object_get(data, "true_weights");
  printf("\n%-20s", "weights");
  if (truth)
    printf(" %12s", "(truth)");
  for (size_t k = 0; k < n; k++)
    printf(" %12.12s", json_string_value(json_array_get(order, k)));
  printf("\n");
  for (size_t j = 0; j <= p; j++) {
    if (j < p)
      printf("%-20.20s", json_string_value(json_array_get(feats, j)));
    else
      printf("%-20s", "(intercept)");
    if (truth) {
      const json_t *v = j < p ? json_array_get(truth, j) : json_object_get(data, "true_intercept");
      putchar(' ');
      cell(json_is_number(v) ? json_number_value(v) : NAN, "%12.5g");
    }
    for (size_t k = 0; k < n; k++) {
      const json_t *o = json_object_get(ests, json_string_value(json_array_get(order, k)));
      const json_t *v = j < p ? json_array_get(json_object_get(o, "weights"), j)
                              : json_object_get(o, "intercept");
      putchar(' ');
      cell(json_is_number(v) ? json_number_value(v) : NAN, "%12.5g");
    }
    printf("\n");
  }
  for (size_t k = 0; k < n; k++) {
    const json_t *o = json_object_get(ests, json_string_value(json_array_get(order, k)));
    const char *note = json_string_value(json_object_get(o, "note"));
    if (note)
      printf("note (%s): %s\n", json_string_value(json_array_get(order, k)), note);
  }
}
