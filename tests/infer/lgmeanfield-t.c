/* Tests for infer/lgmeanfield: variational EM with per-sample factorised q for the
 * linear-Gaussian model.  Monotone objective with the closed-form steps, the fixed point
 * of the global step (finite differences of the closed-form ELBO of model/lingauss),
 * the θ-gradient against finite differences, MATH.md §3's prediction that the fit
 * rotates W toward a factorised posterior (against EM from infer/em.h), the Adam
 * variants against the closed-form steps, PPCA, the floor, reproducibility and errors. */
#include <config.h>
#include "tap/basic.h"
#include "core/error.h"
#include "core/rng.h"
#include "infer/em.h"
#include "infer/lgmeanfield.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_randist.h>

/* ---- fixtures ---- */

/* n rows (and, when Xte is not NULL, nte more into *Xte) from a random "true" model
 * (infb_lingauss_random: W ~ N(0, 1), b ~ N(0, 4), psi ~ U(0.2, 1)) of the given shape. */
static gsl_matrix *
make_data(uint64_t seed, size_t D, size_t K, size_t n, int ppca, size_t nte, gsl_matrix **Xte)
{
  infb_lingauss *m = infb_lingauss_alloc(D, K, ppca);
  gsl_rng *r = infb_rng_stream(seed, "test/lgmeanfield", 0);
  gsl_matrix *X = gsl_matrix_alloc(n, D);
  infb_lingauss_random(m, r, 1.0, 2.0, 0.2, 1.0);
  infb_lingauss_sample(m, r, X, NULL);
  if (Xte) {
    *Xte = gsl_matrix_alloc(nte, D);
    infb_lingauss_sample(m, r, *Xte, NULL);
  }
  gsl_rng_free(r);
  infb_lingauss_free(m);
  return X;
}

static void
default_options(infb_lgmeanfield_options *o)
{
  memset(o, 0, sizeof *o);
  o->max_iter = 5000;
  o->tol = 1e-13;
  o->psi_floor = 1e-6;
  o->init_scale = 0.1;
  infb_qstar_options_default(&o->qstar);
  o->train.epochs = 10;
  o->train.batch = 1;
  o->train.samples = 1;
  o->train.lr = 1e-2;
  o->train.lr_decay = 1.0;
  o->train.beta1 = 0.9;
  o->train.beta2 = 0.999;
  o->train.eps = 1e-8;
  o->seed = 11;
}

/* Mean of the closed-form ELBO (model/lingauss) of (MU, S2) on X under m. */
static double
mean_elbo(const infb_lingauss *m, const gsl_matrix *X, const gsl_matrix *MU,
          const gsl_matrix *S2)
{
  infb_lingauss_cache *c = infb_lingauss_cache_alloc(m->D, m->K);
  gsl_vector *e = gsl_vector_alloc(X->size1);
  double a = NAN;
  if (!infb_lingauss_cache_set(c, m) && !infb_lingauss_elbo(c, X, MU, S2, e)) {
    a = 0.0;
    for (size_t i = 0; i < X->size1; i++)
      a += gsl_vector_get(e, i);
    a /= (double)X->size1;
  }
  gsl_vector_free(e);
  infb_lingauss_cache_free(c);
  return a;
}

/* q* of every row under m (closed form of model/lingauss). */
static void
qstar_of(const infb_lingauss *m, const gsl_matrix *X, gsl_matrix *MU, gsl_matrix *S2)
{
  infb_lingauss_cache *c = infb_lingauss_cache_alloc(m->D, m->K);
  infb_lingauss_cache_set(c, m);
  infb_lingauss_qstar(c, X, MU, S2);
  infb_lingauss_cache_free(c);
}

/* Mean L[q*] of X under m: max over factorised q of the mean ELBO. */
static double
mean_elbo_qstar(const infb_lingauss *m, const gsl_matrix *X)
{
  gsl_matrix *MU = gsl_matrix_alloc(X->size1, m->K), *S2 = gsl_matrix_alloc(X->size1, m->K);
  qstar_of(m, X, MU, S2);
  double a = mean_elbo(m, X, MU, S2);
  gsl_matrix_free(MU);
  gsl_matrix_free(S2);
  return a;
}

