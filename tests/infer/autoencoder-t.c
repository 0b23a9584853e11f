/* Tests for infer/autoencoder and infb_principal_angles: the squared-error loss against a
 * direct evaluation written here and its gradient against central finite differences
 * (linear and MLP encoders); principal angles on hand-made subspaces (Björck & Golub
 * 1973); a linear autoencoder spanning the principal subspace with the PCA reconstruction
 * error, the sum of the D − K smallest covariance eigenvalues (Baldi & Hornik 1989,
 * MATH.md §4), computed independently here by gsl_eigen_symm; reproducibility and the
 * error paths. */
#include <config.h>
#include "tap/basic.h"
#include "core/error.h"
#include "core/rng.h"
#include "infer/autoencoder.h"
#include "nn/mlp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_blas.h>
#include <gsl/gsl_sort_vector.h>

/* ------------------------------------------------ principal angles */

static void
test_angles(void)
{
  gsl_rng *r = infb_rng_stream(1, "test/autoencoder/angles", 0);
  double ang[3];

  /* B = A·M for an invertible M spans the same space: all angles 0. */
  gsl_matrix *A = gsl_matrix_alloc(5, 3), *B = gsl_matrix_alloc(5, 3), *M = gsl_matrix_alloc(3, 3);
  for (size_t i = 0; i < 15; i++)
    A->data[i] = gsl_ran_gaussian(r, 1.0);
  for (size_t i = 0; i < 9; i++)
    M->data[i] = gsl_ran_gaussian(r, 1.0) + (i % 4 == 0 ? 3.0 : 0.0);
  gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, A, M, 0.0, B);
  int st = infb_principal_angles(A, B, ang);
  ok(st == 0 && fabs(ang[0]) <= 1e-7 && fabs(ang[1]) <= 1e-7 && fabs(ang[2]) <= 1e-7,
     "A and A·M (M invertible) span one space: angles %.2g %.2g %.2g = 0", ang[0], ang[1],
     ang[2]);
  gsl_rng_free(r);

  /* span(e1, e2) and span(e3, e4) in R⁴: both angles π/2. */
  gsl_matrix *E12 = gsl_matrix_calloc(4, 2), *E34 = gsl_matrix_calloc(4, 2);
  gsl_matrix_set(E12, 0, 0, 1.0);
  gsl_matrix_set(E12, 1, 1, 2.0);
  gsl_matrix_set(E34, 2, 0, -1.0);
  gsl_matrix_set(E34, 3, 1, 0.5);
  gsl_matrix_set(E34, 2, 1, 0.7);
  st = infb_principal_angles(E12, E34, ang);
  ok(st == 0 && fabs(ang[0] - M_PI_2) <= 1e-12 && fabs(ang[1] - M_PI_2) <= 1e-12,
     "span(e1, e2) ⟂ span(e3, e4): angles %.15g %.15g = π/2", ang[0], ang[1]);

  /* Two lines in R² at angle θ = 0.3: (1, 0) and (cos θ, sin θ). */
  const double th = 0.3;
  gsl_matrix *a1 = gsl_matrix_alloc(2, 1), *b1 = gsl_matrix_alloc(2, 1);
  gsl_matrix_set(a1, 0, 0, 2.0);
  gsl_matrix_set(a1, 1, 0, 0.0);
  gsl_matrix_set(b1, 0, 0, cos(th));
  gsl_matrix_set(b1, 1, 0, sin(th));
  st = infb_principal_angles(a1, b1, ang);
  ok(st == 0 && fabs(ang[0] - th) <= 1e-12, "lines in R² at 0.3 rad: angle %.15g", ang[0]);

  /* Planes in R³ sharing e1, the second tilted by θ about it: angles {0, θ} ascending. */
  gsl_matrix *P = gsl_matrix_calloc(3, 2), *Q = gsl_matrix_calloc(3, 2);
  gsl_matrix_set(P, 0, 0, 1.0);
  gsl_matrix_set(P, 1, 1, 1.0);
  gsl_matrix_set(Q, 1, 0, cos(th));
  gsl_matrix_set(Q, 2, 0, sin(th));
  gsl_matrix_set(Q, 0, 1, 1.0);
  st = infb_principal_angles(P, Q, ang);
  ok(st == 0 && fabs(ang[0]) <= 1e-7 && fabs(ang[1] - th) <= 1e-12,
     "planes in R³ sharing e1, tilted by 0.3: angles %.3g %.15g ascending", ang[0], ang[1]);

  st = infb_principal_angles(P, a1, ang);
  ok(st == GSL_EBADLEN, "principal angles: 3×2 against 2×1 is GSL_EBADLEN (%d)", st);
  gsl_matrix *Dep = gsl_matrix_calloc(3, 2);
  gsl_matrix_set(Dep, 0, 0, 1.0);
  gsl_matrix_set(Dep, 0, 1, 2.0);
  st = infb_principal_angles(Dep, P, ang);
  ok(st == INFB_ESINGULAR, "principal angles: dependent columns are INFB_ESINGULAR (%d)", st);

  gsl_matrix_free(A);
  gsl_matrix_free(B);
  gsl_matrix_free(M);
  gsl_matrix_free(E12);
  gsl_matrix_free(E34);
  gsl_matrix_free(a1);
  gsl_matrix_free(b1);
  gsl_matrix_free(P);
  gsl_matrix_free(Q);
  gsl_matrix_free(Dep);
}

