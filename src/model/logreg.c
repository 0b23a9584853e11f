/* Logistic regression: stable log-likelihood, the penalised objective with its gradient
 * and Hessian, and a Newton (Armijo backtracking) / BFGS solver that reports separable
 * data and rank-deficient designs instead of returning diverged weights (MATH.md §2;
 * existence of the MLE: Albert & Anderson, Biometrika 71, 1984). */
#include "config.h"
#include "model/logreg.h"
#include "core/error.h"
#include "linalg/dense.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multimin.h>

/* Solver defaults (documented in logreg.h). */
#define DEFAULT_TOL 1e-10
#define DEFAULT_MAX_ITER 200

static const char msg_separable[] =
    "the classes are (quasi-)separable: the logistic MLE does not exist (weights diverge); "
    "use map";
static const char msg_rank[] =
    "the design matrix is rank-deficient: the MLE is not unique; use map with lambda > 0";

double
infb_log_sigmoid(double t)
{
  /* ln σ(t) = −softplus(−t), softplus(u) = max(u, 0) + log1p(exp(−|u|)): exp never
   * overflows and log1p keeps the tiny tail exact. */
  if (t >= 0.0)
    return -log1p(exp(-t));
  return t - log1p(exp(t));
}

/* σ(t) without overflow: exp of a non-positive number only. */
static double
sigmoid(double t)
{
  if (t >= 0.0)
    return 1.0 / (1.0 + exp(-t));
  double e = exp(t);
  return e / (1.0 + e);
}

double
infb_logreg_loglik(const gsl_matrix *X, const gsl_vector *y, const gsl_vector *w, double b)
{
  if (X->size1 != y->size || X->size2 != w->size) {
    INFB_ERROR(GSL_EBADLEN, "logreg loglik: X is %zux%zu, y has %zu, w has %zu", X->size1,
               X->size2, y->size, w->size);
    return NAN;
  }
  double s = 0.0;
  for (size_t i = 0; i < X->size1; i++) {
    gsl_vector_const_view xi = gsl_matrix_const_row(X, i);
    double eta;
    gsl_blas_ddot(&xi.vector, w, &eta);
    eta += b;
    double yi = gsl_vector_get(y, i);
    s += yi * infb_log_sigmoid(eta) + (1.0 - yi) * infb_log_sigmoid(-eta);
  }
  return s;
}

/* ------------------------------------------------------------------ workspace */

/* Scratch for one problem: sizes n (rows), p (features), m = p + h. */
typedef struct ws_t {
  size_t n, p, m;
  int h;             /* 1 with an intercept */
  int same;          /* the intercept is penalised like a weight */
  gsl_vector *eta;   /* n: η = Xw + b at the last evaluation */
  gsl_vector *e;     /* n: y − σ(η) */
  gsl_vector *r;     /* n: σ(η)σ(−η) */
  gsl_vector *s;     /* n: Xu (+ u_b) for a direction u */
  gsl_matrix *Z;     /* n×p: rows √r_i x_i (and centred X in the rank test) */
  gsl_matrix *L;     /* m×m: Cholesky factor / scratch */
  gsl_vector *grad;  /* m */
  gsl_vector *d;     /* m: search direction */
  gsl_vector *trial; /* m: trial point of the line search */
  gsl_vector *ref;   /* m: iterate where the gradient first converged */
  gsl_vector *u;     /* m: displacement since ref */
  gsl_vector *gtry;  /* m: gradient at the trial point */
  gsl_matrix *H;     /* m×m */
} ws_t;

static void
ws_free(ws_t *ws)
{
  if (!ws)
    return;
  gsl_vector_free(ws->eta);
  gsl_vector_free(ws->e);
  gsl_vector_free(ws->r);
  gsl_vector_free(ws->s);
  gsl_matrix_free(ws->Z);
  gsl_matrix_free(ws->L);
  gsl_vector_free(ws->grad);
  gsl_vector_free(ws->d);
  gsl_vector_free(ws->trial);
  gsl_vector_free(ws->ref);
  gsl_vector_free(ws->u);
  gsl_vector_free(ws->gtry);
  gsl_matrix_free(ws->H);
  free(ws);
}