/* Mean exact ln p(x) and the approximation gap of m. */
static void
loglik_gap(const infb_lingauss *m, const gsl_matrix *X, double *ll, double *gap)
{
  infb_lingauss_cache *c = infb_lingauss_cache_alloc(m->D, m->K);
  gsl_vector *lp = gsl_vector_alloc(X->size1);
  infb_lingauss_cache_set(c, m);
  infb_lingauss_logpx(c, X, lp);
  double a = 0.0;
  for (size_t i = 0; i < X->size1; i++)
    a += gsl_vector_get(lp, i);
  *ll = a / (double)X->size1;
  *gap = infb_lingauss_approx_gap(c);
  gsl_vector_free(lp);
  infb_lingauss_cache_free(c);
}

/* Central finite differences of the mean ELBO of (MU, S2) with respect to θ = (W, b,
 * ln psi), every psi_d free, into g (D·K + 2D: W row-major, b, ln psi); m is restored. */
static void
fd_theta(infb_lingauss *m, const gsl_matrix *X, const gsl_matrix *MU, const gsl_matrix *S2,
         double h, double *g)
{
  const size_t D = m->D, K = m->K;
  size_t q = 0;
  for (size_t d = 0; d < D; d++)
    for (size_t k = 0; k < K; k++, q++) {
      double w0 = gsl_matrix_get(m->W, d, k);
      gsl_matrix_set(m->W, d, k, w0 + h);
      double fp = mean_elbo(m, X, MU, S2);
      gsl_matrix_set(m->W, d, k, w0 - h);
      double fm = mean_elbo(m, X, MU, S2);
      gsl_matrix_set(m->W, d, k, w0);
      g[q] = (fp - fm) / (2.0 * h);
    }
  for (size_t d = 0; d < D; d++, q++) {
    double b0 = gsl_vector_get(m->b, d);
    gsl_vector_set(m->b, d, b0 + h);
    double fp = mean_elbo(m, X, MU, S2);
    gsl_vector_set(m->b, d, b0 - h);
    double fm = mean_elbo(m, X, MU, S2);
    gsl_vector_set(m->b, d, b0);
    g[q] = (fp - fm) / (2.0 * h);
  }
  for (size_t d = 0; d < D; d++, q++) {
    double p0 = gsl_vector_get(m->psi, d);
    gsl_vector_set(m->psi, d, p0 * exp(h));
    double fp = mean_elbo(m, X, MU, S2);
    gsl_vector_set(m->psi, d, p0 * exp(-h));
    double fm = mean_elbo(m, X, MU, S2);
    gsl_vector_set(m->psi, d, p0);
    g[q] = (fp - fm) / (2.0 * h);
  }
}

static double
max_abs(const double *g, size_t n)
{
  double a = 0.0;
  for (size_t i = 0; i < n; i++)
    a = fmax(a, fabs(g[i]));
  return a;
}

/* Curve rows that fall by more than rel·(1 + |previous|). */
static size_t
count_decreases(const infb_latent_fit *f, double rel)
{
  size_t n = 0;
  for (size_t t = 1; t < f->ncurve; t++) {
    double a = f->curve[3 * (t - 1) + 1], b = f->curve[3 * t + 1];
    if (b < a - rel * (1.0 + fabs(a)))
      n++;
  }
  return n;
}

static double
final_elbo(const infb_latent_fit *f)
{
  return f->curve[3 * (f->ncurve - 1) + 1];
}

static int
psi_isotropic(const infb_lingauss *m)
{
  for (size_t d = 1; d < m->D; d++)
    if (gsl_vector_get(m->psi, d) != gsl_vector_get(m->psi, 0))
      return 0;
  return 1;
}

/* ---- 1. closed-form steps: the objective never decreases; curve and start ---- */

