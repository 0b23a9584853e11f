/* Tests for the VAE trainer and its checkpoints (infer/vaetrain.h): the per-epoch streams,
 * warm-up and schedule against independent computations, learning, reproducibility,
 * bit-identical resume, the checkpoint format and its error messages, the non-finite
 * policies and weight decay; a short Fashion-MNIST run when the data are installed. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <config.h>
#include "infer/vaetrain.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/sha256.h"
#include "data/idx.h"
#include "tap/basic.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#define NPTS 60 /* synthetic training images */
#define DPIX 16 /* pixels per image */
#define KLAT 2  /* latent dimension */
#define NPROTO 3
#define FLIP 0.05 /* bit-flip probability around the prototypes */
#define FASHION "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

static char tmpdir[] = "/tmp/vaetrain-t.XXXXXX";

/* PATH = TMPDIR/name in a caller's buffer of 256 bytes. */
static const char *
tmp_path(char *buf, const char *name)
{
  snprintf(buf, 256, "%s/%s", tmpdir, name);
  return buf;
}

/* N images of D pixels: prototype i mod 3 (random bits) with each bit flipped w.p. FLIP;
 * grey = 1 makes them grey levels in (0, 1) instead (for dynamic binarisation). */
static void
make_data(float *X, size_t N, size_t D, int grey)
{
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, 12345);
  float proto[NPROTO][64];
  for (size_t p = 0; p < NPROTO; p++)
    for (size_t d = 0; d < D; d++)
      proto[p][d] = gsl_rng_uniform(r) < 0.5 ? 1.0f : 0.0f;
  for (size_t i = 0; i < N; i++)
    for (size_t d = 0; d < D; d++) {
      float b = proto[i % NPROTO][d];
      if (gsl_rng_uniform(r) < FLIP)
        b = 1.0f - b;
      X[i * D + d] = grey ? (float)(0.1 + 0.8 * b) : b;
    }
  gsl_rng_free(r);
}

static infb_vae_arch
small_arch(size_t hidden)
{
  infb_vae_arch a;
  memset(&a, 0, sizeof a);
  a.D = DPIX;
  a.K = KLAT;
  a.nenc = a.ndec = 1;
  a.enc_hidden[0] = a.dec_hidden[0] = hidden;
  a.act = INFB_ACT_ELU;
  return a;
}

static infb_vaetrain_options
default_options(void)
{
  infb_vaetrain_options o;
  memset(&o, 0, sizeof o);
  o.batch = 10;
  o.samples = 1;
  o.lr = 1e-2;
  o.schedule = INFB_SCHEDULE_CONSTANT;
  o.beta1 = 0.9;
  o.beta2 = 0.999;
  o.eps = 1e-4;
  o.warmup_epochs = 0;
  o.weight_decay = 0.0;
  o.dynamic = 0;
  o.nonfinite = INFB_NONFINITE_ABORT;
  o.seed = 42;
  return o;
}

static infb_vae_f32 *
new_vae(const infb_vae_arch *a, const infb_vaetrain_options *o)
{
  return infb_vae_alloc_f32(a, o->batch, o->samples);
}

/* Train a fresh model for `epochs` epochs; returns the VAE (trainer freed unless *tp). */
static infb_vae_f32 *
train(const infb_vae_arch *a, const infb_vaetrain_options *o, const float *X, size_t epochs,
      infb_vaetrain **tp)
{
  infb_vae_f32 *v = new_vae(a, o);
  infb_vaetrain *t = v ? infb_vaetrain_alloc(v, NPTS, X, o, 1) : NULL;
  for (size_t e = 0; t && e < epochs; e++)
    if (infb_vaetrain_epoch(t, NULL))
      break;
  if (tp)
    *tp = t;
  else
    infb_vaetrain_free(t);
  return v;
}

static int
same_params(infb_vae_f32 *a, infb_vae_f32 *b)
{
  size_t na, nb;
  const float *pa = infb_vae_params_f32(a, &na), *pb = infb_vae_params_f32(b, &nb);
  return na == nb && memcmp(pa, pb, na * sizeof *pa) == 0;
}

static double
param_norm(infb_vae_f32 *v)
{
  size_t n;
  const float *p = infb_vae_params_f32(v, &n);
  double s = 0.0;
  for (size_t i = 0; i < n; i++)
    s += (double)p[i] * p[i];
  return sqrt(s);
}

static int
all_finite(infb_vae_f32 *v)
{
  size_t n;
  const float *p = infb_vae_params_f32(v, &n);
  for (size_t i = 0; i < n; i++)
    if (!isfinite(p[i]))
      return 0;
  return 1;
}