static ws_t *
ws_alloc(const infb_problem *pb)
{
  ws_t *ws = infb_calloc(1, sizeof *ws);
  if (!ws)
    return NULL;
  ws->n = pb->X->size1;
  ws->p = pb->X->size2;
  ws->h = pb->intercept ? 1 : 0;
  ws->same = ws->h && pb->intercept_prior == INFB_INTERCEPT_SAME;
  ws->m = ws->p + (size_t)ws->h;
  ws->eta = gsl_vector_alloc(ws->n);
  ws->e = gsl_vector_alloc(ws->n);
  ws->r = gsl_vector_alloc(ws->n);
  ws->s = gsl_vector_alloc(ws->n);
  ws->Z = gsl_matrix_alloc(ws->n, ws->p);
  ws->L = gsl_matrix_alloc(ws->m, ws->m);
  ws->grad = gsl_vector_alloc(ws->m);
  ws->d = gsl_vector_alloc(ws->m);
  ws->trial = gsl_vector_alloc(ws->m);
  ws->ref = gsl_vector_alloc(ws->m);
  ws->u = gsl_vector_alloc(ws->m);
  ws->gtry = gsl_vector_alloc(ws->m);
  ws->H = gsl_matrix_alloc(ws->m, ws->m);
  if (!ws->eta || !ws->e || !ws->r || !ws->s || !ws->Z || !ws->L || !ws->grad || !ws->d ||
      !ws->trial || !ws->ref || !ws->u || !ws->gtry || !ws->H) {
    ws_free(ws);
    INFB_ERROR_NULL(GSL_ENOMEM, "logreg: out of memory for a %zux%zu problem", pb->X->size1,
                    pb->X->size2);
  }
  return ws;
}

/* Shapes of the problem (and of a fit, when given). */
static int
check_problem(const infb_problem *pb, const infb_fit *fit)
{
  if (!pb || !pb->X || !pb->y)
    return INFB_ERROR(GSL_EINVAL, "logreg: the problem has no X or y");
  if (pb->X->size1 != pb->y->size)
    return INFB_ERROR(GSL_EBADLEN, "logreg: X has %zu rows but y has %zu", pb->X->size1,
                      pb->y->size);
  if (pb->intercept && pb->intercept_prior != INFB_INTERCEPT_FLAT &&
      pb->intercept_prior != INFB_INTERCEPT_SAME)
    return INFB_ERROR(GSL_EINVAL, "logreg: unknown intercept_prior %d", (int)pb->intercept_prior);
  if (fit && (fit->p != pb->X->size2 || fit->w == NULL || fit->w->size != pb->X->size2 ||
              (fit->has_intercept != 0) != (pb->intercept != 0)))
    return INFB_ERROR(GSL_EBADLEN,
                      "logreg: the fit (p = %zu, intercept %d) does not match the problem "
                      "(p = %zu, intercept %d)",
                      fit->p, fit->has_intercept, pb->X->size2, pb->intercept);
  return GSL_SUCCESS;
}