/* ------------------------------------------------ gradient */

/* The MLP of nn/mlp.h's layout by hand (tanh hidden, identity output). */
static void
ref_mlp(const double *p, const size_t *sizes, size_t nl, const double *x, double *y)
{
  double a[64], z[64];
  memcpy(a, x, sizes[0] * sizeof *a);
  size_t off = 0;
  for (size_t l = 0; l < nl; l++) {
    size_t in = sizes[l], out = sizes[l + 1];
    const double *W = p + off, *b = W + out * in;
    for (size_t o = 0; o < out; o++) {
      double s = b[o];
      for (size_t i = 0; i < in; i++)
        s += W[o * in + i] * a[i];
      z[o] = l + 1 < nl ? tanh(s) : s;
    }
    memcpy(a, z, out * sizeof *a);
    off += out * (in + 1);
  }
  memcpy(y, a, sizes[nl] * sizeof *y);
}

static void
check_gradient(int mlp)
{
  const size_t D = 5, K = 2, B = 4, H = 3;
  infb_encoder_options eo;
  memset(&eo, 0, sizeof eo);
  eo.mlp = mlp;
  eo.nhidden = mlp ? 1 : 0;
  eo.hidden[0] = H;
  eo.activation = INFB_ACT_TANH;
  const char *kind = mlp ? "MLP" : "linear";
  infb_autoencoder *a = infb_autoencoder_alloc(D, K, &eo, B);
  if (!a) {
    for (int i = 0; i < 3; i++)
      ok(0, "%s autoencoder: alloc failed", kind);
    return;
  }
  size_t n, nenc = infb_autoencoder_encoder_nparams(a);
  double *p = infb_autoencoder_params(a, &n), *g = infb_autoencoder_grads(a, NULL);
  gsl_rng *r = infb_rng_stream(2, "test/autoencoder/grad", (uint64_t)mlp);
  for (size_t t = 0; t < n; t++)
    p[t] = gsl_ran_gaussian(r, 0.5);
  double X[4 * 5], Xh[4 * 5];
  for (size_t t = 0; t < B * D; t++)
    X[t] = gsl_ran_gaussian(r, 1.0);
  gsl_rng_free(r);

  /* Direct: h = enc(x), x̂ = W h + c (decoder = one layer K → D after the encoder). */
  size_t esz[3] = { D, mlp ? H : K, K }, dsz[2] = { K, D };
  double want = 0.0, xherr = 0.0;
  double loss = NAN;
  int st = infb_autoencoder_objective(a, B, X, Xh, &loss);
  for (size_t i = 0; i < B; i++) {
    double h[8], xh[8];
    ref_mlp(p, esz, mlp ? 2 : 1, X + i * D, h);
    ref_mlp(p + nenc, dsz, 1, h, xh);
    for (size_t d = 0; d < D; d++) {
      want += (X[i * D + d] - xh[d]) * (X[i * D + d] - xh[d]) / (double)B;
      xherr = fmax(xherr, fabs(xh[d] - Xh[i * D + d]));
    }
  }
  size_t want_n = (mlp ? H * (D + 1) + K * (H + 1) : K * (D + 1)) + D * K + D;
  ok(st == 0 && n == want_n && fabs(loss - want) <= 1e-12 * (1 + want) && xherr <= 1e-12,
     "%s autoencoder: %zu parameters; loss %.12g = direct (1/B)Σ‖x − x̂‖² %.12g; x̂ returned",
     kind, n, loss, want);

  double *ga = malloc(n * sizeof *ga);
  memcpy(ga, g, n * sizeof *ga);
  const double h = 1e-5;
  double maxerr = 0.0, genc = 0.0, gW = 0.0, gc = 0.0;
  for (size_t t = 0; t < n; t++) {
    double keep = p[t], lp, lm;
    p[t] = keep + h;
    infb_autoencoder_objective(a, B, X, NULL, &lp);
    p[t] = keep - h;
    infb_autoencoder_objective(a, B, X, NULL, &lm);
    p[t] = keep;
    double fd = (lp - lm) / (2 * h), err = fabs(fd - ga[t]) / (1.0 + fabs(ga[t]));
    maxerr = fmax(maxerr, err);
    if (t < nenc)
      genc = fmax(genc, fabs(ga[t]));
    else if (t < nenc + D * K)
      gW = fmax(gW, fabs(ga[t]));
    else
      gc = fmax(gc, fabs(ga[t]));
  }
  ok(maxerr <= 1e-7, "%s autoencoder: gradient = central differences for all %zu parameters "
                     "(max rel err %.2g)", kind, n, maxerr);
  ok(genc > 1e-3 && gW > 1e-3 && gc > 1e-3,
     "%s autoencoder: no block of the gradient is trivially zero (max |g| encoder %.3g, "
     "W %.3g, c %.3g)", kind, genc, gW, gc);
  free(ga);
  infb_autoencoder_free(a);
}