static void
test_monotone(void)
{
  const size_t D = 6, K = 2, N = 300, NTE = 100;
  gsl_matrix *Xte, *X = make_data(1, D, K, N, 0, NTE, &Xte);
  infb_lgmeanfield_options o;
  default_options(&o);
  infb_latent_fit f;
  int st = infb_lgmeanfield_fit(X, Xte, K, &o, &f);
  is_int(GSL_SUCCESS, st, "FA D=6 K=2 N=300, closed steps: the fit succeeds");
  if (st) {
    diag("%s", infb_error_message());
    for (int i = 0; i < 9; i++)
      skip("no fit");
    gsl_matrix_free(X);
    gsl_matrix_free(Xte);
    return;
  }
  ok(f.ncurve == f.iterations + 1 && f.iterations > 10 &&
         strcmp(f.stop_reason, "converged") == 0 && f.encoder.fn == NULL && f.model,
     "closed steps: converged in %zu iterations (> 10), ncurve = iterations + 1, no encoder",
     f.iterations);
  is_int(0, (long long)count_decreases(&f, 1e-10),
         "closed local + closed global: the mean ELBO never falls (1e-10 relative) over %zu "
         "iterations (%.6f → %.10f)",
         f.iterations, f.curve[1], final_elbo(&f));

  /* Row 0 is the start: b = mean, psi = 1/N column variances, W_dk ~ N(0, 0.1²) from
   * stream ("meanfield/init", 0), each q_i its optimum (rebuilt here independently). */
  infb_lingauss *m0 = infb_lingauss_alloc(D, K, 0);
  gsl_rng *r = infb_rng_stream(o.seed, "meanfield/init", 0);
  for (size_t d = 0; d < D; d++) {
    double a = 0.0, v = 0.0;
    for (size_t i = 0; i < N; i++)
      a += gsl_matrix_get(X, i, d);
    a /= (double)N;
    for (size_t i = 0; i < N; i++)
      v += (gsl_matrix_get(X, i, d) - a) * (gsl_matrix_get(X, i, d) - a);
    gsl_vector_set(m0->b, d, a);
    gsl_vector_set(m0->psi, d, v / (double)N);
    for (size_t k = 0; k < K; k++)
      gsl_matrix_set(m0->W, d, k, gsl_ran_gaussian(r, 0.1));
  }
  gsl_rng_free(r);
  is_double_rel(mean_elbo_qstar(m0, X), f.curve[1], 1e-10,
                "curve row 0 = mean L[q*] of the documented starting θ (rebuilt in the test)");
  infb_lingauss_free(m0);

  /* The last row: the mean L[q*] of the returned θ, train and test; the test ELBO is a
   * lower bound on the test log-likelihood. */
  is_double_rel(mean_elbo_qstar(f.model, X), final_elbo(&f), 1e-10,
                "final train ELBO = mean L[q*] of fit->model on the training rows "
                "(model/lingauss closed form)");
  double te = f.curve[3 * f.iterations + 2], llte, gapte;
  is_double_rel(mean_elbo_qstar(f.model, Xte), te, 1e-10,
                "final test ELBO = mean L[q*] of fit->model on the test rows");
  loglik_gap(f.model, Xte, &llte, &gapte);
  ok(te <= llte && te > llte - 1.0,
     "test ELBO %.6f ≤ test mean ln p(x) %.6f (a bound; gap %.3g)", te, llte, llte - te);

  /* 2. The fixed point: at convergence ∂(mean ELBO)/∂θ at fixed q = q*(θ) vanishes, by
   * central differences of model/lingauss's closed-form ELBO (h = 1e-5). Guard: the same
   * at W scaled by 0.9 (q* recomputed) is far from 0. */
  double g[64], g2[64];
  const size_t P = D * K + 2 * D;
  gsl_matrix *MU = gsl_matrix_alloc(N, K), *S2 = gsl_matrix_alloc(N, K);
  qstar_of(f.model, X, MU, S2);
  fd_theta(f.model, X, MU, S2, 1e-5, g);
  double gmax = max_abs(g, P);
  infb_lingauss *mp = infb_lingauss_alloc(D, K, 0);
  infb_lingauss_copy(mp, f.model);
  gsl_matrix_scale(mp->W, 0.9);
  gsl_matrix *MU2 = gsl_matrix_alloc(N, K), *S22 = gsl_matrix_alloc(N, K);
  qstar_of(mp, X, MU2, S22);
  fd_theta(mp, X, MU2, S22, 1e-5, g2);
  double gmax2 = max_abs(g2, P);
  ok(gmax < 1e-5 && gmax2 > 1e-2,
     "fixed point: max |∂ELBO/∂(W, b, ln psi)| at fixed q* = %.3g < 1e-5 (finite differences), "
     "guard %.3g > 1e-2 at 0.9 W",
     gmax, gmax2);
  /* The module's own gradient agrees there. */
  gsl_matrix *GW = gsl_matrix_alloc(D, K);
  gsl_vector *Gb = gsl_vector_alloc(D), *Gl = gsl_vector_alloc(D);
  st = infb_lgmeanfield_theta_grad(f.model, X, MU, S2, NULL, GW, Gb, Gl);
  double amax = 0.0;
  for (size_t d = 0; d < D; d++) {
    amax = fmax(amax, fmax(fabs(gsl_vector_get(Gb, d)), fabs(gsl_vector_get(Gl, d))));
    for (size_t k = 0; k < K; k++)
      amax = fmax(amax, fabs(gsl_matrix_get(GW, d, k)));
  }
  ok(!st && amax < 1e-5, "fixed point: infb_lgmeanfield_theta_grad max |g| = %.3g < 1e-5",
     amax);
  gsl_matrix_free(GW);
  gsl_vector_free(Gb);
  gsl_vector_free(Gl);
  gsl_matrix_free(MU);
  gsl_matrix_free(S2);
  gsl_matrix_free(MU2);
  gsl_matrix_free(S22);
  infb_lingauss_free(mp);

  /* Without test data the third column is NaN. */
  infb_latent_fit f2;
  o.max_iter = 3;
  st = infb_lgmeanfield_fit(X, NULL, K, &o, &f2);
  ok(!st && f2.ncurve == 4 && isnan(f2.curve[5]) && strcmp(f2.stop_reason, "max_iter") == 0,
     "Xte = NULL, max_iter = 3: 4 rows, test column NaN, stop_reason max_iter");
  infb_latent_fit_free(&f2);
  infb_latent_fit_free(&f);
  gsl_matrix_free(X);
  gsl_matrix_free(Xte);
}

