/* Training the f32 VAE with Adam, the IWAE learning-rate schedule and entropy warm-up
 * (Kingma & Welling 2014; Burda, Grosse & Salakhutdinov 2016 §5; Cremer, Li & Duvenaud
 * 2018), and its checksummed binary checkpoints (see vaetrain.h). */
#include <config.h>
#include "infer/vaetrain.h"
#include "core/atomicfile.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/rng.h"
#include "nn/adam.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <nettle/sha2.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "VAE checkpoints are little-endian; this build targets x86_64 and aarch64 only"
#endif
_Static_assert(sizeof(float) == 4, "checkpoints store IEEE-754 binary32 floats");

/* The IWAE schedule (Burda et al. 2016, §5): stages i = 0…IWAE_STAGES−1 of 3^i epochs. */
#define IWAE_STAGES 8
#define IWAE_STAGE_GROWTH 3
#define IWAE_DECADE_STEPS 7.0 /* the rate falls by 10^(1/7) per stage */

/* Rows (points × samples) per pass of infb_vae_mean_elbo's scratch VAE: a workspace size
 * only; the result does not depend on it (the noise layout is fixed, see vaetrain.h). */
#define EVAL_ROWS 1024

struct infb_vaetrain {
  infb_vae_f32 *v;          /* the model (borrowed) */
  size_t N, D, K;           /* training points, pixels, latent dimension */
  const float *X;           /* N × D images (borrowed) */
  infb_vaetrain_options o;  /* a copy of the options */
  size_t B;                 /* minibatch size actually used: min(batch, N) */
  infb_adam_f32 *adam;      /* the optimiser over v's slab */
  size_t np;                /* slab length */
  size_t *perm;             /* N: this epoch's order */
  float *Xbin;              /* N × D: this epoch's binarisation (dynamic only) */
  float *Xb;                /* B × D: the minibatch */
  float *E;                 /* B·S × K: its noise */
  size_t epochs;            /* epochs done */
  size_t skipped;           /* steps discarded as non-finite */
  size_t halvings;          /* learning-rate halvings */
};

/* ------------------------------------------------------------------ schedule */

/* The IWAE stage of epoch e (from 0). */
static size_t
iwae_stage(size_t e)
{
  size_t i = 0, start = 0, len = 1;
  while (i + 1 < IWAE_STAGES && e - start >= len) {
    start += len;
    len *= IWAE_STAGE_GROWTH;
    i++;
  }
  return i;
}

double
infb_vaetrain_rate(const infb_vaetrain_options *o, size_t e)
{
  if (o->schedule == INFB_SCHEDULE_IWAE)
    return o->lr * pow(10.0, -(double)iwae_stage(e) / IWAE_DECADE_STEPS);
  return o->lr;
}

double
infb_vaetrain_beta(const infb_vaetrain_options *o, size_t e)
{
  if (o->warmup_epochs == 0 || e + 1 >= o->warmup_epochs)
    return 1.0;
  return (double)(e + 1) / (double)o->warmup_epochs;
}

/* ------------------------------------------------------------------ trainer */

void
infb_vaetrain_free(infb_vaetrain *t)
{
  if (!t)
    return;
  infb_adam_free_f32(t->adam);
  free(t->perm);
  free(t->Xbin);
  free(t->Xb);
  free(t->E);
  free(t);
}

static int
check_options(const infb_vaetrain_options *o)
{
  if (o->batch == 0 || o->samples == 0)
    return INFB_ERROR(GSL_EINVAL, "vae training: batch = %zu and samples = %zu must be positive",
                      o->batch, o->samples);
  if (!(o->lr > 0.0) || !isfinite(o->lr))
    return INFB_ERROR(GSL_EINVAL, "vae training: lr = %g must be positive and finite", o->lr);
  if (o->schedule != INFB_SCHEDULE_CONSTANT && o->schedule != INFB_SCHEDULE_IWAE)
    return INFB_ERROR(GSL_EINVAL, "vae training: unknown schedule %d", o->schedule);
  if (!(o->weight_decay >= 0.0) || !isfinite(o->weight_decay))
    return INFB_ERROR(GSL_EINVAL, "vae training: weight_decay = %g must be finite and >= 0",
                      o->weight_decay);
  if (o->nonfinite != INFB_NONFINITE_ABORT && o->nonfinite != INFB_NONFINITE_SKIP &&
      o->nonfinite != INFB_NONFINITE_HALVE)
    return INFB_ERROR(GSL_EINVAL, "vae training: unknown non-finite policy %d", o->nonfinite);
  return GSL_SUCCESS;
}

