/* Tests for infer/amortized: the minibatch loss against a direct evaluation written here
 * (an MLP forward by hand, the Gaussian log-density and the closed-form KL of MATH.md
 * §3, §5), its gradient against central finite differences for every parameter (linear
 * and MLP encoders, FA and PPCA, with and without weight decay), the requirement
 * that an unrestricted linear encoder trained with a decaying learning rate ends with an
 * amortisation gap L[q*] − L[q] below 0.02 nats (closed forms), training progress,
 * reproducibility, the floor, the non-finite path and the error paths. */
#include <config.h>
#include "tap/basic.h"
#include "core/error.h"
#include "core/rng.h"
#include "infer/amortized.h"
#include "nn/mlp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>

/* ------------------------------------------------ a reference loss, written directly */

/* The encoder MLP of the slab's layout (nn/mlp.h: per layer W (out × in) row-major, then
 * b), tanh hidden activation, identity output: y = f(...f(x W0ᵀ + b0)...) W_Lᵀ + b_L. */
static void
ref_encoder(const double *p, const size_t *sizes, size_t nl, const double *x, double *y)
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

/* −(1/B)Σ_i [(1/S)Σ_s ln N(x_i; Wz_is + b, Ψ) − KL_i] + λ‖W‖²/(2N), straight from the
 * definitions. */
static double
ref_loss(const double *p, size_t nenc, const size_t *sizes, size_t nl, size_t D, size_t K,
         int ppca, double lambda, size_t B, size_t S, const double *X, const double *E,
         size_t N)
{
  const double *W = p + nenc, *b = W + D * K, *lpsi = b + D;
  double tot = 0.0;
  for (size_t i = 0; i < B; i++) {
    double y[16];
    ref_encoder(p, sizes, nl, X + i * D, y);
    double kl = 0.0;
    for (size_t j = 0; j < K; j++)
      kl += 0.5 * (exp(y[K + j]) + y[j] * y[j] - 1.0 - y[K + j]);
    double lp = 0.0;
    for (size_t s = 0; s < S; s++) {
      double z[8];
      for (size_t j = 0; j < K; j++)
        z[j] = y[j] + exp(0.5 * y[K + j]) * E[(i * S + s) * K + j];
      for (size_t d = 0; d < D; d++) {
        double psi = exp(lpsi[ppca ? 0 : d]), m = b[d];
        for (size_t j = 0; j < K; j++)
          m += W[d * K + j] * z[j];
        lp += -0.5 * (log(2.0 * M_PI * psi) + (X[i * D + d] - m) * (X[i * D + d] - m) / psi);
      }
    }
    tot += lp / (double)S - kl;
  }
  double w2 = 0.0;
  for (size_t t = 0; t < D * K; t++)
    w2 += W[t] * W[t];
  return -tot / (double)B + lambda * w2 / (2.0 * (double)N);
}

/* ------------------------------------------------ gradient check */