/* ------------------------------------------------ training */

/* n rows x = Q·diag(sd)·g + m, g ~ N(0, I), Q a random orthogonal D×D: covariance
 * eigenvalues sd², a clear principal subspace. */
static gsl_matrix *
pca_data(size_t n, uint64_t seed)
{
  const size_t D = 6;
  const double sd[6] = { 3.0, 2.0, 0.7, 0.5, 0.4, 0.3 }, m[6] = { 1, -2, 0.5, 3, 0, -1 };
  gsl_rng *r = infb_rng_stream(seed, "test/autoencoder/data", 0);
  gsl_matrix *Q = gsl_matrix_alloc(D, D), *Qf = gsl_matrix_alloc(D, D), *R = gsl_matrix_alloc(D, D);
  gsl_vector *tau = gsl_vector_alloc(D);
  for (size_t i = 0; i < D * D; i++)
    Q->data[i] = gsl_ran_gaussian(r, 1.0);
  gsl_linalg_QR_decomp(Q, tau);
  gsl_linalg_QR_unpack(Q, tau, Qf, R);
  gsl_matrix *X = gsl_matrix_alloc(n, D);
  for (size_t i = 0; i < n; i++) {
    double g[6];
    for (size_t k = 0; k < D; k++)
      g[k] = sd[k] * gsl_ran_gaussian(r, 1.0);
    for (size_t d = 0; d < D; d++) {
      double s = m[d];
      for (size_t k = 0; k < D; k++)
        s += gsl_matrix_get(Qf, d, k) * g[k];
      gsl_matrix_set(X, i, d, s);
    }
  }
  gsl_rng_free(r);
  gsl_matrix_free(Q);
  gsl_matrix_free(Qf);
  gsl_matrix_free(R);
  gsl_vector_free(tau);
  return X;
}

/* Σ of the D − K smallest eigenvalues of the 1/N sample covariance (the PCA
 * reconstruction error per point), by gsl_eigen_symm. */
static double
pca_error(const gsl_matrix *X, size_t K)
{
  const size_t n = X->size1, D = X->size2;
  gsl_matrix *S = gsl_matrix_calloc(D, D);
  double mean[16] = { 0 };
  for (size_t i = 0; i < n; i++)
    for (size_t d = 0; d < D; d++)
      mean[d] += gsl_matrix_get(X, i, d) / (double)n;
  for (size_t i = 0; i < n; i++)
    for (size_t d = 0; d < D; d++)
      for (size_t e = 0; e < D; e++)
        *gsl_matrix_ptr(S, d, e) += (gsl_matrix_get(X, i, d) - mean[d]) *
                                    (gsl_matrix_get(X, i, e) - mean[e]) / (double)n;
  gsl_vector *ev = gsl_vector_alloc(D);
  gsl_eigen_symm_workspace *w = gsl_eigen_symm_alloc(D);
  gsl_eigen_symm(S, ev, w);
  gsl_sort_vector(ev);
  double s = 0.0;
  for (size_t d = 0; d < D - K; d++)
    s += gsl_vector_get(ev, d);
  gsl_eigen_symm_free(w);
  gsl_vector_free(ev);
  gsl_matrix_free(S);
  return s;
}

