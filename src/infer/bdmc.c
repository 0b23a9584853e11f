/* BDMC on a VAE (see bdmc.h). */
#include <config.h>
#include "infer/bdmc.h"
#include "core/error.h"
#include "core/rng.h"
#include "infer/gapeval.h"
#include "infer/vaegroups.h"
#include "par/sched.h"
#include "nn/vae.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>

/* The N simulated points: z* and x. */
static int
simulate(infb_vae_f32 *v, const infb_bdmc_options *o, size_t D, size_t K, size_t cap,
         double *Z, float *X)
{
  const size_t N = o->points;
  gsl_rng *r = infb_rng_sampler(o->seed, "bdmc/z", o->first_index);
  float *Zf = infb_malloc(cap * K, sizeof *Zf), *P = infb_malloc(cap * D, sizeof *P);
  int st = r && Zf && P ? GSL_SUCCESS : GSL_ENOMEM;
  for (size_t i = 0; !st && i < N; i++) {
    infb_rng_reseed(r, o->seed, "bdmc/z", o->first_index + i);
    for (size_t k = 0; k < K; k++)
      Z[i * K + k] = gsl_ran_gaussian_ziggurat(r, 1.0);
  }
  for (size_t i0 = 0; !st && i0 < N; i0 += cap) {
    size_t m = N - i0 < cap ? N - i0 : cap;
    for (size_t j = 0; j < m * K; j++)
      Zf[j] = (float)Z[i0 * K + j];
    st = infb_vae_decode_f32(v, m, Zf, P);
    for (size_t j = 0; !st && j < m; j++) {
      infb_rng_reseed(r, o->seed, "bdmc/x", o->first_index + i0 + j);
      for (size_t d = 0; d < D; d++)
        X[(i0 + j) * D + d] = gsl_rng_uniform(r) < P[j * D + d] ? 1.0f : 0.0f;
    }
  }
  if (r)
    gsl_rng_free(r);
  free(Zf);
  free(P);
  return st;
}

/* One temperature setting as a job: groups committed into that setting's rows. */
typedef struct bdmc_job {
  infb_vae_groups *w;
  const infb_bdmc_options *o;
  size_t temp;
  double *lower, *lower_se, *upper, *upper_se; /* the setting's rows (N each) */
  size_t done;                                 /* points committed */
} bdmc_job;

static int
bdmc_commit(void *self, size_t g, const void *res, size_t len)
{
  bdmc_job *b = self;
  const size_t a = b->w->start[g], m = b->w->start[g + 1] - a;
  if (len != 4 * m * sizeof(double))
    return INFB_ERROR(GSL_EBADLEN, "BDMC: a group's result of %zu bytes, not %zu", len,
                      4 * m * sizeof(double));
  double *v = infb_malloc(4 * m, sizeof *v);
  if (!v)
    return GSL_ENOMEM;
  memcpy(v, res, len);
  memcpy(b->lower + a, v, m * sizeof *v);
  memcpy(b->lower_se + a, v + m, m * sizeof *v);
  memcpy(b->upper + a, v + 2 * m, m * sizeof *v);
  memcpy(b->upper_se + a, v + 3 * m, m * sizeof *v);
  free(v);
  b->done += m;
  if (b->o->progress && b->o->progress(b->o->progress_ctx, b->temp, b->done, b->o->points))
    return INFB_ERROR(INFB_EINTR, "interrupted during BDMC");
  return GSL_SUCCESS;
}

