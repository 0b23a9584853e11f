/* Mean-field variational Bayes for linear regression at fixed (α, β): the closed-form
 * ELBO of a fully factorised Gaussian q over the weights of the reduced design
 * (model/linreg.h) and its coordinate ascent (Bishop, PRML §10.1.1–10.1.2; MATH.md §1:
 * the optimum is μ = m_N, s_j² = 1/A_jj, with gap ½(Σ ln A_jj − ln|A|)). */
#include "config.h"
#include "infer/meanfield.h"
#include "infer/bayes.h"
#include "core/error.h"
#include "linalg/dense.h"
#include "model/linreg.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_math.h>

/* ELBO(q) = E_q ln L(v) + E_q ln N(v; 0, α⁻¹I) + H(q) for the reduced Gaussian likelihood
 * ln L(v) = log_offset + (n_eff/2) ln(β/2π) − (β/2)‖t − Φv‖²:
 *   E_q‖t − Φv‖² = ‖t − Φμ‖² + Σ_j s_j² (ΦᵀΦ)_jj,
 *   E_q ln p(v)  = (M/2) ln(α/2π) − (α/2)(‖μ‖² + Σ_j s_j²),
 *   H(q)         = (M/2)(1 + ln 2π) + ½ Σ_j ln s_j².
 * r is n scratch. */
static double
elbo_design(const infb_linreg_design *d, double alpha, double beta, const gsl_vector *mu,
            const gsl_vector *s2, gsl_vector *r)
{
  gsl_vector_memcpy(r, d->t);
  gsl_blas_dgemv(CblasNoTrans, -1.0, d->Phi, mu, 1.0, r);
  double rss, mm, trace = 0.0, ssum = 0.0, lsum = 0.0;
  gsl_blas_ddot(r, r, &rss);
  gsl_blas_ddot(mu, mu, &mm);
  for (size_t j = 0; j < d->m; j++) {
    double s = gsl_vector_get(s2, j);
    trace += s * gsl_matrix_get(d->G, j, j);
    ssum += s;
    lsum += log(s);
  }
  double M = (double)d->m;
  return d->log_offset + 0.5 * d->n_eff * log(beta / (2.0 * M_PI)) -
         0.5 * beta * (rss + trace) + 0.5 * M * log(alpha) - 0.5 * alpha * (mm + ssum) +
         0.5 * M + 0.5 * lsum;
}

static int
check_params(double alpha, double beta)
{
  if (!(alpha > 0.0) || !isfinite(alpha))
    return INFB_ERROR(GSL_EINVAL, "meanfield: alpha must be finite and > 0 (got %g)", alpha);
  if (!(beta > 0.0) || !isfinite(beta))
    return INFB_ERROR(GSL_EINVAL, "meanfield: beta must be finite and > 0 (got %g)", beta);
  return GSL_SUCCESS;
}

int
infb_meanfield_elbo(const infb_problem *pb, double alpha, double beta, const gsl_vector *mu,
                    const gsl_vector *s2, double *elbo)
{
  int st = check_params(alpha, beta);
  if (st)
    return st;
  infb_linreg_design *d = infb_linreg_design_alloc(pb);
  if (!d)
    return GSL_EINVAL;
  gsl_vector *r = NULL;
  if (!mu || !s2 || mu->size != d->m || s2->size != d->m) {
    st = INFB_ERROR(GSL_EBADLEN, "meanfield: q must have %zu means and variances", d->m);
    goto done;
  }
  for (size_t j = 0; j < d->m; j++)
    if (!(gsl_vector_get(s2, j) > 0.0)) {
      st = INFB_ERROR(GSL_EDOM, "meanfield: variance %zu of q is not positive", j);
      goto done;
    }
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  r = gsl_vector_alloc(d->n);
  gsl_set_error_handler(old);
  if (!r) {
    st = INFB_ERROR(GSL_ENOMEM, "meanfield: out of memory");
    goto done;
  }
  *elbo = elbo_design(d, alpha, beta, mu, s2, r);
done:
  gsl_vector_free(r);
  infb_linreg_design_free(d);
  return st;
}

