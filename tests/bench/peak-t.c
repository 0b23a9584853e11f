/* Tests for bench/peak: the choice of vector unit as a pure function of injected CPU
 * features, the names and FLOP counts, each kernel against the scalar recurrence it
 * claims to compute (on the units this CPU runs; the others must refuse), and a short
 * measurement.  Nothing here depends on which CPU runs it: a unit this CPU lacks is
 * skipped with its reason, and the measurement is checked for sense, not speed. */
#include <config.h>
#include "peak.h"
#include "tap/basic.h"

#include <gsl/gsl_errno.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#define NISA INFB_PEAK_NISA
/* Elements of a kernel's accumulators for the widest unit. */
#define MAXN (INFB_PEAK_CHAINS * 16)

/* The chain step the kernels claim, written out in scalar code: fused (C99's fmaf, one
 * rounding) or a multiply and an add each rounded to float (-std=c11: no contraction). */
static void
reference(int fused, size_t iters, float a, float b, float *x, size_t n)
{
  for (size_t e = 0; e < n; e++)
    for (size_t i = 0; i < iters; i++) {
      if (fused) {
        x[e] = fmaf(x[e], a, b);
      } else {
        float p = x[e] * a;
        x[e] = p + b;
      }
    }
}

/* Distinct starting values per element. */
static void
start(float *x, size_t n)
{
  for (size_t e = 0; e < n; e++)
    x[e] = 1.0f + (float)e / 64.0f;
}

