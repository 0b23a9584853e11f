/* The linear-Gaussian gap report's per-point Monte Carlo in groups (see lggroups.h). */
#include <config.h>
#include "infer/lggroups.h"
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

/* Append len bytes of p at *at in buf. */
static void
put(char *buf, size_t *at, const void *p, size_t len)
{
  if (len)
    memcpy(buf + *at, p, len);
  *at += len;
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
  put(buf, &at, &set, sizeof set);
  put(buf, &at, &q, sizeof q);
  for (size_t d = 0; d < D; d++)
    for (size_t k = 0; k < K; k++) {
      double v = gsl_matrix_get(w->m->W, d, k);
      put(buf, &at, &v, sizeof v);
    }
  for (size_t d = 0; d < D; d++) {
    double v[2] = {gsl_vector_get(w->m->b, d), gsl_vector_get(w->m->psi, d)};
    put(buf, &at, v, sizeof v);
  }
  put(buf, &at, w->X, n * D * sizeof *w->X);
  if (q) {
    put(buf, &at, w->EMU, n * K * sizeof *w->EMU);
    put(buf, &at, w->ELV, n * K * sizeof *w->ELV);
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

/* Take len bytes from ctx at *at into p; nonzero when they are not there. */
static int
take(const char *ctx, size_t clen, size_t *at, void *p, size_t len)
{
  if (len > clen - *at)
    return 1;
  if (len)
    memcpy(p, ctx + *at, len);
  *at += len;
  return 0;
}

static int
serve_setup(const void *ctx, size_t clen, void **self)
{
  infb_lg_groups *w = infb_calloc(1, sizeof *w);
  if (!w)
    return GSL_ENOMEM;
  w->owned = 1;
  size_t at = 0;
  int q = 0, st = GSL_SUCCESS;
  if (take(ctx, clen, &at, &w->set, sizeof w->set) || take(ctx, clen, &at, &q, sizeof q)) {
    free(w);
    return INFB_ERROR(GSL_EBADLEN, "gap report: a short context");
  }
  const size_t D = w->set.D, K = w->set.K, n = w->set.n;
  infb_lingauss *m = infb_lingauss_alloc(D, K, w->set.ppca);
  double *X = infb_malloc(n * D > 0 ? n * D : 1, sizeof *X);
  double *EMU = q ? infb_malloc(n * K, sizeof *EMU) : NULL;
  double *ELV = q ? infb_malloc(n * K, sizeof *ELV) : NULL;
  w->m = m;
  w->X = X;
  w->EMU = EMU;
  w->ELV = ELV;
  if (!m || !X || (q && (!EMU || !ELV)))
    st = GSL_ENOMEM;
  for (size_t d = 0; !st && d < D; d++)
    for (size_t k = 0; !st && k < K; k++) {
      double v;
      if (take(ctx, clen, &at, &v, sizeof v))
        st = GSL_EBADLEN;
      else
        gsl_matrix_set(m->W, d, k, v);
    }
  for (size_t d = 0; !st && d < D; d++) {
    double v[2];
    if (take(ctx, clen, &at, v, sizeof v))
      st = GSL_EBADLEN;
    else {
      gsl_vector_set(m->b, d, v[0]);
      gsl_vector_set(m->psi, d, v[1]);
    }
  }
  if (!st && (take(ctx, clen, &at, X, n * D * sizeof *X) ||
              (q && (take(ctx, clen, &at, EMU, n * K * sizeof *EMU) ||
                     take(ctx, clen, &at, ELV, n * K * sizeof *ELV)))))
    st = GSL_EBADLEN;
  if (st) {
    serve_teardown(w);
    return st == GSL_EBADLEN ? INFB_ERROR(st, "gap report: a short context") : st;
  }
  *self = w;
  return GSL_SUCCESS;
}

const infb_par_kind infb_lg_groups_kind = {INFB_PAR_KIND_LG_GAP, serve_setup, infb_lg_groups_run,
                                           serve_teardown};
