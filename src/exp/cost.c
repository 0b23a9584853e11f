/* The cost of an experiment's evaluation stages (see cost.h). */
#include <config.h>
#include "exp/cost.h"
#include "core/error.h"
#include "core/strparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double
infb_cost_decoder_flop(size_t K, const size_t *widths, size_t nwidths, size_t D)
{
  double f = 0.0;
  size_t in = K;
  for (size_t l = 0; l <= nwidths; l++) {
    size_t out = l < nwidths ? widths[l] : D;
    f += 2.0 * (double)in * (double)out;
    in = out;
  }
  return f;
}

/* The number of temperatures summed over [bdmc] temperatures. */
static int
temps_sum(const infb_config *c, double *sum)
{
  size_t k = 0;
  char **items = infb_strlist_split(infb_config_get(c, "bdmc", "temperatures"), &k);
  if (!items)
    return GSL_ENOMEM;
  *sum = 0.0;
  int st = GSL_SUCCESS;
  for (size_t i = 0; !st && i < k; i++) {
    long t;
    if (infb_parse_long(items[i], &t, NULL) || t < 2)
      st = INFB_ERROR(INFB_ECONFIG, "[bdmc] temperatures: '%s' is not a count", items[i]);
    else
      *sum += (double)t;
  }
  infb_strlist_free(items);
  return st;
}

int
infb_cost_estimate(const infb_config *c, size_t D, infb_cost_stage *out, size_t *n)
{
  *n = 0;
  if (strcmp(infb_config_get(c, "model", "type"), "vae") != 0)
    return GSL_SUCCESS;
  size_t nw = 0, widths[8];
  char **items = infb_strlist_split(infb_config_get(c, "model", "decoder_hidden"), &nw);
  if (!items)
    return GSL_ENOMEM;
  int st = nw < 1 || nw > 8 ? INFB_ERROR(INFB_ECONFIG, "[model] decoder_hidden: 1 to 8 widths")
                            : GSL_SUCCESS;
  for (size_t i = 0; !st && i < nw; i++) {
    long w;
    if (infb_parse_long(items[i], &w, NULL) || w < 1)
      st = INFB_ERROR(INFB_ECONFIG, "[model] decoder_hidden: '%s' is not a width", items[i]);
    else
      widths[i] = (size_t)w;
  }
  infb_strlist_free(items);
  double bdmc_temps = 0.0;
  if (!st && infb_config_bool(c, "bdmc", "run"))
    st = temps_sum(c, &bdmc_temps);
  if (st)
    return st;
  const size_t K = (size_t)infb_config_int(c, "model", "latent");
  const double row = D ? infb_cost_decoder_flop(K, widths, nw, D) : NAN;
  char *const *ests = infb_config_estimators(c);
  size_t nest = 0;
  while (ests[nest])
    nest++;
  const size_t splits = strcmp(infb_config_get(c, "evaluate", "split"), "both") == 0 ? 2 : 1;
  const size_t reports = nest * splits;
  const double points = (double)infb_config_int(c, "evaluate", "points");
  /* L[q]: samples per point, forward. */
  const double lq = points * (double)infb_config_int(c, "evaluate", "samples");
  out[(*n)++] = (infb_cost_stage){"L[q]", "forward", reports, lq, lq, lq * row, lq * row};
  /* q*: S samples per step with the gradient, between the stopping rule's fewest steps
   * and max_steps, then eval_samples forward. */
  const double S = (double)infb_config_int(c, "qstar", "samples");
  const double every = (double)infb_config_int(c, "qstar", "check_every");
  const double patience = (double)infb_config_int(c, "qstar", "patience");
  const double most = (double)infb_config_int(c, "qstar", "max_steps");
  const double fewest = fmin(most, every * (patience + 2.0));
  const double ev = points * (double)infb_config_int(c, "qstar", "eval_samples");
  const double qlo = points * S * fewest, qhi = points * S * most;
  out[(*n)++] = (infb_cost_stage){"q*", "forward + gradient", reports, qlo + ev, qhi + ev,
                                  2 * qlo * row + ev * row, 2 * qhi * row + ev * row};
  /* IWAE: k per point with each of the two proposals, forward. */
  const double iw = 2.0 * points * (double)infb_config_int(c, "evaluate", "iwae_k");
  out[(*n)++] = (infb_cost_stage){"IWAE", "forward", reports, iw, iw, iw * row, iw * row};
  /* AIS: per point, (chains + pilot chains) × temperatures × leapfrog steps, each a row
   * with its gradient. */
  const double chains = (double)infb_config_int(c, "ais", "chains");
  const double T = (double)infb_config_int(c, "ais", "temperatures");
  const double L = (double)infb_config_int(c, "ais", "leapfrog");
  const int pilot = strcmp(infb_config_get(c, "ais", "adapt"), "pilot") == 0;
  const double pilots = pilot ? (double)infb_config_int(c, "ais", "pilot_chains") : 0.0;
  if (infb_config_bool(c, "ais", "run")) {
    double ap = (double)infb_config_int(c, "ais", "points");
    ap = ap > 0 && ap < points ? ap : points;
    const double a = ap * (chains + pilots) * T * L;
    out[(*n)++] = (infb_cost_stage){"AIS", "forward + gradient", reports, a, a, 2 * a * row,
                                    2 * a * row};
  }
  /* BDMC: per simulated point and setting, forward and reverse chains and the pilots. */
  if (infb_config_bool(c, "bdmc", "run")) {
    const double bp = (double)infb_config_int(c, "bdmc", "points");
    const double b = bp * (2.0 * chains + pilots) * bdmc_temps * L;
    out[(*n)++] = (infb_cost_stage){"BDMC", "forward + gradient", nest, b, b, 2 * b * row,
                                    2 * b * row};
  }
  return GSL_SUCCESS;
}