infb_vaetrain *
infb_vaetrain_alloc(infb_vae_f32 *v, size_t N, const float *X, const infb_vaetrain_options *o,
                    int fresh)
{
  if (!v || !X || !o)
    INFB_ERROR_NULL(GSL_EINVAL, "vae training: the model, data and options must be given");
  if (N == 0)
    INFB_ERROR_NULL(GSL_EINVAL, "vae training: no training images");
  if (check_options(o))
    return NULL;
  const infb_vae_arch *arch = infb_vae_arch_f32(v);
  infb_vaetrain *t = infb_calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->v = v;
  t->N = N;
  t->D = arch->D;
  t->K = arch->K;
  t->X = X;
  t->o = *o;
  t->B = o->batch < N ? o->batch : N;
  infb_vae_params_f32(v, &t->np);
  t->adam = infb_adam_alloc_f32(t->np, o->beta1, o->beta2, o->eps);
  if (t->adam) /* Adam's update split as the VAE's passes are */
    infb_adam_set_threads_f32(t->adam, infb_vae_run_threads_f32(v));
  t->perm = infb_malloc(N, sizeof *t->perm);
  t->Xb = infb_malloc(t->B, t->D * sizeof *t->Xb);
  t->E = infb_malloc(t->B * o->samples, t->K * sizeof *t->E);
  if (o->dynamic)
    t->Xbin = infb_malloc(N, t->D * sizeof *t->Xbin);
  if (!t->adam || !t->perm || !t->Xb || !t->E || (o->dynamic && !t->Xbin)) {
    infb_vaetrain_free(t);
    return NULL;
  }
  if (fresh) {
    gsl_rng *r = infb_rng_stream(o->seed, "vae/init", 0);
    int st = r ? infb_vae_init_f32(v, r) : GSL_ENOMEM;
    gsl_rng_free(r);
    if (st) {
      infb_vaetrain_free(t);
      return NULL;
    }
  }
  return t;
}

size_t
infb_vaetrain_epochs_done(const infb_vaetrain *t)
{
  return t->epochs;
}

size_t
infb_vaetrain_skipped(const infb_vaetrain *t)
{
  return t->skipped;
}

size_t
infb_vaetrain_halvings(const infb_vaetrain *t)
{
  return t->halvings;
}

double
infb_vaetrain_lr(const infb_vaetrain *t)
{
  return ldexp(infb_vaetrain_rate(&t->o, t->epochs), -(int)t->halvings);
}

/* Nonzero when the float with bits u is an infinity or a NaN (all exponent bits set): an
 * integer test, which GCC vectorises (isfinite in a loop it does not). */
static inline int
nonfinite_bits(uint32_t u)
{
  return (u & 0x7f800000u) == 0x7f800000u;
}

/* Add (λ/N)·θ to the gradient (coupled weight decay) and report whether every entry of
 * the gradient is finite; split over T threads (a pass over the whole slab every step). */
static int
decay_and_check(size_t n, const float *restrict theta, float *restrict g, double lambda_N,
                size_t T)
{
  int bad = 0;
  const float c = (float)lambda_N;
  /* One pass either way: the decay (when asked) and the test of the result. */
  if (lambda_N > 0.0) {
#pragma omp parallel for simd num_threads(T) schedule(static) reduction(| : bad) if(T > 1)
    for (size_t i = 0; i < n; i++) {
      g[i] += c * theta[i];
      uint32_t u;
      memcpy(&u, &g[i], sizeof u);
      bad |= nonfinite_bits(u);
    }
  } else {
#pragma omp parallel for simd num_threads(T) schedule(static) reduction(| : bad) if(T > 1)
    for (size_t i = 0; i < n; i++) {
      uint32_t u;
      memcpy(&u, &g[i], sizeof u);
      bad |= nonfinite_bits(u);
    }
  }
  return !bad;
}

