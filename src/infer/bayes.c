/* Exact Bayesian linear regression: the Gaussian posterior of the weights, the log
 * evidence (Bishop, PRML eq. 3.86) and its type-II maximisation over (α, β) by the
 * fixed point of PRML §3.5.2 (eqs. 3.91–3.95), under the three intercept conventions of
 * the reduced design (model/linreg.h).  MATH.md §1. */
#include "config.h"
#include "infer/bayes.h"
#include "core/error.h"
#include "linalg/dense.h"
#include "model/linreg.h"

#include <math.h>
#include <stdio.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_math.h>

/* Scratch for one posterior evaluation, allocated once from the design's sizes. */
typedef struct {
  gsl_matrix *L;  /* m×m: Cholesky factor of A = αI + βΦᵀΦ */
  gsl_vector *mN; /* m: posterior mean */
  gsl_vector *r;  /* n: residual t − Φm_N */
} post_ws;

static void
ws_free(post_ws *w)
{
  gsl_matrix_free(w->L);
  gsl_vector_free(w->mN);
  gsl_vector_free(w->r);
}

static int
ws_alloc(const infb_linreg_design *d, post_ws *w)
{
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  w->L = gsl_matrix_alloc(d->m, d->m);
  w->mN = gsl_vector_alloc(d->m);
  w->r = gsl_vector_alloc(d->n);
  gsl_set_error_handler(old);
  if (!w->L || !w->mN || !w->r) {
    ws_free(w);
    return INFB_ERROR(GSL_ENOMEM, "bayes: out of memory");
  }
  return GSL_SUCCESS;
}

/* The posterior at (α, β): L (factor of A), m_N = βA⁻¹Φᵀt, the residual, and
 *   ln p(t|α,β) = (M/2)ln α + (n_eff/2)ln β − E(m_N) − ½ln|A| − (n_eff/2)ln 2π + log_offset,
 *   E(m_N) = (β/2)‖t − Φm_N‖² + (α/2)m_Nᵀm_N                               (PRML 3.86).
 * rss and mm (may be NULL) receive ‖t − Φm_N‖² and m_Nᵀm_N. */
static int
posterior(const infb_linreg_design *d, double alpha, double beta, post_ws *w, double *logev,
          double *rss_out, double *mm_out)
{
  gsl_matrix_memcpy(w->L, d->G);
  gsl_matrix_scale(w->L, beta);
  for (size_t j = 0; j < d->m; j++)
    gsl_matrix_set(w->L, j, j, gsl_matrix_get(w->L, j, j) + alpha);
  int st = infb_dense_cholesky(w->L, "the posterior precision alpha·I + beta·XᵀX");
  if (st)
    return st;
  st = infb_dense_chol_solve(w->L, d->Phit, w->mN);
  if (st)
    return st;
  gsl_vector_scale(w->mN, beta);
  gsl_vector_memcpy(w->r, d->t);
  gsl_blas_dgemv(CblasNoTrans, -1.0, d->Phi, w->mN, 1.0, w->r);
  double rss, mm;
  gsl_blas_ddot(w->r, w->r, &rss);
  gsl_blas_ddot(w->mN, w->mN, &mm);
  double E = 0.5 * beta * rss + 0.5 * alpha * mm;
  *logev = 0.5 * (double)d->m * log(alpha) + 0.5 * d->n_eff * log(beta) - E -
           0.5 * infb_dense_chol_logdet(w->L) - 0.5 * d->n_eff * log(2.0 * M_PI) +
           d->log_offset;
  if (rss_out)
    *rss_out = rss;
  if (mm_out)
    *mm_out = mm;
  return GSL_SUCCESS;
}

static int
check_precisions(double alpha, double beta)
{
  if (!(alpha > 0.0) || !isfinite(alpha))
    return INFB_ERROR(GSL_EINVAL, "bayes: alpha must be finite and > 0 (got %g)", alpha);
  if (!(beta > 0.0) || !isfinite(beta))
    return INFB_ERROR(GSL_EINVAL, "bayes: beta must be finite and > 0 (got %g)", beta);
  return GSL_SUCCESS;
}