/* ---- 3. the θ-gradient against central finite differences ---- */

static void
test_theta_grad(void)
{
  const size_t D = 5, K = 3, N = 40;
  gsl_matrix *X = make_data(5, D, K, N, 0, 0, NULL);
  infb_lingauss *m = infb_lingauss_alloc(D, K, 0);
  gsl_rng *r = infb_rng_stream(6, "test/theta", 0);
  infb_lingauss_random(m, r, 0.8, 1.0, 0.3, 1.5);
  /* An arbitrary (not optimal) q: μ ~ N(0, 1), s² ~ U(0.2, 2). */
  gsl_matrix *MU = gsl_matrix_alloc(N, K), *S2 = gsl_matrix_alloc(N, K);
  for (size_t i = 0; i < N; i++)
    for (size_t k = 0; k < K; k++) {
      gsl_matrix_set(MU, i, k, gsl_ran_gaussian(r, 1.0));
      gsl_matrix_set(S2, i, k, 0.2 + 1.8 * gsl_rng_uniform(r));
    }
  gsl_rng_free(r);
  gsl_matrix *GW = gsl_matrix_alloc(D, K);
  gsl_vector *Gb = gsl_vector_alloc(D), *Gl = gsl_vector_alloc(D);
  double e;
  int st = infb_lgmeanfield_theta_grad(m, X, MU, S2, &e, GW, Gb, Gl);
  is_int(GSL_SUCCESS, st, "theta_grad D=5 K=3 N=40 succeeds");
  is_double_rel(mean_elbo(m, X, MU, S2), e, 1e-12,
                "theta_grad's ELBO = mean of infb_lingauss_elbo (MATH.md §3)");
  double fd[64], an[64];
  fd_theta(m, X, MU, S2, 1e-5, fd);
  size_t q = 0;
  for (size_t d = 0; d < D; d++)
    for (size_t k = 0; k < K; k++)
      an[q++] = gsl_matrix_get(GW, d, k);
  for (size_t d = 0; d < D; d++)
    an[q++] = gsl_vector_get(Gb, d);
  for (size_t d = 0; d < D; d++)
    an[q++] = gsl_vector_get(Gl, d);
  double err = 0.0;
  for (size_t i = 0; i < q; i++)
    err = fmax(err, fabs(an[i] - fd[i]) / (1.0 + fabs(fd[i])));
  ok(err < 1e-7 && max_abs(an, q) > 0.1,
     "∂ELBO/∂(W, b, ln psi) matches central differences (h = 1e-5): max rel error %.2g < "
     "1e-7, guard max |g| = %.3g > 0.1",
     err, max_abs(an, q));
  /* Shape and domain errors. */
  gsl_matrix *bad = gsl_matrix_alloc(N, K + 1);
  is_int(GSL_EBADLEN, infb_lgmeanfield_theta_grad(m, X, bad, S2, &e, NULL, NULL, NULL),
         "theta_grad with MU of K+1 columns: GSL_EBADLEN");
  gsl_matrix_set(S2, 3, 1, 0.0);
  is_int(GSL_EDOM, infb_lgmeanfield_theta_grad(m, X, MU, S2, &e, NULL, NULL, NULL),
         "theta_grad with S2[3][1] = 0: GSL_EDOM");
  gsl_matrix_free(bad);
  gsl_matrix_free(GW);
  gsl_vector_free(Gb);
  gsl_vector_free(Gl);
  gsl_matrix_free(MU);
  gsl_matrix_free(S2);
  infb_lingauss_free(m);
  gsl_matrix_free(X);
}