/* f(θ) of logreg.h; grad (m) and hess (m×m) may be NULL.  Leaves η = Xw + b in ws->eta. */
static double
ws_eval(const infb_problem *pb, double alpha, const gsl_vector *theta, gsl_vector *grad,
        gsl_matrix *hess, ws_t *ws)
{
  const gsl_matrix *X = pb->X;
  const gsl_vector *y = pb->y;
  size_t n = ws->n, p = ws->p;
  gsl_vector_const_view w = gsl_vector_const_subvector(theta, 0, p);
  double b = ws->h ? gsl_vector_get(theta, p) : 0.0;

  gsl_blas_dgemv(CblasNoTrans, 1.0, X, &w.vector, 0.0, ws->eta);
  double f = 0.0, esum = 0.0, rsum = 0.0;
  for (size_t i = 0; i < n; i++) {
    double eta = gsl_vector_get(ws->eta, i) + b;
    double yi = gsl_vector_get(y, i);
    gsl_vector_set(ws->eta, i, eta);
    f -= yi * infb_log_sigmoid(eta) + (1.0 - yi) * infb_log_sigmoid(-eta);
    if (grad) {
      /* y − σ(η) = y·σ(−η) − (1 − y)·σ(η): no cancellation for y ∈ {0, 1}. */
      double ei = yi * sigmoid(-eta) - (1.0 - yi) * sigmoid(eta);
      gsl_vector_set(ws->e, i, ei);
      esum += ei;
    }
    if (hess) {
      double ri = sigmoid(eta) * sigmoid(-eta);
      gsl_vector_set(ws->r, i, ri);
      rsum += ri;
    }
  }
  double ww;
  gsl_blas_ddot(&w.vector, &w.vector, &ww);
  f += 0.5 * alpha * ww;
  if (ws->same)
    f += 0.5 * alpha * b * b;

  if (grad) {
    /* ∇_w = −Xᵀ(y − σ) + αw; ∂_b = −Σ(y − σ) (+ αb for SAME). */
    gsl_vector_view gw = gsl_vector_subvector(grad, 0, p);
    gsl_blas_dgemv(CblasTrans, -1.0, X, ws->e, 0.0, &gw.vector);
    gsl_blas_daxpy(alpha, &w.vector, &gw.vector);
    if (ws->h)
      gsl_vector_set(grad, p, -esum + (ws->same ? alpha * b : 0.0));
  }
  if (hess) {
    /* H_ww = XᵀRX + αI as the Gram matrix of Z = R^{1/2}X (one gemm); H_wb = Xᵀr;
     * H_bb = Σr (+ α for SAME). */
    for (size_t i = 0; i < n; i++) {
      double sr = sqrt(gsl_vector_get(ws->r, i));
      for (size_t j = 0; j < p; j++)
        gsl_matrix_set(ws->Z, i, j, sr * gsl_matrix_get(X, i, j));
    }
    gsl_matrix_view Hww = gsl_matrix_submatrix(hess, 0, 0, p, p);
    infb_dense_gram(1.0, ws->Z, 0.0, &Hww.matrix);
    for (size_t j = 0; j < p; j++)
      gsl_matrix_set(hess, j, j, gsl_matrix_get(hess, j, j) + alpha);
    if (ws->h) {
      gsl_vector_view col = gsl_matrix_subcolumn(hess, p, 0, p);
      gsl_blas_dgemv(CblasTrans, 1.0, X, ws->r, 0.0, &col.vector);
      for (size_t j = 0; j < p; j++)
        gsl_matrix_set(hess, p, j, gsl_matrix_get(hess, j, p));
      gsl_matrix_set(hess, p, p, rsum + (ws->same ? alpha : 0.0));
    }
  }
  return f;
}

double
infb_logreg_objective(const infb_problem *pb, double alpha, const gsl_vector *theta,
                      gsl_vector *grad, gsl_matrix *hess)
{
  if (check_problem(pb, NULL))
    return NAN;
  size_t m = pb->X->size2 + (pb->intercept ? 1 : 0);
  if (theta->size != m || (grad && grad->size != m) ||
      (hess && (hess->size1 != m || hess->size2 != m))) {
    INFB_ERROR(GSL_EBADLEN, "logreg objective: theta, grad and hess must have %zu entries", m);
    return NAN;
  }
  ws_t *ws = ws_alloc(pb);
  if (!ws)
    return NAN;
  double f = ws_eval(pb, alpha, theta, grad, hess, ws);
  ws_free(ws);
  return f;
}

