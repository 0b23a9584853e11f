/* The infbench side of `make bench`: the protocol VAE (784-200-200-2K encoder,
 * K-200-200-784 Bernoulli decoder, ELU, float32) on the workloads of bench/torch_vae.py,
 * plus the OpenBLAS sgemm rate on 2048² squares, each the median of --repeat runs:
 *
 *   train   training examples per second (batch B, one sample, Adam)
 *   iwae    IWAE-k points per second
 *   qstar   per-point q* point-steps per second, S samples per step (decoder frozen:
 *           ln p(x|z) and ∂/∂z through the decoder, then the per-point Adam update)
 *   sgemm   GFLOP/s of cblas_sgemm on 2048×2048 matrices
 *
 * Prints "infbench WORKLOAD threads=T value UNIT" lines and the peak resident memory.
 * Data are random binary images: speed does not depend on their content. */
#include <config.h>
#include "core/clock.h"
#include "core/error.h"
#include "core/rng.h"
#include "linalg/blas.h"
#include "nn/adam.h"
#include "nn/vae.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <gsl/gsl_randist.h>

static int
cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double
median(double *t, size_t n)
{
  qsort(t, n, sizeof *t, cmp_double);
  return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static void
check(int st, const char *what)
{
  if (st) {
    fprintf(stderr, "vae_bench: %s: %s\n", what, infb_error_message());
    exit(1);
  }
}

int
main(int argc, char **argv)
{
  size_t threads = 1, K = 50, H = 200, B = 100, steps = 50, iwae_k = 5000, iwae_points = 4;
  size_t qpoints = 100, qsamples = 1, qsteps = 50, repeat = 5;
  const char *work = "train,iwae,qstar,sgemm";
  static const struct option longopts[] = {
      {"threads", required_argument, NULL, 't'},   {"latent", required_argument, NULL, 'K'},
      {"hidden", required_argument, NULL, 'H'},    {"batch", required_argument, NULL, 'B'},
      {"steps", required_argument, NULL, 's'},     {"iwae-k", required_argument, NULL, 'k'},
      {"iwae-points", required_argument, NULL, 'p'}, {"qstar-points", required_argument, NULL, 'q'},
      {"qstar-samples", required_argument, NULL, 'S'}, {"qstar-steps", required_argument, NULL, 'Q'},
      {"repeat", required_argument, NULL, 'r'},    {"workloads", required_argument, NULL, 'w'},
      {NULL, 0, NULL, 0}};
  int ch;
  while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    size_t v = optarg ? (size_t)strtoul(optarg, NULL, 10) : 0;
    switch (ch) {
    case 't': threads = v; break;
    case 'K': K = v; break;
    case 'H': H = v; break;
    case 'B': B = v; break;
    case 's': steps = v; break;
    case 'k': iwae_k = v; break;
    case 'p': iwae_points = v; break;
    case 'q': qpoints = v; break;
    case 'S': qsamples = v; break;
    case 'Q': qsteps = v; break;
    case 'r': repeat = v; break;
    case 'w': work = optarg; break;
    default: return 2;
    }
  }
  gsl_set_error_handler(infb_error_gsl_handler);
  infb_blas_set_threads((int)threads);
  const size_t D = 784;
  infb_vae_arch arch = {.D = D, .K = K, .nenc = 2, .ndec = 2, .act = INFB_ACT_ELU};
  arch.enc_hidden[0] = arch.enc_hidden[1] = H;
  arch.dec_hidden[0] = arch.dec_hidden[1] = H;
  size_t rows = qpoints * qsamples > B ? qpoints * qsamples : B;
  infb_vae_f32 *v = infb_vae_alloc_f32(&arch, rows, 1000);
  gsl_rng *r = infb_rng_stream(1, "bench", 0);
  if (!v || !r)
    check(GSL_ENOMEM, "allocation");
  check(infb_vae_init_f32(v, r), "init");
  size_t nx = rows > iwae_points ? rows : iwae_points;
  float *X = malloc(nx * D * sizeof *X), *E = malloc(rows * K * sizeof *E);
  double *t = malloc(repeat * sizeof *t);
  for (size_t i = 0; i < nx * D; i++)
    X[i] = gsl_rng_uniform(r) < 0.5f ? 1.0f : 0.0f;

  if (strstr(work, "train")) {
    size_t np;
    float *params = infb_vae_params_f32(v, &np), *grads = infb_vae_grads_f32(v, NULL);
    infb_adam_f32 *adam = infb_adam_alloc_f32(np, 0.9, 0.999, 1e-4);
    for (size_t rep = 0; rep <= repeat; rep++) {
      double t0 = infb_clock_seconds(), sum;
      for (size_t s = 0; s < steps; s++) {
        for (size_t i = 0; i < B * K; i++)
          E[i] = (float)gsl_ran_gaussian_ziggurat(r, 1.0);
        infb_vae_zero_grad_f32(v);
        check(infb_vae_elbo_f32(v, B, X, 1, E, 1.0, 1, &sum), "elbo");
        check(infb_adam_step_f32(adam, params, grads, 1e-4), "adam");
      }
      if (rep) /* the first run warms up */
        t[rep - 1] = infb_clock_seconds() - t0;
    }
    printf("infbench train threads=%zu %.1f examples/s\n", threads,
           (double)(steps * B) / median(t, repeat));
    infb_adam_free_f32(adam);
  }

  if (strstr(work, "iwae")) {
    gsl_rng **rngs = malloc(iwae_points * sizeof *rngs);
    double *out = malloc(iwae_points * sizeof *out);
    for (size_t rep = 0; rep <= repeat; rep++) {
      for (size_t i = 0; i < iwae_points; i++)
        rngs[i] = infb_rng_stream(2, "bench/iwae", i);
      double t0 = infb_clock_seconds();
      check(infb_vae_iwae_f32(v, iwae_points, X, NULL, NULL, iwae_k, rngs, out, NULL), "iwae");
      if (rep)
        t[rep - 1] = infb_clock_seconds() - t0;
      for (size_t i = 0; i < iwae_points; i++)
        gsl_rng_free(rngs[i]);
    }
    printf("infbench iwae threads=%zu k=%zu %.2f points/s\n", threads, iwae_k,
           (double)iwae_points / median(t, repeat));
    free(rngs);
    free(out);
  }

  if (strstr(work, "qstar")) {
    /* Per point: (μ, ln σ²) and their Adam moments; per step one decoder pass over
     * qpoints·qsamples rows. */
    size_t R = qpoints * qsamples, P = qpoints * K;
    float *Z = malloc(R * K * sizeof *Z), *G = malloc(R * K * sizeof *G);
    float *XR = malloc(R * D * sizeof *XR), *mu = calloc(P, sizeof *mu), *lv = calloc(P, sizeof *lv);
    double *logp = malloc(R * sizeof *logp);
    float *m1 = calloc(2 * P, sizeof *m1), *m2 = calloc(2 * P, sizeof *m2);
    float *EPS = malloc(R * K * sizeof *EPS);
    for (size_t i = 0; i < R; i++)
      memcpy(XR + i * D, X + (i / qsamples) * D, D * sizeof *XR);
    for (size_t rep = 0; rep <= repeat; rep++) {
      double t0 = infb_clock_seconds();
      for (size_t s = 1; s <= qsteps; s++) {
        for (size_t i = 0; i < R; i++)
          for (size_t j = 0; j < K; j++) {
            float e = (float)gsl_ran_gaussian_ziggurat(r, 1.0);
            size_t p = (i / qsamples) * K + j;
            Z[i * K + j] = mu[p] + expf(0.5f * lv[p]) * e;
            EPS[i * K + j] = e; /* kept for the ln σ² gradient below */
          }
        check(infb_vae_decoder_loglik_f32(v, R, XR, Z, logp, G), "decoder");
        double b1 = 1 - pow(0.9, (double)s), b2 = 1 - pow(0.999, (double)s);
        for (size_t p = 0; p < P; p++) {
          size_t i = p / K, j = p % K;
          float sd = expf(0.5f * lv[p]), gm = 0.0f, gl = 0.0f;
          for (size_t q = 0; q < qsamples; q++) {
            size_t row = i * qsamples + q;
            gm += G[row * K + j];
            gl += G[row * K + j] * EPS[row * K + j];
          }
          gm = gm / (float)qsamples - mu[p];
          gl = 0.5f * sd * gl / (float)qsamples - 0.5f * (sd * sd - 1.0f);
          float g2[2] = {-gm, -gl};
          float *theta[2] = {&mu[p], &lv[p]};
          for (int c = 0; c < 2; c++) {
            size_t k = 2 * p + (size_t)c;
            m1[k] = 0.9f * m1[k] + 0.1f * g2[c];
            m2[k] = 0.999f * m2[k] + 0.001f * g2[c] * g2[c];
            *theta[c] -= (float)(1e-3 * (m1[k] / b1) / (sqrt(m2[k] / b2) + 1e-8));
          }
        }
      }
      if (rep)
        t[rep - 1] = infb_clock_seconds() - t0;
    }
    free(EPS);
    printf("infbench qstar threads=%zu samples=%zu %.1f point-steps/s\n", threads, qsamples,
           (double)(qpoints * qsteps) / median(t, repeat));
    free(Z);
    free(G);
    free(XR);
    free(mu);
    free(lv);
    free(logp);
    free(m1);
    free(m2);
  }

  if (strstr(work, "sgemm")) {
    const size_t n = 2048;
    float *A = malloc(n * n * sizeof *A), *Bm = malloc(n * n * sizeof *Bm), *C = malloc(n * n * sizeof *C);
    for (size_t i = 0; i < n * n; i++)
      A[i] = Bm[i] = (float)gsl_rng_uniform(r);
    for (size_t rep = 0; rep <= repeat; rep++) {
      double t0 = infb_clock_seconds();
      check(infb_sgemm(0, 0, n, n, n, 1.0f, A, n, Bm, n, 0.0f, C, n), "sgemm");
      if (rep)
        t[rep - 1] = infb_clock_seconds() - t0;
    }
    printf("infbench sgemm threads=%zu n=%zu %.1f GFLOP/s\n", threads, n,
           2.0 * (double)n * n * n / median(t, repeat) / 1e9);
    free(A);
    free(Bm);
    free(C);
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("infbench peak-rss threads=%zu %.1f MiB\n", threads, (double)ru.ru_maxrss / 1024.0);
  infb_vae_free_f32(v);
  gsl_rng_free(r);
  free(X);
  free(E);
  free(t);
  return 0;
}