static unsigned char *
read_all(const char *path, size_t *len)
{
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return NULL;
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
  *len = fread(b, 1, (size_t)n, fp);
  fclose(fp);
  return b;
}

static void
write_all(const char *path, const unsigned char *b, size_t len)
{
  FILE *fp = fopen(path, "wb");
  fwrite(b, 1, len, fp);
  fclose(fp);
}

/* ------------------------------------------------------------------ tests */

static void
test_free_and_options(const float *X)
{
  infb_vaetrain_free(NULL);
  ok(1, "infb_vaetrain_free(NULL) is a no-op");
  infb_vae_arch a = small_arch(12);
  infb_vaetrain_options o = default_options();
  infb_vae_f32 *v = new_vae(&a, &o);
  o.batch = 0;
  ok(infb_vaetrain_alloc(v, NPTS, X, &o, 1) == NULL, "alloc refuses batch = 0");
  o = default_options();
  o.lr = -1.0;
  ok(infb_vaetrain_alloc(v, NPTS, X, &o, 1) == NULL &&
         strstr(infb_error_message(), "lr = -1") != NULL,
     "alloc refuses lr = -1 naming it (%s)", infb_error_message());
  o = default_options();
  o.nonfinite = 7;
  ok(infb_vaetrain_alloc(v, NPTS, X, &o, 1) == NULL, "alloc refuses an unknown policy");
  o = default_options();
  ok(infb_vaetrain_alloc(v, 0, X, &o, 1) == NULL, "alloc refuses N = 0");
  double m;
  is_int(GSL_EINVAL, infb_vae_mean_elbo(v, 0, X, 1, 1, &m), "mean ELBO refuses n = 0");
  infb_vae_free_f32(v);
}

/* The IWAE schedule: stage boundaries computed here from their definition
 * (stage i spans Σ_{j<i} 3^j ≤ e < Σ_{j≤i} 3^j, i = 0..7; rate lr·10^(−i/7)). */
static void
test_schedule(const float *X)
{
  double bound[8]; /* bound[i] = Σ_{j≤i} 3^j */
  double acc = 0.0;
  for (int i = 0; i < 8; i++) {
    acc += pow(3.0, i);
    bound[i] = acc;
  }
  is_double_abs(3280.0, bound[7], 0.0, "the 8 IWAE stages span 3280 epochs");
  infb_vaetrain_options o = default_options();
  o.lr = 1e-3;
  o.schedule = INFB_SCHEDULE_IWAE;
  const size_t epochs[] = {0, 1, 3, 4, 12, 13, 39, 40, 1092, 1093, 3279, 3280, 100000};
  const size_t ne = sizeof epochs / sizeof epochs[0];
  for (size_t k = 0; k < ne; k++) {
    int stage = 7;
    for (int i = 0; i < 8; i++)
      if ((double)epochs[k] < bound[i]) {
        stage = i;
        break;
      }
    is_double_rel(1e-3 * pow(10.0, -stage / 7.0), infb_vaetrain_rate(&o, epochs[k]), 1e-15,
                  "IWAE rate of epoch %zu is lr·10^(-%d/7)", epochs[k], stage);
  }
  o.schedule = INFB_SCHEDULE_CONSTANT;
  is_double_rel(1e-3, infb_vaetrain_rate(&o, 500), 0, "constant schedule keeps lr at epoch 500");

  /* The trainer itself over 3281 epochs of one 1-point batch: _lr after k epochs. */
  o = default_options();
  o.lr = 1e-3;
  o.schedule = INFB_SCHEDULE_IWAE;
  o.batch = 1;
  infb_vae_arch a = small_arch(4);
  infb_vae_f32 *v = new_vae(&a, &o);
  infb_vaetrain *t = infb_vaetrain_alloc(v, 1, X, &o, 1);
  const size_t check[] = {0, 1, 3, 4, 12, 13, 3279, 3280};
  const int want_stage[] = {0, 1, 1, 2, 2, 3, 7, 7}; /* from the definition above */
  size_t c = 0;
  int st = GSL_SUCCESS;
  for (size_t e = 0; e <= 3280 && !st; e++) {
    if (c < 8 && e == check[c]) {
      is_double_rel(1e-3 * pow(10.0, -want_stage[c] / 7.0), infb_vaetrain_lr(t), 1e-15,
                    "trainer lr after %zu epochs (stage %d)", e, want_stage[c]);
      c++;
    }
    if (e < 3280)
      st = infb_vaetrain_epoch(t, NULL);
  }
  is_int(3280, (long long)infb_vaetrain_epochs_done(t), "3280 epochs ran (status %d)", st);
  infb_vaetrain_free(t);
  infb_vae_free_f32(v);
}