int
infb_vaetrain_epoch(infb_vaetrain *t, double *train_elbo)
{
  const size_t e = t->epochs, N = t->N, D = t->D, K = t->K, S = t->o.samples;
  gsl_rng *rb = infb_rng_stream(t->o.seed, "vae/batch", e);
  gsl_rng *rn = infb_rng_stream(t->o.seed, "vae/noise", e);
  gsl_rng *rx = t->o.dynamic ? infb_rng_stream(t->o.seed, "vae/binarize", e) : NULL;
  int st = GSL_SUCCESS;
  if (!rb || !rn || (t->o.dynamic && !rx)) {
    st = GSL_ENOMEM;
    goto done;
  }

  /* This epoch's order and images. */
  for (size_t i = 0; i < N; i++)
    t->perm[i] = i;
  gsl_ran_shuffle(rb, t->perm, N, sizeof *t->perm);
  const float *Xs = t->X;
  if (t->o.dynamic) {
    for (size_t j = 0; j < N * D; j++)
      t->Xbin[j] = gsl_rng_uniform(rx) < (double)t->X[j] ? 1.0f : 0.0f;
    Xs = t->Xbin;
  }

  size_t np;
  float *theta = infb_vae_params_f32(t->v, &np);
  float *grad = infb_vae_grads_f32(t->v, NULL);
  const double beta = infb_vaetrain_beta(&t->o, e);
  const double lambda_N = t->o.weight_decay / (double)N;
  double total = 0.0;
  size_t counted = 0;
  for (size_t start = 0, step = 0; start < N; start += t->B, step++) {
    if (step)
      infb_fault_point("train-step"); /* between two steps: mid-epoch */
    const size_t B = N - start < t->B ? N - start : t->B;
    const size_t T = infb_vae_run_threads_f32(t->v);
#pragma omp parallel for num_threads(T) schedule(static) if(T > 1)
    for (size_t i = 0; i < B; i++)
      memcpy(t->Xb + i * D, Xs + t->perm[start + i] * D, D * sizeof *t->Xb);
    for (size_t j = 0; j < B * S * K; j++)
      t->E[j] = (float)gsl_ran_gaussian_ziggurat(rn, 1.0);
    infb_vae_zero_grad_f32(t->v);
    double sum = 0.0;
    if ((st = infb_vae_elbo_f32(t->v, B, t->Xb, S, t->E, beta, 1, &sum)))
      goto done;
    const int loss_ok = isfinite(sum) != 0;
    const int grad_ok = decay_and_check(np, theta, grad, lambda_N, infb_vae_run_threads_f32(t->v));
    if (!loss_ok || !grad_ok) {
      if (t->o.nonfinite == INFB_NONFINITE_ABORT) {
        st = INFB_ERROR(GSL_EDOM,
                        "epoch %zu, step %zu: the %s is not finite; lower [train] lr or set "
                        "[train] nonfinite = skip",
                        e + 1, step + 1, loss_ok ? "gradient" : "loss");
        goto done;
      }
      if (t->o.nonfinite == INFB_NONFINITE_HALVE)
        t->halvings++;
      else
        t->skipped++;
      continue;
    }
    const double lr = ldexp(infb_vaetrain_rate(&t->o, e), -(int)t->halvings);
    if ((st = infb_adam_step_f32(t->adam, theta, grad, lr)))
      goto done;
    total += sum;
    counted += B;
  }
  t->epochs++;
  if (train_elbo)
    *train_elbo = counted ? total / (double)counted : NAN;
done:
  gsl_rng_free(rb);
  gsl_rng_free(rn);
  gsl_rng_free(rx);
  return st;
}

/* ------------------------------------------------------------------ evaluation */

