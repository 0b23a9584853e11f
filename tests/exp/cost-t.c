/* Tests of src/exp/cost: the evaluation stages' decoder rows and FLOP from a config,
 * against counts worked out by hand. */
#include "config.h"
#include "tap/basic.h"
#include "core/error.h"
#include "exp/cost.h"

#include <math.h>
#include <string.h>

#define MSG 1024

/* The VAE fixture with the given --set assignments, resolved (NULL on failure). */
static infb_config *
vae_config(char **sets, size_t n)
{
  char msg[MSG] = "";
  infb_config *c = infb_config_alloc();
  int st = c ? infb_config_read(c, path_fixture("run-vae.ini"), msg, MSG) : GSL_ENOMEM;
  for (size_t i = 0; !st && i < n; i++)
    st = infb_config_set(c, sets[i], msg, MSG);
  if (!st)
    st = infb_config_resolve(c, msg, MSG);
  if (st) {
    diag("run-vae.ini: %s", msg);
    infb_config_free(c);
    return NULL;
  }
  return c;
}

static const infb_cost_stage *
stage(const infb_cost_stage *s, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp(s[i].name, name) == 0)
      return &s[i];
  return NULL;
}

int
main(void)
{
  plan(12);
  /* K = 2 → 3 → D = 4: 2·(2·3 + 3·4) = 36 FLOP a row forward. */
  size_t w3[] = {3}, w23[] = {20, 30};
  is_double_abs(36.0, infb_cost_decoder_flop(2, w3, 1, 4), 0.0, "decoder FLOP: 2 → 3 → 4");
  is_double_abs(2.0 * (5 * 20 + 20 * 30 + 30 * 7), infb_cost_decoder_flop(5, w23, 2, 7), 0.0,
            "decoder FLOP: 5 → 20 → 30 → 7");

  /* run-vae.ini: K = 2, decoder_hidden 16, one estimator, both splits, 5 points, 50
   * samples, IWAE 100, q* samples 4, check_every 20, patience 2, max_steps 100,
   * eval_samples 50; with AIS 4 chains, 2 pilots, 20 temperatures, 3 leapfrog steps on 3
   * points, and BDMC on 6 points at 10 and 30 temperatures. */
  char *sets[] = {"ais.chains=4", "ais.pilot_chains=2", "ais.temperatures=20", "ais.leapfrog=3",
                  "ais.points=3", "bdmc.points=6", "bdmc.temperatures=10, 30"};
  infb_config *c = vae_config(sets, sizeof sets / sizeof *sets);
  infb_cost_stage st[INFB_COST_MAX_STAGES];
  size_t n = 0;
  ok(c && infb_cost_estimate(c, 784, st, &n) == GSL_SUCCESS && n == 5,
     "five stages: L[q], q*, IWAE, AIS, BDMC (%zu)", n);
  size_t w16[] = {16};
  const double row = infb_cost_decoder_flop(2, w16, 1, 784);
  const infb_cost_stage *lq = stage(st, n, "L[q]"), *qs = stage(st, n, "q*");
  const infb_cost_stage *iw = stage(st, n, "IWAE"), *ais = stage(st, n, "AIS");
  const infb_cost_stage *bd = stage(st, n, "BDMC");
  ok(lq && lq->reports == 2 && lq->rows_lo == 5.0 * 50 && lq->flop_hi == 5.0 * 50 * row,
     "L[q]: 2 reports of 5 × 50 forward rows");
  /* q*: 5 points × 4 samples × [min(100, 20·(2 + 2)) = 80, 100] steps, + 5 × 50 eval rows. */
  ok(qs && qs->rows_lo == 5.0 * 4 * 80 + 250 && qs->rows_hi == 5.0 * 4 * 100 + 250,
     "q*: rows between the stopping rule's fewest steps and max_steps");
  ok(qs && qs->flop_lo == 2 * 5.0 * 4 * 80 * row + 250 * row,
     "q*: the gradient doubles the optimisation's FLOP, not the evaluation's");
  ok(iw && iw->rows_lo == 2.0 * 5 * 100 && iw->flop_lo == 2.0 * 5 * 100 * row,
     "IWAE: two proposals × 5 points × 100 samples, forward");
  ok(ais && ais->rows_lo == 3.0 * (4 + 2) * 20 * 3 && ais->flop_lo == 2 * 3.0 * 6 * 20 * 3 * row,
     "AIS: 3 points × (4 chains + 2 pilots) × 20 temperatures × 3 leapfrog steps, with gradient");
  ok(bd && bd->reports == 1 && bd->rows_lo == 6.0 * (2 * 4 + 2) * (10 + 30) * 3,
     "BDMC: 6 points × (forward + reverse chains + pilots) × Σ temperatures × leapfrog");
  ok(c && infb_cost_estimate(c, 0, st, &n) == GSL_SUCCESS && isnan(st[0].flop_lo) &&
         st[0].rows_lo == 250,
     "an unknown D: rows, but FLOP NAN");
  infb_config_free(c);

  /* Without [ais] and [bdmc]: three stages; online step sizes have no pilots. */
  c = vae_config(NULL, 0);
  ok(c && infb_cost_estimate(c, 784, st, &n) == GSL_SUCCESS && n == 3,
     "no [ais], no [bdmc]: three stages (%zu)", n);
  infb_config_free(c);
  char *online[] = {"ais.chains=4", "ais.adapt=online", "ais.temperatures=20", "ais.leapfrog=3"};
  c = vae_config(online, 4);
  ok(c && infb_cost_estimate(c, 784, st, &n) == GSL_SUCCESS && n == 4 &&
         st[3].rows_lo == 5.0 * 4 * 20 * 3,
     "adapt = online: no pilot chains in AIS's rows");
  infb_config_free(c);
  return 0;
}
