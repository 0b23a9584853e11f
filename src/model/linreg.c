/* Linear regression with Gaussian noise: log-likelihood, the penalised least-squares
 * objective and its gradient, the reduced design of each intercept convention, and the
 * ridge / least-squares solver shared by mle and map (normal equations by Cholesky, or
 * BFGS).  MATH.md §1; Bishop, PRML §3.1 (eqs. 3.15, 3.28). */
#include "config.h"
#include "model/linreg.h"
#include "core/error.h"
#include "linalg/dense.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_multimin.h>

#define SINGULAR_MLE_MSG                                                                   \
  "the design matrix is rank-deficient (XᵀX is singular): the MLE is not unique; use map " \
  "with lambda > 0"

/* vector_bfgs2 line-search tolerance: the value GSL's manual recommends for it. */
#define BFGS_LINESEARCH_TOL 0.1

/* ------------------------------------------------------------ densities, objective */

double
infb_linreg_rss(const gsl_matrix *X, const gsl_vector *y, const gsl_vector *w, double b)
{
  double rss = 0.0;
  for (size_t i = 0; i < X->size1; i++) {
    gsl_vector_const_view xi = gsl_matrix_const_row(X, i);
    double f;
    gsl_blas_ddot(&xi.vector, w, &f);
    double r = gsl_vector_get(y, i) - f - b;
    rss += r * r;
  }
  return rss;
}

double
infb_linreg_loglik(const gsl_matrix *X, const gsl_vector *y, const gsl_vector *w, double b,
                   double sigma2)
{
  double n = (double)X->size1;
  return -0.5 * n * log(2.0 * M_PI * sigma2) - 0.5 * infb_linreg_rss(X, y, w, b) / sigma2;
}

double
infb_linreg_objective(const infb_problem *pb, double lambda, const gsl_vector *theta,
                      gsl_vector *grad)
{
  const gsl_matrix *X = pb->X;
  size_t p = X->size2, k = p + (pb->intercept ? 1 : 0);
  if (theta->size != k || (grad && grad->size != k)) {
    INFB_ERROR(GSL_EBADLEN, "linreg objective: theta has length %zu, expected %zu",
               theta->size, k);
    return NAN;
  }
  gsl_vector_const_view w = gsl_vector_const_subvector(theta, 0, p);
  double b = pb->intercept ? gsl_vector_get(theta, p) : 0.0;
  int pen_b = pb->intercept && pb->intercept_prior == INFB_INTERCEPT_SAME;

  /* f = ½‖r‖² + ½λ‖w‖² (+ ½λb²), r = y − Xw − b;
   * ∇_w f = −Xᵀr + λw, ∂f/∂b = −Σ r_i (+ λb). */
  double f = 0.0, gb = 0.0;
  if (grad)
    gsl_vector_set_zero(grad);
  gsl_vector_view gw = grad ? gsl_vector_subvector(grad, 0, p) : (gsl_vector_view){ { 0 } };
  for (size_t i = 0; i < X->size1; i++) {
    gsl_vector_const_view xi = gsl_matrix_const_row(X, i);
    double fi;
    gsl_blas_ddot(&xi.vector, &w.vector, &fi);
    double r = gsl_vector_get(pb->y, i) - fi - b;
    f += 0.5 * r * r;
    if (grad) {
      gsl_blas_daxpy(-r, &xi.vector, &gw.vector);
      gb -= r;
    }
  }
  double ww;
  gsl_blas_ddot(&w.vector, &w.vector, &ww);
  f += 0.5 * lambda * ww;
  if (pen_b)
    f += 0.5 * lambda * b * b;
  if (grad) {
    gsl_blas_daxpy(lambda, &w.vector, &gw.vector);
    if (pb->intercept)
      gsl_vector_set(grad, p, gb + (pen_b ? lambda * b : 0.0));
  }
  return f;
}

/* ------------------------------------------------------------ the reduced design */

