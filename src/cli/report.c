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

/* "mean ± se" of a {mean, se, n} entry, in a field of `width`. */
static void
stat_cell(const json_t *o, int width)
{
  double m = num(o, "mean"), se = num(o, "se");
  char buf[64];
  if (isfinite(m))
    snprintf(buf, sizeof buf, "%.3f ± %.3f", m, se);
  else
    snprintf(buf, sizeof buf, "-");
  /* '±' is two bytes in UTF-8 but one column. */
  printf(" %*s", width + (isfinite(m) ? 1 : 0), buf);
}

/* The gap table of a latent model: one line per estimator and split. */
static void
print_latent(const json_t *root)
{
  const json_t *ests = json_object_get(root, "estimators");
  const json_t *order = json_object_get(root, "order");
  const json_t *data = json_object_get(root, "data");
  const json_t *model = json_object_get(root, "model");
  printf("data: %s, %lld training / %lld test points, D = %lld%s\n",
         json_string_value(json_object_get(data, "source")),
         (long long)json_integer_value(json_object_get(data, "n_train")),
         (long long)json_integer_value(json_object_get(data, "n_test")),
         (long long)json_integer_value(json_object_get(data, "D")),
         json_is_true(json_object_get(data, "standardized")) ? " (standardised)" : "");
  int vae = strcmp(json_string_value(json_object_get(model, "type")), "vae") == 0;
  if (vae)
    printf("model: vae, K = %lld; ln p(x) by IWAE (the larger of the encoder's and q*'s "
           "proposals); nats per point, mean ± se over points\n",
           (long long)json_integer_value(json_object_get(model, "latent")));
  else
    printf("model: lingauss, K = %lld%s; ln p(x) exact; nats per point, mean ± se over points\n",
           (long long)json_integer_value(json_object_get(model, "latent")),
           json_is_true(json_object_get(model, "ppca")) ? ", PPCA" : ", factor analysis");
  const json_t *tg = json_object_get(data, "true_approximation_gap");
  if (json_is_number(tg))
    printf("true model: approximation gap %.4f\n", json_number_value(tg));
  printf("\n%-16s %-5s %18s %18s %18s %16s %16s %7s %8s\n", "estimator", "split", "ln p(x)",
         "L[q*]", "L[q]", "approx. gap", "amort. gap", "iters", "seconds");
  size_t n = json_array_size(order), nfail = 0;
  static const char *splits[] = {"train", "test"};
  for (size_t k = 0; k < n; k++) {
    const char *name = json_string_value(json_array_get(order, k));
    const json_t *o = json_object_get(ests, name);
    const char *status = json_string_value(json_object_get(o, "status"));
    if (!status || strcmp(status, "ok") != 0) {
      printf("%-16s FAILED (see below)\n", name);
      nfail++;
      continue;
    }
    const json_t *gaps = json_object_get(o, "gaps");
    if (!gaps) {
      printf("%-16s %-5s reconstruction MSE %.5g (train), %.5g (test)", name, "-",
             num(o, "recon_mse_train"), num(o, "recon_mse_test"));
      const json_t *ang = json_object_get(o, "principal_angles");
      if (ang) {
        printf("; principal angles (deg):");
        for (size_t j = 0; j < json_array_size(ang); j++)
          printf(" %.3g", json_number_value(json_array_get(ang, j)) * 57.29577951308232);
      }
      printf("\n");
      continue;
    }
    for (int s = 0; s < 2; s++) {
      const json_t *g = json_object_get(gaps, splits[s]);
      if (!g)
        continue;
      const json_t *quad = json_object_get(g, "log_px_quadrature");
      printf("%-16s %-5s", name, splits[s]);
      stat_cell(json_object_get(g, "log_px"), 18);
      stat_cell(json_object_get(g, "elbo_qstar"), 18);
      stat_cell(json_object_get(g, "elbo_q"), 18);
      stat_cell(json_object_get(g, "approximation_gap"), 16);
      stat_cell(json_object_get(g, "amortization_gap"), 16);
      printf(" %7lld %8.1f\n", (long long)json_integer_value(json_object_get(o, "iterations")),
             num(o, "seconds"));
      if (quad) {
        printf("%-16s %-5s", "", "");
        stat_cell(quad, 18);
        printf("  ← ln p(x) by quadrature (K = 2)\n");
      }
    }
  }
  if (nfail) {
    printf("\n");
    for (size_t k = 0; k < n; k++) {
      const char *name = json_string_value(json_array_get(order, k));
      const char *status = json_string_value(json_object_get(json_object_get(ests, name), "status"));
      if (status && strcmp(status, "ok") != 0)
        printf("%s failed: %s\n", name, status);
    }
  }
  for (size_t k = 0; k < n; k++) {
    const char *name = json_string_value(json_array_get(order, k));
    const json_t *o = json_object_get(ests, name);
    double a = num(o, "approximation_gap_analytic");
    const char *note = json_string_value(json_object_get(o, "note"));
    if (isfinite(a))
      printf("%s: analytic approximation gap %.4f", name, a);
    if (note)
      printf("%s%s", isfinite(a) ? "; " : "", note);
    if (isfinite(a) || note)
      printf("\n");
  }
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
  const char *type = json_string_value(json_object_get(model, "type"));
  if (type && (strcmp(type, "lingauss") == 0 || strcmp(type, "vae") == 0)) {
    print_latent(root);
    return;
  }
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
