/* Per-purpose random-number streams derived from one master seed.
 *
 * Every consumer of randomness (an estimator, a stage, a data point) asks for its own
 * stream by name and index, so adding an estimator or changing the thread count changes
 * no other consumer's numbers.  The stream's seed is a SplitMix64 mix of the master seed,
 * a 64-bit FNV-1a hash of the purpose string and the index. */
#ifndef INFB_CORE_RNG_H
#define INFB_CORE_RNG_H

#include <stdint.h>
#include <gsl/gsl_rng.h>

/* The 64-bit seed of stream (purpose, index) under master seed `seed`.  purpose is a
 * NUL-terminated name such as "data/split" or "estimator/meanfield"; never NULL. */
uint64_t infb_rng_derive(uint64_t seed, const char *purpose, uint64_t index);

/* A new GSL generator (mt19937) seeded for stream (purpose, index).  The caller owns it
 * and frees it with gsl_rng_free.  NULL (error raised) when out of memory. */
gsl_rng *infb_rng_stream(uint64_t seed, const char *purpose, uint64_t index);

/* As infb_rng_stream with a generator of type T (e.g. gsl_rng_taus2), seeded the same
 * way.  NULL (error raised) when out of memory. */
gsl_rng *infb_rng_stream_type(const gsl_rng_type *T, uint64_t seed, const char *purpose,
                              uint64_t index);

/* The generator of the Monte-Carlo estimators' per-point sampling streams (IWAE, q* and
 * its ELBO estimates, the gap report's L[q]): GSL's taus2 (L'Ecuyer's maximally
 * equidistributed combined Tausworthe, period 2^88), which under gsl_ran_gaussian_ziggurat
 * draws twice as fast as mt19937 here and is seeded in nanoseconds rather than a
 * microsecond.  Everything else (data, splits, initialisation, training) uses mt19937. */
#define INFB_RNG_SAMPLER gsl_rng_taus2

/* infb_rng_stream_type(INFB_RNG_SAMPLER, seed, purpose, index). */
gsl_rng *infb_rng_sampler(uint64_t seed, const char *purpose, uint64_t index);

/* Re-seeds r (any type, allocated by the caller) for stream (purpose, index): r then
 * gives what infb_rng_stream_type(r's type, seed, purpose, index) would.  No allocation;
 * with taus2 it costs a few nanoseconds (mt19937: about a microsecond), for consumers that
 * start a stream per item. */
void infb_rng_reseed(gsl_rng *r, uint64_t seed, const char *purpose, uint64_t index);

#endif