static void
check_gradient(int mlp, int ppca, double lambda)
{
  const size_t D = 4, K = 2, B = 3, S = 2, N = 10, H = 3;
  infb_amortized_options o;
  memset(&o, 0, sizeof o);
  o.enc.mlp = mlp;
  o.enc.nhidden = mlp ? 1 : 0;
  o.enc.hidden[0] = H;
  o.enc.activation = INFB_ACT_TANH;
  o.train.samples = S;
  o.weight_decay = lambda;
  o.ppca = ppca;
  const char *kind = mlp ? "MLP" : "linear";
  const char *model = ppca ? "PPCA" : "FA";
  size_t sizes[3] = { D, mlp ? H : 2 * K, 2 * K }, nl = mlp ? 2 : 1;

  infb_amortized *a = infb_amortized_alloc(D, K, &o, B);
  if (!a) {
    ok(0, "gradient %s encoder %s lambda=%g: alloc", kind, model, lambda);
    ok(0, "(skipped)");
    ok(0, "(skipped)");
    ok(0, "(skipped)");
    return;
  }
  size_t n;
  double *p = infb_amortized_params(a, &n), *g = infb_amortized_grads(a, NULL);
  size_t nenc = infb_amortized_encoder_nparams(a);
  size_t want_n = nenc + D * K + D + (ppca ? 1 : D);
  size_t want_enc = mlp ? H * (D + 1) + 2 * K * (H + 1) : 2 * K * (D + 1);
  gsl_rng *r = infb_rng_stream(7, "test/amortized/grad", (uint64_t)(mlp * 4 + ppca * 2 + (lambda > 0)));
  for (size_t t = 0; t < n; t++)
    p[t] = gsl_ran_gaussian(r, 0.4);
  double X[3 * 4], E[3 * 2 * 2];
  for (size_t t = 0; t < B * D; t++)
    X[t] = gsl_ran_gaussian(r, 1.0);
  for (size_t t = 0; t < B * S * K; t++)
    E[t] = gsl_ran_gaussian(r, 1.0);
  gsl_rng_free(r);

  double loss = NAN;
  int st = infb_amortized_objective(a, B, X, E, N, &loss);
  double want = ref_loss(p, nenc, sizes, nl, D, K, ppca, lambda, B, S, X, E, N);
  ok(st == 0 && n == want_n && nenc == want_enc && fabs(loss - want) <= 1e-12 * (1 + fabs(want)),
     "%s encoder %s lambda=%g: slab of %zu = %zu (encoder %zu) + θ; loss %.12g = direct "
     "evaluation %.12g",
     kind, model, lambda, n, want_n, nenc, loss, want);

  /* Central differences of the loss itself, every parameter. */
  double *ga = malloc(n * sizeof *ga);
  memcpy(ga, g, n * sizeof *ga);
  const double h = 1e-5;
  double maxerr = 0.0, genc = 0.0, gW = 0.0, gb = 0.0, gpsi = 0.0;
  for (size_t t = 0; t < n; t++) {
    double keep = p[t], lp, lm;
    p[t] = keep + h;
    infb_amortized_objective(a, B, X, E, N, &lp);
    p[t] = keep - h;
    infb_amortized_objective(a, B, X, E, N, &lm);
    p[t] = keep;
    double fd = (lp - lm) / (2 * h), err = fabs(fd - ga[t]) / (1.0 + fabs(ga[t]));
    if (err > maxerr)
      maxerr = err;
    double m = fabs(ga[t]);
    if (t < nenc)
      genc = m > genc ? m : genc;
    else if (t < nenc + D * K)
      gW = m > gW ? m : gW;
    else if (t < nenc + D * K + D)
      gb = m > gb ? m : gb;
    else
      gpsi = m > gpsi ? m : gpsi;
  }
  ok(maxerr <= 1e-7, "%s encoder %s lambda=%g: gradient = central differences for all %zu "
                     "parameters (max rel err %.2g)", kind, model, lambda, n, maxerr);
  ok(genc > 1e-3 && gW > 1e-3 && gb > 1e-3 && gpsi > 1e-3,
     "%s encoder %s lambda=%g: no block of the gradient is trivially zero (max |g| encoder "
     "%.3g, W %.3g, b %.3g, ln psi %.3g)", kind, model, lambda, genc, gW, gb, gpsi);
  /* The objective overwrites (does not accumulate) the gradient. */
  infb_amortized_objective(a, B, X, E, N, &loss);
  ok(memcmp(g, ga, n * sizeof *ga) == 0, "%s encoder %s lambda=%g: a second call gives the "
                                         "same gradient (overwritten, not accumulated)",
     kind, model, lambda);
  free(ga);
  infb_amortized_free(a);
}

/* ------------------------------------------------ training */

static infb_amortized_options
train_opts(int mlp, uint64_t seed)
{
  infb_amortized_options o;
  memset(&o, 0, sizeof o);
  o.enc.mlp = mlp;
  o.enc.nhidden = mlp ? 1 : 0;
  o.enc.hidden[0] = 16;
  o.enc.activation = INFB_ACT_TANH;
  o.train.epochs = 100;
  o.train.batch = 50;
  o.train.samples = 1;
  o.train.lr = 0.02;
  o.train.lr_decay = 0.95;
  o.train.beta1 = 0.9;
  o.train.beta2 = 0.999;
  o.train.eps = 1e-8;
  o.train.seed = seed;
  o.psi_floor = 1e-6;
  o.name = "amortized:test";
  return o;
}