static void
test_beta(void)
{
  infb_vaetrain_options o = default_options();
  o.warmup_epochs = 400;
  /* β = min(1, epoch/400), epochs counted from 1, i.e. (e + 1)/400 for e from 0. */
  is_double_rel(1.0 / 400, infb_vaetrain_beta(&o, 0), 1e-15, "beta at epoch 0 is 1/400");
  is_double_rel(0.5, infb_vaetrain_beta(&o, 199), 1e-15, "beta at epoch 199 is 200/400");
  is_double_rel(399.0 / 400, infb_vaetrain_beta(&o, 398), 1e-15, "beta at epoch 398 is 399/400");
  is_double_rel(1.0, infb_vaetrain_beta(&o, 399), 0, "beta at epoch 399 is 1");
  is_double_rel(1.0, infb_vaetrain_beta(&o, 5000), 0, "beta at epoch 5000 is 1");
  o.warmup_epochs = 0;
  is_double_rel(1.0, infb_vaetrain_beta(&o, 0), 0, "no warm-up: beta is 1 at epoch 0");
}

/* The documented streams: one epoch with batch = N (one step) gives train_elbo =
 * Σ_i L_i(θ_before; β(e)) / N with the permutation, binarisation and noise replicated
 * here from ("vae/batch", e), ("vae/binarize", e), ("vae/noise", e). */
static void
test_streams(const float *G)
{
  infb_vae_arch a = small_arch(12);
  infb_vaetrain_options o = default_options();
  o.batch = NPTS;
  o.samples = 2;
  o.dynamic = 1;
  o.warmup_epochs = 4;
  infb_vae_f32 *v = new_vae(&a, &o), *w = new_vae(&a, &o);
  infb_vaetrain *t = infb_vaetrain_alloc(v, NPTS, G, &o, 1);
  static float Xbin[NPTS * DPIX], Xp[NPTS * DPIX], E[NPTS * 2 * KLAT];
  size_t perm[NPTS], np;
  for (size_t e = 0; e < 3; e++) {
    const float *theta = infb_vae_params_f32(v, &np);
    memcpy(infb_vae_params_f32(w, NULL), theta, np * sizeof(float));
    gsl_rng *rb = infb_rng_stream(o.seed, "vae/batch", e);
    gsl_rng *rx = infb_rng_stream(o.seed, "vae/binarize", e);
    gsl_rng *rn = infb_rng_stream(o.seed, "vae/noise", e);
    for (size_t i = 0; i < NPTS; i++)
      perm[i] = i;
    gsl_ran_shuffle(rb, perm, NPTS, sizeof *perm);
    for (size_t j = 0; j < NPTS * DPIX; j++)
      Xbin[j] = gsl_rng_uniform(rx) < G[j] ? 1.0f : 0.0f;
    for (size_t i = 0; i < NPTS; i++)
      memcpy(Xp + i * DPIX, Xbin + perm[i] * DPIX, DPIX * sizeof(float));
    for (size_t j = 0; j < NPTS * 2 * KLAT; j++)
      E[j] = (float)gsl_ran_gaussian_ziggurat(rn, 1.0);
    double beta = (double)(e + 1) / 4.0, want = NAN, at1 = NAN, got = NAN;
    infb_vae_elbo_f32(w, NPTS, Xp, 2, E, beta, 0, &want);
    infb_vae_elbo_f32(w, NPTS, Xp, 2, E, 1.0, 0, &at1);
    int st = infb_vaetrain_epoch(t, &got);
    is_double_rel(want / NPTS, got, 1e-12,
                  "epoch %zu: train objective = replicated streams at beta = %g (status %d)", e,
                  beta, st);
    ok(fabs(want - at1) / NPTS > 1e-3, "epoch %zu: beta = %g changes the objective (guard: "
                                       "%.4f vs %.4f at beta 1)", e, beta, want / NPTS, at1 / NPTS);
    gsl_rng_free(rb);
    gsl_rng_free(rx);
    gsl_rng_free(rn);
  }
  infb_vaetrain_free(t);
  infb_vae_free_f32(v);
  infb_vae_free_f32(w);
}

