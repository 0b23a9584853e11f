/* The linear-Gaussian gap report's per-point Monte Carlo in groups (see lggroups.h). */
#include <config.h>
#include "infer/lggroups.h"
#include "core/bytes.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The model as a q* decoder callback. */
static int
lg_decoder(void *self, size_t R, const double *X, const size_t *xrow, const double *Z,
           double *logp, double *G)
{
  return infb_lingauss_decoder((const infb_lingauss *)self, R, X, xrow, Z, logp, G);
}

int
infb_lg_groups_run(void *self, size_t g, void *res, size_t *len)
{
  infb_lg_groups *w = self;
  const size_t D = w->set.D, K = w->set.K, G = w->set.G;
  if (g >= w->set.ngroups)
    return INFB_ERROR(GSL_EINVAL, "gap report: group %zu of %zu", g, w->set.ngroups);
  const size_t a = g * G, m = w->set.n - a < G ? w->set.n - a : G;
  double *out = res;
  *len = INFB_LG_GROUPS_PER_POINT * m * sizeof *out;
  for (size_t i = 0; i < INFB_LG_GROUPS_PER_POINT * m; i++)
    out[i] = NAN;
  infb_decoder dec = {.D = D, .K = K, .fn = lg_decoder, .self = (void *)w->m};
  int st = GSL_SUCCESS;
  if (w->set.q_mc)
    st = infb_qstar_elbo_mc(&dec, m, w->X + a * D, w->EMU + a * K, w->ELV + a * K,
                            w->set.q_samples, w->set.qstar.seed, "evaluate/q",
                            w->set.first_index + a, out, out + m);
  if (st || !w->set.numeric)
    return st;
  double *mu = infb_malloc(m * K, sizeof *mu), *lv = infb_malloc(m * K, sizeof *lv);
  infb_qstar_point *qp = infb_calloc(m, sizeof *qp);
  if (!mu || !lv || !qp)
    st = GSL_ENOMEM;
  for (size_t i = 0; !st && i < m * K; i++) {
    mu[i] = w->set.init_given ? w->EMU[a * K + i] : 0.0;
    lv[i] = w->set.init_given ? w->ELV[a * K + i] : 0.0;
  }
  infb_qstar_options qo = w->set.qstar;
  qo.init_given = w->set.init_given;
  qo.progress = NULL;
  if (!st)
    st = infb_qstar_optimize(&dec, &qo, m, w->X + a * D, w->set.first_index + a, mu, lv, qp);
  for (size_t i = 0; !st && i < m; i++) {
    out[2 * m + i] = qp[i].elbo;
    out[3 * m + i] = qp[i].elbo_mc_se;
    out[4 * m + i] = (double)qp[i].steps;
    out[5 * m + i] = (double)qp[i].stop;
  }
  free(mu);
  free(lv);
  free(qp);
  return st;
}

int
infb_lg_groups_context(void *self, void **out, size_t *len)
{
  infb_lg_groups *w = self;
  const size_t D = w->set.D, K = w->set.K, n = w->set.n;
  infb_lg_groups_settings set = w->set;
  set.qstar.progress = NULL;
  set.qstar.progress_ctx = NULL;
  const int q = w->EMU && w->ELV;
  size_t total = sizeof set + (D * K + 2 * D + n * D + (q ? 2 * n * K : 0)) * sizeof(double) +
                 sizeof(int);
  char *buf = infb_malloc(total, 1);
  if (!buf)
    return GSL_ENOMEM;
  size_t at = 0;
  infb_bytes_put(buf, &at, &set, sizeof set);
  infb_bytes_put(buf, &at, &q, sizeof q);
  for (size_t d = 0; d < D; d++)
    for (size_t k = 0; k < K; k++) {
      double v = gsl_matrix_get(w->m->W, d, k);
      infb_bytes_put(buf, &at, &v, sizeof v);
    }
  for (size_t d = 0; d < D; d++) {
    double v[2] = {gsl_vector_get(w->m->b, d), gsl_vector_get(w->m->psi, d)};
    infb_bytes_put(buf, &at, v, sizeof v);
  }
  infb_bytes_put(buf, &at, w->X, n * D * sizeof *w->X);
  if (q) {
    infb_bytes_put(buf, &at, w->EMU, n * K * sizeof *w->EMU);
    infb_bytes_put(buf, &at, w->ELV, n * K * sizeof *w->ELV);
  }
  *out = buf;
  *len = total;
  return GSL_SUCCESS;
}