/* n rows from a random FA (or PPCA) model: D = 6, K = 2, W ~ N(0, 1), b ~ N(0, 1),
 * psi ~ U(0.1, 0.5). */
static gsl_matrix *
fa_data(size_t n, int ppca, uint64_t seed, infb_lingauss **truth)
{
  infb_lingauss *m = infb_lingauss_alloc(6, 2, ppca);
  gsl_matrix *X = gsl_matrix_alloc(n, 6);
  gsl_rng *r = infb_rng_stream(seed, "test/amortized/data", 0);
  infb_lingauss_random(m, r, 1.0, 1.0, 0.1, 0.5);
  infb_lingauss_sample(m, r, X, NULL);
  gsl_rng_free(r);
  if (truth)
    *truth = m;
  else
    infb_lingauss_free(m);
  return X;
}

/* Mean over the rows of L[q] for q_i = N(MU_i, diag S2_i) under the cached θ. */
static double
mean_elbo(const infb_lingauss_cache *c, const gsl_matrix *X, const gsl_matrix *MU,
          const gsl_matrix *S2, gsl_vector *v)
{
  infb_lingauss_elbo(c, X, MU, S2, v);
  double s = 0.0;
  for (size_t i = 0; i < v->size; i++)
    s += gsl_vector_get(v, i);
  return s / (double)v->size;
}

/* The amortisation gap of the fit on the rows of X: mean L[q*] − L[q], and the smallest
 * per-point gap; L[q*] by infb_lingauss_qstar (closed form). */
static void
amortization_gap(const infb_latent_fit *fit, const gsl_matrix *X, double *gap, double *mingap,
                 double *elbo_q)
{
  const size_t n = X->size1, K = fit->model->K;
  infb_lingauss_cache *c = infb_lingauss_cache_alloc(fit->model->D, K);
  gsl_matrix *MU = gsl_matrix_alloc(n, K), *S2 = gsl_matrix_alloc(n, K);
  gsl_matrix *EM = gsl_matrix_alloc(n, K), *EV = gsl_matrix_alloc(n, K);
  gsl_vector *vs = gsl_vector_alloc(n), *vq = gsl_vector_alloc(n);
  infb_lingauss_cache_set(c, fit->model);
  infb_lingauss_qstar(c, X, MU, S2);
  double ls = mean_elbo(c, X, MU, S2, vs);
  fit->encoder.fn(fit->encoder.self, n, X->data, EM->data, EV->data);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < K; j++)
      gsl_matrix_set(EV, i, j, exp(gsl_matrix_get(EV, i, j)));
  double lq = mean_elbo(c, X, EM, EV, vq);
  *gap = ls - lq;
  *mingap = INFINITY;
  for (size_t i = 0; i < n; i++) {
    double g = gsl_vector_get(vs, i) - gsl_vector_get(vq, i);
    if (g < *mingap)
      *mingap = g;
  }
  *elbo_q = lq;
  infb_lingauss_cache_free(c);
  gsl_matrix_free(MU);
  gsl_matrix_free(S2);
  gsl_matrix_free(EM);
  gsl_matrix_free(EV);
  gsl_vector_free(vs);
  gsl_vector_free(vq);
}