static void
test_learning(const float *X)
{
  infb_vae_arch a = small_arch(12);
  infb_vaetrain_options o = default_options();
  infb_vae_f32 *v = new_vae(&a, &o);
  infb_vaetrain *t = infb_vaetrain_alloc(v, NPTS, X, &o, 1);
  double before = NAN, after = NAN, first = NAN, last = NAN;
  infb_vae_mean_elbo(v, NPTS, X, 20, 7, &before);
  int st = GSL_SUCCESS;
  for (size_t e = 0; e < 60 && !st; e++)
    st = infb_vaetrain_epoch(t, e == 0 ? &first : &last);
  is_int(GSL_SUCCESS, st, "60 epochs train without error");
  infb_vae_mean_elbo(v, NPTS, X, 20, 7, &after);
  /* 1200 evaluation samples with common random numbers: the Monte-Carlo noise of each
   * mean is well below 0.2 nats, so a 2-nat gain is learning. */
  ok(after > before + 2.0, "mean ELBO rises with training: %.3f at init, %.3f after 60 epochs",
     before, after);
  ok(last > first + 2.0, "training objective rises: epoch 1 %.3f, epoch 60 %.3f", first, last);
  infb_vaetrain_free(t);
  infb_vae_free_f32(v);
}

/* infb_vae_mean_elbo against one direct vae_elbo call with the noise of the documented
 * layout, for S fitting the scratch workspace and for S larger than it (chunked). */
static void
test_mean_elbo(const float *X)
{
  infb_vae_arch a = small_arch(12);
  infb_vaetrain_options o = default_options();
  infb_vae_f32 *v = train(&a, &o, X, 3, NULL);
  const size_t cases[][2] = {{NPTS, 3}, {2, 1500}};
  for (size_t c = 0; c < 2; c++) {
    size_t n = cases[c][0], S = cases[c][1];
    infb_vae_f32 *w = infb_vae_alloc_f32(&a, n, S);
    size_t np;
    const float *theta = infb_vae_params_f32(v, &np);
    memcpy(infb_vae_params_f32(w, NULL), theta, np * sizeof(float));
    float *E = malloc(n * S * KLAT * sizeof *E);
    gsl_rng *r = infb_rng_stream(99, "vae/valid", 0);
    for (size_t j = 0; j < n * S * KLAT; j++)
      E[j] = (float)gsl_ran_gaussian_ziggurat(r, 1.0);
    double want = NAN, got = NAN;
    infb_vae_elbo_f32(w, n, X, S, E, 1.0, 0, &want);
    int st = infb_vae_mean_elbo(v, n, X, S, 99, &got);
    is_double_rel(want / (double)n, got, 1e-9, "mean ELBO of %zu points × %zu samples matches "
                  "a direct pass with the same noise (status %d)", n, S, st);
    gsl_rng_free(r);
    free(E);
    infb_vae_free_f32(w);
  }
  infb_vae_free_f32(v);
}

static void
test_reproducible(const float *X)
{
  infb_vae_arch a = small_arch(12);
  infb_vaetrain_options o = default_options();
  o.dynamic = 1;
  o.samples = 2;
  infb_vae_f32 *v1 = train(&a, &o, X, 2, NULL), *v2 = train(&a, &o, X, 2, NULL);
  ok(same_params(v1, v2), "same seed: bit-identical parameters after 2 epochs");
  o.seed = 43;
  infb_vae_f32 *v3 = train(&a, &o, X, 2, NULL);
  ok(!same_params(v1, v3), "another seed: different parameters");
  infb_vae_free_f32(v1);
  infb_vae_free_f32(v2);
  infb_vae_free_f32(v3);
}