int
infb_bdmc_vae(struct infb_vae_f32 *vtrain, const infb_bdmc_options *o, float *Xout,
              double *lower, double *lower_se, double *upper, double *upper_se, double *iwae,
              double *iwae_se)
{
  const infb_vae_arch *arch = infb_vae_arch_f32(vtrain);
  const size_t D = arch->D, K = arch->K, N = o->points;
  if (N == 0 || o->ntemps == 0 || !o->temps || o->ais.init != INFB_AIS_PRIOR ||
      o->ais.adapt == INFB_AIS_ONLINE)
    return INFB_ERROR(GSL_EINVAL, "BDMC: needs points, temperatures, chains from the prior "
                                  "and pilot or fixed step sizes");
  for (size_t j = 0; j < o->ntemps; j++)
    if (o->temps[j] < 2)
      return INFB_ERROR(GSL_EINVAL, "BDMC: %zu temperatures (at least 2)", o->temps[j]);
  /* An evaluation copy of the network with room for a point's chains. */
  size_t C = o->ais.chains > o->ais.pilot_chains ? o->ais.chains : o->ais.pilot_chains;
  size_t rows = C * (o->ais.tile_points ? o->ais.tile_points : 1);
  size_t B = 100, S = (rows + B - 1) / B > 64 ? (rows + B - 1) / B : 64;
  infb_vae_f32 *v = infb_vae_alloc_f32(arch, B, S);
  int st = v ? GSL_SUCCESS : GSL_ENOMEM;
  if (!st && (infb_vae_set_parts_f32(v, infb_vae_parts_f32(vtrain)) ||
              infb_vae_set_run_threads_f32(v, infb_vae_run_threads_f32(vtrain))))
    st = GSL_ENOMEM;
  size_t np = 0, np2 = 0;
  float *src = infb_vae_params_f32(vtrain, &np), *dst = v ? infb_vae_params_f32(v, &np2) : NULL;
  if (!st && np != np2)
    st = INFB_ERROR(GSL_EBADLEN, "BDMC: the network copy differs");
  if (!st)
    memcpy(dst, src, np * sizeof *dst);
  infb_vae_decoder *dec = st ? NULL : infb_vae_decoder_alloc(v, B * S);
  double *Z = infb_malloc(N * K, sizeof *Z), *Xd = infb_malloc(N * D, sizeof *Xd);
  float *X = Xout ? Xout : infb_malloc(N * D, sizeof *X);
  gsl_rng **rngs = infb_calloc(N, sizeof *rngs);
  if (!st && (!dec || !Z || !Xd || !X || !rngs))
    st = GSL_ENOMEM;
  if (!st)
    st = simulate(v, o, D, K, B, Z, X);
  for (size_t i = 0; !st && i < N * D; i++)
    Xd[i] = X[i];
  /* The encoder's IWAE on the same points. */
  for (size_t i = 0; !st && o->iwae_k && i < N; i++)
    if (!(rngs[i] = infb_rng_sampler(o->seed, "bdmc/iwae", o->first_index + i)))
      st = GSL_ENOMEM;
  if (!st && o->iwae_k)
    st = infb_vae_iwae_f32(v, N, X, NULL, NULL, o->iwae_k, rngs, iwae, iwae_se);
  for (size_t i = 0; !st && !o->iwae_k && i < N; i++)
    iwae[i] = iwae_se[i] = NAN;
  /* Each setting a job of groups of row tiles, on every rank there is (par/sched.h,
   * infer/vaegroups.h): a point's results do not depend on the groups. */
  infb_vae_groups w;
  memset(&w, 0, sizeof w);
  w.set.phase = INFB_VP_BDMC;
  w.set.arch = *arch;
  w.set.n = N;
  w.set.first_index = o->first_index;
  w.set.B = B;
  w.set.S = S;
  w.set.parts = v ? infb_vae_parts_f32(v) : 1;
  w.v = v;
  w.dec = dec;
  w.X = X;
  w.Xd = Xd;
  w.Z = Z;
  for (size_t j = o->first_temp; !st && j < o->ntemps; j++) {
    w.set.ais = o->ais;
    w.set.ais.temperatures = o->temps[j];
    w.set.ais.seed = o->seed;
    w.set.ais.progress = NULL;
    bdmc_job bj = {&w, o, j, lower + j * N, lower_se + j * N, upper + j * N, upper_se + j * N,
                   0};
    char what[96];
    snprintf(what, sizeof what, "BDMC, %zu temperatures", o->temps[j]);
    if (!(st = infb_vae_groups_cut(&w, 0, N, 0, infb_vae_run_threads_f32(v))) &&
        o->progress && o->progress(o->progress_ctx, j, 0, N))
      st = INFB_ERROR(INFB_EINTR, "interrupted during BDMC");
    if (!st) {
      infb_par_job job = {INFB_PAR_KIND_VAE_GAP, what, w.set.ngroups,
                          infb_vae_groups_result_max(&w), infb_vae_groups_context,
                          infb_vae_groups_run, &w, bdmc_commit, &bj};
      st = infb_par_job_run(&job);
    }
    if (!st && o->save)
      st = o->save(o->save_ctx, j + 1);
  }
  free(w.start);
  for (size_t i = 0; rngs && i < N; i++)
    if (rngs[i])
      gsl_rng_free(rngs[i]);
  free(rngs);
  infb_vae_decoder_free(dec);
  infb_vae_free_f32(v);
  free(Z);
  free(Xd);
  if (!Xout)
    free(X);
  return st;
}