int
infb_logreg_hessian(const infb_problem *pb, double alpha, const infb_fit *fit, gsl_matrix *H)
{
  int st = check_problem(pb, fit);
  if (st)
    return st;
  size_t p = fit->p, m = p + (fit->has_intercept ? 1 : 0);
  if (H->size1 != m || H->size2 != m)
    return INFB_ERROR(GSL_EBADLEN, "logreg hessian: H is %zux%zu, want %zux%zu", H->size1,
                      H->size2, m, m);
  gsl_vector *theta = gsl_vector_alloc(m);
  ws_t *ws = ws_alloc(pb);
  if (!theta || !ws) {
    gsl_vector_free(theta);
    ws_free(ws);
    return INFB_ERROR(GSL_ENOMEM, "logreg hessian: out of memory");
  }
  gsl_vector_view tw = gsl_vector_subvector(theta, 0, p);
  gsl_vector_memcpy(&tw.vector, fit->w);
  if (fit->has_intercept)
    gsl_vector_set(theta, p, fit->intercept);
  ws_eval(pb, alpha, theta, NULL, H, ws);
  ws_free(ws);
  gsl_vector_free(theta);
  return GSL_SUCCESS;
}

/* ------------------------------------------------------------------ checks */

void
infb_logreg_options_default(infb_logreg_options *o)
{
  o->armijo = 1e-4;
  o->backtrack = 0.5;
  o->max_backtrack = 60;
  o->f_noise = 1e-12;
  o->step_tol = 1e-6;
  o->sep_tol = 1e-6;
  o->rank_tol = 1e-12;
  o->bfgs_step = 1.0;
  o->bfgs_line_tol = 0.1;
}

/* Every target 0 or 1, both classes present; *ybar receives the mean. */
static int
check_targets(const gsl_vector *y, double *ybar)
{
  size_t n = y->size, ones = 0;
  if (n == 0)
    return INFB_ERROR(INFB_EDATA, "logreg: there are no training rows");
  for (size_t i = 0; i < n; i++) {
    double v = gsl_vector_get(y, i);
    if (v == 1.0)
      ones++;
    else if (v != 0.0)
      return INFB_ERROR(INFB_EDATA, "the target must be 0 or 1 for logreg (row %zu has %g)",
                        i + 1, v);
  }
  if (ones == 0 || ones == n)
    return INFB_ERROR(INFB_EDATA,
                      "the target has a single class (all %d): logistic regression needs both",
                      ones ? 1 : 0);
  *ybar = (double)ones / (double)n;
  return GSL_SUCCESS;
}

static double
norm_inf(const gsl_vector *v)
{
  double m = 0.0;
  for (size_t i = 0; i < v->size; i++)
    m = fmax(m, fabs(gsl_vector_get(v, i)));
  return m;
}

/* *deficient = 1 when [X, 1] (or X) has deficient column rank, judged on the Gram matrix
 * of the columns (centred when there is an intercept, which spans the constant) scaled to
 * unit diagonal — invariant to the units and offsets of the features. */