int
infb_bayes_log_evidence(const infb_problem *pb, double alpha, double beta, double *out)
{
  int st = check_precisions(alpha, beta);
  if (st)
    return st;
  infb_linreg_design *d = infb_linreg_design_alloc(pb);
  if (!d)
    return GSL_EINVAL;
  post_ws w = { 0 };
  st = ws_alloc(d, &w);
  if (!st)
    st = posterior(d, alpha, beta, &w, out, NULL, NULL);
  ws_free(&w);
  infb_linreg_design_free(d);
  return st;
}

/* The eigenvalues of ΦᵀΦ (clipped at 0: it is positive semi-definite and a negative value
 * is rounding); the eigenvalues of βΦᵀΦ are β times these. */
static int
gram_eigenvalues(const infb_linreg_design *d, gsl_vector *eval)
{
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  gsl_matrix *G = gsl_matrix_alloc(d->m, d->m);
  gsl_eigen_symm_workspace *ew = gsl_eigen_symm_alloc(d->m);
  gsl_set_error_handler(old);
  int st;
  if (!G || !ew) {
    st = INFB_ERROR(GSL_ENOMEM, "bayes: out of memory");
  } else {
    gsl_matrix_memcpy(G, d->G);
    st = gsl_eigen_symm(G, eval, ew);
    if (st)
      st = INFB_ERROR(st, "bayes: the eigenvalues of XᵀX did not converge");
    for (size_t i = 0; i < eval->size && !st; i++)
      if (gsl_vector_get(eval, i) < 0.0)
        gsl_vector_set(eval, i, 0.0);
  }
  gsl_eigen_symm_free(ew);
  gsl_matrix_free(G);
  return st;
}

/* The posterior covariance of (w, b) into fit->cov from the factor L of A:
 * none/SAME: A⁻¹ (b is the last weight under SAME);
 * FLAT: b | w, y ~ N(ȳ − x̄ᵀw, 1/(βN)), so Var(b) = 1/(βN) + x̄ᵀA⁻¹x̄,
 *       Cov(w, b) = −A⁻¹x̄. */
static int
fill_cov(const infb_linreg_design *d, double beta, gsl_matrix *L, infb_fit *fit)
{
  int st = infb_fit_alloc_cov(fit);
  if (st)
    return st;
  st = infb_dense_chol_invert(L); /* L now holds A⁻¹ */
  if (st)
    return INFB_ERROR(st, "bayes: could not invert the posterior precision");
  gsl_matrix_view top = gsl_matrix_submatrix(fit->cov, 0, 0, d->m, d->m);
  gsl_matrix_memcpy(&top.matrix, L);
  if (d->intercept && d->intercept_prior == INFB_INTERCEPT_FLAT) {
    size_t p = d->p;
    gsl_vector_view c = gsl_matrix_subcolumn(fit->cov, p, 0, p);
    gsl_blas_dsymv(CblasLower, -1.0, L, d->xbar, 0.0, &c.vector); /* −A⁻¹x̄ */
    gsl_vector_view rrow = gsl_matrix_subrow(fit->cov, p, 0, p);
    gsl_vector_memcpy(&rrow.vector, &c.vector);
    double xAx;
    gsl_blas_ddot(d->xbar, &c.vector, &xAx); /* −x̄ᵀA⁻¹x̄ */
    gsl_matrix_set(fit->cov, p, p, 1.0 / (beta * (double)d->n) - xAx);
  }
  return GSL_SUCCESS;
}

static const char *
convention_note(const infb_linreg_design *d)
{
  if (!d->intercept)
    return "no intercept";
  if (d->intercept_prior == INFB_INTERCEPT_SAME)
    return "intercept as one more weight under the N(0, 1/alpha) prior";
  return "intercept integrated out under a flat prior (evidence of the centred problem)";
}

