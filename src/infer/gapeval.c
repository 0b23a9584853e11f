/* The gap report (see gapeval.h): exact for the linear-Gaussian model, with the numeric
 * q* of infer/qstar.c beside the closed form. */
#include <config.h>
#include "infer/gapeval.h"
#include "core/clock.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void
infb_stat_of(const double *v, const double *mc, size_t n, infb_stat *out)
{
  out->n = n;
  out->mean = out->se = NAN;
  out->mc_se = NAN;
  if (n == 0)
    return;
  double m = 0.0;
  for (size_t i = 0; i < n; i++)
    m += v[i];
  m /= (double)n;
  double s2 = 0.0;
  for (size_t i = 0; i < n; i++)
    s2 += (v[i] - m) * (v[i] - m);
  out->mean = m;
  out->se = n > 1 ? sqrt(s2 / (double)(n - 1) / (double)n) : 0.0;
  if (mc) {
    double q = 0.0;
    for (size_t i = 0; i < n; i++)
      q += mc[i] * mc[i];
    out->mc_se = sqrt(q) / (double)n;
  }
}

void
infb_gap_report_free(infb_gap_report *rep)
{
  if (!rep)
    return;
  free(rep->pts);
  rep->pts = NULL;
  rep->n = 0;
}

/* The lingauss decoder as a q* callback. */
static int
lingauss_decoder(void *self, size_t R, const double *X, const double *Z, double *logp, double *G)
{
  return infb_lingauss_decoder((const infb_lingauss *)self, R, X, Z, logp, G);
}

/* Copy field `off` of every point into v. */
static void
column(const infb_gap_report *rep, size_t off, double *v)
{
  for (size_t i = 0; i < rep->n; i++)
    v[i] = *(const double *)((const char *)&rep->pts[i] + off);
}

static void
summarise(infb_gap_report *rep, double *v, double *mc)
{
  column(rep, offsetof(infb_gap_point, log_px), v);
  infb_stat_of(v, NULL, rep->n, &rep->log_px);
  column(rep, offsetof(infb_gap_point, elbo_qstar), v);
  infb_stat_of(v, NULL, rep->n, &rep->elbo_qstar);
  column(rep, offsetof(infb_gap_point, approximation_gap), v);
  infb_stat_of(v, NULL, rep->n, &rep->approximation_gap);
  if (rep->has_numeric) {
    column(rep, offsetof(infb_gap_point, elbo_qstar_numeric), v);
    column(rep, offsetof(infb_gap_point, elbo_qstar_numeric_mc_se), mc);
    infb_stat_of(v, mc, rep->n, &rep->elbo_qstar_numeric);
    rep->qstar_numeric_gap = rep->elbo_qstar.mean - rep->elbo_qstar_numeric.mean;
  } else {
    infb_stat_of(v, NULL, 0, &rep->elbo_qstar_numeric);
    rep->qstar_numeric_gap = NAN;
  }
  if (rep->has_q_mc) {
    column(rep, offsetof(infb_gap_point, elbo_q_mc), v);
    column(rep, offsetof(infb_gap_point, elbo_q_mc_se), mc);
    infb_stat_of(v, mc, rep->n, &rep->elbo_q_mc);
  } else {
    infb_stat_of(v, NULL, 0, &rep->elbo_q_mc);
  }
  if (rep->has_encoder) {
    column(rep, offsetof(infb_gap_point, elbo_q), v);
    infb_stat_of(v, NULL, rep->n, &rep->elbo_q);
    column(rep, offsetof(infb_gap_point, amortization_gap), v);
    infb_stat_of(v, NULL, rep->n, &rep->amortization_gap);
    column(rep, offsetof(infb_gap_point, inference_gap), v);
    infb_stat_of(v, NULL, rep->n, &rep->inference_gap);
  } else {
    infb_stat_of(v, NULL, 0, &rep->elbo_q);
    infb_stat_of(v, NULL, 0, &rep->amortization_gap);
    infb_stat_of(v, NULL, 0, &rep->inference_gap);
  }
}

