/* The machine's float32 peak (see peak.h): register-only multiply-add chains on the
 * widest vector unit, chosen at run time.  The program is built for baseline x86-64, so
 * each kernel carries its own target attribute and runs only after the CPU check. */
#define _POSIX_C_SOURCE 200809L
#include <config.h>
#include "peak.h"
#include "core/clock.h"
#include "core/error.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define PEAK_X86 1
#include <immintrin.h>
#else
#define PEAK_X86 0
#endif

static const struct {
  const char *name;
  size_t lanes;
  int fused;
} isa_table[INFB_PEAK_NISA] = {
    [INFB_PEAK_SSE] = {"sse", 4, 0},
    [INFB_PEAK_AVX] = {"avx", 8, 0},
    [INFB_PEAK_AVX2] = {"avx2", 8, 1},
    [INFB_PEAK_AVX512] = {"avx512", 16, 1},
};

/* The widest lane count, for buffers that fit every kernel. */
#define PEAK_MAX_LANES 16

void
infb_peak_cpu_detect(infb_peak_cpu *cpu)
{
  memset(cpu, 0, sizeof *cpu);
#if PEAK_X86
  __builtin_cpu_init();
  cpu->avx = __builtin_cpu_supports("avx") != 0;
  cpu->fma = __builtin_cpu_supports("fma") != 0;
  cpu->avx512f = __builtin_cpu_supports("avx512f") != 0;
#endif
}

infb_peak_isa
infb_peak_choose(const infb_peak_cpu *cpu)
{
  if (cpu->avx512f)
    return INFB_PEAK_AVX512;
  if (cpu->avx && cpu->fma)
    return INFB_PEAK_AVX2;
  if (cpu->avx)
    return INFB_PEAK_AVX;
  return INFB_PEAK_SSE;
}

int
infb_peak_runs_on(infb_peak_isa isa, const infb_peak_cpu *cpu)
{
  switch (isa) {
  case INFB_PEAK_SSE: return 1;
  case INFB_PEAK_AVX: return cpu->avx;
  case INFB_PEAK_AVX2: return cpu->avx && cpu->fma;
  case INFB_PEAK_AVX512: return cpu->avx512f;
  default: return 0;
  }
}

const char *
infb_peak_isa_name(infb_peak_isa isa)
{
  return (unsigned)isa < INFB_PEAK_NISA ? isa_table[isa].name : NULL;
}

int
infb_peak_isa_parse(const char *name, infb_peak_isa *isa)
{
  for (int i = 0; i < INFB_PEAK_NISA; i++)
    if (strcmp(name, isa_table[i].name) == 0) {
      *isa = (infb_peak_isa)i;
      return GSL_SUCCESS;
    }
  return INFB_ERROR(GSL_EINVAL, "peak: unknown vector unit '%s' (sse, avx, avx2, avx512)",
                    name);
}

size_t
infb_peak_lanes(infb_peak_isa isa)
{
  return (unsigned)isa < INFB_PEAK_NISA ? isa_table[isa].lanes : 0;
}

int
infb_peak_fused(infb_peak_isa isa)
{
  return (unsigned)isa < INFB_PEAK_NISA ? isa_table[isa].fused : 0;
}

double
infb_peak_flop_per_iter(infb_peak_isa isa)
{
  return (double)INFB_PEAK_CHAINS * (double)infb_peak_lanes(isa) * 2.0;
}

#if PEAK_X86
/* The twelve chains written out, so each is its own register variable (an array would
 * rely on the compiler's complete unrolling to stay out of memory). */
_Static_assert(INFB_PEAK_CHAINS == 12, "the kernels spell out 12 chains");
#define CHAINS12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

/* One kernel per unit, from PEAK_V (the vector type), PEAK_W (its lanes), PEAK_LD and
 * PEAK_ST (unaligned load and store) and PEAK_OP(c, a, b) (the chain step c·a + b). */
#define PEAK_KERNEL(fn, isa, set1)                                                        \
  __attribute__((target(isa))) static void fn(size_t iters, float a, float b, float *acc) \
  {                                                                                       \
    const PEAK_V va = set1(a), vb = set1(b);                                              \
    CHAINS12(PEAK_LOAD)                                                                   \
    for (size_t i = 0; i < iters; i++) {                                                  \
      CHAINS12(PEAK_STEP)                                                                 \
    }                                                                                     \
    CHAINS12(PEAK_STORE)                                                                  \
  }
#define PEAK_LOAD(j) PEAK_V c##j = PEAK_LD(acc + (j) * PEAK_W);
#define PEAK_STEP(j) c##j = PEAK_OP(c##j, va, vb);
#define PEAK_STORE(j) PEAK_ST(acc + (j) * PEAK_W, c##j);