int
infb_vae_mean_elbo(infb_vae_f32 *v, size_t n, const float *X, size_t S, uint64_t seed,
                   double *mean)
{
  if (!v || !X || !mean || n == 0 || S == 0)
    return INFB_ERROR(GSL_EINVAL, "vae mean ELBO: needs a model, n = %zu >= 1 points and "
                                  "S = %zu >= 1 samples", n, S);
  const infb_vae_arch *arch = infb_vae_arch_f32(v);
  const size_t D = arch->D, K = arch->K;
  /* Whole points per pass when S fits the workspace (P points × S samples), else one point
   * at a time in chunks of C samples; either way the draws run over (i, s, k) in order. */
  const size_t C = S < EVAL_ROWS ? S : EVAL_ROWS;
  size_t P = EVAL_ROWS / C;
  if (P > n)
    P = n;
  infb_vae_f32 *w = infb_vae_alloc_f32(arch, P, C);
  gsl_rng *r = infb_rng_stream(seed, "vae/valid", 0);
  float *E = infb_malloc(P * C, K * sizeof *E);
  int st = GSL_SUCCESS;
  if (!w || !r || !E) {
    st = GSL_ENOMEM;
    goto done;
  }
  size_t np, nw;
  const float *theta = infb_vae_params_f32(v, &np);
  memcpy(infb_vae_params_f32(w, &nw), theta, np * sizeof *theta);
  double total = 0.0;
  if (C == S) {
    for (size_t start = 0; start < n; start += P) {
      const size_t B = n - start < P ? n - start : P;
      for (size_t j = 0; j < B * S * K; j++)
        E[j] = (float)gsl_ran_gaussian_ziggurat(r, 1.0);
      double sum = 0.0;
      if ((st = infb_vae_elbo_f32(w, B, X + start * D, S, E, 1.0, 0, &sum)))
        goto done;
      total += sum;
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      double acc = 0.0; /* Σ_s of the sampled term plus S times the closed form */
      for (size_t s0 = 0; s0 < S; s0 += C) {
        const size_t c = S - s0 < C ? S - s0 : C;
        for (size_t j = 0; j < c * K; j++)
          E[j] = (float)gsl_ran_gaussian_ziggurat(r, 1.0);
        double sum = 0.0;
        if ((st = infb_vae_elbo_f32(w, 1, X + i * D, c, E, 1.0, 0, &sum)))
          goto done;
        acc += sum * (double)c; /* sum is the mean over the c samples */
      }
      total += acc / (double)S;
    }
  }
  *mean = total / (double)n;
done:
  infb_vae_free_f32(w);
  gsl_rng_free(r);
  free(E);
  return st;
}

/* ------------------------------------------------------------------ checkpoints */

static const char CKPT_MAGIC[8] = {'I', 'N', 'F', 'B', 'V', 'A', 'E', '\0'};
enum {
  CKPT_VERSION = 1,
  CKPT_TRAINER = 1u,      /* flags bit 0: the trainer block is present */
  CKPT_HEADER = 200,      /* bytes before the trainer block */
  CKPT_TRAINER_FIXED = 24 /* t, skipped, halvings */
};
#define CKPT_MAX_LAYERS 8

/* The header's integer fields, in file order from offset 16. */
typedef struct ckpt_header {
  uint32_t version, flags;
  infb_vae_arch arch;
  uint64_t n, epochs;
} ckpt_header;

static void
put_u64(unsigned char *p, uint64_t x)
{
  memcpy(p, &x, sizeof x);
}

static uint64_t
get_u64(const unsigned char *p)
{
  uint64_t x;
  memcpy(&x, p, sizeof x);
  return x;
}

/* Encode the 200-byte header. */
static void
header_encode(unsigned char h[CKPT_HEADER], const infb_vae_arch *a, uint32_t flags, uint64_t n,
              uint64_t epochs)
{
  memset(h, 0, CKPT_HEADER);
  memcpy(h, CKPT_MAGIC, sizeof CKPT_MAGIC);
  uint32_t version = CKPT_VERSION;
  memcpy(h + 8, &version, 4);
  memcpy(h + 12, &flags, 4);
  put_u64(h + 16, a->D);
  put_u64(h + 24, a->K);
  put_u64(h + 32, a->nenc);
  put_u64(h + 40, a->ndec);
  for (size_t l = 0; l < CKPT_MAX_LAYERS; l++) {
    put_u64(h + 48 + 8 * l, l < a->nenc ? a->enc_hidden[l] : 0);
    put_u64(h + 112 + 8 * l, l < a->ndec ? a->dec_hidden[l] : 0);
  }
  put_u64(h + 176, (uint64_t)(int64_t)a->act);
  put_u64(h + 184, n);
  put_u64(h + 192, epochs);
}