int
infb_gapeval_lingauss(const infb_lingauss *m, const gsl_matrix *X, size_t first_index,
                      const infb_encoder *enc, const infb_gap_options *o, infb_gap_report *rep)
{
  memset(rep, 0, sizeof *rep);
  const size_t n = X->size1, D = m->D, K = m->K;
  double t0 = infb_clock_seconds();
  if (X->size2 != D)
    return INFB_ERROR(GSL_EBADLEN, "gap report: the data have %zu columns, the model %zu",
                      X->size2, D);
  if (enc && (enc->D != D || enc->K != K))
    return INFB_ERROR(GSL_EBADLEN, "gap report: the encoder maps %zu to %zu, the model %zu to %zu",
                      enc->D, enc->K, D, K);
  if (n == 0)
    return INFB_ERROR(GSL_EINVAL, "gap report: no points");

  rep->n = n;
  rep->has_encoder = enc != NULL;
  rep->has_numeric = o->numeric_qstar != 0;
  rep->log_px_method = "exact";
  rep->pts = infb_calloc(n, sizeof *rep->pts);
  infb_lingauss_cache *cache = infb_lingauss_cache_alloc(D, K);
  gsl_vector *v = gsl_vector_alloc(n), *mc = gsl_vector_alloc(n);
  gsl_matrix *MU = gsl_matrix_alloc(n, K), *S2 = gsl_matrix_alloc(n, K);
  gsl_matrix *EMU = gsl_matrix_alloc(n, K), *ELV = gsl_matrix_alloc(n, K);
  gsl_matrix *LV = gsl_matrix_alloc(n, K);
  infb_qstar_point *qp = infb_calloc(n, sizeof *qp);
  int st = GSL_ENOMEM;
  if (!rep->pts || !cache || !v || !mc || !MU || !S2 || !EMU || !ELV || !LV || !qp)
    goto done;
  if ((st = infb_lingauss_cache_set(cache, m)) != GSL_SUCCESS)
    goto done;
  rep->approximation_gap_analytic = infb_lingauss_approx_gap(cache);

  /* ln p(x) and L[q*], exact. */
  if ((st = infb_lingauss_logpx(cache, X, v)) != GSL_SUCCESS)
    goto done;
  for (size_t i = 0; i < n; i++)
    rep->pts[i].log_px = gsl_vector_get(v, i);
  if ((st = infb_lingauss_qstar(cache, X, MU, S2)) != GSL_SUCCESS ||
      (st = infb_lingauss_elbo(cache, X, MU, S2, v)) != GSL_SUCCESS)
    goto done;
  for (size_t i = 0; i < n; i++) {
    infb_gap_point *p = &rep->pts[i];
    p->elbo_qstar = gsl_vector_get(v, i);
    p->approximation_gap = p->log_px - p->elbo_qstar;
    p->elbo_q = p->amortization_gap = p->inference_gap = NAN;
    p->elbo_q_mc = p->elbo_q_mc_se = NAN;
    p->elbo_qstar_numeric = p->elbo_qstar_numeric_mc_se = NAN;
  }

  /* L[q] of the encoder, exact for a Gaussian q. */
  if (enc) {
    if ((st = enc->fn(enc->self, n, X->data, EMU->data, ELV->data)) != GSL_SUCCESS)
      goto done;
    for (size_t i = 0; i < n * K; i++)
      S2->data[i] = exp(ELV->data[i]);
    if ((st = infb_lingauss_elbo(cache, X, EMU, S2, v)) != GSL_SUCCESS)
      goto done;
    for (size_t i = 0; i < n; i++) {
      infb_gap_point *p = &rep->pts[i];
      p->elbo_q = gsl_vector_get(v, i);
      p->amortization_gap = p->elbo_qstar - p->elbo_q;
      p->inference_gap = p->log_px - p->elbo_q;
    }
    /* The Monte-Carlo L[q] beside the closed form: the VAE has only the former. */
    if (o->q_samples > 0) {
      infb_decoder dec = {.D = D, .K = K, .fn = lingauss_decoder, .self = (void *)m};
      if ((st = infb_qstar_elbo_mc(&dec, n, X->data, EMU->data, ELV->data, o->q_samples,
                                   o->qstar.seed, "evaluate/q", first_index, v->data,
                                   mc->data)) != GSL_SUCCESS)
        goto done;
      for (size_t i = 0; i < n; i++) {
        rep->pts[i].elbo_q_mc = gsl_vector_get(v, i);
        rep->pts[i].elbo_q_mc_se = gsl_vector_get(mc, i);
      }
      rep->has_q_mc = 1;
    }
  }

  /* The numeric q*: the VAE's code path, checked against the closed form. */
  if (o->numeric_qstar) {
    infb_decoder dec = {.D = D, .K = K, .fn = lingauss_decoder, .self = (void *)m};
    infb_qstar_options qo = o->qstar;
    if (o->qstar_init_encoder && enc) {
      gsl_matrix_memcpy(MU, EMU);
      gsl_matrix_memcpy(LV, ELV);
      qo.init_given = 1;
    } else {
      gsl_matrix_set_zero(MU);
      gsl_matrix_set_zero(LV);
      qo.init_given = 0;
    }
    if ((st = infb_qstar_optimize(&dec, &qo, n, X->data, first_index, MU->data, LV->data, qp)) !=
        GSL_SUCCESS)
      goto done;
    for (size_t i = 0; i < n; i++) {
      infb_gap_point *p = &rep->pts[i];
      p->elbo_qstar_numeric = qp[i].elbo;
      p->elbo_qstar_numeric_mc_se = qp[i].elbo_mc_se;
      p->qstar_steps = qp[i].steps;
      p->qstar_stop = qp[i].stop;
    }
  }
  summarise(rep, v->data, mc->data);
  st = GSL_SUCCESS;
done:
  rep->seconds = infb_clock_seconds() - t0;
  infb_lingauss_cache_free(cache);
  gsl_vector_free(v);
  gsl_vector_free(mc);
  gsl_matrix_free(MU);
  gsl_matrix_free(S2);
  gsl_matrix_free(EMU);
  gsl_matrix_free(ELV);
  gsl_matrix_free(LV);
  free(qp);
  if (st)
    infb_gap_report_free(rep);
  return st;
}
