/* Laplace approximation for logistic regression: a Gaussian N(θ_MAP, H⁻¹) and the Laplace
 * evidence, with α optionally chosen by MacKay's evidence fixed point (MATH.md §2;
 * MacKay, Neural Computation 4, 1992, "The evidence framework applied to classification
 * networks"; Bishop PRML §4.4 and §4.5). */
#include "config.h"
#include "infer/laplace.h"
#include "core/error.h"
#include "linalg/dense.h"
#include "model/logreg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <gsl/gsl_math.h>

/* Defaults of the outer (α) iteration, documented in laplace.h. */
#define DEFAULT_TOL 1e-10
#define DEFAULT_MAX_ITER 500
#define DEFAULT_ALPHA0 1.0

/* The MAP at α, then H, cov = H⁻¹ and the log evidence into fit; *gamma and *wpen2
 * receive γ = n_pen − α·tr(H⁻¹ over the penalised block) and Σ_pen θ_j². */
static int
laplace_at(const infb_problem *pb, double alpha, const infb_solver_options *solver,
           infb_fit *fit, gsl_matrix *H, double *gamma, double *wpen2)
{
  int st = infb_logreg_fit_penalized(pb, alpha, solver, fit);
  if (st)
    return st;
  size_t p = fit->p, h = fit->has_intercept ? 1 : 0, m = p + h;
  /* Penalised coordinates: the weights, and b when it shares their prior. */
  size_t npen = p + (h && pb->intercept_prior == INFB_INTERCEPT_SAME ? 1 : 0);
  st = infb_logreg_hessian(pb, alpha, fit, H);
  if (st)
    return st;
  st = infb_dense_cholesky(H, "the Laplace precision H = X'RX + alpha I");
  if (st)
    return st;
  double logdet = infb_dense_chol_logdet(H);
  st = infb_dense_chol_invert(H);
  if (st)
    return INFB_ERROR(st, "laplace: inverting H failed");
  st = infb_fit_alloc_cov(fit);
  if (st)
    return st;
  gsl_matrix_memcpy(fit->cov, H);

  double pen2 = 0.0, trpen = 0.0;
  for (size_t j = 0; j < npen; j++) {
    double t = j < p ? gsl_vector_get(fit->w, j) : fit->intercept;
    pen2 += t * t;
    trpen += gsl_matrix_get(fit->cov, j, j);
  }
  /* ln p(θ) = Σ_pen ln N(θ_j; 0, α⁻¹); a FLAT b contributes ln 1 = 0. */
  double lnprior = 0.5 * (double)npen * log(alpha / (2.0 * M_PI)) - 0.5 * alpha * pen2;
  double loglik = infb_logreg_loglik(pb->X, pb->y, fit->w, fit->intercept);
  fit->log_evidence =
      loglik + lnprior + 0.5 * (double)m * log(2.0 * M_PI) - 0.5 * logdet;
  fit->alpha = alpha;
  /* γ = Σ λ_i/(α + λ_i) over the eigenvalues λ_i of the data Hessian XᵀRX restricted to
   * the penalised coordinates (for FLAT: its Schur complement with b profiled out), which
   * equals n_pen − α·tr[(H⁻¹)_pen,pen]: no eigendecomposition needed. */
  *gamma = (double)npen - alpha * trpen;
  *wpen2 = pen2;
  return GSL_SUCCESS;
}

static const char *
intercept_note(const infb_problem *pb)
{
  if (!pb->intercept)
    return "no intercept";
  if (pb->intercept_prior == INFB_INTERCEPT_SAME)
    return "intercept b ~ N(0, 1/alpha) like the weights";
  return "intercept b under a flat prior (density 1): unpenalised, no alpha in H, "
         "counted in M";
}

int
infb_laplace_fit(const infb_problem *pb, const infb_laplace_options *opt, infb_fit *fit)
{
  if (!pb || !opt || !fit)
    return INFB_ERROR(GSL_EINVAL, "laplace: NULL argument");
  if (pb->model != INFB_MODEL_LOGREG)
    return INFB_ERROR(GSL_EINVAL,
                      "laplace: only for logreg (the linreg posterior is Gaussian: use bayes)");
  if (!pb->X || fit->p != pb->X->size2 || (fit->has_intercept != 0) != (pb->intercept != 0))
    return INFB_ERROR(GSL_EBADLEN, "laplace: the fit does not match the problem");
  size_t m = fit->p + (fit->has_intercept ? 1 : 0);
  gsl_matrix *H = gsl_matrix_alloc(m, m);
  if (!H)
    return INFB_ERROR(GSL_ENOMEM, "laplace: out of memory");
  double gamma, wpen2;
  int st;

  if (!opt->alpha_evidence) {
    if (!(opt->alpha > 0.0) || !isfinite(opt->alpha)) {
      gsl_matrix_free(H);
      return INFB_ERROR(GSL_EINVAL, "laplace: alpha must be finite and > 0, not %g",
                        opt->alpha);
    }
    st = laplace_at(pb, opt->alpha, &opt->solver, fit, H, &gamma, &wpen2);
    if (!st)
      snprintf(fit->note, sizeof fit->note, "Laplace at the MAP, alpha = %g; %s", opt->alpha,
               intercept_note(pb));
    gsl_matrix_free(H);
    return st;
  }

  /* MacKay's fixed point α ← γ/‖θ_pen‖², the MAP re-solved at each α. */
  double tol = opt->tol > 0.0 ? opt->tol : DEFAULT_TOL;
  size_t max_iter = opt->max_iter > 0 ? opt->max_iter : DEFAULT_MAX_ITER;
  double alpha = opt->alpha > 0.0 && isfinite(opt->alpha) ? opt->alpha : DEFAULT_ALPHA0;
  const char *reason = "max_iter";
  size_t it;
  st = GSL_SUCCESS;
  for (it = 1; it <= max_iter; it++) {
    st = laplace_at(pb, alpha, &opt->solver, fit, H, &gamma, &wpen2);
    if (st)
      break;
    double next = gamma / wpen2;
    if (!(wpen2 > 0.0) || !isfinite(next) || !(next > 0.0)) {
      st = INFB_ERROR(GSL_ERUNAWAY,
                      "laplace: the evidence update sent alpha to %g (gamma = %g, |w|^2 = %g): "
                      "the data carry no evidence for nonzero weights",
                      next, gamma, wpen2);
      break;
    }
    if (fabs(next - alpha) < tol * alpha) {
      /* fit holds the MAP, cov and evidence at this α, which satisfies
       * α = γ/‖θ_pen‖² to the relative tolerance. */
      reason = "converged";
      break;
    }
    alpha = next;
  }
  gsl_matrix_free(H);
  if (st)
    return st;
  fit->iterations = it > max_iter ? max_iter : it;
  snprintf(fit->stop_reason, sizeof fit->stop_reason, "%s", reason);
  snprintf(fit->note, sizeof fit->note,
           "Laplace at the MAP; alpha = %g by MacKay's evidence fixed point "
           "(iterations are alpha updates); %s",
           fit->alpha, intercept_note(pb));
  return GSL_SUCCESS;
}