/* 4 epochs straight vs 2, checkpoint, load into a fresh model and trainer, 2 more. */
static void
resume_case(const char *what, const infb_vaetrain_options *o, const float *X)
{
  infb_vae_arch a = small_arch(12);
  infb_vaetrain *ta;
  infb_vae_f32 *va = train(&a, o, X, 4, &ta);
  infb_vaetrain *tb;
  infb_vae_f32 *vb = train(&a, o, X, 2, &tb);
  char pbuf[256];
  const char *path = tmp_path(pbuf, "resume.bin");
  int st = infb_vae_checkpoint_save(path, vb, tb);
  infb_vae_f32 *vc = new_vae(&a, o);
  infb_vaetrain *tc = infb_vaetrain_alloc(vc, NPTS, X, o, 0);
  if (!st)
    st = infb_vae_checkpoint_load(path, vc, tc);
  is_int(GSL_SUCCESS, st, "%s: save and load after 2 epochs (%s)", what,
         st ? infb_error_message() : "ok");
  is_int(2, (long long)infb_vaetrain_epochs_done(tc), "%s: the loaded trainer has 2 epochs done",
         what);
  for (int e = 0; e < 2 && !st; e++)
    st = infb_vaetrain_epoch(tc, NULL);
  ok(same_params(va, vc), "%s: 2 + checkpoint + 2 epochs is bit-identical to 4 straight", what);
  is_double_rel(infb_vaetrain_lr(ta), infb_vaetrain_lr(tc), 0, "%s: same learning rate after",
                what);
  ok(infb_vaetrain_skipped(ta) == infb_vaetrain_skipped(tc) &&
         infb_vaetrain_halvings(ta) == infb_vaetrain_halvings(tc),
     "%s: same counters (%zu skipped, %zu halvings)", what, infb_vaetrain_skipped(tc),
     infb_vaetrain_halvings(tc));
  infb_vaetrain_free(ta);
  infb_vaetrain_free(tb);
  infb_vaetrain_free(tc);
  infb_vae_free_f32(va);
  infb_vae_free_f32(vb);
  infb_vae_free_f32(vc);
  unlink(path);
}

static void
test_resume(const float *G, const float *Xnan)
{
  infb_vaetrain_options o = default_options();
  o.batch = 7; /* 60 = 8·7 + 4: a partial last batch */
  o.samples = 2;
  o.schedule = INFB_SCHEDULE_IWAE; /* the rate changes after epochs 1 and 4 */
  o.warmup_epochs = 3;
  o.weight_decay = 0.5;
  o.dynamic = 1;
  resume_case("dynamic, IWAE schedule, warm-up, decay", &o, G);
  o = default_options();
  o.nonfinite = INFB_NONFINITE_HALVE;
  resume_case("halve policy with a NaN image", &o, Xnan);
}

static void
expect_load_error(const char *path, infb_vae_f32 *v, infb_vaetrain *t, const char *want,
                  const char *what)
{
  size_t n;
  const float *p = infb_vae_params_f32(v, &n);
  float *before = malloc(n * sizeof *before);
  memcpy(before, p, n * sizeof *before);
  infb_error_clear();
  int st = infb_vae_checkpoint_load(path, v, t);
  ok(st == INFB_EDATA && memcmp(before, p, n * sizeof *p) == 0,
     "%s: INFB_EDATA (got %d) and the model unchanged", what, st);
  is_string(want, infb_error_message(), "%s: the message", what);
  free(before);
}