static void
test_gap(void)
{
  infb_lingauss *truth;
  gsl_matrix *X = fa_data(1000, 0, 101, &truth);
  infb_amortized_options o = train_opts(0, 5);
  o.train.epochs = 300;
  o.train.lr_decay = 0.98;
  infb_latent_fit fit;
  infb_latent_fit_init(&fit);
  int st = infb_amortized_fit(X, NULL, 2, &o, &fit);
  ok(st == 0 && fit.model && fit.encoder.fn && fit.encoder.D == 6 && fit.encoder.K == 2 &&
         fit.iterations == o.train.epochs && strcmp(fit.stop_reason, "epochs") == 0 &&
         fit.ncurve == o.train.epochs + 1,
     "linear encoder FA fit: status %d, model and encoder returned, %zu epochs, stop "
     "'%s', %zu curve rows", st, fit.iterations, fit.stop_reason, fit.ncurve);
  if (st) {
    for (int i = 0; i < 6; i++)
      ok(0, "(fit failed: %s)", infb_error_message());
    gsl_matrix_free(X);
    infb_lingauss_free(truth);
    return;
  }
  double gap, mingap, lq;
  amortization_gap(&fit, X, &gap, &mingap, &lq);
  diag("linear encoder: amortisation gap %.3g nats (smallest per point %.3g)", gap, mingap);
  ok(gap < 0.02, "linear encoder, lr 0.02 decaying by 0.98 over 300 epochs: amortisation gap "
                 "L[q*] − L[q] = %.4g nats < 0.02 (closed forms)", gap);
  ok(mingap >= -1e-9, "L[q*] ≥ L[q] at every point (q* is the optimum; smallest gap %.3g)",
     mingap);
  const double *cv = fit.curve;
  size_t E = fit.ncurve - 1;
  ok(cv[3 * E + 1] > cv[1] + 1.0 && cv[0] == 0 && cv[3 * E] == (double)E && isnan(cv[2]),
     "training raises the train ELBO per point from %.4f to %.4f; steps 0..%zu; no test "
     "column without test data", cv[1], cv[3 * E + 1], E);
  is_double_rel(lq, cv[3 * E + 1], 1e-12, "the curve's last train ELBO is the closed-form L[q] "
                                          "of the returned model and encoder");
  /* Training maximises the ELBO over θ and q, so it must reach (within optimisation error)
   * the ELBO of the generating θ with its best factorised q. */
  infb_lingauss_cache *c = infb_lingauss_cache_alloc(6, 2);
  gsl_matrix *MU = gsl_matrix_alloc(1000, 2), *S2 = gsl_matrix_alloc(1000, 2);
  gsl_vector *v = gsl_vector_alloc(1000);
  infb_lingauss_cache_set(c, truth);
  infb_lingauss_qstar(c, X, MU, S2);
  double ltrue = mean_elbo(c, X, MU, S2, v);
  ok(lq >= ltrue - 0.01, "trained ELBO %.4f ≥ L[q*] of the generating θ %.4f − 0.01", lq,
     ltrue);
  infb_lingauss_cache_free(c);
  gsl_matrix_free(MU);
  gsl_matrix_free(S2);
  gsl_vector_free(v);

  /* The encoder callback in chunks agrees with row-by-row calls. */
  double mu1[2], lv1[2], maxd = 0.0;
  gsl_matrix *EM = gsl_matrix_alloc(1000, 2), *EV = gsl_matrix_alloc(1000, 2);
  fit.encoder.fn(fit.encoder.self, 1000, X->data, EM->data, EV->data);
  for (size_t i = 0; i < 1000; i += 37) {
    fit.encoder.fn(fit.encoder.self, 1, X->data + i * 6, mu1, lv1);
    for (size_t j = 0; j < 2; j++) {
      maxd = fmax(maxd, fabs(mu1[j] - gsl_matrix_get(EM, i, j)));
      maxd = fmax(maxd, fabs(lv1[j] - gsl_matrix_get(EV, i, j)));
    }
  }
  ok(maxd <= 1e-12, "encoder on 1000 rows (in chunks of the batch) = one row at a time "
                    "(max diff %.2g)", maxd);
  gsl_matrix_free(EM);
  gsl_matrix_free(EV);
  infb_latent_fit_free(&fit);
  ok(fit.model == NULL && fit.encoder.fn == NULL && fit.curve == NULL,
     "infb_latent_fit_free releases the model, encoder and curve");
  gsl_matrix_free(X);
  infb_lingauss_free(truth);
}

