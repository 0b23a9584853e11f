/* Stream derivation by hashing (see rng.h); SplitMix64 is Steele, Lea & Flood (2014). */
#include "config.h"
#include "core/rng.h"
#include "core/error.h"

static uint64_t
splitmix64(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t
infb_rng_derive(uint64_t seed, const char *purpose, uint64_t index)
{
  uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a offset basis */
  for (const unsigned char *p = (const unsigned char *)purpose; *p; p++) {
    h ^= *p;
    h *= 0x100000001b3ULL;
  }
  return splitmix64(splitmix64(splitmix64(seed) ^ h) ^ index);
}

void
infb_rng_reseed(gsl_rng *r, uint64_t seed, const char *purpose, uint64_t index)
{
  uint64_t s = infb_rng_derive(seed, purpose, index);
  /* GSL's generators take 32 bits of seed (mt19937 and taus2 among them); fold the 64 so
   * both halves matter.  0 means "default" to GSL, so map it away. */
  unsigned long s32 = (unsigned long)((s ^ (s >> 32)) & 0xffffffffUL);
  gsl_rng_set(r, s32 ? s32 : 4357UL);
}

gsl_rng *
infb_rng_stream_type(const gsl_rng_type *T, uint64_t seed, const char *purpose,
                     uint64_t index)
{
  gsl_rng *r = gsl_rng_alloc(T);
  if (!r)
    INFB_ERROR_NULL(GSL_ENOMEM, "cannot allocate a random-number generator");
  infb_rng_reseed(r, seed, purpose, index);
  return r;
}

gsl_rng *
infb_rng_stream(uint64_t seed, const char *purpose, uint64_t index)
{
  return infb_rng_stream_type(gsl_rng_mt19937, seed, purpose, index);
}

gsl_rng *
infb_rng_sampler(uint64_t seed, const char *purpose, uint64_t index)
{
  return infb_rng_stream_type(INFB_RNG_SAMPLER, seed, purpose, index);
}