static void
test_checkpoint(const float *X)
{
  infb_vae_arch a = small_arch(12);
  infb_vaetrain_options o = default_options();
  infb_vaetrain *t;
  infb_vae_f32 *v = train(&a, &o, X, 2, &t);
  char b1[256], b2b[256], b3[256], bc[256], bm[256];
  const char *p1 = tmp_path(b1, "a.bin");
  is_int(GSL_SUCCESS, infb_vae_checkpoint_save(p1, v, t), "save with trainer state");

  /* The documented layout, checked byte for byte. */
  size_t n, len = 0;
  const float *theta = infb_vae_params_f32(v, &n);
  unsigned char *b = read_all(p1, &len);
  is_int((long long)(200 + 24 + 8 * n + 4 * n + 32), (long long)len,
         "file length is 200 + 24 + 12n + 32 bytes (n = %zu)", n);
  uint32_t version, flags;
  uint64_t D, epochs, nn, adam_t;
  memcpy(&version, b + 8, 4);
  memcpy(&flags, b + 12, 4);
  memcpy(&D, b + 16, 8);
  memcpy(&nn, b + 184, 8);
  memcpy(&epochs, b + 192, 8);
  memcpy(&adam_t, b + 200, 8);
  ok(memcmp(b, "INFBVAE\0", 8) == 0 && version == 1 && flags == 1 && D == DPIX && nn == n &&
         epochs == 2 && adam_t == 12,
     "header: magic, version 1, flags 1, D, n, 2 epochs, Adam t = 12 (2 epochs of 6 steps)");
  ok(memcmp(b + 224 + 8 * n, theta, 4 * n) == 0, "the slab follows the Adam moments");
  char hex[INFB_SHA256_HEX], stored[INFB_SHA256_HEX];
  infb_sha256_hex(b, len - 32, hex);
  for (size_t i = 0; i < 32; i++)
    snprintf(stored + 2 * i, 3, "%02x", b[len - 32 + i]);
  is_string(hex, stored, "the last 32 bytes are the SHA-256 of the rest");

  /* Round trip into a fresh model and trainer, then saved again: the same bytes. */
  infb_vae_f32 *v2 = new_vae(&a, &o);
  infb_vaetrain *t2 = infb_vaetrain_alloc(v2, NPTS, X, &o, 1);
  is_int(GSL_SUCCESS, infb_vae_checkpoint_load(p1, v2, t2), "load into a fresh model + trainer");
  ok(same_params(v, v2), "loaded parameters are bit-identical");
  const char *p2 = tmp_path(b2b, "b.bin");
  infb_vae_checkpoint_save(p2, v2, t2);
  size_t len2 = 0;
  unsigned char *b2 = read_all(p2, &len2);
  ok(len2 == len && memcmp(b, b2, len) == 0,
     "re-saving the loaded state gives the same bytes (Adam m, v, t and counters restored)");
  free(b2);

  /* Model only. */
  const char *p3 = tmp_path(b3, "model.bin");
  infb_vae_checkpoint_save(p3, v, NULL);
  b2 = read_all(p3, &len2);
  is_int((long long)(200 + 4 * n + 32), (long long)len2, "a model-only file is 200 + 4n + 32 bytes");
  free(b2);
  infb_vae_f32 *v3 = new_vae(&a, &o);
  is_int(GSL_SUCCESS, infb_vae_checkpoint_load(p3, v3, NULL), "a model-only checkpoint loads");
  ok(same_params(v, v3), "... with bit-identical parameters");
  infb_vae_f32 *v4 = new_vae(&a, &o);
  is_int(GSL_SUCCESS, infb_vae_checkpoint_load(p1, v4, NULL),
         "a checkpoint with trainer state loads into a model alone");
  ok(same_params(v, v4), "... with bit-identical parameters");
  char want[512];
  snprintf(want, sizeof want,
           "checkpoint %s: holds no trainer state; training cannot resume from it", p3);
  expect_load_error(p3, v2, t2, want, "model-only file into a trainer");

  /* Damaged files. */
  const char *pc = tmp_path(bc, "corrupt.bin");
  unsigned char *c = malloc(len);
  memcpy(c, b, len);
  c[224 + 8 * n + 5] ^= 0x10;
  write_all(pc, c, len);
  snprintf(want, sizeof want, "checkpoint %s: checksum mismatch (the file is corrupt)", pc);
  expect_load_error(pc, v3, NULL, want, "one flipped bit in the slab");
  write_all(pc, b, len - 100);
  snprintf(want, sizeof want, "checkpoint %s: is truncated (%zu bytes, %zu expected)", pc,
           len - 100, len);
  expect_load_error(pc, v3, NULL, want, "100 bytes cut off");
  unsigned char *longer = calloc(len + 5, 1);
  memcpy(longer, b, len);
  write_all(pc, longer, len + 5);
  free(longer);
  snprintf(want, sizeof want,
           "checkpoint %s: has the wrong length (%zu bytes, %zu expected; corrupt?)", pc, len + 5,
           len);
  expect_load_error(pc, v3, NULL, want, "5 bytes appended");
  write_all(pc, b, 50);
  snprintf(want, sizeof want, "checkpoint %s: is truncated (50 bytes, the header alone has 200)",
           pc);
  expect_load_error(pc, v3, NULL, want, "cut inside the header");
  memcpy(c, b, len);
  c[0] = 'X';
  write_all(pc, c, len);
  snprintf(want, sizeof want, "checkpoint %s: not an infbench VAE checkpoint (bad magic)", pc);
  expect_load_error(pc, v3, NULL, want, "bad magic");
  memcpy(c, b, len);
  c[8] = 2;
  write_all(pc, c, len);
  snprintf(want, sizeof want, "checkpoint %s: format version 2; this build reads version 1", pc);
  expect_load_error(pc, v3, NULL, want, "version 2");
  const char *pm = tmp_path(bm, "missing.bin");
  snprintf(want, sizeof want, "checkpoint %s: cannot open (No such file or directory)", pm);
  expect_load_error(pm, v3, NULL, want, "a missing file");
  free(c);

  /* Other architectures. */
  infb_vae_arch a10 = small_arch(10);
  infb_vae_f32 *w = new_vae(&a10, &o);
  snprintf(want, sizeof want,
           "checkpoint %s is for a 16-12-2 model, the config asks for 16-10-2", p1);
  expect_load_error(p1, w, NULL, want, "another hidden width");
  infb_vae_free_f32(w);
  infb_vae_arch ad = small_arch(12);
  ad.dec_hidden[0] = 20;
  w = new_vae(&ad, &o);
  snprintf(want, sizeof want,
           "checkpoint %s is for a 16-12-2 model, the config asks for 16-12-2 (decoder 2-20-16)",
           p1);
  expect_load_error(p1, w, NULL, want, "another decoder");
  infb_vae_free_f32(w);
  infb_vae_arch at = small_arch(12);
  at.act = INFB_ACT_TANH;
  w = new_vae(&at, &o);
  snprintf(want, sizeof want,
           "checkpoint %s is for a 16-12-2 (elu) model, the config asks for 16-12-2 (tanh)",
           p1);
  expect_load_error(p1, w, NULL, want, "another activation");
  infb_vae_free_f32(w);

  free(b);
  infb_vaetrain_free(t);
  infb_vaetrain_free(t2);
  infb_vae_free_f32(v);
  infb_vae_free_f32(v2);
  infb_vae_free_f32(v3);
  infb_vae_free_f32(v4);
  unlink(p1);
  unlink(p2);
  unlink(p3);
  unlink(pc);
}