static int
check_problem(const infb_problem *pb)
{
  if (!pb || !pb->X || !pb->y)
    return INFB_ERROR(GSL_EINVAL, "linreg: the problem has no design or targets");
  if (pb->model != INFB_MODEL_LINREG)
    return INFB_ERROR(GSL_EINVAL, "linreg: the problem is not a linear regression");
  if (pb->X->size1 != pb->y->size)
    return INFB_ERROR(GSL_EBADLEN, "linreg: X has %zu rows but y has %zu entries",
                      pb->X->size1, pb->y->size);
  if (pb->X->size2 == 0)
    return INFB_ERROR(GSL_EINVAL, "linreg: the design has no features");
  if (pb->X->size1 == 0)
    return INFB_ERROR(GSL_EINVAL, "linreg: no observations");
  if (pb->intercept && pb->intercept_prior == INFB_INTERCEPT_FLAT && pb->X->size1 < 2)
    return INFB_ERROR(GSL_EINVAL,
                      "linreg: a flat-prior intercept needs at least 2 observations");
  return GSL_SUCCESS;
}

void
infb_linreg_design_free(infb_linreg_design *d)
{
  if (!d)
    return;
  gsl_matrix_free(d->Phi);
  gsl_vector_free(d->t);
  gsl_matrix_free(d->G);
  gsl_vector_free(d->Phit);
  gsl_vector_free(d->xbar);
  free(d);
}

infb_linreg_design *
infb_linreg_design_alloc(const infb_problem *pb)
{
  if (check_problem(pb))
    return NULL;
  size_t n = pb->X->size1, p = pb->X->size2;
  int flat = pb->intercept && pb->intercept_prior == INFB_INTERCEPT_FLAT;
  int same = pb->intercept && pb->intercept_prior == INFB_INTERCEPT_SAME;
  size_t m = p + (same ? 1 : 0);

  infb_linreg_design *d = infb_calloc(1, sizeof *d);
  if (!d)
    return NULL;
  d->n = n;
  d->p = p;
  d->m = m;
  d->intercept = pb->intercept != 0;
  d->intercept_prior = pb->intercept_prior;
  d->n_eff = flat ? (double)n - 1.0 : (double)n;
  d->log_offset = flat ? -0.5 * log((double)n) : 0.0;
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  d->Phi = gsl_matrix_alloc(n, m);
  d->t = gsl_vector_alloc(n);
  d->G = gsl_matrix_alloc(m, m);
  d->Phit = gsl_vector_alloc(m);
  d->xbar = flat ? gsl_vector_alloc(p) : NULL;
  gsl_set_error_handler(old);
  if (!d->Phi || !d->t || !d->G || !d->Phit || (flat && !d->xbar)) {
    infb_linreg_design_free(d);
    INFB_ERROR_NULL(GSL_ENOMEM, "linreg: out of memory for a %zux%zu design", n, m);
  }

  gsl_matrix_view Xpart = gsl_matrix_submatrix(d->Phi, 0, 0, n, p);
  gsl_matrix_memcpy(&Xpart.matrix, pb->X);
  gsl_vector_memcpy(d->t, pb->y);
  if (same) {
    gsl_vector_view ones = gsl_matrix_column(d->Phi, p);
    gsl_vector_set_all(&ones.vector, 1.0);
  }
  if (flat) {
    /* Column means by a corrected two-pass sum, then centre X and y. */
    for (size_t j = 0; j < p; j++) {
      gsl_vector_view xj = gsl_matrix_column(d->Phi, j);
      double mean = 0.0, corr = 0.0;
      for (size_t i = 0; i < n; i++)
        mean += gsl_vector_get(&xj.vector, i);
      mean /= (double)n;
      for (size_t i = 0; i < n; i++)
        corr += gsl_vector_get(&xj.vector, i) - mean;
      mean += corr / (double)n;
      gsl_vector_set(d->xbar, j, mean);
      gsl_vector_add_constant(&xj.vector, -mean);
    }
    double mean = 0.0, corr = 0.0;
    for (size_t i = 0; i < n; i++)
      mean += gsl_vector_get(d->t, i);
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
      corr += gsl_vector_get(d->t, i) - mean;
    mean += corr / (double)n;
    d->ybar = mean;
    gsl_vector_add_constant(d->t, -mean);
  }
  int st = infb_dense_gram(1.0, d->Phi, 0.0, d->G);
  if (!st)
    st = gsl_blas_dgemv(CblasTrans, 1.0, d->Phi, d->t, 0.0, d->Phit);
  if (st) {
    infb_linreg_design_free(d);
    return NULL;
  }
  return d;
}