/* ½(Σ ln A_jj − ln|A|), A = αI + βΦᵀΦ; L is m×m scratch. */
static int
gap_formula(const infb_linreg_design *d, double alpha, double beta, gsl_matrix *L,
            double *gap)
{
  gsl_matrix_memcpy(L, d->G);
  gsl_matrix_scale(L, beta);
  double sdiag = 0.0;
  for (size_t j = 0; j < d->m; j++) {
    double a = gsl_matrix_get(L, j, j) + alpha;
    gsl_matrix_set(L, j, j, a);
    sdiag += log(a);
  }
  int st = infb_dense_cholesky(L, "the posterior precision alpha·I + beta·XᵀX");
  if (st)
    return st;
  *gap = 0.5 * (sdiag - infb_dense_chol_logdet(L));
  return GSL_SUCCESS;
}

int
infb_meanfield_fit(const infb_problem *pb, const infb_meanfield_options *opt, infb_fit *fit)
{
  if (!opt || !fit || !fit->w)
    return INFB_ERROR(GSL_EINVAL, "meanfield: no options or fit");
  if (!pb || pb->model != INFB_MODEL_LINREG)
    return INFB_ERROR(GSL_EINVAL, "meanfield: closed-form mean field is for linreg only");
  double alpha = opt->alpha, beta = pb->noise_var > 0.0 ? 1.0 / pb->noise_var : opt->beta;
  int st = check_params(alpha, beta);
  if (st)
    return st;
  infb_linreg_design *d = infb_linreg_design_alloc(pb);
  if (!d)
    return GSL_EINVAL;
  size_t m = d->m;
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  gsl_vector *mu = gsl_vector_calloc(m), *s2 = gsl_vector_alloc(m), *Ad = gsl_vector_alloc(m);
  gsl_vector *r = gsl_vector_alloc(d->n);
  gsl_matrix *L = gsl_matrix_alloc(m, m);
  gsl_set_error_handler(old);
  if (fit->w->size != d->p || (fit->has_intercept != 0) != d->intercept) {
    st = INFB_ERROR(GSL_EBADLEN, "meanfield: the fit is not allocated for this problem");
    goto done;
  }
  if (!mu || !s2 || !Ad || !r || !L) {
    st = INFB_ERROR(GSL_ENOMEM, "meanfield: out of memory");
    goto done;
  }

  /* Start: μ = 0, s² = 1/α (q = the prior). */
  gsl_vector_set_all(s2, 1.0 / alpha);
  for (size_t j = 0; j < m; j++)
    gsl_vector_set(Ad, j, alpha + beta * gsl_matrix_get(d->G, j, j));
  double elbo = elbo_design(d, alpha, beta, mu, s2, r);
  size_t sweeps = 0;
  const char *reason = "max_iter";
  while (sweeps < opt->max_iter) {
    /* One sweep of exact coordinate maximisation.  As a function of (μ_j, s_j²) the ELBO
     * is −½A_jj(μ_j² + s_j²) + βμ_j(Φ_jᵀt − Σ_{k≠j}(ΦᵀΦ)_jk μ_k) + ½ln s_j² + const,
     * A_jj = α + β(ΦᵀΦ)_jj, so s_j² ← 1/A_jj and μ_j ← (β/A_jj)(Φ_jᵀt − Σ_{k≠j}(ΦᵀΦ)_jk μ_k);
     * the rises are ½(A_jj s_j² − 1 − ln(A_jj s_j²)) and ½A_jj(Δμ_j)², summed exactly
     * (no cancellation between two ELBO values). */
    double rise = 0.0, step = 0.0;
    for (size_t j = 0; j < m; j++) {
      double a = gsl_vector_get(Ad, j), s = gsl_vector_get(s2, j);
      rise += 0.5 * (a * s - 1.0 - log(a * s));
      gsl_vector_set(s2, j, 1.0 / a);
      gsl_vector_const_view Gj = gsl_matrix_const_row(d->G, j);
      double mu_j = gsl_vector_get(mu, j), dot;
      gsl_blas_ddot(&Gj.vector, mu, &dot);
      double c = gsl_vector_get(d->Phit, j) - (dot - gsl_matrix_get(d->G, j, j) * mu_j);
      double mu_new = beta * c / a;
      rise += 0.5 * a * (mu_new - mu_j) * (mu_new - mu_j);
      /* The step relative to the coordinate's scale: |μ_j| plus its posterior sd. */
      step = fmax(step, fabs(mu_new - mu_j) / (fabs(mu_new) + sqrt(1.0 / a)));
      gsl_vector_set(mu, j, mu_new);
    }
    sweeps++;
    elbo = elbo_design(d, alpha, beta, mu, s2, r);
    /* Steps cannot shrink below rounding: a few ulps count as converged. */
    if (rise <= opt->tol * (1.0 + fabs(elbo)) && step <= fmax(opt->tol, 8.0 * DBL_EPSILON)) {
      reason = "converged";
      break;
    }
  }

  double logev, gap_a;
  st = infb_bayes_log_evidence(pb, alpha, beta, &logev);
  if (!st)
    st = gap_formula(d, alpha, beta, L, &gap_a);
  if (!st)
    st = infb_fit_alloc_cov(fit);
  if (st)
    goto done;

  infb_linreg_design_unpack(d, mu, fit->w, &fit->intercept);
  /* cov: diag s² for the weights of the reduced design (b last under SAME); under FLAT,
   * q(b | w) is the exact flat-prior conditional N(ȳ − x̄ᵀw, 1/(βN)), so
   * Var(b) = 1/(βN) + Σ_j x̄_j² s_j² and Cov(w_j, b) = −x̄_j s_j². */
  gsl_matrix_set_zero(fit->cov);
  for (size_t j = 0; j < m; j++)
    gsl_matrix_set(fit->cov, j, j, gsl_vector_get(s2, j));
  if (d->intercept && d->intercept_prior == INFB_INTERCEPT_FLAT) {
    size_t p = d->p;
    double vb = 1.0 / (beta * (double)d->n);
    for (size_t j = 0; j < p; j++) {
      double xj = gsl_vector_get(d->xbar, j), s = gsl_vector_get(s2, j);
      vb += xj * xj * s;
      gsl_matrix_set(fit->cov, j, p, -xj * s);
      gsl_matrix_set(fit->cov, p, j, -xj * s);
    }
    gsl_matrix_set(fit->cov, p, p, vb);
  }
  fit->noise_var = 1.0 / beta;
  fit->alpha = alpha;
  fit->beta = beta;
  fit->elbo = elbo;
  fit->log_evidence = logev;
  fit->gap = logev - elbo;
  fit->gap_analytic = gap_a;
  fit->iterations = sweeps;
  snprintf(fit->stop_reason, sizeof fit->stop_reason, "%s", reason);
  snprintf(fit->note, sizeof fit->note, "%s%s",
           !d->intercept ? "no intercept"
           : d->intercept_prior == INFB_INTERCEPT_SAME
               ? "intercept as one more mean-field factor under the N(0, 1/alpha) prior"
               : "intercept integrated out under a flat prior (ELBO of the centred problem)",
           pb->noise_var > 0.0 ? "; beta fixed by the problem's noise_var" : "");
done:
  gsl_vector_free(mu);
  gsl_vector_free(s2);
  gsl_vector_free(Ad);
  gsl_vector_free(r);
  gsl_matrix_free(L);
  infb_linreg_design_free(d);
  return st;
}