/* Decode the header (after the magic); the architecture fields are not validated here. */
static void
header_decode(const unsigned char *h, ckpt_header *c)
{
  memcpy(&c->version, h + 8, 4);
  memcpy(&c->flags, h + 12, 4);
  memset(&c->arch, 0, sizeof c->arch);
  c->arch.D = (size_t)get_u64(h + 16);
  c->arch.K = (size_t)get_u64(h + 24);
  c->arch.nenc = (size_t)get_u64(h + 32);
  c->arch.ndec = (size_t)get_u64(h + 40);
  for (size_t l = 0; l < CKPT_MAX_LAYERS; l++) {
    c->arch.enc_hidden[l] = (size_t)get_u64(h + 48 + 8 * l);
    c->arch.dec_hidden[l] = (size_t)get_u64(h + 112 + 8 * l);
  }
  c->arch.act = (enum infb_act)(int64_t)get_u64(h + 176);
  c->n = get_u64(h + 184);
  c->epochs = get_u64(h + 192);
}

/* Write len bytes and hash them; 1 on success. */
static int
put(FILE *fp, struct sha256_ctx *ctx, const void *p, size_t len)
{
  sha256_update(ctx, len, p);
  return fwrite(p, 1, len, fp) == len;
}

int
infb_vae_checkpoint_save(const char *path, infb_vae_f32 *v, const infb_vaetrain *t)
{
  if (!path || !v)
    return INFB_ERROR(GSL_EINVAL, "vae checkpoint: needs a path and a model");
  if (t && t->v != v)
    return INFB_ERROR(GSL_EINVAL, "vae checkpoint %s: the trainer is not the model's", path);
  size_t n;
  const float *theta = infb_vae_params_f32(v, &n);
  unsigned char h[CKPT_HEADER];
  header_encode(h, infb_vae_arch_f32(v), t ? CKPT_TRAINER : 0u, n, t ? t->epochs : 0);
  infb_afile *af = infb_afile_open(path);
  if (!af)
    return GSL_EFAILED;
  struct sha256_ctx ctx;
  sha256_init(&ctx);
  int ok = put(af->fp, &ctx, h, sizeof h);
  if (t) {
    float *m, *s;
    unsigned char c[CKPT_TRAINER_FIXED];
    put_u64(c, infb_adam_iter_f32(t->adam));
    put_u64(c + 8, t->skipped);
    put_u64(c + 16, t->halvings);
    infb_adam_moments_f32(t->adam, &m, &s);
    ok = ok && put(af->fp, &ctx, c, sizeof c) && put(af->fp, &ctx, m, n * sizeof *m) &&
         put(af->fp, &ctx, s, n * sizeof *s);
  }
  infb_fault_point_stream("checkpoint-write", af->fp);
  ok = ok && put(af->fp, &ctx, theta, n * sizeof *theta);
  unsigned char digest[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx, sizeof digest, digest);
  ok = ok && fwrite(digest, 1, sizeof digest, af->fp) == sizeof digest;
  if (!ok) {
    int err = errno;
    infb_afile_abort(af);
    return INFB_ERROR(GSL_EFAILED, "cannot write %s: %s%s", path, strerror(err ? err : EIO),
                      infb_afile_hint(err));
  }
  return infb_afile_commit(af);
}

/* "D-e1-…-K", then in parentheses "decoder K-d1-…-D" when the decoder is not the
 * encoder's mirror and the activation's name when show_act, joined by ", ". */
static void
arch_format(const infb_vae_arch *a, int show_act, char *buf, size_t size)
{
  size_t len = 0;
#define APPEND(...)                                                                        \
  do {                                                                                     \
    int k_ = snprintf(buf + len, len < size ? size - len : 0, __VA_ARGS__);                \
    if (k_ > 0)                                                                            \
      len += (size_t)k_;                                                                   \
  } while (0)
  APPEND("%zu", a->D);
  for (size_t l = 0; l < a->nenc && l < CKPT_MAX_LAYERS; l++)
    APPEND("-%zu", a->enc_hidden[l]);
  APPEND("-%zu", a->K);
  int mirror = a->ndec == a->nenc;
  for (size_t l = 0; mirror && l < a->ndec && l < CKPT_MAX_LAYERS; l++)
    mirror = a->dec_hidden[l] == a->enc_hidden[a->nenc - 1 - l];
  if (!mirror) {
    APPEND(" (decoder %zu", a->K);
    for (size_t l = 0; l < a->ndec && l < CKPT_MAX_LAYERS; l++)
      APPEND("-%zu", a->dec_hidden[l]);
    APPEND("-%zu", a->D);
  }
  if (show_act) {
    const char *name = infb_act_name(a->act);
    APPEND("%s", mirror ? " (" : ", ");
    if (name)
      APPEND("%s", name);
    else
      APPEND("activation %d", (int)a->act);
  }
  if (!mirror || show_act)
    APPEND(")");
#undef APPEND
}

