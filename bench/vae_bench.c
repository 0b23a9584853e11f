/* The infbench side of `make bench`: the protocol VAE (784-200-200-2K encoder,
 * K-200-200-784 Bernoulli decoder, ELU, float32) on the workloads of bench/torch_vae.py,
 * plus the OpenBLAS sgemm rate on 2048² squares, each the median of --repeat runs:
 *
 *   train   training examples per second (batch B, one sample, Adam)
 *   iwae    IWAE-k points per second
 *   qstar   per-point q* point-steps per second, S samples per step: infbench's own
 *           optimiser (infer/qstar.h) on the frozen decoder, as the gap report runs it
 *   ais     forward AIS from the prior (infer/ais.h) on the frozen decoder, as the gap
 *           report runs it: chain-transitions per second (one transition = one leapfrog
 *           step of one chain, a decoder forward and its input gradient on one row);
 *           --ais-points points, C chains each, T temperatures, L leapfrog steps, the
 *           fixed step 0.01, --ais-tile points' chains per decoder call (row tiles;
 *           threads take whole tiles) (bench/torch_vae.py runs the same algorithm)
 *   sgemm   GFLOP/s of cblas_sgemm on 2048×2048 matrices
 *   peak    the machine's float32 FMA peak on T threads (bench/peak.h; not in the default
 *           list: bench/run measures it once per thread count)
 *
 * Prints "infbench WORKLOAD threads=T value UNIT" lines, the peak resident memory of
 * the VAE workloads (taken before the sgemm reference, whose three 16 MiB matrices are
 * not part of any workload PyTorch runs), and for each VAE workload its FLOP per unit
 * ("infbench flops WORKLOAD [samples=S] n FLOP/unit", see flop_counts), from which
 * bench/run computes the fraction of the peak.
 * Data are random binary images: speed does not depend on their content. */
#include <config.h>
#include "core/clock.h"
#include "core/error.h"
#include "core/rng.h"
#include "linalg/blas.h"
#include "nn/adam.h"
#include "nn/vae.h"
#include "infer/ais.h"
#include "infer/gapeval.h"
#include "infer/qstar.h"
#include "cli/cli.h"
#include "peak.h"

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

/* The FLOP of the workloads, from the network's shapes: gemms only, 2·m·n·k each (the
 * activations, the likelihood, the noise and Adam are not counted: bench/RESULTS.md).
 * A dense layer n_in → n_out on m rows costs 2·m·n_in·n_out forward, as much again for
 * its weight gradient and as much for its input gradient; sums over the layers of the
 * encoder [D, H…, 2K] and the decoder [K, H…, D] of n_in·n_out are enc and dec. */
typedef struct flop_counts {
  double train; /* per training example: forward, weight gradients everywhere, input
                 * gradients everywhere but the encoder's first layer (x needs none) */
  double iwae;  /* per point: the encoder forward once, the decoder forward k times */
  double qstar; /* per point-step: the decoder forward and its input gradient (the
                 * weights are frozen), S times */
  double ais;   /* per chain-transition (one leapfrog step of one chain): the decoder
                 * forward and its input gradient on one row */
} flop_counts;