void
infb_linreg_design_unpack(const infb_linreg_design *d, const gsl_vector *v, gsl_vector *w,
                          double *b)
{
  gsl_vector_const_view vw = gsl_vector_const_subvector(v, 0, d->p);
  gsl_vector_memcpy(w, &vw.vector);
  if (!d->intercept) {
    *b = 0.0;
  } else if (d->intercept_prior == INFB_INTERCEPT_SAME) {
    *b = gsl_vector_get(v, d->p);
  } else {
    double xw;
    gsl_blas_ddot(d->xbar, w, &xw);
    *b = d->ybar - xw;
  }
}

/* ------------------------------------------------------------ the solvers */

static int
check_fit(const infb_problem *pb, double lambda, const infb_fit *fit)
{
  int st = check_problem(pb);
  if (st)
    return st;
  if (!fit || !fit->w || fit->w->size != pb->X->size2)
    return INFB_ERROR(GSL_EBADLEN, "linreg: the fit is not allocated for %zu weights",
                      pb->X->size2);
  if (!(lambda >= 0.0) || !isfinite(lambda))
    return INFB_ERROR(GSL_EINVAL, "linreg: lambda must be finite and >= 0 (got %g)", lambda);
  return GSL_SUCCESS;
}

/* λ = 0 needs a design of full column rank: X, or [X 1] with an intercept (for FLAT this
 * is the rank of the centred design plus one).  Tested on the singular values of its
 * column-normalised form (one-sided Jacobi SVD, accurate for small singular values),
 * which, unlike the pivots of a Cholesky of XᵀX, is not fooled by the rounding of an
 * ill-conditioned leading block, nor by the rounding left in a centred constant column.
 * Rank-deficient when σ_min ≤ max(N, k)·DBL_EPSILON·σ_max, k the number of unknowns
 * (numpy.linalg.matrix_rank's default tolerance). */
static int
check_rank(const infb_problem *pb)
{
  size_t n = pb->X->size1, p = pb->X->size2, k = p + (pb->intercept ? 1 : 0);
  if (n < k)
    return INFB_ERROR(INFB_ESINGULAR, SINGULAR_MLE_MSG);
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  gsl_matrix *U = gsl_matrix_alloc(n, k), *V = gsl_matrix_alloc(k, k);
  gsl_vector *S = gsl_vector_alloc(k);
  gsl_set_error_handler(old);
  int st = GSL_SUCCESS;
  if (!U || !V || !S) {
    st = INFB_ERROR(GSL_ENOMEM, "linreg: out of memory for the rank test");
    goto done;
  }
  gsl_matrix_view Xpart = gsl_matrix_submatrix(U, 0, 0, n, p);
  gsl_matrix_memcpy(&Xpart.matrix, pb->X);
  if (pb->intercept) {
    gsl_vector_view ones = gsl_matrix_column(U, p);
    gsl_vector_set_all(&ones.vector, 1.0);
  }
  for (size_t j = 0; j < k; j++) {
    gsl_vector_view c = gsl_matrix_column(U, j);
    double nrm = gsl_blas_dnrm2(&c.vector);
    if (!(nrm > 0.0)) {
      st = INFB_ERROR(INFB_ESINGULAR, SINGULAR_MLE_MSG);
      goto done;
    }
    gsl_vector_scale(&c.vector, 1.0 / nrm);
  }
  old = gsl_set_error_handler_off();
  int sst = gsl_linalg_SV_decomp_jacobi(U, V, S);
  gsl_set_error_handler(old);
  if (sst) {
    st = INFB_ERROR(sst, "linreg: the singular values of the design did not converge");
    goto done;
  }
  double smax = gsl_vector_max(S), smin = gsl_vector_min(S);
  if (!(smin > (double)(n > k ? n : k) * DBL_EPSILON * smax))
    st = INFB_ERROR(INFB_ESINGULAR, SINGULAR_MLE_MSG);
done:
  gsl_matrix_free(U);
  gsl_matrix_free(V);
  gsl_vector_free(S);
  return st;
}