/* ---- 4. MATH.md §3: variational EM rotates W toward a factorised posterior ---- */

static void
test_rotation(void)
{
  const size_t D = 8, K = 3, N = 1000;
  gsl_matrix *X = make_data(7, D, K, N, 0, 0, NULL);
  infb_lgmeanfield_options o;
  default_options(&o);
  infb_latent_fit f;
  int st = infb_lgmeanfield_fit(X, NULL, K, &o, &f);
  infb_lingauss *em = infb_lingauss_alloc(D, K, 0);
  infb_em_fit_options eo;
  memset(&eo, 0, sizeof eo);
  eo.max_iter = 20000;
  eo.tol = 1e-13;
  eo.psi_floor = 1e-6;
  eo.init_scale = 0.1;
  eo.method = INFB_EM_ITERATE;
  infb_em_result res;
  gsl_rng *r = infb_rng_stream(8, "test/em", 0);
  int st2 = infb_em_fit(em, X, &eo, r, &res);
  gsl_rng_free(r);
  ok(!st && !st2, "FA D=8 K=3 N=1000: the meanfield and EM fits succeed");
  if (st || st2) {
    skip("no fits");
    skip("no fits");
    skip("no fits");
  } else {
    double llm, gapm, lle, gape;
    loglik_gap(f.model, X, &llm, &gapm);
    loglik_gap(em, X, &lle, &gape);
    diag("meanfield: ln p(x)/N = %.10f, gap = %.3g, ELBO = %.10f (%zu iterations)", llm, gapm,
         final_elbo(&f), f.iterations);
    diag("EM:        ln p(x)/N = %.10f, gap = %.3g (%zu iterations)", lle, gape,
         res.iterations);
    ok(gapm < gape && gapm < 0.01 * gape,
       "approximation gap ½(Σ ln Λ_jj − ln|Λ|): meanfield %.3g < EM %.3g (and < 1%% of it)",
       gapm, gape);
    /* The meanfield fit's ln p(x) cannot exceed the MLE's (EM, to its tolerance), and its
     * ELBO bounds its own ln p(x); the loss of likelihood is small. */
    ok(llm <= lle + 1e-8 && lle - llm < 1e-3,
       "ln p(x)/N: meanfield %.8f ≤ EM %.8f, and only %.3g below it (< 1e-3)", llm, lle,
       lle - llm);
    ok(final_elbo(&f) <= llm + 1e-12,
       "the meanfield ELBO %.8f ≤ its own ln p(x)/N %.8f", final_elbo(&f), llm);
  }
  infb_em_result_free(&res);
  infb_lingauss_free(em);
  infb_latent_fit_free(&f);
  gsl_matrix_free(X);
}

/* ---- 5. the Adam steps against the closed-form steps ---- */