static int
design_rank_deficient(const infb_problem *pb, double rank_tol, ws_t *ws, int *deficient)
{
  const gsl_matrix *X = pb->X;
  size_t n = ws->n, p = ws->p;
  *deficient = 0;
  gsl_matrix_memcpy(ws->Z, X);
  if (ws->h) {
    for (size_t j = 0; j < p; j++) {
      gsl_vector_view c = gsl_matrix_column(ws->Z, j);
      double mean = 0.0;
      for (size_t i = 0; i < n; i++)
        mean += gsl_vector_get(&c.vector, i);
      mean /= (double)n;
      gsl_vector_add_constant(&c.vector, -mean);
    }
  }
  gsl_matrix_view G = gsl_matrix_submatrix(ws->L, 0, 0, p, p);
  int st = infb_dense_gram(1.0, ws->Z, 0.0, &G.matrix);
  if (st)
    return st;
  for (size_t j = 0; j < p; j++) {
    gsl_vector_const_view c = gsl_matrix_const_column(X, j);
    double raw = gsl_blas_dnrm2(&c.vector);
    double gjj = gsl_matrix_get(&G.matrix, j, j);
    if (!(gjj > rank_tol * raw * raw)) { /* a zero or (with b) constant column */
      *deficient = 1;
      return GSL_SUCCESS;
    }
  }
  gsl_vector *dg = gsl_vector_alloc(p), *ev = gsl_vector_alloc(p);
  gsl_eigen_symm_workspace *ew = gsl_eigen_symm_alloc(p);
  if (!dg || !ev || !ew) {
    gsl_vector_free(dg);
    gsl_vector_free(ev);
    gsl_eigen_symm_free(ew);
    return INFB_ERROR(GSL_ENOMEM, "logreg: out of memory in the rank test");
  }
  for (size_t j = 0; j < p; j++)
    gsl_vector_set(dg, j, 1.0 / sqrt(gsl_matrix_get(&G.matrix, j, j)));
  for (size_t j = 0; j < p; j++)
    for (size_t k = 0; k < p; k++)
      gsl_matrix_set(&G.matrix, j, k,
                     gsl_matrix_get(&G.matrix, j, k) * gsl_vector_get(dg, j) *
                         gsl_vector_get(dg, k));
  st = gsl_eigen_symm(&G.matrix, ev, ew);
  if (!st) {
    double lo = gsl_vector_min(ev), hi = gsl_vector_max(ev);
    *deficient = !(lo > rank_tol * hi);
  }
  gsl_vector_free(dg);
  gsl_vector_free(ev);
  gsl_eigen_symm_free(ew);
  return st ? INFB_ERROR(st, "logreg: eigenvalues of the design's Gram matrix failed") : 0;
}

/* In-place Cholesky of ws->L (a copy of H) without raising: 0 on success. */
static int
quiet_cholesky(gsl_matrix *A)
{
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  int st = gsl_linalg_cholesky_decomp1(A);
  gsl_set_error_handler(old);
  if (st)
    return st;
  for (size_t i = 0; i < A->size1; i++)
    if (!(gsl_matrix_get(A, i, i) > 0.0) || !isfinite(gsl_matrix_get(A, i, i)))
      return GSL_EDOM;
  return GSL_SUCCESS;
}

/* Newton direction d = −H⁻¹g into ws->d from ws->H and g; nonzero when H is not PD. */
static int
newton_direction(ws_t *ws, const gsl_vector *g)
{
  gsl_matrix_memcpy(ws->L, ws->H);
  if (quiet_cholesky(ws->L))
    return GSL_EDOM;
  infb_dense_chol_solve(ws->L, g, ws->d);
  gsl_vector_scale(ws->d, -1.0);
  return GSL_SUCCESS;
}

/* Test (b) of logreg.h: u moves every linear predictor to its correct side up to the
 * slack sep_tol·max_j |z_jᵀu|, and moves some of them. */
static int
separating_direction(const infb_problem *pb, const gsl_vector *u, double sep_tol, ws_t *ws)
{
  gsl_vector_const_view uw = gsl_vector_const_subvector(u, 0, ws->p);
  double ub = ws->h ? gsl_vector_get(u, ws->p) : 0.0;
  gsl_blas_dgemv(CblasNoTrans, 1.0, pb->X, &uw.vector, 0.0, ws->s);
  gsl_vector_add_constant(ws->s, ub);
  double smax = norm_inf(ws->s);
  if (!(smax > 0.0) || !isfinite(smax))
    return 0;
  for (size_t i = 0; i < ws->n; i++) {
    double sign = gsl_vector_get(pb->y, i) == 1.0 ? 1.0 : -1.0;
    if (sign * gsl_vector_get(ws->s, i) < -sep_tol * smax)
      return 0;
  }
  return 1;
}

/* Test (a): the linear predictors in ws->eta classify every point strictly correctly. */
static int
completely_separated(const infb_problem *pb, const ws_t *ws)
{
  for (size_t i = 0; i < ws->n; i++) {
    double sign = gsl_vector_get(pb->y, i) == 1.0 ? 1.0 : -1.0;
    if (!(sign * gsl_vector_get(ws->eta, i) > 0.0))
      return 0;
  }
  return 1;
}