/* Cholesky of ΦᵀΦ + λI into A (after the rank test when λ = 0). */
static int
factor_normal(const infb_problem *pb, const infb_linreg_design *d, double lambda,
              gsl_matrix *A)
{
  if (lambda == 0.0) {
    int st = check_rank(pb);
    if (st)
      return st;
  }
  gsl_matrix_memcpy(A, d->G);
  for (size_t j = 0; j < d->m; j++)
    gsl_matrix_set(A, j, j, gsl_matrix_get(A, j, j) + lambda);
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  int st = gsl_linalg_cholesky_decomp1(A);
  gsl_set_error_handler(old);
  if (st == GSL_SUCCESS)
    return GSL_SUCCESS;
  if (lambda == 0.0)
    return INFB_ERROR(INFB_ESINGULAR, SINGULAR_MLE_MSG);
  return INFB_ERROR(INFB_ESINGULAR,
                    "XᵀX + lambda·I is numerically singular (lambda = %g): increase lambda",
                    lambda);
}

static int
fit_direct(const infb_problem *pb, double lambda, infb_fit *fit)
{
  infb_linreg_design *d = infb_linreg_design_alloc(pb);
  if (!d)
    return GSL_ENOMEM;
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  gsl_matrix *A = gsl_matrix_alloc(d->m, d->m);
  gsl_vector *v = gsl_vector_alloc(d->m);
  gsl_set_error_handler(old);
  int st;
  if (!A || !v) {
    st = INFB_ERROR(GSL_ENOMEM, "linreg: out of memory");
    goto done;
  }
  /* (ΦᵀΦ + λI) v = Φᵀt: FLAT on the centred data (b unpenalised, eliminated), SAME with
   * the ones column penalised like the weights. */
  st = factor_normal(pb, d, lambda, A);
  if (st)
    goto done;
  st = infb_dense_chol_solve(A, d->Phit, v);
  if (st)
    goto done;
  infb_linreg_design_unpack(d, v, fit->w, &fit->intercept);
  fit->iterations = 0;
  snprintf(fit->stop_reason, sizeof fit->stop_reason, "closed form");
done:
  gsl_matrix_free(A);
  gsl_vector_free(v);
  infb_linreg_design_free(d);
  return st;
}