/* SSE: 4 lanes, multiply then add (baseline x86-64: no FMA in the target, so the
 * compiler cannot fuse them; nor may it under -std=c11, whose -ffp-contract is off). */
#define PEAK_V __m128
#define PEAK_W 4
#define PEAK_LD _mm_loadu_ps
#define PEAK_ST _mm_storeu_ps
#define PEAK_OP(c, a, b) _mm_add_ps(_mm_mul_ps(c, a), b)
PEAK_KERNEL(kernel_sse, "sse2", _mm_set1_ps)
#undef PEAK_V
#undef PEAK_W
#undef PEAK_LD
#undef PEAK_ST
#undef PEAK_OP

/* AVX without FMA: 8 lanes, multiply then add. */
#define PEAK_V __m256
#define PEAK_W 8
#define PEAK_LD _mm256_loadu_ps
#define PEAK_ST _mm256_storeu_ps
#define PEAK_OP(c, a, b) _mm256_add_ps(_mm256_mul_ps(c, a), b)
PEAK_KERNEL(kernel_avx, "avx", _mm256_set1_ps)
#undef PEAK_OP

/* AVX + FMA3: 8 lanes, vfmadd on ymm. */
#define PEAK_OP(c, a, b) _mm256_fmadd_ps(c, a, b)
PEAK_KERNEL(kernel_avx2, "avx,fma", _mm256_set1_ps)
#undef PEAK_V
#undef PEAK_W
#undef PEAK_LD
#undef PEAK_ST
#undef PEAK_OP

/* AVX-512F: 16 lanes, vfmadd on zmm. */
#define PEAK_V __m512
#define PEAK_W 16
#define PEAK_LD _mm512_loadu_ps
#define PEAK_ST _mm512_storeu_ps
#define PEAK_OP(c, a, b) _mm512_fmadd_ps(c, a, b)
PEAK_KERNEL(kernel_avx512, "avx512f", _mm512_set1_ps)
#undef PEAK_V
#undef PEAK_W
#undef PEAK_LD
#undef PEAK_ST
#undef PEAK_OP
#endif

/* The kernel for isa, unchecked: the caller has checked that the CPU runs it. */
static void
kernel(infb_peak_isa isa, size_t iters, float a, float b, float *acc)
{
#if PEAK_X86
  switch (isa) {
  case INFB_PEAK_SSE: kernel_sse(iters, a, b, acc); break;
  case INFB_PEAK_AVX: kernel_avx(iters, a, b, acc); break;
  case INFB_PEAK_AVX2: kernel_avx2(iters, a, b, acc); break;
  case INFB_PEAK_AVX512: kernel_avx512(iters, a, b, acc); break;
  default: break;
  }
#else
  (void)isa, (void)iters, (void)a, (void)b, (void)acc;
#endif
}

/* GSL_SUCCESS when isa is valid and this CPU (and this build) runs it. */
static int
check_isa(infb_peak_isa isa)
{
  if ((unsigned)isa >= INFB_PEAK_NISA)
    return INFB_ERROR(GSL_EINVAL, "peak: vector unit %d out of range", (int)isa);
  infb_peak_cpu cpu;
  infb_peak_cpu_detect(&cpu);
  if (!PEAK_X86 || !infb_peak_runs_on(isa, &cpu))
    return INFB_ERROR(GSL_EUNSUP, "peak: this CPU cannot run the %s kernel",
                      isa_table[isa].name);
  return GSL_SUCCESS;
}

int
infb_peak_kernel(infb_peak_isa isa, size_t iters, float a, float b, float *acc)
{
  int st = check_isa(isa);
  if (st)
    return st;
  kernel(isa, iters, a, b, acc);
  return GSL_SUCCESS;
}

/* The chains' step acc ← acc·(1 − 2⁻¹²) + 2⁻¹² has the fixed point 1, exact in both
 * roundings: the accumulators stay near 1 (no overflow, no subnormals) for any number of
 * iterations.  The constants reach the kernel as run-time arguments. */
#define PEAK_A (1.0f - 0x1p-12f)
#define PEAK_B 0x1p-12f

/* The gate every thread of a run waits at, so that they start together. */
typedef struct gate {
  pthread_mutex_t lock;
  pthread_cond_t open;
  int state; /* 0 closed, 1 open (run), −1 abandoned (return without running) */
} gate;

/* One thread's share of a run. */
typedef struct job {
  infb_peak_isa isa;
  size_t iters;
  gate *g;
  double t0, t1; /* its start and end (infb_clock_seconds) */
  float acc[INFB_PEAK_CHAINS * PEAK_MAX_LANES];
} job;