/* ------------------------------------------------------------------ solvers */

typedef struct solve_ctx {
  const infb_problem *pb;
  double alpha;
  double tol, scale;             /* converged when ‖g‖∞ ≤ tol·scale */
  size_t max_iter;
  const infb_logreg_options *lo;
  ws_t *ws;
  size_t iterations;             /* out */
  const char *reason;            /* out */
} solve_ctx;

static int
singular_hessian(double alpha)
{
  if (alpha == 0.0)
    /* The design has full rank (checked first), so XᵀRX lost definiteness only because
     * the weights R_i underflowed: the iterates ran off to infinity (test (c)). */
    return INFB_ERROR(INFB_ESEPARABLE, "%s", msg_separable);
  return INFB_ERROR(INFB_ESINGULAR,
                    "the Hessian of the logistic objective is numerically singular at lambda = "
                    "%g; increase lambda",
                    alpha);
}

static int
solve_newton(solve_ctx *c, gsl_vector *theta)
{
  ws_t *ws = c->ws;
  const infb_logreg_options *lo = c->lo;
  int ref_set = 0;
  c->reason = "max_iter";
  for (c->iterations = 0;; c->iterations++) {
    double f = ws_eval(c->pb, c->alpha, theta, ws->grad, ws->H, ws);
    double gn = norm_inf(ws->grad);
    if (!isfinite(f) || !isfinite(gn))
      return INFB_ERROR(GSL_ERUNAWAY, "logreg newton: the objective became non-finite");
    int gconv = gn <= c->tol * c->scale;
    if (gconv && c->alpha > 0.0) {
      c->reason = "converged";
      return GSL_SUCCESS;
    }
    if (newton_direction(ws, ws->grad))
      return singular_hessian(c->alpha);
    if (gconv) {
      /* α = 0: a vanishing gradient is not enough (quasi-separation), the step must
       * vanish too; otherwise look for a separating direction (test (b)). */
      if (norm_inf(ws->d) <= lo->step_tol * fmax(1.0, norm_inf(theta))) {
        c->reason = "converged";
        return GSL_SUCCESS;
      }
      if (separating_direction(c->pb, ws->d, lo->sep_tol, ws))
        return INFB_ERROR(INFB_ESEPARABLE, "%s", msg_separable);
      if (!ref_set) {
        gsl_vector_memcpy(ws->ref, theta);
        ref_set = 1;
      } else {
        gsl_vector_memcpy(ws->u, theta);
        gsl_vector_sub(ws->u, ws->ref);
        if (separating_direction(c->pb, ws->u, lo->sep_tol, ws))
          return INFB_ERROR(INFB_ESEPARABLE, "%s", msg_separable);
      }
    }
    if (c->iterations >= c->max_iter)
      return GSL_SUCCESS;
    /* Armijo backtracking along the Newton direction (a descent direction: H is PD). */
    double slope;
    gsl_blas_ddot(ws->grad, ws->d, &slope);
    int accepted = 0;
    if (!(slope < 0.0)) {
      accepted = 0;
    } else if (-slope <= lo->f_noise * fmax(1.0, fabs(f))) {
      /* The predicted decrease is below the rounding error of f, so comparing values of f
       * is meaningless: take the full Newton step if it shrinks the gradient. */
      gsl_vector_memcpy(ws->trial, theta);
      gsl_vector_add(ws->trial, ws->d);
      ws_eval(c->pb, c->alpha, ws->trial, ws->gtry, NULL, ws);
      accepted = norm_inf(ws->gtry) < gn;
    } else {
      double t = 1.0;
      for (size_t k = 0; k <= lo->max_backtrack && !accepted; k++, t *= lo->backtrack) {
        gsl_vector_memcpy(ws->trial, theta);
        gsl_blas_daxpy(t, ws->d, ws->trial);
        double ftry = ws_eval(c->pb, c->alpha, ws->trial, NULL, NULL, ws);
        accepted = ftry <= f + lo->armijo * t * slope;
      }
    }
    if (!accepted) {
      /* No decrease representable in floating point.  With α = 0, a vanished gradient
       * and a Newton step that is not small, the objective is flat along a direction the
       * iterates cannot follow any more: they have run off (test (d)).  Otherwise θ is
       * at the rounding floor of a genuine optimum. */
      if (c->alpha == 0.0 && gconv)
        return INFB_ERROR(INFB_ESEPARABLE, "%s", msg_separable);
      c->reason = "no progress";
      return GSL_SUCCESS;
    }
    gsl_vector_memcpy(theta, ws->trial);
    if (c->alpha == 0.0 && completely_separated(c->pb, ws)) /* test (a), η of the trial */
      return INFB_ERROR(INFB_ESEPARABLE, "%s", msg_separable);
  }
}