static int
same_fit(const infb_latent_fit *a, const infb_latent_fit *b, const gsl_matrix *X)
{
  const infb_lingauss *ma = a->model, *mb = b->model;
  size_t D = ma->D, K = ma->K, n = X->size1;
  int same = memcmp(ma->W->data, mb->W->data, D * K * sizeof(double)) == 0 &&
             memcmp(ma->b->data, mb->b->data, D * sizeof(double)) == 0 &&
             memcmp(ma->psi->data, mb->psi->data, D * sizeof(double)) == 0;
  double *ya = malloc(4 * n * K * sizeof *ya);
  a->encoder.fn(a->encoder.self, n, X->data, ya, ya + n * K);
  b->encoder.fn(b->encoder.self, n, X->data, ya + 2 * n * K, ya + 3 * n * K);
  same = same && memcmp(ya, ya + 2 * n * K, 2 * n * K * sizeof *ya) == 0;
  free(ya);
  return same;
}

static void
test_mlp_reproducible(void)
{
  gsl_matrix *all = fa_data(400, 0, 102, NULL);
  gsl_matrix_view Xv = gsl_matrix_submatrix(all, 0, 0, 300, 6);
  gsl_matrix_view Tv = gsl_matrix_submatrix(all, 300, 0, 100, 6);
  const gsl_matrix *X = &Xv.matrix, *Xte = &Tv.matrix;
  infb_amortized_options o = train_opts(1, 9);
  o.train.epochs = 8;
  o.train.samples = 2;
  infb_latent_fit f1, f2, f3;
  int s1 = infb_amortized_fit(X, Xte, 2, &o, &f1);
  int s2 = infb_amortized_fit(X, Xte, 2, &o, &f2);
  o.train.seed = 10;
  int s3 = infb_amortized_fit(X, Xte, 2, &o, &f3);
  ok(s1 == 0 && s2 == 0 && s3 == 0, "MLP encoder fits run (status %d %d %d)", s1, s2, s3);
  if (s1 || s2 || s3) {
    for (int i = 0; i < 4; i++)
      ok(0, "(fit failed: %s)", infb_error_message());
  } else {
    ok(same_fit(&f1, &f2, X) && memcmp(f1.curve, f2.curve, 3 * f1.ncurve * sizeof(double)) == 0,
       "same seed: bit-identical θ, encoder outputs and curve");
    ok(!same_fit(&f1, &f3, X), "a different seed gives different parameters");
    size_t E = f1.ncurve - 1;
    ok(f1.curve[3 * E + 1] > f1.curve[1] && f1.curve[3 * E + 2] > f1.curve[2] &&
           isfinite(f1.curve[2]),
       "MLP encoder: train ELBO %.3f → %.3f, test ELBO %.3f → %.3f both rise", f1.curve[1],
       f1.curve[3 * E + 1], f1.curve[2], f1.curve[3 * E + 2]);
    ok(strstr(f1.note, "MLP encoder (hidden 16, tanh)") != NULL, "the note names the "
                                                               "architecture: '%s'", f1.note);
  }
  infb_latent_fit_free(&f1);
  infb_latent_fit_free(&f2);
  infb_latent_fit_free(&f3);
  gsl_matrix_free(all);
}

static double
frob(const gsl_matrix *A)
{
  double s = 0.0;
  for (size_t i = 0; i < A->size1; i++)
    for (size_t j = 0; j < A->size2; j++)
      s += gsl_matrix_get(A, i, j) * gsl_matrix_get(A, i, j);
  return sqrt(s);
}