/* BFGS works on standardised coordinates z = (u, c) with θ = θ_k + Tz:
 *   w = θ_k,w + S∘u,   b = θ_k,b + s_b·c − x̄ᵀ(S∘u),
 * x̄ the column means (0 without an intercept), S_j = 1/√(‖x_j − x̄_j‖² + λ) and
 * s_b = 1/√(N (+ λ under SAME)).  Then Xw + b moves by (X − 1x̄ᵀ)(S∘u) + s_b·c·1: the
 * intercept is decoupled from the features and the Hessian TᵀHT has unit diagonal, so
 * the gradient in z measures the distance to the optimum uniformly (its norm bounds the
 * error of the standardised weights by the inverse of the smallest eigenvalue of a
 * correlation-like matrix, not of XᵀX).  θ_k is the restart point.  The value BFGS sees
 * is f(θ_k + δ) − f(θ_k), which for this quadratic is exactly
 *   g_kᵀδ + ½‖u‖² + ½λ‖δ_w‖² (+ ½λδ_b² under SAME),   u = Xδ_w + δ_b·1, g_k = ∇f(θ_k):
 * the objective up to a constant, evaluated without the cancellation of f(θ_k + δ) − f(θ_k)
 * (the residual is nearly orthogonal to the columns near the optimum), so the line search
 * still sees decreases far below the rounding level of f itself.  The gradient is the
 * objective's, mapped by Tᵀ: ∇_u = S∘(∇_w f − x̄ ∂f/∂b), ∇_c = s_b ∂f/∂b.  Each restart
 * recomputes g_k, so rounding does not accumulate.  Finally each restart rescales to
 * ζ = z/γ and F = f/γ², γ = ‖Tᵀg_k‖: F starts with a unit gradient and a unit-diagonal
 * Hessian, because GSL's line search stops on an absolute roundoff test
 * ((a − α)·φ'(a) ≤ DBL_EPSILON) that a tiny but still meaningful decrease would trip. */
typedef struct {
  const infb_problem *pb;
  double lambda;
  size_t p, k;
  int pen_b;
  gsl_vector *theta0; /* restart point θ_k */
  gsl_vector *g0;     /* k: ∇f(θ_k) */
  gsl_vector *S;      /* p: feature scales */
  gsl_vector *xbar;   /* p: column means (zeros without an intercept) */
  double sb;          /* intercept scale */
  double gamma;       /* restart scale γ: z = γζ, F = f/γ² */
  gsl_vector *theta;  /* k scratch */
  gsl_vector *delta;  /* k scratch: Tz */
  gsl_vector *u;      /* n scratch */
  gsl_vector *g;      /* k scratch: ∇_θ f */
} bfgs_ctx;

/* delta = Tz = T(γζ). */
static void
ctx_delta(bfgs_ctx *c, const gsl_vector *zeta)
{
  double xs = 0.0;
  for (size_t j = 0; j < c->p; j++) {
    double dw = gsl_vector_get(c->S, j) * c->gamma * gsl_vector_get(zeta, j);
    gsl_vector_set(c->delta, j, dw);
    xs += gsl_vector_get(c->xbar, j) * dw;
  }
  if (c->pb->intercept)
    gsl_vector_set(c->delta, c->p, c->sb * c->gamma * gsl_vector_get(zeta, c->p) - xs);
}

/* gz = Tᵀg. */
static void
ctx_grad_to_z(const bfgs_ctx *c, const gsl_vector *g, gsl_vector *gz)
{
  double gb = c->pb->intercept ? gsl_vector_get(g, c->p) : 0.0;
  for (size_t j = 0; j < c->p; j++)
    gsl_vector_set(gz, j,
                   gsl_vector_get(c->S, j) *
                       (gsl_vector_get(g, j) - gsl_vector_get(c->xbar, j) * gb));
  if (c->pb->intercept)
    gsl_vector_set(gz, c->p, c->sb * gb);
}

static double
ctx_f(const gsl_vector *z, void *params)
{
  bfgs_ctx *c = params;
  ctx_delta(c, z);
  gsl_vector_const_view dw = gsl_vector_const_subvector(c->delta, 0, c->p);
  gsl_blas_dgemv(CblasNoTrans, 1.0, c->pb->X, &dw.vector, 0.0, c->u);
  double db = 0.0;
  if (c->pb->intercept) {
    db = gsl_vector_get(c->delta, c->p);
    gsl_vector_add_constant(c->u, db);
  }
  double gd, uu, dd;
  gsl_blas_ddot(c->g0, c->delta, &gd);
  gsl_blas_ddot(c->u, c->u, &uu);
  gsl_blas_ddot(&dw.vector, &dw.vector, &dd);
  double f = gd + 0.5 * uu + 0.5 * c->lambda * (dd + (c->pen_b ? db * db : 0.0));
  return f / (c->gamma * c->gamma);
}