static double
bfgs_f(const gsl_vector *x, void *par)
{
  solve_ctx *c = par;
  return ws_eval(c->pb, c->alpha, x, NULL, NULL, c->ws);
}

static void
bfgs_df(const gsl_vector *x, void *par, gsl_vector *g)
{
  solve_ctx *c = par;
  ws_eval(c->pb, c->alpha, x, g, NULL, c->ws);
}

static void
bfgs_fdf(const gsl_vector *x, void *par, double *f, gsl_vector *g)
{
  solve_ctx *c = par;
  *f = ws_eval(c->pb, c->alpha, x, g, NULL, c->ws);
}

static int
solve_bfgs(solve_ctx *c, gsl_vector *theta)
{
  ws_t *ws = c->ws;
  gsl_multimin_function_fdf fdf = {bfgs_f, bfgs_df, bfgs_fdf, ws->m, c};
  gsl_multimin_fdfminimizer *s =
      gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, ws->m);
  if (!s)
    return INFB_ERROR(GSL_ENOMEM, "logreg bfgs: out of memory");
  int st = gsl_multimin_fdfminimizer_set(s, &fdf, theta, c->lo->bfgs_step,
                                         c->lo->bfgs_line_tol);
  if (st) {
    gsl_multimin_fdfminimizer_free(s);
    return INFB_ERROR(st, "logreg bfgs: cannot start the minimiser");
  }
  c->reason = "max_iter";
  int ret = GSL_SUCCESS;
  for (c->iterations = 0;; c->iterations++) {
    const gsl_vector *g = gsl_multimin_fdfminimizer_gradient(s);
    if (norm_inf(g) <= c->tol * c->scale) {
      c->reason = "converged";
      break;
    }
    if (c->iterations >= c->max_iter)
      break;
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    st = gsl_multimin_fdfminimizer_iterate(s);
    gsl_set_error_handler(old);
    if (st == GSL_ENOPROG) {
      c->reason = "no progress";
      break;
    }
    if (st) {
      ret = INFB_ERROR(st, "logreg bfgs: iteration failed (%s)", gsl_strerror(st));
      break;
    }
    if (c->alpha == 0.0) {
      ws_eval(c->pb, c->alpha, gsl_multimin_fdfminimizer_x(s), NULL, NULL, ws);
      if (completely_separated(c->pb, ws)) { /* test (a) */
        ret = INFB_ERROR(INFB_ESEPARABLE, "%s", msg_separable);
        break;
      }
    }
  }
  if (!ret)
    gsl_vector_memcpy(theta, gsl_multimin_fdfminimizer_x(s));
  gsl_multimin_fdfminimizer_free(s);
  return ret;
}

