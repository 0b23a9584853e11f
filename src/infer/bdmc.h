/* BDMC, the bidirectional Monte Carlo sandwich (Grosse, Ghahramani & Adams 2015;
 * MATH.md §8), on data simulated from a trained VAE: for N points z*_i ~ N(0, I) (stream
 * ("bdmc/z", first_index + i)), x_i ~ Bernoulli(σ(decoder(z*_i))) (stream ("bdmc/x",
 * first_index + i)), z*_i is an exact posterior sample of p(z|x_i), so at each number of
 * temperatures T of a list, forward AIS from the prior is a stochastic lower bound of
 * ln p(x_i) and reverse AIS from z*_i an upper bound (infer/ais.h, with the same schedule,
 * leapfrog, chains and frozen pilot step sizes); their difference, the BDMC gap, bounds
 * the error of forward AIS at that setting on data like these.  Beside them, IWAE-k of the
 * encoder on the same points (stream ("bdmc/iwae", first_index + i)). */
#ifndef INFB_INFER_BDMC_H
#define INFB_INFER_BDMC_H

#include <stddef.h>
#include <stdint.h>
#include "infer/ais.h"

struct infb_vae_f32;

typedef struct infb_bdmc_options {
  infb_ais_options ais;   /* chains, leapfrog, schedule, steps (its temperatures are
                             replaced by each of temps); init must be PRIOR and adapt
                             PILOT or FIXED (GSL_EINVAL) */
  size_t points;          /* N simulated points (≥ 1) */
  const size_t *temps;    /* the temperature counts, ntemps of them (each ≥ 2) */
  size_t ntemps;
  size_t iwae_k;          /* importance samples of the encoder's IWAE (≥ 1; 0: none) */
  size_t first_index;     /* the points' stream index offset */
  uint64_t seed;          /* master seed */
  /* Going on from an interrupted run: temperature settings [0, first_temp) are done
   * (their rows of the outputs are the caller's and left alone); after each setting,
   * save (may be NULL) is called with the settings done; nonzero stops with it. */
  size_t first_temp;
  int (*save)(void *ctx, size_t temps_done);
  void *save_ctx;
  /* Progress (may be NULL): points done of N within setting `temp`; nonzero stops. */
  int (*progress)(void *ctx, size_t temp, size_t done, size_t total);
  void *progress_ctx;
} infb_bdmc_options;

/* BDMC on v (its parameters read, not changed; its parts and run threads are used).
 * X (N×D floats, may be NULL) receives the simulated points; for setting j and point i,
 * lower/upper[j·N + i] the forward and reverse AIS estimates with their delta-method
 * errors lower_se/upper_se (NAN with a non-finite status), and iwae/iwae_se[i] the
 * encoder's IWAE-k (NAN when iwae_k is 0).  Returns a status (GSL_EINVAL for invalid
 * options, GSL_ENOMEM, the AIS's and callbacks' statuses). */
int infb_bdmc_vae(struct infb_vae_f32 *v, const infb_bdmc_options *o, float *X, double *lower,
                  double *lower_se, double *upper, double *upper_se, double *iwae,
                  double *iwae_se);

#endif