static int
arch_equal(const infb_vae_arch *a, const infb_vae_arch *b)
{
  if (a->D != b->D || a->K != b->K || a->nenc != b->nenc || a->ndec != b->ndec ||
      a->act != b->act)
    return 0;
  for (size_t l = 0; l < a->nenc; l++)
    if (a->enc_hidden[l] != b->enc_hidden[l])
      return 0;
  for (size_t l = 0; l < a->ndec; l++)
    if (a->dec_hidden[l] != b->dec_hidden[l])
      return 0;
  return 1;
}

/* Read the whole file into *buf (*len bytes); GSL_SUCCESS or INFB_EDATA raised. */
static int
slurp(const char *path, unsigned char **buf, size_t *len)
{
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return INFB_ERROR(INFB_EDATA, "checkpoint %s: cannot open (%s)", path, strerror(errno));
  size_t cap = 1 << 16, n = 0;
  unsigned char *b = infb_malloc(cap, 1);
  int st = b ? GSL_SUCCESS : GSL_ENOMEM;
  while (!st) {
    if (n == cap) {
      unsigned char *nb = cap <= SIZE_MAX / 2 ? realloc(b, cap * 2) : NULL;
      if (!nb) {
        st = INFB_ERROR(GSL_ENOMEM, "checkpoint %s: out of memory reading it", path);
        break;
      }
      b = nb;
      cap *= 2;
    }
    size_t got = fread(b + n, 1, cap - n, fp);
    n += got;
    if (got == 0) {
      if (ferror(fp))
        st = INFB_ERROR(INFB_EDATA, "checkpoint %s: cannot read (%s)", path, strerror(errno));
      break;
    }
  }
  fclose(fp);
  if (st) {
    free(b);
    return st;
  }
  *buf = b;
  *len = n;
  return GSL_SUCCESS;
}

