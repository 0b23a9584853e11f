/* The machine's float32 arithmetic peak, measured rather than looked up: a loop of
 * independent multiply-add chains held in registers, on T threads, on the widest vector
 * unit the CPU has (bench/RESULTS.md, "The FMA peak").  The bench's denominator for
 * "fraction of the peak"; part of bench/, not of the library.
 *
 * The kernel runs INFB_PEAK_CHAINS independent chains acc ← acc·a + b, each one vector
 * register wide: enough chains to cover a 6-cycle dependency on 2 ports (a 4-cycle FMA
 * on two FMA pipes needs 8), so throughput, not latency, bounds the loop.  Each lane of
 * each chain step is 2 FLOP, whether it is one fused multiply-add or, where the CPU has
 * no FMA, a multiply and an add (two instructions: counted honestly, not as one FMA). */
#ifndef INFB_BENCH_PEAK_H
#define INFB_BENCH_PEAK_H

#include <stddef.h>

/* The vector units the peak can run on, narrowest first. */
typedef enum infb_peak_isa {
  INFB_PEAK_SSE = 0, /* 4 lanes (xmm), multiply then add: every x86-64 CPU */
  INFB_PEAK_AVX,     /* 8 lanes (ymm), multiply then add: AVX without FMA */
  INFB_PEAK_AVX2,    /* 8 lanes (ymm), vfmadd: AVX and FMA3 (x86-64-v3's vector unit) */
  INFB_PEAK_AVX512,  /* 16 lanes (zmm), vfmadd: AVX-512F */
  INFB_PEAK_NISA
} infb_peak_isa;

/* Independent accumulator chains per kernel iteration. */
#define INFB_PEAK_CHAINS 12

/* What the choice depends on: 1 when the CPU has the feature and the OS saves its
 * registers (what libgcc's __builtin_cpu_supports reports), else 0. */
typedef struct infb_peak_cpu {
  int avx;     /* AVX: 256-bit ymm registers */
  int fma;     /* FMA3: vfmadd on xmm/ymm */
  int avx512f; /* AVX-512 Foundation: zmm registers and their vfmadd */
} infb_peak_cpu;

/* This process's CPU features (__builtin_cpu_supports); on a non-x86 build, all 0. */
void infb_peak_cpu_detect(infb_peak_cpu *cpu);

/* The widest unit cpu has: AVX512 when avx512f, else AVX2 when avx and fma, else AVX
 * when avx, else SSE.  A pure function of *cpu. */
infb_peak_isa infb_peak_choose(const infb_peak_cpu *cpu);
/* 1 when cpu can run isa's kernel (as above: SSE always), else 0.  Pure. */
int infb_peak_runs_on(infb_peak_isa isa, const infb_peak_cpu *cpu);

/* "sse", "avx", "avx2", "avx512"; NULL for a value out of range. */
const char *infb_peak_isa_name(infb_peak_isa isa);
/* The ISA named by name (as infb_peak_isa_name); GSL_EINVAL (raised) for another name. */
int infb_peak_isa_parse(const char *name, infb_peak_isa *isa);
/* Lanes per vector (4, 8, 8, 16) and whether a chain step is one fused instruction. */
size_t infb_peak_lanes(infb_peak_isa isa);
int infb_peak_fused(infb_peak_isa isa);
/* FLOP per kernel iteration: INFB_PEAK_CHAINS × lanes × 2. */
double infb_peak_flop_per_iter(infb_peak_isa isa);

/* The kernel: acc (INFB_PEAK_CHAINS × lanes floats, chain-major, read and written)
 * receives iters steps of acc ← acc·a + b on every element, fused (one rounding) when
 * infb_peak_fused(isa), else rounded after the multiply and after the add.  The chains
 * stay in registers for the whole loop.  GSL_EUNSUP (raised) when this CPU cannot run
 * isa (infb_peak_runs_on with infb_peak_cpu_detect), GSL_EINVAL for an isa out of range. */
int infb_peak_kernel(infb_peak_isa isa, size_t iters, float a, float b, float *acc);

/* The peak on `threads` threads: each thread runs the kernel for the same number of
 * iterations, sized so one run takes about `seconds` (calibrated on one thread first);
 * *gflops = threads × iterations × infb_peak_flop_per_iter / wall time / 1e9, the best
 * of `repeat` runs (noise only ever lowers the rate).  *checksum: the sum of every
 * thread's accumulators after the last run, so the work is observable (may be NULL).
 * GSL_EINVAL for threads, repeat = 0 or seconds ≤ 0, GSL_EUNSUP as infb_peak_kernel,
 * GSL_EFAILED when a thread cannot be started, GSL_ENOMEM. */
int infb_peak_measure(infb_peak_isa isa, size_t threads, double seconds, size_t repeat,
                      double *gflops, double *checksum);

#endif