int
infb_logreg_fit_ex(const infb_problem *pb, double alpha, const infb_solver_options *opt,
                   const infb_logreg_options *lopt, infb_fit *fit)
{
  int st = check_problem(pb, fit);
  if (st)
    return st;
  if (!(alpha >= 0.0) || !isfinite(alpha))
    return INFB_ERROR(GSL_EINVAL, "logreg: the prior precision must be finite and >= 0, not %g",
                      alpha);
  infb_logreg_options lo;
  if (lopt)
    lo = *lopt;
  else
    infb_logreg_options_default(&lo);
  if (!(lo.backtrack > 0.0 && lo.backtrack < 1.0) || !(lo.armijo > 0.0 && lo.armijo < 1.0))
    return INFB_ERROR(GSL_EINVAL, "logreg: armijo and backtrack must lie in (0, 1)");
  double ybar = 0.5;
  st = check_targets(pb->y, &ybar);
  if (st)
    return st;

  ws_t *ws = ws_alloc(pb);
  gsl_vector *theta = ws ? gsl_vector_calloc(ws->m) : NULL;
  if (!theta) {
    ws_free(ws);
    return ws ? INFB_ERROR(GSL_ENOMEM, "logreg: out of memory") : GSL_ENOMEM;
  }
  if (alpha == 0.0) {
    int deficient = 0;
    st = design_rank_deficient(pb, lo.rank_tol, ws, &deficient);
    if (!st && deficient)
      st = INFB_ERROR(INFB_ESINGULAR, "%s", msg_rank);
    if (st)
      goto done;
  }
  if (ws->h)
    gsl_vector_set(theta, ws->p, log(ybar / (1.0 - ybar)));

  /* The gradient's scale: ‖Xᵀ(y − ȳ)‖∞, the size of its terms at the start. */
  for (size_t i = 0; i < ws->n; i++)
    gsl_vector_set(ws->e, i, gsl_vector_get(pb->y, i) - ybar);
  gsl_vector_view gw = gsl_vector_subvector(ws->grad, 0, ws->p);
  gsl_blas_dgemv(CblasTrans, 1.0, pb->X, ws->e, 0.0, &gw.vector);
  solve_ctx c = {.pb = pb,
                 .alpha = alpha,
                 .tol = opt && opt->tol > 0.0 ? opt->tol : DEFAULT_TOL,
                 .scale = fmax(1.0, norm_inf(&gw.vector)),
                 .max_iter = opt && opt->max_iter > 0 ? opt->max_iter : DEFAULT_MAX_ITER,
                 .lo = &lo,
                 .ws = ws,
                 .iterations = 0,
                 .reason = ""};
  if (opt && opt->method == INFB_SOLVER_BFGS) {
    if (alpha == 0.0) {
      /* The separation tests watch the Newton iteration: run it first (from the same
       * start) as the existence check; BFGS alone may wander far out before stalling. */
      gsl_vector *th2 = gsl_vector_alloc(ws->m);
      if (!th2) {
        st = INFB_ERROR(GSL_ENOMEM, "logreg: out of memory");
        goto done;
      }
      gsl_vector_memcpy(th2, theta);
      solve_ctx cn = c;
      st = solve_newton(&cn, th2);
      gsl_vector_free(th2);
      if (st)
        goto done;
    }
    st = solve_bfgs(&c, theta);
  }
  else if (!opt || opt->method == INFB_SOLVER_AUTO || opt->method == INFB_SOLVER_NEWTON)
    st = solve_newton(&c, theta);
  else
    st = INFB_ERROR(GSL_EINVAL, "logreg: no closed form; use method newton or bfgs");
  if (!st) {
    gsl_vector_const_view tw = gsl_vector_const_subvector(theta, 0, ws->p);
    gsl_vector_memcpy(fit->w, &tw.vector);
    fit->intercept = ws->h ? gsl_vector_get(theta, ws->p) : 0.0;
    fit->iterations = c.iterations;
    snprintf(fit->stop_reason, sizeof fit->stop_reason, "%s", c.reason);
    fit->noise_var = NAN;
  }
done:
  gsl_vector_free(theta);
  ws_free(ws);
  return st;
}

int
infb_logreg_fit_penalized(const infb_problem *pb, double alpha, const infb_solver_options *opt,
                          infb_fit *fit)
{
  return infb_logreg_fit_ex(pb, alpha, opt, NULL, fit);
}