static flop_counts
count_flops(const infb_vae_arch *a, size_t iwae_k, size_t S)
{
  double enc = 0, dec = 0, first = 0; /* first: the encoder's first layer */
  size_t in = a->D;
  for (size_t l = 0; l <= a->nenc; l++) {
    size_t out = l < a->nenc ? a->enc_hidden[l] : 2 * a->K;
    enc += (double)in * (double)out;
    first = l == 0 ? enc : first;
    in = out;
  }
  in = a->K;
  for (size_t l = 0; l <= a->ndec; l++) {
    size_t out = l < a->ndec ? a->dec_hidden[l] : a->D;
    dec += (double)in * (double)out;
    in = out;
  }
  flop_counts f;
  f.train = 2 * (enc + dec) + 2 * (enc + dec) + 2 * (enc - first + dec);
  f.iwae = 2 * enc + 2 * (double)iwae_k * dec;
  f.qstar = 4 * (double)S * dec;
  f.ais = 4 * dec; /* forward 2·(K·H + H·H + H·D), backward to z 2·(H·D + H·H + H·K) */
  return f;
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
  size_t qpoints = 100, qsamples = 1, qsteps = 50, repeat = 5, block_rows = INFB_VAE_BLOCK_ROWS;
  size_t ais_chains = 16, ais_temps = 50, ais_leapfrog = 10, ais_points = 8, ais_tile = 8;
  const char *work = "train,iwae,qstar,sgemm";
  int split = 0; /* --split: the VAE's own threads (vae_set_parts), OpenBLAS on one */
  const char *blocking = "auto"; /* --gemm-blocking: as [experiment] gemm_blocking */
  const char *peak_isa = "auto"; /* --peak-isa: the peak's vector unit, or the CPU's widest */
  double peak_seconds = 0.25;    /* --peak-seconds: the length of one timed peak run */
  size_t block_cols = 32, block_depth = 128;
  static const struct option longopts[] = {
      {"threads", required_argument, NULL, 't'},   {"latent", required_argument, NULL, 'K'},
      {"hidden", required_argument, NULL, 'H'},    {"batch", required_argument, NULL, 'B'},
      {"steps", required_argument, NULL, 's'},     {"iwae-k", required_argument, NULL, 'k'},
      {"iwae-points", required_argument, NULL, 'p'}, {"qstar-points", required_argument, NULL, 'q'},
      {"qstar-samples", required_argument, NULL, 'S'}, {"qstar-steps", required_argument, NULL, 'Q'},
      {"repeat", required_argument, NULL, 'r'},    {"workloads", required_argument, NULL, 'w'},
      {"split", no_argument, NULL, 'x'},           {"block-rows", required_argument, NULL, 'b'},
      {"gemm-blocking", required_argument, NULL, 'g'},
      {"gemm-block-cols", required_argument, NULL, 'c'},
      {"gemm-block-depth", required_argument, NULL, 'd'},
      {"peak-isa", required_argument, NULL, 'P'},
      {"peak-seconds", required_argument, NULL, 'T'},
      {"ais-chains", required_argument, NULL, 'C'},
      {"ais-temperatures", required_argument, NULL, 'A'},
      {"ais-leapfrog", required_argument, NULL, 'L'},
      {"ais-points", required_argument, NULL, 'n'},
      {"ais-tile", required_argument, NULL, 'i'},
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
    case 'x': split = 1; break;
    case 'b': block_rows = v; break; /* IWAE rows per decoder pass */
    case 'g': blocking = optarg; break;
    case 'c': block_cols = v; break;
    case 'd': block_depth = v; break;
    case 'P': peak_isa = optarg; break;
    case 'T': peak_seconds = strtod(optarg, NULL); break;
    case 'C': ais_chains = v; break;
    case 'A': ais_temps = v; break;
    case 'L': ais_leapfrog = v; break;
    case 'n': ais_points = v; break;
    case 'i': ais_tile = v; break;
    default: return 2;
    }
  }
  infb_cli_exec_setup(argv); /* as infbench does: OpenBLAS's kernels, OpenMP's waiting */
  gsl_set_error_handler(infb_error_gsl_handler);
  infb_blas_set_threads(split ? 1 : (int)threads);
  infb_blas_apply_blocking(blocking, block_cols, block_depth);
  if (strstr(work, "peak")) {
    /* The peak's own threads (pthreads), not OpenBLAS's or the VAE's: T of them. */
    infb_peak_cpu cpu;
    infb_peak_cpu_detect(&cpu);
    infb_peak_isa isa = infb_peak_choose(&cpu);
    if (strcmp(peak_isa, "auto") != 0) {
      if (infb_peak_isa_parse(peak_isa, &isa)) {
        fprintf(stderr, "vae_bench: --peak-isa: %s\n", infb_error_message());
        return 2;
      }
      if (!infb_peak_runs_on(isa, &cpu)) {
        fprintf(stderr, "vae_bench: --peak-isa: this CPU cannot run the %s kernel\n",
                peak_isa);
        return 2;
      }
    }
    double gf, sum;
    check(infb_peak_measure(isa, threads, peak_seconds, repeat, &gf, &sum), "peak");
    printf("infbench peak threads=%zu isa=%s lanes=%zu %s %.1f GFLOP/s\n", threads,
           infb_peak_isa_name(isa), infb_peak_lanes(isa),
           infb_peak_fused(isa) ? "fma" : "mul+add", gf);
    if (!isfinite(sum)) /* the accumulators are the loop's observable result */
      check(GSL_ESANITY, "peak accumulators");
  }
  if (!strstr(work, "train") && !strstr(work, "iwae") && !strstr(work, "qstar") &&
      !strstr(work, "ais") && !strstr(work, "sgemm"))
    return 0;
  const size_t D = 784;
  infb_vae_arch arch = {.D = D, .K = K, .nenc = 2, .ndec = 2, .act = INFB_ACT_ELU};
  arch.enc_hidden[0] = arch.enc_hidden[1] = H;
  arch.dec_hidden[0] = arch.dec_hidden[1] = H;
  const flop_counts fl = count_flops(&arch, iwae_k, qsamples);
  size_t rows = qpoints * qsamples > B ? qpoints * qsamples : B;
  if (ais_tile == 0)
    ais_tile = 1;
  if (ais_chains * ais_tile > rows)
    rows = ais_chains * ais_tile;
  infb_vae_f32 *v = infb_vae_alloc_f32(&arch, rows, 1000);
  gsl_rng *r = infb_rng_stream(1, "bench", 0);
  if (!v || !r)
    check(GSL_ENOMEM, "allocation");
  check(infb_vae_init_f32(v, r), "init");
  if (split)
    check(infb_vae_set_parts_f32(v, threads), "threads");
  check(infb_vae_set_block_rows_f32(v, block_rows), "block rows");
  /* The thread setting as printed: T (OpenBLAS's threads) or T+split (the VAE's). */
  char tl[32];
  snprintf(tl, sizeof tl, "%zu%s", threads, split ? "+split" : "");
  size_t nx = rows > iwae_points ? rows : iwae_points;
  if (ais_points > nx)
    nx = ais_points;
  float *X = malloc(nx * D * sizeof *X), *E = malloc(rows * K * sizeof *E);
  double *t = malloc(repeat * sizeof *t);
  for (size_t i = 0; i < nx * D; i++)
    X[i] = gsl_rng_uniform(r) < 0.5f ? 1.0f : 0.0f;

  if (strstr(work, "train")) {
    size_t np;
    float *params = infb_vae_params_f32(v, &np), *grads = infb_vae_grads_f32(v, NULL);
    infb_adam_f32 *adam = infb_adam_alloc_f32(np, 0.9, 0.999, 1e-4);
    if (split)
      check(infb_adam_set_threads_f32(adam, threads), "adam threads");
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
    printf("infbench train threads=%s %.1f examples/s\n", tl,
           (double)(steps * B) / median(t, repeat));
    printf("infbench flops train %.0f FLOP/example\n", fl.train);
    infb_adam_free_f32(adam);
  }

  if (strstr(work, "iwae")) {
    gsl_rng **rngs = malloc(iwae_points * sizeof *rngs);
    double *out = malloc(iwae_points * sizeof *out);
    for (size_t rep = 0; rep <= repeat; rep++) {
      for (size_t i = 0; i < iwae_points; i++)
        rngs[i] = infb_rng_sampler(2, "bench/iwae", i); /* as the gap report */
      double t0 = infb_clock_seconds();
      check(infb_vae_iwae_f32(v, iwae_points, X, NULL, NULL, iwae_k, rngs, out, NULL), "iwae");
      if (rep)
        t[rep - 1] = infb_clock_seconds() - t0;
      for (size_t i = 0; i < iwae_points; i++)
        gsl_rng_free(rngs[i]);
    }
    printf("infbench iwae threads=%s k=%zu %.2f points/s\n", tl, iwae_k,
           (double)iwae_points / median(t, repeat));
    printf("infbench flops iwae k=%zu %.0f FLOP/point\n", iwae_k, fl.iwae);
    free(rngs);
    free(out);
  }

  if (strstr(work, "qstar")) {
    /* infbench's own q* path (infer/qstar.h) on the frozen decoder, for qsteps steps per
     * point (no early stop: patience beyond the step count), timed without the final
     * ELBO evaluation's share by using its minimum of 2 samples. */
    infb_qstar_options qo;
    infb_qstar_options_default(&qo);
    qo.samples = qsamples;
    qo.max_steps = qsteps;
    qo.check_every = qsteps;
    qo.patience = qsteps;
    qo.eval_samples = 2;
    qo.batch_points = qpoints;
    qo.seed = 3;
    qo.threads = split ? threads : 1;
    infb_vae_decoder *dec = infb_vae_decoder_alloc(v, rows);
    infb_vae_decoder_bind(dec, qpoints, X); /* the float points, as the gap report does */
    infb_decoder ops = infb_vae_decoder_ops(dec);
    double *Xd = malloc(qpoints * D * sizeof *Xd), *MU = malloc(qpoints * K * sizeof *MU);
    double *LV = malloc(qpoints * K * sizeof *LV);
    infb_qstar_point *qp = malloc(qpoints * sizeof *qp);
    for (size_t i = 0; i < qpoints * D; i++)
      Xd[i] = X[i];
    for (size_t rep = 0; rep <= repeat; rep++) {
      double t0 = infb_clock_seconds();
      check(infb_qstar_optimize(&ops, &qo, qpoints, Xd, 0, MU, LV, qp), "qstar");
      if (rep)
        t[rep - 1] = infb_clock_seconds() - t0;
    }
    printf("infbench qstar threads=%s samples=%zu %.1f point-steps/s\n", tl, qsamples,
           (double)(qpoints * qsteps) / median(t, repeat));
    printf("infbench flops qstar samples=%zu %.0f FLOP/point-step\n", qsamples, fl.qstar);
    infb_vae_decoder_free(dec);
    free(Xd);
    free(MU);
    free(LV);
    free(qp);
  }

  if (strstr(work, "ais")) {
    /* Forward AIS from the prior with the fixed step (both sides do identical work), all
     * the points in one call, on the calling thread with the decoder's own (OpenBLAS)
     * threads, or (--split) the row tiles over the VAE's parts, as the gap report runs it. */
    infb_ais_options ao;
    infb_ais_options_default(&ao);
    ao.chains = ais_chains;
    ao.temperatures = ais_temps;
    ao.leapfrog = ais_leapfrog;
    ao.adapt = INFB_AIS_FIXED;
    ao.step_size = 0.01;
    ao.chunk_rows = ais_chains * ais_tile;
    ao.tile_points = ais_tile; /* P points' chains per decoder call: P·C rows */
    ao.threads = split ? threads : 1;
    ao.seed = 4;
    infb_vae_decoder *dec = infb_vae_decoder_alloc(v, ais_chains * ais_tile);
    if (!dec)
      check(GSL_ENOMEM, "AIS decoder");
    infb_vae_decoder_bind(dec, ais_points, X);
    infb_decoder ops = infb_vae_decoder_ops(dec);
    double *Xd = malloc(ais_points * D * sizeof *Xd);
    infb_ais_point *ap = malloc(ais_points * sizeof *ap);
    for (size_t i = 0; i < ais_points * D; i++)
      Xd[i] = X[i];
    for (size_t rep = 0; rep <= repeat; rep++) {
      double t0 = infb_clock_seconds();
      check(infb_ais_run(&ops, &ao, ais_points, Xd, 0, NULL, NULL, NULL, ap, NULL, NULL, NULL),
            "ais");
      if (rep)
        t[rep - 1] = infb_clock_seconds() - t0;
    }
    const double transitions = (double)ais_points * (double)ais_chains * (double)ais_temps *
                               (double)ais_leapfrog;
    printf("infbench ais threads=%s %.1f transitions/s\n", tl, transitions / median(t, repeat));
    printf("infbench flops ais %.0f FLOP/transition\n", fl.ais);
    infb_vae_decoder_free(dec);
    free(Xd);
    free(ap);
  }

  struct rusage ru; /* the peak so far: the VAE workloads only */
  getrusage(RUSAGE_SELF, &ru);

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
    printf("infbench sgemm threads=%s n=%zu %.1f GFLOP/s\n", tl, n,
           2.0 * (double)n * n * n / median(t, repeat) / 1e9);
    free(A);
    free(Bm);
    free(C);
  }
  printf("infbench blas-kernels threads=%s %s\n", tl, infb_blas_corename());
  size_t nc, kc;
  infb_blas_blocking(&nc, &kc);
  printf("infbench gemm-blocks threads=%s %zu %zu\n", tl, nc, kc);
  printf("infbench peak-rss threads=%s %.1f MiB\n", tl, (double)ru.ru_maxrss / 1024.0);
  infb_vae_free_f32(v);
  gsl_rng_free(r);
  free(X);
  free(E);
  free(t);
  return 0;
}