/* Image NAN_ROW holds a NaN pixel: the step whose minibatch holds it is non-finite. */
#define NAN_ROW 17
static void
test_nonfinite(const float *Xnan)
{
  infb_vae_arch a = small_arch(12);
  infb_vaetrain_options o = default_options();
  /* Which step of epoch 0 holds the NaN image: its position in the permutation drawn
   * here from ("vae/batch", 0), divided by the batch size. */
  size_t perm[NPTS], pos = 0;
  for (size_t i = 0; i < NPTS; i++)
    perm[i] = i;
  gsl_rng *r = infb_rng_stream(o.seed, "vae/batch", 0);
  gsl_ran_shuffle(r, perm, NPTS, sizeof *perm);
  gsl_rng_free(r);
  for (size_t i = 0; i < NPTS; i++)
    if (perm[i] == NAN_ROW)
      pos = i;
  infb_vae_f32 *v = new_vae(&a, &o);
  infb_vaetrain *t = infb_vaetrain_alloc(v, NPTS, Xnan, &o, 1);
  infb_error_clear();
  is_int(GSL_EDOM, infb_vaetrain_epoch(t, NULL), "abort policy: GSL_EDOM");
  char want[256];
  snprintf(want, sizeof want,
           "epoch 1, step %zu: the loss is not finite; lower [train] lr or set [train] "
           "nonfinite = skip",
           pos / o.batch + 1);
  is_string(want, infb_error_message(), "abort policy: the message names epoch and step");
  is_int(0, (long long)infb_vaetrain_epochs_done(t), "abort policy: the epoch is not counted");
  ok(all_finite(v), "abort policy: the parameters stay finite");
  infb_vaetrain_free(t);

  o.nonfinite = INFB_NONFINITE_SKIP;
  t = infb_vaetrain_alloc(v, NPTS, Xnan, &o, 1);
  double elbo = NAN;
  int st = GSL_SUCCESS;
  for (int e = 0; e < 3 && !st; e++)
    st = infb_vaetrain_epoch(t, &elbo);
  is_int(GSL_SUCCESS, st, "skip policy: 3 epochs succeed");
  is_int(3, (long long)infb_vaetrain_skipped(t), "skip policy: one skipped step per epoch");
  is_int(0, (long long)infb_vaetrain_halvings(t), "skip policy: no halvings");
  ok(all_finite(v) && isfinite(elbo), "skip policy: parameters and objective finite (%g)", elbo);
  is_double_rel(o.lr, infb_vaetrain_lr(t), 0, "skip policy: the rate is unchanged");
  infb_vaetrain_free(t);

  o.nonfinite = INFB_NONFINITE_HALVE;
  t = infb_vaetrain_alloc(v, NPTS, Xnan, &o, 1);
  st = GSL_SUCCESS;
  for (int e = 0; e < 3 && !st; e++)
    st = infb_vaetrain_epoch(t, NULL);
  is_int(GSL_SUCCESS, st, "halve policy: 3 epochs succeed");
  is_int(3, (long long)infb_vaetrain_halvings(t), "halve policy: one halving per epoch");
  is_double_rel(o.lr / 8, infb_vaetrain_lr(t), 0, "halve policy: the rate is lr/2^3");
  ok(all_finite(v), "halve policy: the parameters stay finite");
  infb_vaetrain_free(t);

  /* A huge rate: the loss itself overflows to non-finite and every such step is skipped,
   * never applied. */
  float X[NPTS * DPIX];
  make_data(X, NPTS, DPIX, 0);
  o.nonfinite = INFB_NONFINITE_SKIP;
  o.lr = 1e30;
  t = infb_vaetrain_alloc(v, NPTS, X, &o, 1);
  st = GSL_SUCCESS;
  for (int e = 0; e < 3 && !st; e++)
    st = infb_vaetrain_epoch(t, NULL);
  ok(st == GSL_SUCCESS && infb_vaetrain_skipped(t) > 0 && all_finite(v),
     "lr = 1e30 with skip: %zu steps skipped, parameters finite", infb_vaetrain_skipped(t));
  infb_vaetrain_free(t);
  infb_vae_free_f32(v);
}

