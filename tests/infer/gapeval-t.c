/* Tests of src/infer/gapeval: the gap report of a linear-Gaussian model against its
 * closed forms (MATH.md §3, §6): the approximation gap equals ½(Σ ln Λ_jj − ln|Λ|) at
 * every point, an encoder that outputs q* has no amortisation gap, a shifted one has
 * exactly the closed-form deficit ½·δ²·Σ_j Λ_jj, and the numeric q* agrees with the
 * closed form within its Monte-Carlo error. */
#include <config.h>
#include "tap/basic.h"
#include "core/error.h"
#include "infer/gapeval.h"
#include "model/lingauss.h"

#include <math.h>
#include <stdlib.h>
#include <gsl/gsl_randist.h>

/* An encoder returning the exact q* of a model with every mean shifted by `shift`. */
typedef struct fake_encoder {
  infb_lingauss_cache *cache;
  size_t D, K;
  double shift;
} fake_encoder;

static int
fake_fn(void *self, size_t n, const double *X, double *MU, double *LV)
{
  fake_encoder *f = self;
  gsl_matrix_const_view Xv = gsl_matrix_const_view_array(X, n, f->D);
  gsl_matrix_view M = gsl_matrix_view_array(MU, n, f->K), V = gsl_matrix_view_array(LV, n, f->K);
  int st = infb_lingauss_qstar(f->cache, &Xv.matrix, &M.matrix, &V.matrix);
  for (size_t i = 0; i < n * f->K; i++) {
    MU[i] += f->shift;
    LV[i] = log(LV[i]);
  }
  return st;
}