int
main(void)
{
  plan(8 + 8 + 2 * NISA + 4 + 1 + 4 * NISA + 7);

  /* The choice over every combination of the three features (injected, not detected):
   * the widest unit, FMA where it has it.  An FMA without AVX cannot occur on a real CPU
   * (FMA3 encodes in VEX); it chooses SSE, which every x86-64 CPU runs. */
  static const infb_peak_isa want[8] = {
      /* avx fma avx512f */
      INFB_PEAK_SSE,    /* 0 0 0 */
      INFB_PEAK_AVX512, /* 0 0 1 */
      INFB_PEAK_SSE,    /* 0 1 0 */
      INFB_PEAK_AVX512, /* 0 1 1 */
      INFB_PEAK_AVX,    /* 1 0 0 */
      INFB_PEAK_AVX512, /* 1 0 1 */
      INFB_PEAK_AVX2,   /* 1 1 0 */
      INFB_PEAK_AVX512, /* 1 1 1 */
  };
  for (int m = 0; m < 8; m++) {
    infb_peak_cpu cpu = {.avx = (m >> 2) & 1, .fma = (m >> 1) & 1, .avx512f = m & 1};
    is_string(infb_peak_isa_name(want[m]), infb_peak_isa_name(infb_peak_choose(&cpu)),
              "choose: avx=%d fma=%d avx512f=%d", cpu.avx, cpu.fma, cpu.avx512f);
  }
  /* The choice runs on its CPU and nothing wider (more lanes, or as many fused) does. */
  for (int m = 0; m < 8; m++) {
    infb_peak_cpu cpu = {.avx = (m >> 2) & 1, .fma = (m >> 1) & 1, .avx512f = m & 1};
    infb_peak_isa c = infb_peak_choose(&cpu);
    int widest = infb_peak_runs_on(c, &cpu);
    for (int i = 0; i < NISA; i++) {
      size_t li = infb_peak_lanes((infb_peak_isa)i), lc = infb_peak_lanes(c);
      if (infb_peak_runs_on((infb_peak_isa)i, &cpu) &&
          (li > lc || (li == lc && infb_peak_fused((infb_peak_isa)i) > infb_peak_fused(c))))
        widest = 0;
    }
    ok(widest, "choose: avx=%d fma=%d avx512f=%d gives the widest unit that runs", cpu.avx,
       cpu.fma, cpu.avx512f);
  }

  /* Names, lanes and FLOP per iteration (12 chains × lanes × 2). */
  static const size_t lanes[NISA] = {4, 8, 8, 16};
  for (int i = 0; i < NISA; i++) {
    infb_peak_isa back = NISA;
    int st = infb_peak_isa_parse(infb_peak_isa_name((infb_peak_isa)i), &back);
    ok(st == GSL_SUCCESS && back == (infb_peak_isa)i, "parse(name(%d)) = %d", i, i);
    is_double_rel((double)(INFB_PEAK_CHAINS * lanes[i] * 2),
                  infb_peak_flop_per_iter((infb_peak_isa)i), 0,
                  "%s: %zu lanes, %d chains, 2 FLOP per lane and step",
                  infb_peak_isa_name((infb_peak_isa)i), lanes[i], INFB_PEAK_CHAINS);
  }
  infb_peak_isa isa;
  is_int(GSL_EINVAL, infb_peak_isa_parse("avx3", &isa), "parse: an unknown name is refused");
  ok(infb_peak_isa_name(NISA) == NULL, "name: out of range is NULL");
  ok(!infb_peak_fused(INFB_PEAK_SSE) && !infb_peak_fused(INFB_PEAK_AVX) &&
         infb_peak_fused(INFB_PEAK_AVX2) && infb_peak_fused(INFB_PEAK_AVX512),
     "fused: the FMA units only");
  infb_peak_cpu none = {0};
  ok(infb_peak_runs_on(INFB_PEAK_SSE, &none) && !infb_peak_runs_on(INFB_PEAK_AVX, &none) &&
         !infb_peak_runs_on(INFB_PEAK_AVX2, &none) && !infb_peak_runs_on(INFB_PEAK_AVX512, &none),
     "runs_on: a CPU with no AVX runs SSE only");

  /* The inputs tell a fused step from a rounded multiply and add: the two references
   * part within 50 steps (else the kernel checks below could not tell them apart). */
  const float a = 0.9f, b = 0.1f / 3.0f;
  float fu[MAXN], un[MAXN];
  start(fu, MAXN);
  start(un, MAXN);
  reference(1, 50, a, b, fu, MAXN);
  reference(0, 50, a, b, un, MAXN);
  ok(memcmp(fu, un, sizeof fu) != 0, "the fused and the unfused recurrences differ");

  /* Each kernel against its recurrence, bit for bit, on every element of every chain;
   * on the units this CPU lacks, the kernel refuses (GSL_EUNSUP) instead of faulting. */
  infb_peak_cpu cpu;
  infb_peak_cpu_detect(&cpu);
  static const size_t iters[4] = {0, 1, 7, 50};
  for (int i = 0; i < NISA; i++) {
    const char *name = infb_peak_isa_name((infb_peak_isa)i);
    const size_t n = INFB_PEAK_CHAINS * lanes[i];
    if (!infb_peak_runs_on((infb_peak_isa)i, &cpu)) {
      float x[MAXN];
      start(x, MAXN);
      is_int(GSL_EUNSUP, infb_peak_kernel((infb_peak_isa)i, 1, a, b, x),
             "%s: this CPU lacks it, the kernel refuses", name);
      for (int k = 1; k < 4; k++)
        skip("%s: this CPU lacks it", name);
      continue;
    }
    for (int k = 0; k < 4; k++) {
      float x[MAXN + 1], r[MAXN + 1];
      start(x, MAXN + 1);
      start(r, MAXN + 1);
      int st = infb_peak_kernel((infb_peak_isa)i, iters[k], a, b, x);
      reference(infb_peak_fused((infb_peak_isa)i), iters[k], a, b, r, n);
      size_t bad = 0;
      for (size_t e = 0; e < n; e++)
        bad += memcmp(&x[e], &r[e], sizeof x[e]) != 0;
      ok(st == GSL_SUCCESS && bad == 0 && x[n] == 1.0f + (float)n / 64.0f,
         "%s kernel: %zu steps of acc*a + b (%s) on %zu floats, bit for bit, none beyond",
         name, iters[k], infb_peak_fused((infb_peak_isa)i) ? "fused" : "mul, add", n);
    }
  }

  /* A short measurement on this CPU's unit, one and two threads: it runs and is
   * sensible (positive, finite, the accumulators near the recurrence's fixed point 1). */
  isa = infb_peak_choose(&cpu);
  for (size_t T = 1; T <= 2; T++) {
    double gf = -1, sum = -1;
    int st = infb_peak_measure(isa, T, 0.005, 2, &gf, &sum);
    const double n = (double)(T * INFB_PEAK_CHAINS * infb_peak_lanes(isa));
    ok(st == GSL_SUCCESS && gf > 0 && isfinite(gf), "measure %s on %zu threads: %.1f GFLOP/s",
       infb_peak_isa_name(isa), T, gf);
    ok(sum >= 0.5 * n && sum <= n, "measure: checksum %g within [n/2, n] for n = %g", sum, n);
  }
  double gf;
  is_int(GSL_EINVAL, infb_peak_measure(isa, 0, 0.01, 1, &gf, NULL), "measure: 0 threads");
  is_int(GSL_EINVAL, infb_peak_measure(isa, 1, 0, 1, &gf, NULL), "measure: 0 seconds");
  is_int(GSL_EINVAL, infb_peak_measure(NISA, 1, 0.01, 1, &gf, NULL), "measure: no such unit");
  return test_done();
}