static infb_autoencoder_options
ae_opts(int mlp, uint64_t seed)
{
  infb_autoencoder_options o;
  memset(&o, 0, sizeof o);
  o.enc.mlp = mlp;
  o.enc.nhidden = mlp ? 1 : 0;
  o.enc.hidden[0] = 16;
  o.enc.activation = INFB_ACT_TANH;
  o.train.epochs = 200;
  o.train.batch = 50;
  o.train.samples = 1;
  o.train.lr = 0.01;
  o.train.lr_decay = 0.98;
  o.train.beta1 = 0.9;
  o.train.beta2 = 0.999;
  o.train.eps = 1e-8;
  o.train.seed = seed;
  o.name = "autoencoder:test";
  return o;
}

static void
test_pca(void)
{
  gsl_matrix *all = pca_data(2500, 11);
  gsl_matrix_view Xv = gsl_matrix_submatrix(all, 0, 0, 2000, 6);
  gsl_matrix_view Tv = gsl_matrix_submatrix(all, 2000, 0, 500, 6);
  const gsl_matrix *X = &Xv.matrix, *Xte = &Tv.matrix;
  const size_t K = 2;
  infb_autoencoder_options o = ae_opts(0, 4);
  infb_latent_fit f;
  int st = infb_autoencoder_fit(X, Xte, K, &o, &f);
  ok(st == 0 && f.model == NULL && f.encoder.fn == NULL && f.nangles == K && f.angles &&
         f.ncurve == o.train.epochs + 1 && f.iterations == o.train.epochs &&
         strcmp(f.stop_reason, "epochs") == 0,
     "linear autoencoder fit: status %d, no model nor encoder, %zu angles, %zu curve rows",
     st, f.nangles, f.ncurve);
  if (st) {
    for (int i = 0; i < 5; i++)
      ok(0, "(fit failed: %s)", infb_error_message());
    gsl_matrix_free(all);
    return;
  }
  const double deg = M_PI / 180.0;
  diag("principal angles %.3g, %.3g degrees", f.angles[0] / deg, f.angles[1] / deg);
  ok(f.angles[0] <= f.angles[1] && f.angles[1] < 1.0 * deg && f.angles[0] >= 0.0,
     "decoder spans the top-2 principal subspace: angles %.3g ≤ %.3g degrees < 1",
     f.angles[0] / deg, f.angles[1] / deg);
  double opt = pca_error(X, K);
  double rel = (f.recon_mse_train - opt) / opt;
  diag("MSE %.8g, PCA optimum %.8g (relative excess %.2g)", f.recon_mse_train, opt, rel);
  ok(rel >= -1e-10 && rel <= 1e-4,
     "train MSE %.6f = Σ of the 4 smallest covariance eigenvalues %.6f (the PCA error; "
     "relative excess %.2g ∈ [0, 1e-4])", f.recon_mse_train, opt, rel);
  const double *cv = f.curve;
  size_t E = f.ncurve - 1;
  ok(cv[3 * E + 1] < cv[1] && cv[3 * E + 1] == f.recon_mse_train &&
         cv[3 * E + 2] == f.recon_mse_test && cv[3 * E + 2] < cv[2],
     "curve: train MSE %.3f → %.3f, test %.3f → %.3f; the last row is recon_mse_train/test",
     cv[1], cv[3 * E + 1], cv[2], cv[3 * E + 2]);
  /* The test error of the PCA projection fitted on the train rows is at least the
   * test-set PCA optimum. */
  double opt_te = pca_error(Xte, K);
  ok(f.recon_mse_test >= opt_te && f.recon_mse_test <= 1.1 * opt_te,
     "test MSE %.4f within [1, 1.1]× the test set's own PCA error %.4f", f.recon_mse_test,
     opt_te);

  /* Same seed → bit-identical; another seed → different. */
  infb_autoencoder_options o2 = ae_opts(0, 4);
  o2.train.epochs = 5;
  infb_latent_fit g1, g2, g3;
  int s1 = infb_autoencoder_fit(X, NULL, K, &o2, &g1);
  int s2 = infb_autoencoder_fit(X, NULL, K, &o2, &g2);
  o2.train.seed = 5;
  int s3 = infb_autoencoder_fit(X, NULL, K, &o2, &g3);
  ok(s1 == 0 && s2 == 0 && s3 == 0 &&
         memcmp(g1.curve, g2.curve, 3 * g1.ncurve * sizeof(double)) == 0 &&
         memcmp(g1.angles, g2.angles, K * sizeof(double)) == 0 &&
         memcmp(g1.curve, g3.curve, 3 * g1.ncurve * sizeof(double)) != 0 && isnan(g1.curve[2]) &&
         isnan(g1.recon_mse_test),
     "same seed: bit-identical curve and angles; another seed differs; no test set: NAN");
  infb_latent_fit_free(&g1);
  infb_latent_fit_free(&g2);
  infb_latent_fit_free(&g3);
  infb_latent_fit_free(&f);

  /* An MLP encoder trains too. */
  o = ae_opts(1, 4);
  o.train.epochs = 20;
  st = infb_autoencoder_fit(X, NULL, K, &o, &f);
  ok(st == 0 && f.recon_mse_train < 0.5 * f.curve[1] && f.nangles == K &&
         strstr(f.note, "MLP") != NULL,
     "MLP-encoder autoencoder: MSE %.3f → %.3f, %zu angles; note '%s'",
     st ? NAN : f.curve[1], f.recon_mse_train, f.nangles, f.note);
  infb_latent_fit_free(&f);
  gsl_matrix_free(all);
}