/* Validate the file's bytes against v (and t); GSL_SUCCESS or INFB_EDATA raised. */
static int
ckpt_check(const char *path, const unsigned char *b, size_t len, infb_vae_f32 *v,
           const infb_vaetrain *t, ckpt_header *c)
{
  size_t cmp = len < sizeof CKPT_MAGIC ? len : sizeof CKPT_MAGIC;
  if (memcmp(b, CKPT_MAGIC, cmp) != 0)
    return INFB_ERROR(INFB_EDATA, "checkpoint %s: not an infbench VAE checkpoint (bad magic)",
                      path);
  if (len < 12)
    return INFB_ERROR(INFB_EDATA, "checkpoint %s: is truncated (%zu bytes, the header alone has %d)",
                      path, len, CKPT_HEADER);
  uint32_t version;
  memcpy(&version, b + 8, 4);
  if (version != CKPT_VERSION)
    return INFB_ERROR(INFB_EDATA, "checkpoint %s: format version %lu; this build reads version %d",
                      path, (unsigned long)version, CKPT_VERSION);
  if (len < CKPT_HEADER)
    return INFB_ERROR(INFB_EDATA, "checkpoint %s: is truncated (%zu bytes, the header alone has %d)",
                      path, len, CKPT_HEADER);
  header_decode(b, c);
  if (c->flags & ~(uint32_t)CKPT_TRAINER)
    return INFB_ERROR(INFB_EDATA, "checkpoint %s: has unknown flags 0x%lx (corrupt?)", path,
                      (unsigned long)c->flags);
  /* Expected length: header, trainer block, slab, digest; n bounded so it cannot overflow. */
  const uint64_t nmax = (SIZE_MAX - CKPT_HEADER - CKPT_TRAINER_FIXED - SHA256_DIGEST_SIZE) / 12;
  if (c->n == 0 || c->n > nmax)
    return INFB_ERROR(INFB_EDATA, "checkpoint %s: the header is corrupt (slab length %llu)", path,
                      (unsigned long long)c->n);
  const size_t n = (size_t)c->n;
  const int trainer = (c->flags & CKPT_TRAINER) != 0;
  const size_t expect = CKPT_HEADER + (trainer ? CKPT_TRAINER_FIXED + 8 * n : 0) + 4 * n +
                        SHA256_DIGEST_SIZE;
  if (len < expect)
    return INFB_ERROR(INFB_EDATA, "checkpoint %s: is truncated (%zu bytes, %zu expected)", path,
                      len, expect);
  if (len > expect)
    return INFB_ERROR(INFB_EDATA, "checkpoint %s: has the wrong length (%zu bytes, %zu expected; "
                                  "corrupt?)",
                      path, len, expect);
  struct sha256_ctx ctx;
  unsigned char digest[SHA256_DIGEST_SIZE];
  sha256_init(&ctx);
  sha256_update(&ctx, len - sizeof digest, b);
  sha256_digest(&ctx, sizeof digest, digest);
  if (memcmp(digest, b + len - sizeof digest, sizeof digest) != 0)
    return INFB_ERROR(INFB_EDATA, "checkpoint %s: checksum mismatch (the file is corrupt)", path);
  if (c->arch.nenc > CKPT_MAX_LAYERS || c->arch.ndec > CKPT_MAX_LAYERS)
    return INFB_ERROR(INFB_EDATA, "checkpoint %s: the header is corrupt (%zu and %zu hidden layers)",
                      path, c->arch.nenc, c->arch.ndec);
  const infb_vae_arch *va = infb_vae_arch_f32(v);
  if (!arch_equal(&c->arch, va)) {
    char have[256], want[256];
    int acts = c->arch.act != va->act;
    arch_format(&c->arch, acts, have, sizeof have);
    arch_format(va, acts, want, sizeof want);
    return INFB_ERROR(INFB_EDATA, "checkpoint %s is for a %s model, the config asks for %s", path,
                      have, want);
  }
  size_t vn;
  infb_vae_params_f32(v, &vn);
  if (vn != n)
    return INFB_ERROR(INFB_EDATA, "checkpoint %s: the header is corrupt (%zu parameters, the "
                                  "architecture has %zu)",
                      path, n, vn);
  if (t && !trainer)
    return INFB_ERROR(INFB_EDATA, "checkpoint %s: holds no trainer state; training cannot resume "
                                  "from it",
                      path);
  return GSL_SUCCESS;
}

int
infb_vae_checkpoint_load(const char *path, infb_vae_f32 *v, infb_vaetrain *t)
{
  if (!path || !v)
    return INFB_ERROR(GSL_EINVAL, "vae checkpoint: needs a path and a model");
  if (t && t->v != v)
    return INFB_ERROR(GSL_EINVAL, "vae checkpoint %s: the trainer is not the model's", path);
  unsigned char *b = NULL;
  size_t len = 0;
  int st = slurp(path, &b, &len);
  if (st)
    return st;
  ckpt_header c;
  if ((st = ckpt_check(path, b, len, v, t, &c))) {
    free(b);
    return st;
  }
  const size_t n = (size_t)c.n;
  const unsigned char *p = b + CKPT_HEADER;
  if (c.flags & CKPT_TRAINER) {
    if (t) {
      float *m, *s;
      infb_adam_moments_f32(t->adam, &m, &s);
      infb_adam_set_iter_f32(t->adam, (unsigned long)get_u64(p));
      t->skipped = (size_t)get_u64(p + 8);
      t->halvings = (size_t)get_u64(p + 16);
      t->epochs = (size_t)c.epochs;
      memcpy(m, p + CKPT_TRAINER_FIXED, n * sizeof *m);
      memcpy(s, p + CKPT_TRAINER_FIXED + 4 * n, n * sizeof *s);
    }
    p += CKPT_TRAINER_FIXED + 8 * n;
  }
  memcpy(infb_vae_params_f32(v, NULL), p, n * sizeof(float));
  free(b);
  return GSL_SUCCESS;
}