static void
serve_teardown(void *self)
{
  infb_lg_groups *w = self;
  if (!w)
    return;
  infb_lingauss_free((infb_lingauss *)w->m);
  free((void *)w->X);
  free((void *)w->EMU);
  free((void *)w->ELV);
  free(w);
}

/* Whether settings s (and q: the encoder's q sent) received in a context of clen bytes
 * describe a job: a model's dimensions, groups of G points, the q its groups read, and
 * exactly clen bytes of context.  Every size is checked, overflow-safe, before anything
 * is allocated from it.  Returns a status (GSL_EINVAL, GSL_EBADLEN) with a message. */
static int
check_settings(const infb_lg_groups_settings *s, int q, size_t clen)
{
  const size_t D = s->D, K = s->K, n = s->n, G = s->G;
  if (K == 0 || K >= D)
    return INFB_ERROR(GSL_EINVAL, "gap report: a model of K = %zu of D = %zu dimensions", K, D);
  if (G == 0 || s->ngroups != n / G + (n % G != 0))
    return INFB_ERROR(GSL_EINVAL, "gap report: %zu groups of %zu of %zu points", s->ngroups, G,
                      n);
  if ((s->q_mc || s->init_given) && !q)
    return INFB_ERROR(GSL_EINVAL, "gap report: L[q] and q*'s start need the encoder's q, "
                                  "not in the context");
  /* The context: the settings, q, W (D×K), b and Ψ (D each), X (n×D), EMU, ELV (n×K). */
  size_t want = infb_mul_add(D, K, infb_mul_add(2, D, infb_mul_add(n, D, 0)));
  want = q ? infb_mul_add(2, infb_mul_add(n, K, 0), want) : want;
  want = infb_mul_add(want, sizeof(double), sizeof *s + sizeof q);
  if (want != clen)
    return INFB_ERROR(GSL_EBADLEN,
                      "gap report: a context of %zu bytes, its settings describe %zu", clen, want);
  return GSL_SUCCESS;
}

static int
serve_setup(const void *ctx, size_t clen, void **self)
{
  infb_lg_groups_settings set;
  int q = 0;
  if (clen < sizeof set + sizeof q)
    return INFB_ERROR(GSL_EBADLEN, "gap report: a context of %zu bytes, shorter than its "
                                   "settings (%zu)", clen, sizeof set + sizeof q);
  memcpy(&set, ctx, sizeof set);
  memcpy(&q, (const char *)ctx + sizeof set, sizeof q);
  int st = check_settings(&set, q, clen);
  if (st)
    return st;
  set.qstar.progress = NULL; /* another process's pointers: nothing here */
  set.qstar.progress_ctx = NULL;
  infb_lg_groups *w = infb_calloc(1, sizeof *w);
  if (!w)
    return GSL_ENOMEM;
  w->owned = 1;
  w->set = set;
  const size_t D = set.D, K = set.K, n = set.n;
  infb_lingauss *m = infb_lingauss_alloc(D, K, set.ppca);
  double *X = infb_malloc(n * D > 0 ? n * D : 1, sizeof *X);
  double *EMU = q ? infb_malloc(n * K > 0 ? n * K : 1, sizeof *EMU) : NULL;
  double *ELV = q ? infb_malloc(n * K > 0 ? n * K : 1, sizeof *ELV) : NULL;
  w->m = m;
  w->X = X;
  w->EMU = EMU;
  w->ELV = ELV;
  if (!m || !X || (q && (!EMU || !ELV))) {
    serve_teardown(w);
    return GSL_ENOMEM;
  }
  size_t at = sizeof set + sizeof q;
  for (size_t d = 0; d < D; d++)
    for (size_t k = 0; k < K; k++) {
      double v;
      infb_bytes_take(ctx, &at, &v, sizeof v);
      gsl_matrix_set(m->W, d, k, v);
    }
  for (size_t d = 0; d < D; d++) {
    double v[2];
    infb_bytes_take(ctx, &at, v, sizeof v);
    gsl_vector_set(m->b, d, v[0]);
    gsl_vector_set(m->psi, d, v[1]);
  }
  infb_bytes_take(ctx, &at, X, n * D * sizeof *X);
  if (q) {
    infb_bytes_take(ctx, &at, EMU, n * K * sizeof *EMU);
    infb_bytes_take(ctx, &at, ELV, n * K * sizeof *ELV);
  }
  *self = w;
  return GSL_SUCCESS;
}

const infb_par_kind infb_lg_groups_kind = {INFB_PAR_KIND_LG_GAP, serve_setup, infb_lg_groups_run,
                                           serve_teardown};