static void
test_variants(void)
{
  const size_t D = 5, K = 2, N = 200;
  gsl_matrix *X = make_data(1, D, K, N, 0, 0, NULL);
  infb_lgmeanfield_options o;
  default_options(&o);
  infb_latent_fit f;
  int st = infb_lgmeanfield_fit(X, NULL, K, &o, &f);
  double ref = st ? NAN : final_elbo(&f), start = st ? NAN : f.curve[1];
  ok(!st && isfinite(ref) && strcmp(f.stop_reason, "converged") == 0,
     "reference: closed-form steps on FA D=5 K=2 N=200 converge (ELBO %.10f)", ref);
  infb_latent_fit_free(&f);

  /* Gradient global step: Adam on θ moves each coordinate by about lr per step, so it ends
   * within O(lr) of the optimum and the deficit is second order, O(lr²·curvature); with
   * lr = 1e-2 and curvatures O(1) per point (psi ∈ [0.2, 1], standardised-scale data), 1e-3
   * is ten times lr².  The run stops at the first iteration that does not rise (tol = 0). */
  default_options(&o);
  o.global_gradient = 1;
  o.tol = 0.0;
  o.train.lr = 1e-2;
  o.train.epochs = 10;
  st = infb_lgmeanfield_fit(X, NULL, K, &o, &f);
  if (!st) {
    double lq = mean_elbo_qstar(f.model, X);
    ok(ref - final_elbo(&f) < 1e-3 && lq <= ref + 1e-9,
       "gradient global step (lr 1e-2, 10 steps/iteration, %zu iterations): ELBO %.10f within "
       "1e-3 of the closed-form %.10f (deficit %.3g), and not above it",
       f.iterations, final_elbo(&f), ref, ref - final_elbo(&f));
    is_int(0, (long long)count_decreases(&f, 0.0) > 1,
           "gradient global step: at most the final iteration falls (the stopping rule)");
  } else {
    diag("%s", infb_error_message());
    ok(0, "gradient global step fit");
    ok(0, "gradient global step fit");
  }
  infb_latent_fit_free(&f);

  /* Adam local step (qstar, S = 10, lr = 3e-3, 20 steps per iteration, warm start).
   * (a) The noise of q: the ELBO is quadratic in μ with Hessian −Λ and has curvature ½ in
   * ln s_j² at the optimum; Adam steps are at most about lr, so 20 of them leave each
   * coordinate within δ = 20 lr of the optimum for θ, and the ELBO of the final q lies
   * within ½ tr(Λ) δ² + ¼ K δ² (a worst case) below the L[q*] of the final θ.
   * (b) θ: the run stops at the first iteration that does not rise (tol = 0), i.e. once
   * the noise of q dominates; its θ must then have made ≥ 99% of the closed-form fit's
   * rise of L[q*] from the common start (the same seed, so the same starting θ). */
  default_options(&o);
  o.local_adam = 1;
  o.tol = 0.0;
  o.max_iter = 300;
  o.qstar.samples = 10;
  o.qstar.lr = 3e-3;
  o.qstar.max_steps = 20;
  o.qstar.check_every = 1000;
  st = infb_lgmeanfield_fit(X, NULL, K, &o, &f);
  double delta = 20.0 * o.qstar.lr;
  if (!st) {
    double lq = mean_elbo_qstar(f.model, X);
    infb_lingauss_cache *c = infb_lingauss_cache_alloc(D, K);
    infb_lingauss_cache_set(c, f.model);
    const gsl_matrix *L = infb_lingauss_cache_lambda(c);
    double trl = 0.0;
    for (size_t k = 0; k < K; k++)
      trl += gsl_matrix_get(L, k, k);
    infb_lingauss_cache_free(c);
    double bound = 0.5 * trl * delta * delta + 0.25 * (double)K * delta * delta;
    diag("Adam local step: %zu iterations (%s), ELBO %.8f, L[q*] of its θ %.8f, closed form "
         "%.8f, start %.5f",
         f.iterations, f.stop_reason, final_elbo(&f), lq, ref, start);
    ok(final_elbo(&f) <= lq + 1e-12 && lq - final_elbo(&f) < bound,
       "Adam local step: its q's ELBO is %.3g below L[q*] of the same θ (≥ 0, < ½ tr Λ δ² + "
       "¼ K δ² = %.3g, tr Λ = %.3g, δ = %.2g)",
       lq - final_elbo(&f), bound, trl, delta);
    ok(ref - lq < 0.01 * (ref - start) && lq <= ref + 1e-9,
       "Adam local step: L[q*] of its θ is %.3g below the closed-form fit's, < 1%% of the "
       "rise %.3g from the start, and not above it",
       ref - lq, ref - start);
  } else {
    diag("%s", infb_error_message());
    ok(0, "Adam local step fit");
    ok(0, "Adam local step fit");
  }
  infb_latent_fit_free(&f);
  gsl_matrix_free(X);
}

/* ---- 6. PPCA, the floor, reproducibility ---- */