static void
test_errors(void)
{
  gsl_matrix *X = pca_data(100, 12);
  infb_latent_fit f;
  /* Adam moves every parameter by ~lr in its first step: lr = 1e200 makes the
   * reconstruction overflow. */
  infb_autoencoder_options o = ae_opts(0, 1);
  o.train.lr = 1e200;
  int st = infb_autoencoder_fit(X, NULL, 2, &o, &f);
  const char *msg = infb_error_message();
  const char *pre = "autoencoder: epoch 1, step ",
             *suf = ": the reconstruction error is not finite; lower [train] lr";
  size_t n = strlen(msg);
  ok(st == GSL_EDOM && n > strlen(pre) + strlen(suf) && strncmp(msg, pre, strlen(pre)) == 0 &&
         strcmp(msg + n - strlen(suf), suf) == 0 && f.curve == NULL,
     "lr = 1e200 overflows: GSL_EDOM (%d) naming epoch and step: '%s'", st, msg);
  o = ae_opts(0, 1);
  st = infb_autoencoder_fit(X, NULL, 6, &o, &f);
  ok(st == INFB_ECONFIG, "K = D is INFB_ECONFIG (%d)", st);
  gsl_matrix_set(X, 2, 1, INFINITY);
  st = infb_autoencoder_fit(X, NULL, 2, &o, &f);
  ok(st == INFB_EDATA, "an infinite cell is INFB_EDATA (%d): %s", st, infb_error_message());
  gsl_matrix_set(X, 2, 1, 0.0);
  gsl_matrix *T = gsl_matrix_calloc(2, 6);
  gsl_matrix_set(T, 1, 5, NAN);
  st = infb_autoencoder_fit(X, T, 2, &o, &f);
  ok(st == INFB_EDATA, "a NaN test cell is INFB_EDATA (%d): %s", st, infb_error_message());
  gsl_matrix_free(T);
  o.train.lr_decay = 0.0;
  st = infb_autoencoder_fit(X, NULL, 2, &o, &f);
  ok(st == GSL_EINVAL && strcmp(infb_error_message(), "autoencoder: [train] lr_decay = 0 must "
                                                      "be a finite number > 0") == 0,
     "lr_decay 0 is GSL_EINVAL (%d): '%s'", st, infb_error_message());
  o = ae_opts(1, 1);
  o.enc.hidden[0] = 0;
  st = infb_autoencoder_fit(X, NULL, 2, &o, &f);
  ok(st == GSL_EINVAL, "a hidden width of 0 is GSL_EINVAL (%d): %s", st, infb_error_message());
  infb_autoencoder *a = infb_autoencoder_alloc(6, 2, &o.enc, 3);
  ok(a == NULL, "alloc with a zero hidden width gives NULL");
  o = ae_opts(0, 1);
  a = infb_autoencoder_alloc(6, 2, &o.enc, 3);
  double loss, x[6 * 4] = { 0 };
  st = a ? infb_autoencoder_objective(a, 4, x, NULL, &loss) : -1;
  ok(st == GSL_EBADLEN, "objective: 4 rows for max_batch 3 is GSL_EBADLEN (%d)", st);
  infb_autoencoder_free(a);
  infb_autoencoder_free(NULL);
  ok(1, "infb_autoencoder_free(NULL) is a no-op");
  gsl_matrix_free(X);
}

int
main(void)
{
  plan(28);
  test_angles();
  check_gradient(0);
  check_gradient(1);
  test_pca();
  test_errors();
  return test_done();
}