static void
test_ppca_floor_decay(void)
{
  gsl_matrix *X = fa_data(300, 1, 104, NULL);
  infb_amortized_options o = train_opts(0, 3);
  o.train.epochs = 10;
  o.ppca = 1;
  o.psi_floor = 10.0; /* above the variance of every column */
  infb_latent_fit f;
  int st = infb_amortized_fit(X, NULL, 2, &o, &f);
  int iso = st == 0;
  for (size_t d = 0; iso && d < 6; d++)
    iso = gsl_vector_get(f.model->psi, d) == gsl_vector_get(f.model->psi, 0);
  ok(iso && f.model->ppca, "PPCA: one shared noise variance (%g)",
     st ? NAN : gsl_vector_get(f.model->psi, 0));
  ok(st == 0 && fabs(gsl_vector_get(f.model->psi, 0) - 10.0) <= 1e-12 && f.nfloored == 1,
     "psi_floor 10 holds ψ at the floor (ψ = %g) and counts the shared variance once "
     "(nfloored %zu)", st ? NAN : gsl_vector_get(f.model->psi, 0), f.nfloored);
  infb_latent_fit_free(&f);

  /* Weight decay shrinks W (a Gaussian prior pulling it to 0). */
  o = train_opts(0, 3);
  o.train.epochs = 10;
  infb_latent_fit f0, f1;
  int s0 = infb_amortized_fit(X, NULL, 2, &o, &f0);
  o.weight_decay = 3000.0;
  int s1 = infb_amortized_fit(X, NULL, 2, &o, &f1);
  double n0 = s0 ? NAN : frob(f0.model->W), n1 = s1 ? NAN : frob(f1.model->W);
  ok(s0 == 0 && s1 == 0 && n1 < 0.5 * n0, "weight decay λ = 3000 (N = 300) shrinks ‖W‖_F: "
                                          "%.3f without, %.3f with", n0, n1);
  infb_latent_fit_free(&f0);
  infb_latent_fit_free(&f1);
  gsl_matrix_free(X);
}

static int
has_prefix_suffix(const char *s, const char *pre, const char *suf)
{
  size_t n = strlen(s), np = strlen(pre), ns = strlen(suf);
  return n >= np + ns && strncmp(s, pre, np) == 0 && strcmp(s + n - ns, suf) == 0;
}