int
main(void)
{
  plan(23);
  /* infb_stat_of against hand computation: mean 2, sd² = 2.5 → se = √(2.5/5). */
  double v[] = {0, 1, 2, 3, 4}, mc[] = {0.3, 0.4, 0, 0, 0};
  infb_stat s;
  infb_stat_of(v, NULL, 5, &s);
  ok(s.n == 5 && s.mean == 2.0, "stat: mean 2 of 0..4");
  is_double_rel(sqrt(2.5 / 5), s.se, 1e-14, "stat: se = sd/sqrt(n) with the n-1 sd");
  ok(isnan(s.mc_se), "stat: exact quantities have no mc_se");
  infb_stat_of(v, mc, 5, &s);
  is_double_rel(0.5 / 5, s.mc_se, 1e-14, "stat: mc_se = sqrt(sum mc_i^2)/n");
  infb_stat_of(v, NULL, 1, &s);
  ok(s.se == 0.0, "stat: one point has se 0");
  infb_gap_report_free(NULL);
  ok(1, "gap_report_free(NULL) is a no-op");

  const size_t D = 5, K = 2, n = 40;
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, 5);
  infb_lingauss *m = infb_lingauss_alloc(D, K, 0);
  infb_lingauss_random(m, r, 1.0, 1.0, 0.1, 0.5);
  gsl_matrix *X = gsl_matrix_alloc(n, D);
  infb_lingauss_sample(m, r, X, NULL);
  infb_lingauss_cache *cache = infb_lingauss_cache_alloc(D, K);
  infb_lingauss_cache_set(cache, m);
  const gsl_matrix *L = infb_lingauss_cache_lambda(cache);
  /* The analytic gap from Λ by hand: ½(ln Λ11 + ln Λ22 − ln(Λ11Λ22 − Λ12²)). */
  double l11 = gsl_matrix_get(L, 0, 0), l22 = gsl_matrix_get(L, 1, 1), l12 = gsl_matrix_get(L, 0, 1);
  double gap = 0.5 * (log(l11) + log(l22) - log(l11 * l22 - l12 * l12));

  infb_gap_options o = {0};
  infb_qstar_options_default(&o.qstar);
  infb_gap_report rep;
  ok(infb_gapeval_lingauss(m, X, 0, NULL, &o, &rep) == 0, "report without encoder");
  is_string("exact", rep.log_px_method, "ln p(x) method is exact");
  is_double_rel(gap, rep.approximation_gap_analytic, 1e-12, "analytic gap from Lambda by hand");
  is_double_rel(gap, rep.approximation_gap.mean, 1e-9, "measured approximation gap = analytic");
  ok(rep.approximation_gap.se < 1e-9, "the approximation gap is the same at every x (se %.2g)",
     rep.approximation_gap.se);
  ok(rep.elbo_q.n == 0 && isnan(rep.pts[0].amortization_gap), "no encoder: no L[q]");
  gsl_vector *lp = gsl_vector_alloc(n);
  infb_lingauss_logpx(cache, X, lp);
  double mlp = 0;
  for (size_t i = 0; i < n; i++)
    mlp += gsl_vector_get(lp, i) / n;
  is_double_rel(mlp, rep.log_px.mean, 1e-12, "log_px mean over points");
  infb_gap_report_free(&rep);

  /* An encoder that outputs q*: no amortisation gap. */
  fake_encoder fe = {cache, D, K, 0.0};
  infb_encoder enc = {D, K, fake_fn, &fe};
  ok(infb_gapeval_lingauss(m, X, 0, &enc, &o, &rep) == 0, "report with an exact encoder");
  ok(fabs(rep.amortization_gap.mean) < 1e-10, "exact encoder: amortisation gap %.2g",
     rep.amortization_gap.mean);
  is_double_rel(rep.approximation_gap.mean, rep.inference_gap.mean, 1e-9,
                "inference gap = approximation gap when q = q*");
  infb_gap_report_free(&rep);

  /* A shifted encoder: the ELBO loses ½δ²Σ_j Λ_jj (the quadratic form of the mean error). */
  fe.shift = 0.3;
  o.q_samples = 4000;
  infb_gapeval_lingauss(m, X, 0, &enc, &o, &rep);
  ok(rep.has_q_mc && fabs(rep.elbo_q_mc.mean - rep.elbo_q.mean) < 5 * rep.elbo_q_mc.mc_se,
     "Monte-Carlo L[q] %.5f = closed form %.5f within 5 mc_se (%.2g)", rep.elbo_q_mc.mean,
     rep.elbo_q.mean, rep.elbo_q_mc.mc_se);
  o.q_samples = 0;
  is_double_rel(0.5 * 0.09 * (l11 + l22 + 2 * l12), rep.amortization_gap.mean, 1e-9,
                "shifted encoder: amortisation gap = 1/2 d^T Lambda d");
  is_double_rel(rep.approximation_gap.mean + rep.amortization_gap.mean, rep.inference_gap.mean,
                1e-12, "inference gap = approximation + amortisation");
  infb_gap_report_free(&rep);

  /* The numeric q*: agrees with the closed form within MC error + optimisation slack. */
  o.numeric_qstar = 1;
  o.qstar.samples = 20;
  o.qstar.lr = 0.02;
  o.qstar.eval_samples = 2000;
  o.qstar.check_every = 50;
  o.qstar.patience = 5;
  o.qstar.max_steps = 6000;
  o.qstar.seed = 9;
  gsl_matrix_const_view X10 = gsl_matrix_const_submatrix(X, 0, 0, 10, D);
  ok(infb_gapeval_lingauss(m, &X10.matrix, 0, NULL, &o, &rep) == 0, "report with numeric q*");
  ok(rep.has_numeric && rep.elbo_qstar_numeric.n == 10 && isfinite(rep.elbo_qstar_numeric.mc_se),
     "numeric q* summarised with its mc_se (%.3g)", rep.elbo_qstar_numeric.mc_se);
  double tol = 5 * rep.elbo_qstar_numeric.mc_se + 0.01;
  ok(fabs(rep.qstar_numeric_gap) < tol,
     "closed-form L[q*] - numeric L[q*] = %.4f within 5 mc_se + 0.01 (%.4f)",
     rep.qstar_numeric_gap, tol);
  infb_gap_report_free(&rep);

  gsl_matrix *Xbad = gsl_matrix_alloc(3, D + 1);
  is_int(GSL_EBADLEN, infb_gapeval_lingauss(m, Xbad, 0, NULL, &o, &rep),
         "a data matrix of the wrong width is refused");
  gsl_matrix_free(Xbad);
  gsl_vector_free(lp);
  gsl_matrix_free(X);
  infb_lingauss_cache_free(cache);
  infb_lingauss_free(m);
  gsl_rng_free(r);
  return test_done();
}