static void *
run_job(void *p)
{
  job *j = p;
  pthread_mutex_lock(&j->g->lock);
  while (j->g->state == 0)
    pthread_cond_wait(&j->g->open, &j->g->lock);
  int run = j->g->state > 0;
  pthread_mutex_unlock(&j->g->lock);
  if (!run)
    return NULL;
  j->t0 = infb_clock_seconds();
  kernel(j->isa, j->iters, PEAK_A, PEAK_B, j->acc);
  j->t1 = infb_clock_seconds();
  return NULL;
}

/* One run on T threads; *wall: from the first thread's start to the last one's end. */
static int
run_threads(job *jobs, pthread_t *tid, size_t T, double *wall)
{
  gate g = {.state = 0};
  pthread_mutex_init(&g.lock, NULL);
  pthread_cond_init(&g.open, NULL);
  size_t started = 0;
  for (; started < T; started++) {
    jobs[started].g = &g;
    if (pthread_create(&tid[started], NULL, run_job, &jobs[started]) != 0)
      break;
  }
  pthread_mutex_lock(&g.lock);
  g.state = started == T ? 1 : -1;
  pthread_cond_broadcast(&g.open);
  pthread_mutex_unlock(&g.lock);
  for (size_t t = 0; t < started; t++)
    pthread_join(tid[t], NULL);
  pthread_cond_destroy(&g.open);
  pthread_mutex_destroy(&g.lock);
  if (started < T)
    return INFB_ERROR(GSL_EFAILED, "peak: cannot start thread %zu of %zu", started + 1, T);
  double lo = jobs[0].t0, hi = jobs[0].t1;
  for (size_t t = 1; t < T; t++) {
    lo = jobs[t].t0 < lo ? jobs[t].t0 : lo;
    hi = jobs[t].t1 > hi ? jobs[t].t1 : hi;
  }
  *wall = hi - lo;
  return GSL_SUCCESS;
}

static void
fill_acc(float *acc)
{
  for (size_t e = 0; e < INFB_PEAK_CHAINS * PEAK_MAX_LANES; e++)
    acc[e] = 0.5f + (float)(e % 7) / 16.0f;
}

int
infb_peak_measure(infb_peak_isa isa, size_t threads, double seconds, size_t repeat,
                  double *gflops, double *checksum)
{
  if (threads == 0 || repeat == 0 || !(seconds > 0))
    return INFB_ERROR(GSL_EINVAL, "peak: %zu threads, %zu repeats, %g s (all must be "
                      "positive)", threads, repeat, seconds);
  int st = check_isa(isa);
  if (st)
    return st;
  /* Calibrate on one thread: double the iterations until a run takes a tenth of the
   * target, then scale to the target. */
  float acc[INFB_PEAK_CHAINS * PEAK_MAX_LANES];
  fill_acc(acc);
  size_t iters = 1024;
  double took;
  for (;;) {
    double t0 = infb_clock_seconds();
    kernel(isa, iters, PEAK_A, PEAK_B, acc);
    took = infb_clock_seconds() - t0;
    if (took >= seconds / 10 || iters > ((size_t)1 << 40))
      break;
    iters *= 2;
  }
  double scaled = (double)iters * seconds / (took > 0 ? took : seconds / 10);
  iters = scaled < 1 ? 1 : (size_t)scaled;

  job *jobs = infb_calloc(threads, sizeof *jobs);
  pthread_t *tid = infb_calloc(threads, sizeof *tid);
  if (!jobs || !tid) {
    free(jobs);
    free(tid);
    return GSL_ENOMEM;
  }
  double best = 0;
  for (size_t t = 0; t < threads; t++) {
    jobs[t].isa = isa;
    jobs[t].iters = iters;
    fill_acc(jobs[t].acc);
  }
  for (size_t rep = 0; rep < repeat && !st; rep++) {
    double wall = 0;
    if ((st = run_threads(jobs, tid, threads, &wall)))
      break;
    double flop = (double)threads * (double)iters * infb_peak_flop_per_iter(isa);
    double rate = flop / wall / 1e9;
    best = rate > best ? rate : best;
  }
  if (!st) {
    double sum = 0;
    const size_t n = INFB_PEAK_CHAINS * infb_peak_lanes(isa);
    for (size_t t = 0; t < threads; t++)
      for (size_t e = 0; e < n; e++)
        sum += jobs[t].acc[e];
    *gflops = best;
    if (checksum)
      *checksum = sum;
  }
  free(jobs);
  free(tid);
  return st;
}