static void
test_errors(void)
{
  gsl_matrix *X = fa_data(200, 0, 105, NULL);
  infb_latent_fit f;

  /* A learning rate of 1e6 moves every parameter by ~1e6 in the first Adam step; the
   * encoder's ln σ² then overflows exp, and the loss is not finite. */
  infb_amortized_options o = train_opts(0, 1);
  o.train.lr = 1e6;
  o.train.epochs = 3;
  int st = infb_amortized_fit(X, NULL, 2, &o, &f);
  const char *msg = infb_error_message();
  ok(st == GSL_EDOM && (has_prefix_suffix(msg, "amortized: epoch 1, step ",
                                          ": the ELBO is not finite; lower [train] lr") ||
                        has_prefix_suffix(msg, "amortized: epoch 1, step ",
                                          ": the ELBO gradient is not finite; lower [train] lr")),
     "lr = 1e6 blows up: GSL_EDOM (%d) naming epoch and step: '%s'", st, msg);
  ok(f.model == NULL && f.encoder.fn == NULL && f.curve == NULL,
     "a failed fit owns nothing");

  /* Non-finite encoder outputs reach the loss directly: the objective returns it as is. */
  o = train_opts(0, 1);
  infb_amortized *a = infb_amortized_alloc(6, 2, &o, 2);
  double x[12] = { 0 }, e[4] = { 0 }, loss = 0.0;
  double *p = infb_amortized_params(a, NULL);
  p[infb_amortized_encoder_nparams(a) - 1] = 1e6; /* the bias of the last ln σ² output */
  st = infb_amortized_objective(a, 2, x, e, 10, &loss);
  ok(st == 0 && !isfinite(loss), "objective: ln σ² = 1e6 gives a non-finite loss (%g), "
                                 "status %d", loss, st);
  st = infb_amortized_objective(a, 3, x, e, 10, &loss);
  ok(st == GSL_EBADLEN, "objective: B = 3 > max_batch 2 is GSL_EBADLEN (%d)", st);
  st = infb_amortized_objective(a, 0, x, e, 10, &loss);
  ok(st == GSL_EBADLEN, "objective: B = 0 is GSL_EBADLEN (%d)", st);
  infb_amortized_free(a);
  o.enc.mlp = 1;
  o.enc.activation = 99;
  ok(infb_amortized_alloc(6, 2, &o, 2) == NULL, "alloc: an invalid activation gives NULL");
  o = train_opts(0, 1);
  ok(infb_amortized_alloc(6, 6, &o, 2) == NULL, "alloc: K = D gives NULL");

  st = infb_amortized_fit(X, NULL, 6, &o, &f);
  ok(st == INFB_ECONFIG, "fit: K = D = 6 is INFB_ECONFIG (%d): %s", st, infb_error_message());
  gsl_matrix_set(X, 7, 3, NAN);
  st = infb_amortized_fit(X, NULL, 2, &o, &f);
  ok(st == INFB_EDATA && strcmp(infb_error_message(), "data row 8, column 4 is not finite "
                                                      "(nan)") == 0,
     "fit: a NaN cell is INFB_EDATA (%d) naming its position: '%s'", st, infb_error_message());
  gsl_matrix_set(X, 7, 3, 0.0);
  gsl_matrix *T5 = gsl_matrix_calloc(3, 5);
  st = infb_amortized_fit(X, T5, 2, &o, &f);
  ok(st == GSL_EBADLEN, "fit: test data with 5 columns for 6 is GSL_EBADLEN (%d)", st);
  gsl_matrix_free(T5);
  o.train.batch = 0;
  st = infb_amortized_fit(X, NULL, 2, &o, &f);
  ok(st == GSL_EINVAL && strcmp(infb_error_message(), "amortized: [train] batch = 0 must be "
                                                       "at least 1") == 0,
     "fit: batch 0 is GSL_EINVAL (%d): '%s'", st, infb_error_message());
  o = train_opts(0, 1);
  o.weight_decay = -1.0;
  st = infb_amortized_fit(X, NULL, 2, &o, &f);
  ok(st == GSL_EINVAL, "fit: negative weight decay is GSL_EINVAL (%d)", st);
  o = train_opts(1, 1);
  o.enc.nhidden = 0;
  st = infb_amortized_fit(X, NULL, 2, &o, &f);
  ok(st == GSL_EINVAL, "fit: an MLP without hidden layers is GSL_EINVAL (%d)", st);
  gsl_matrix *C = gsl_matrix_calloc(20, 6);
  for (size_t i = 0; i < 20; i++)
    for (size_t d = 0; d < 5; d++)
      gsl_matrix_set(C, i, d, (double)((i * 7 + d * 3) % 5));
  o = train_opts(0, 1);
  o.psi_floor = 0.0;
  st = infb_amortized_fit(C, NULL, 2, &o, &f);
  ok(st == GSL_EDOM && strcmp(infb_error_message(), "amortized: column 6 has no variance; set "
                                                     "a positive psi_floor") == 0,
     "fit: a constant column without a floor is GSL_EDOM (%d): '%s'", st, infb_error_message());
  gsl_matrix_free(C);
  /* A batch larger than the data is the whole data, one step per epoch. */
  gsl_matrix_view small = gsl_matrix_submatrix(X, 0, 0, 30, 6);
  o = train_opts(0, 1);
  o.train.batch = 100;
  o.train.epochs = 3;
  st = infb_amortized_fit(&small.matrix, NULL, 2, &o, &f);
  ok(st == 0 && f.ncurve == 4 && isfinite(f.curve[3 * 3 + 1]),
     "fit: batch 100 on 30 rows runs (status %d)", st);
  infb_latent_fit_free(&f);
  infb_amortized_free(NULL);
  ok(1, "infb_amortized_free(NULL) is a no-op");
  gsl_matrix_free(X);
}

int
main(void)
{
  plan(64);
  for (int mlp = 0; mlp < 2; mlp++)
    for (int ppca = 0; ppca < 2; ppca++)
      for (int wd = 0; wd < 2; wd++)
        check_gradient(mlp, ppca, wd ? 2.5 : 0.0);
  test_gap();
  test_mlp_reproducible();
  test_ppca_floor_decay();
  test_errors();
  return test_done();
}