static void
ctx_df(const gsl_vector *z, void *params, gsl_vector *gz)
{
  bfgs_ctx *c = params;
  ctx_delta(c, z);
  gsl_vector_memcpy(c->theta, c->theta0);
  gsl_vector_add(c->theta, c->delta);
  infb_linreg_objective(c->pb, c->lambda, c->theta, c->g);
  ctx_grad_to_z(c, c->g, gz);
  gsl_vector_scale(gz, 1.0 / c->gamma); /* ∇_ζ F = ∇_z f / γ */
}

static void
ctx_fdf(const gsl_vector *z, void *params, double *f, gsl_vector *gz)
{
  *f = ctx_f(z, params);
  ctx_df(z, params, gz);
}

static int
fit_bfgs(const infb_problem *pb, double lambda, const infb_solver_options *opt, infb_fit *fit)
{
  const gsl_matrix *X = pb->X;
  size_t n = X->size1, p = X->size2, k = p + (pb->intercept ? 1 : 0);
  int st = GSL_SUCCESS;

  /* λ = 0: the minimiser must be unique, as for the direct solver. */
  if (lambda == 0.0) {
    st = check_rank(pb);
    if (st)
      return st;
  }

  bfgs_ctx c = { .pb = pb, .lambda = lambda, .p = p, .k = k,
                 .pen_b = pb->intercept && pb->intercept_prior == INFB_INTERCEPT_SAME };
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  c.theta0 = gsl_vector_calloc(k);
  c.g0 = gsl_vector_alloc(k);
  c.S = gsl_vector_alloc(p);
  c.xbar = gsl_vector_calloc(p);
  c.theta = gsl_vector_alloc(k);
  c.delta = gsl_vector_alloc(k);
  c.u = gsl_vector_alloc(n);
  c.g = gsl_vector_alloc(k);
  gsl_vector *z = gsl_vector_calloc(k), *gz = gsl_vector_alloc(k);
  gsl_multimin_fdfminimizer *s = gsl_multimin_fdfminimizer_alloc(
      gsl_multimin_fdfminimizer_vector_bfgs2, k);
  gsl_set_error_handler(old);
  if (!c.theta0 || !c.g0 || !c.S || !c.xbar || !c.theta || !c.delta || !c.u || !c.g || !z ||
      !gz || !s) {
    st = INFB_ERROR(GSL_ENOMEM, "linreg: out of memory for BFGS");
    goto done;
  }

  /* The standardising transform (see bfgs_ctx). */
  for (size_t j = 0; j < p; j++) {
    gsl_vector_const_view xj = gsl_matrix_const_column(X, j);
    double mean = 0.0, ss = 0.0;
    if (pb->intercept) {
      for (size_t i = 0; i < n; i++)
        mean += gsl_vector_get(&xj.vector, i);
      mean /= (double)n;
    }
    for (size_t i = 0; i < n; i++) {
      double e = gsl_vector_get(&xj.vector, i) - mean;
      ss += e * e;
    }
    double h = ss + lambda;
    gsl_vector_set(c.xbar, j, mean);
    gsl_vector_set(c.S, j, h > 0.0 ? 1.0 / sqrt(h) : 1.0);
  }
  c.sb = 1.0 / sqrt((double)n + (c.pen_b ? lambda : 0.0));

  /* Threshold tol·(1 + ‖Tᵀ∇f(0)‖): ∇f(0) = −[Xᵀy; 1ᵀy], so this is the header's
   * tol·(1 + ‖Xᵀy‖) for the standardised design. */
  infb_linreg_objective(pb, lambda, c.theta0, c.g);
  ctx_grad_to_z(&c, c.g, gz);
  double thr = opt->tol * (1.0 + gsl_blas_dnrm2(gz));

  gsl_multimin_function_fdf fdf = { .f = ctx_f, .df = ctx_df, .fdf = ctx_fdf, .n = k,
                                    .params = &c };
  size_t iters = 0;
  const char *reason = NULL;
  for (;;) {
    /* Restart at θ_k: its gradient. */
    infb_linreg_objective(pb, lambda, c.theta0, c.g0);
    ctx_grad_to_z(&c, c.g0, gz);
    double gnorm = gsl_blas_dnrm2(gz);
    if (gnorm <= thr) {
      reason = "converged";
      break;
    }
    if (iters >= opt->max_iter) {
      reason = "max_iter";
      break;
    }
    /* In ζ the gradient has unit norm and the Hessian unit diagonal: first trial step 1. */
    c.gamma = gnorm;
    gsl_vector_set_zero(z);
    old = gsl_set_error_handler_off();
    int sst = gsl_multimin_fdfminimizer_set(s, &fdf, z, 1.0, BFGS_LINESEARCH_TOL);
    gsl_set_error_handler(old);
    if (sst) {
      st = INFB_ERROR(sst, "linreg: BFGS could not start (%s)", gsl_strerror(sst));
      goto done;
    }
    size_t inner = 0;
    while (iters < opt->max_iter && !reason) {
      old = gsl_set_error_handler_off();
      int ist = gsl_multimin_fdfminimizer_iterate(s);
      gsl_set_error_handler(old);
      if (ist)
        break; /* the line search made no progress: restart from here */
      iters++;
      inner++;
      if (c.gamma * gsl_blas_dnrm2(gsl_multimin_fdfminimizer_gradient(s)) <= thr)
        reason = "converged";
    }
    /* θ_{k+1} = θ_k + T(γζ). */
    ctx_delta(&c, gsl_multimin_fdfminimizer_x(s));
    gsl_vector_add(c.theta0, c.delta);
    if (reason)
      break;
    if (iters >= opt->max_iter) {
      reason = "max_iter";
      break;
    }
    if (inner == 0) {
      /* A fresh start could not take one step: the objective is flat to rounding here. */
      reason = "no progress";
      break;
    }
  }

  gsl_vector_const_view wf = gsl_vector_const_subvector(c.theta0, 0, p);
  gsl_vector_memcpy(fit->w, &wf.vector);
  fit->intercept = pb->intercept ? gsl_vector_get(c.theta0, p) : 0.0;
  fit->iterations = iters;
  snprintf(fit->stop_reason, sizeof fit->stop_reason, "%s", reason);
done:
  gsl_multimin_fdfminimizer_free(s);
  gsl_vector_free(z);
  gsl_vector_free(gz);
  gsl_vector_free(c.theta0);
  gsl_vector_free(c.g0);
  gsl_vector_free(c.S);
  gsl_vector_free(c.xbar);
  gsl_vector_free(c.theta);
  gsl_vector_free(c.delta);
  gsl_vector_free(c.u);
  gsl_vector_free(c.g);
  return st;
}

int
infb_linreg_fit_penalized(const infb_problem *pb, double lambda,
                          const infb_solver_options *opt, infb_fit *fit)
{
  int st = check_fit(pb, lambda, fit);
  if (st)
    return st;
  int method = opt ? opt->method : INFB_SOLVER_AUTO;
  if (method == INFB_SOLVER_AUTO || method == INFB_SOLVER_DIRECT) {
    st = fit_direct(pb, lambda, fit);
  } else if (method == INFB_SOLVER_BFGS) {
    st = fit_bfgs(pb, lambda, opt, fit);
  } else {
    return INFB_ERROR(GSL_EINVAL, "linreg: solver method %d is not available (use direct or "
                      "bfgs)", method);
  }
  if (st)
    return st;
  fit->has_intercept = pb->intercept != 0;
  if (pb->noise_var > 0.0)
    fit->noise_var = pb->noise_var;
  else
    fit->noise_var = infb_linreg_rss(pb->X, pb->y, fit->w, fit->intercept) /
                     (double)pb->X->size1;
  return GSL_SUCCESS;
}