int
infb_bayes_fit(const infb_problem *pb, const infb_bayes_options *opt, infb_fit *fit)
{
  if (!opt || !fit || !fit->w)
    return INFB_ERROR(GSL_EINVAL, "bayes: no options or fit");
  if (!pb || pb->model != INFB_MODEL_LINREG)
    return INFB_ERROR(GSL_EINVAL, "bayes: exact Bayesian inference is for linreg only");
  infb_linreg_design *d = infb_linreg_design_alloc(pb);
  if (!d)
    return GSL_EINVAL;
  post_ws w = { 0 };
  gsl_vector *eval = NULL;
  int st;
  if (fit->w->size != d->p || (fit->has_intercept != 0) != d->intercept) {
    st = INFB_ERROR(GSL_EBADLEN, "bayes: the fit is not allocated for this problem");
    goto done;
  }
  st = ws_alloc(d, &w);
  if (st)
    goto done;

  int fixed_noise = pb->noise_var > 0.0;
  int opt_alpha = opt->alpha_evidence != 0, opt_beta = opt->beta_evidence && !fixed_noise;
  double alpha = opt->alpha, beta = fixed_noise ? 1.0 / pb->noise_var : opt->beta;
  /* Starting values when optimised and not given: β₀ = n_eff/‖t‖² (one over the
   * targets' mean square) and α₀ = tr(ΦᵀΦ)/‖t‖², which makes the prior predictive
   * variance per point, tr(ΦᵀΦ)/(Nα), equal that mean square. */
  double tt;
  gsl_blas_ddot(d->t, d->t, &tt);
  if (opt_beta && !(beta > 0.0))
    beta = tt > 0.0 ? d->n_eff / tt : NAN;
  if (opt_alpha && !(alpha > 0.0)) {
    double tr = 0.0;
    for (size_t j = 0; j < d->m; j++)
      tr += gsl_matrix_get(d->G, j, j);
    alpha = tt > 0.0 ? tr / tt : NAN;
  }
  st = check_precisions(alpha, beta);
  if (st)
    goto done;

  size_t iters = 0;
  const char *reason = "closed form";
  if (opt_alpha || opt_beta) {
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    eval = gsl_vector_alloc(d->m);
    gsl_set_error_handler(old);
    if (!eval) {
      st = INFB_ERROR(GSL_ENOMEM, "bayes: out of memory");
      goto done;
    }
    st = gram_eigenvalues(d, eval);
    if (st)
      goto done;
    reason = "max_iter";
    while (iters < opt->max_iter) {
      double logev, rss, mm;
      st = posterior(d, alpha, beta, &w, &logev, &rss, &mm);
      if (st)
        goto done;
      /* γ = Σ λ_i/(α + λ_i), λ_i the eigenvalues of βΦᵀΦ (PRML 3.91);
       * α ← γ/m_Nᵀm_N (3.92); 1/β ← ‖t − Φm_N‖²/(n_eff − γ) (3.95). */
      double gamma = 0.0;
      for (size_t i = 0; i < d->m; i++) {
        double li = beta * gsl_vector_get(eval, i);
        gamma += li / (alpha + li);
      }
      double a_new = opt_alpha ? gamma / mm : alpha;
      double b_new = opt_beta ? (d->n_eff - gamma) / rss : beta;
      iters++;
      if (!(a_new > 0.0) || !isfinite(a_new) || !(b_new > 0.0) || !isfinite(b_new)) {
        st = INFB_ERROR(GSL_EDOM,
                        "bayes: evidence maximisation diverged at iteration %zu (alpha = %g, "
                        "beta = %g): the data do not determine %s",
                        iters, a_new, b_new,
                        !(a_new > 0.0) || !isfinite(a_new) ? "the prior precision"
                                                           : "the noise level");
        goto done;
      }
      double change = fmax(fabs(a_new - alpha) / alpha, fabs(b_new - beta) / beta);
      alpha = a_new;
      beta = b_new;
      if (change < opt->tol) {
        reason = "converged";
        break;
      }
    }
  }

  double logev;
  st = posterior(d, alpha, beta, &w, &logev, NULL, NULL);
  if (st)
    goto done;
  infb_linreg_design_unpack(d, w.mN, fit->w, &fit->intercept);
  st = fill_cov(d, beta, w.L, fit);
  if (st)
    goto done;
  fit->noise_var = 1.0 / beta;
  fit->log_evidence = logev;
  fit->alpha = alpha;
  fit->beta = beta;
  fit->iterations = iters;
  snprintf(fit->stop_reason, sizeof fit->stop_reason, "%s", reason);
  snprintf(fit->note, sizeof fit->note, "%s%s", convention_note(d),
           fixed_noise ? "; beta fixed by the problem's noise_var" : "");
done:
  gsl_vector_free(eval);
  ws_free(&w);
  infb_linreg_design_free(d);
  return st;
}