static void
test_decay(const float *X)
{
  infb_vae_arch a = small_arch(12);
  infb_vaetrain_options o = default_options();
  infb_vae_f32 *v0 = train(&a, &o, X, 20, NULL);
  o.weight_decay = 10.0 * NPTS; /* (λ/N)θ = 10θ dominates the data gradient */
  infb_vae_f32 *v1 = train(&a, &o, X, 20, NULL);
  double n0 = param_norm(v0), n1 = param_norm(v1);
  ok(n1 < 0.5 * n0, "weight decay shrinks the parameter norm: %.3f with, %.3f without", n1, n0);
  infb_vae_free_f32(v0);
  infb_vae_free_f32(v1);
}

/* 500 statically binarised Fashion-MNIST images, a 784-64-(2·8) encoder and 8-64-784
 * decoder, 2 epochs. */
static void
test_fashion(void)
{
  if (access(FASHION, R_OK) != 0) {
    skip("Fashion-MNIST not installed (%s)", FASHION);
    skip("Fashion-MNIST not installed");
    return;
  }
  enum { NF = 500 };
  infb_idx *x = infb_idx_read(FASHION, 3, NF);
  if (!x) {
    ok(0, "read %s: %s", FASHION, infb_error_message());
    skip("no data");
    return;
  }
  float *X = malloc((size_t)NF * 784 * sizeof *X);
  infb_idx_binarize_static(x, 0.5, X);
  infb_vae_arch a;
  memset(&a, 0, sizeof a);
  a.D = 784;
  a.K = 8;
  a.nenc = a.ndec = 1;
  a.enc_hidden[0] = a.dec_hidden[0] = 64;
  a.act = INFB_ACT_ELU;
  infb_vaetrain_options o = default_options();
  o.batch = 50;
  o.lr = 3e-3;
  infb_vae_f32 *v = new_vae(&a, &o);
  infb_vaetrain *t = infb_vaetrain_alloc(v, NF, X, &o, 1);
  double before = NAN, after = NAN;
  infb_vae_mean_elbo(v, NF, X, 1, 5, &before);
  int st = GSL_SUCCESS;
  for (int e = 0; e < 2 && !st; e++)
    st = infb_vaetrain_epoch(t, NULL);
  infb_vae_mean_elbo(v, NF, X, 1, 5, &after);
  is_int(GSL_SUCCESS, st, "Fashion-MNIST: 2 epochs train (%s)", st ? infb_error_message() : "ok");
  /* At initialisation every pixel is near a fair coin (≈ −784 ln 2 ≈ −543 nats); the
   * per-point Monte-Carlo noise averages over 500 images to well under 5 nats. */
  ok(after > before + 50.0, "Fashion-MNIST: mean ELBO %.1f at init, %.1f after 2 epochs", before,
     after);
  infb_vaetrain_free(t);
  infb_vae_free_f32(v);
  free(X);
  infb_idx_free(x);
}

int
main(void)
{
  plan(111);
  if (!mkdtemp(tmpdir)) {
    diag("cannot create %s", tmpdir);
    return 1;
  }
  static float X[NPTS * DPIX], G[NPTS * DPIX], Xnan[NPTS * DPIX];
  make_data(X, NPTS, DPIX, 0);
  make_data(G, NPTS, DPIX, 1);
  memcpy(Xnan, X, sizeof X);
  Xnan[NAN_ROW * DPIX + 3] = NAN;

  test_free_and_options(X);
  test_schedule(X);
  test_beta();
  test_streams(G);
  test_learning(X);
  test_mean_elbo(X);
  test_reproducible(G);
  test_resume(G, Xnan);
  test_checkpoint(X);
  test_nonfinite(Xnan);
  test_decay(X);
  test_fashion();
  rmdir(tmpdir);
  return test_done();
}