static void
test_ppca_floor_repro(void)
{
  const size_t D = 6, K = 2, N = 200;
  gsl_matrix *X = make_data(12, D, K, N, 1, 0, NULL);
  infb_lgmeanfield_options o;
  default_options(&o);
  o.ppca = 1;
  infb_latent_fit f;
  int st = infb_lgmeanfield_fit(X, NULL, K, &o, &f);
  ok(!st && f.model->ppca && psi_isotropic(f.model) && count_decreases(&f, 1e-10) == 0,
     "PPCA, closed steps: psi isotropic (all equal) and the ELBO monotone");
  /* Its optimum is the PPCA maximum likelihood (Tipping & Bishop closed form), rotated to
   * a diagonal Λ: ELBO = ln p(x) there. */
  infb_lingauss *pc = infb_lingauss_alloc(D, K, 1);
  double llp, gapp;
  infb_lingauss_ppca_closed(pc, X);
  loglik_gap(pc, X, &llp, &gapp);
  if (!st)
    ok(final_elbo(&f) <= llp + 1e-9 && llp - final_elbo(&f) < 1e-6,
       "PPCA: the meanfield ELBO %.10f reaches the closed-form PPCA ln p(x)/N %.10f (within "
       "1e-6, not above)",
       final_elbo(&f), llp);
  else
    ok(0, "PPCA fit");
  infb_latent_fit_free(&f);
  infb_lingauss_free(pc);
  o.global_gradient = 1;
  o.tol = 0.0;
  st = infb_lgmeanfield_fit(X, NULL, K, &o, &f);
  ok(!st && psi_isotropic(f.model), "PPCA, gradient global step: psi isotropic");
  infb_latent_fit_free(&f);

  /* A constant column: its psi reaches the floor and is counted once (FA). */
  gsl_matrix *Xc = make_data(13, D, K, N, 0, 0, NULL);
  for (size_t i = 0; i < N; i++)
    gsl_matrix_set(Xc, i, 2, 3.0);
  default_options(&o);
  o.psi_floor = 1e-3;
  st = infb_lgmeanfield_fit(Xc, NULL, K, &o, &f);
  int others = 1;
  for (size_t d = 0; !st && d < D; d++)
    if (d != 2 && !(gsl_vector_get(f.model->psi, d) > o.psi_floor))
      others = 0;
  ok(!st && gsl_vector_get(f.model->psi, 2) == 1e-3 && f.nfloored == 1 && others,
     "constant column 3, floor 1e-3, closed steps: psi_3 = 1e-3, nfloored = 1, other psi "
     "above the floor");
  infb_latent_fit_free(&f);
  o.global_gradient = 1;
  o.tol = 0.0;
  st = infb_lgmeanfield_fit(Xc, NULL, K, &o, &f);
  ok(!st && gsl_vector_get(f.model->psi, 2) == 1e-3 && f.nfloored == 1,
     "constant column 3, floor 1e-3, gradient global step: psi_3 clamped at 1e-3, "
     "nfloored = 1");
  infb_latent_fit_free(&f);
  /* PPCA with a floor above every variance: σ² = floor, counted once. */
  o.global_gradient = 0;
  o.ppca = 1;
  o.psi_floor = 50.0;
  st = infb_lgmeanfield_fit(Xc, NULL, K, &o, &f);
  ok(!st && f.nfloored == 1 && psi_isotropic(f.model) && gsl_vector_get(f.model->psi, 0) == 50.0,
     "PPCA, floor 50 above every column variance: σ² = 50 everywhere, nfloored = 1 (once)");
  infb_latent_fit_free(&f);
  /* psi_floor = 0: the constant column's variance 0 fails at the start. */
  o.ppca = 0;
  o.psi_floor = 0.0;
  st = infb_lgmeanfield_fit(Xc, NULL, K, &o, &f);
  ok(st == GSL_EDOM && strstr(infb_error_message(), "meanfield iteration 0:") &&
         f.model == NULL && f.curve == NULL,
     "constant column, psi_floor = 0: GSL_EDOM naming iteration 0 (\"%s\"), fit left empty",
     infb_error_message());
  gsl_matrix_free(Xc);

  /* Reproducibility with every random stream in use: Adam local + gradient global. */
  default_options(&o);
  o.local_adam = 1;
  o.global_gradient = 1;
  o.max_iter = 12;
  o.qstar.samples = 5;
  o.qstar.lr = 1e-2;
  o.qstar.max_steps = 10;
  o.qstar.check_every = 1000;
  infb_latent_fit a, b, c;
  int sa = infb_lgmeanfield_fit(X, NULL, K, &o, &a);
  int sb = infb_lgmeanfield_fit(X, NULL, K, &o, &b);
  o.seed = 12345;
  int sc = infb_lgmeanfield_fit(X, NULL, K, &o, &c);
  ok(!sa && !sb && !sc && a.ncurve == b.ncurve &&
         memcmp(a.curve, b.curve, 3 * a.ncurve * sizeof(double)) == 0 &&
         gsl_matrix_equal(a.model->W, b.model->W) && gsl_vector_equal(a.model->psi, b.model->psi),
     "same seed, Adam local + gradient global: identical curves and θ, bit for bit");
  ok(!sa && !sc && !gsl_matrix_equal(a.model->W, c.model->W),
     "another seed gives another W");
  infb_latent_fit_free(&a);
  infb_latent_fit_free(&b);
  infb_latent_fit_free(&c);

  /* A view with a row stride wider than D gives the same fit as a contiguous copy. */
  gsl_matrix *Wd = gsl_matrix_calloc(N, D + 3);
  gsl_matrix_view v = gsl_matrix_submatrix(Wd, 0, 1, N, D);
  gsl_matrix_memcpy(&v.matrix, X);
  default_options(&o);
  o.max_iter = 20;
  sa = infb_lgmeanfield_fit(X, NULL, K, &o, &a);
  sb = infb_lgmeanfield_fit(&v.matrix, NULL, K, &o, &b);
  ok(!sa && !sb && a.ncurve == b.ncurve &&
         memcmp(a.curve, b.curve, 3 * a.ncurve * sizeof(double)) == 0,
     "Xtr as a strided view (tda = D + 3): the same curve as the contiguous copy");
  infb_latent_fit_free(&a);
  infb_latent_fit_free(&b);
  gsl_matrix_free(Wd);
  gsl_matrix_free(X);
}

/* ---- 7. errors ---- */

static void
test_errors(void)
{
  const size_t D = 4, K = 2, N = 30;
  gsl_matrix *X = make_data(20, D, K, N, 0, 0, NULL);
  infb_lgmeanfield_options o;
  default_options(&o);
  infb_latent_fit f;
  is_int(GSL_EINVAL, infb_lgmeanfield_fit(NULL, NULL, K, &o, &f), "Xtr = NULL: GSL_EINVAL");
  is_int(GSL_EINVAL, infb_lgmeanfield_fit(X, NULL, K, NULL, &f), "o = NULL: GSL_EINVAL");
  is_int(GSL_EINVAL, infb_lgmeanfield_fit(X, NULL, K, &o, NULL), "fit = NULL: GSL_EINVAL");
  is_int(INFB_ECONFIG, infb_lgmeanfield_fit(X, NULL, D, &o, &f), "K = D: INFB_ECONFIG");
  gsl_matrix *Xw = gsl_matrix_calloc(5, D + 1);
  is_int(GSL_EBADLEN, infb_lgmeanfield_fit(X, Xw, K, &o, &f),
         "Xte with D + 1 columns: GSL_EBADLEN");
  gsl_matrix_free(Xw);
  o.tol = -1.0;
  is_int(GSL_EINVAL, infb_lgmeanfield_fit(X, NULL, K, &o, &f), "tol = -1: GSL_EINVAL");
  default_options(&o);
  o.init_scale = 0.0;
  is_int(GSL_EINVAL, infb_lgmeanfield_fit(X, NULL, K, &o, &f), "init_scale = 0: GSL_EINVAL");
  default_options(&o);
  o.local_adam = 1;
  o.qstar.samples = 0;
  is_int(GSL_EINVAL, infb_lgmeanfield_fit(X, NULL, K, &o, &f),
         "Adam local step with qstar samples = 0: GSL_EINVAL before the start");
  default_options(&o);
  o.global_gradient = 1;
  o.train.lr = 0.0;
  is_int(GSL_EINVAL, infb_lgmeanfield_fit(X, NULL, K, &o, &f),
         "gradient global step with lr = 0: GSL_EINVAL");
  /* A learning rate of 1e3 sends ln psi to ±1000 in one step: psi overflows. */
  o.train.lr = 1e3;
  o.psi_floor = 0.0;
  int st = infb_lgmeanfield_fit(X, NULL, K, &o, &f);
  ok(st == GSL_EDOM && strstr(infb_error_message(), "meanfield iteration 1"),
     "gradient global step with lr = 1e3: GSL_EDOM naming iteration 1 (\"%s\")",
     infb_error_message());
  default_options(&o);
  o.max_iter = 0;
  st = infb_lgmeanfield_fit(X, NULL, K, &o, &f);
  ok(!st && f.iterations == 0 && f.ncurve == 1 && strcmp(f.stop_reason, "max_iter") == 0,
     "max_iter = 0: the start only (one curve row, stop_reason max_iter)");
  infb_latent_fit_free(&f);
  infb_latent_fit_free(NULL);
  ok(1, "infb_latent_fit_free(NULL) is a no-op");
  gsl_matrix_free(X);
}

int
main(void)
{
  plan(46);
  test_monotone();
  test_theta_grad();
  test_rotation();
  test_variants();
  test_ppca_floor_repro();
  test_errors();
  return test_done();
}
