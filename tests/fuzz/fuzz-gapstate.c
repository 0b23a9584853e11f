/* Fuzz target: the gap report's resumable state (exp/gapstate.h), the checkpoint of a
 * split's phases and of AIS's progress, as a stage record holds it: any JSON is read into
 * a state of N points with K = 2 and AIS room for M points.  A state read without error
 * must write back to JSON that reads again into the same state (the round trip a resumed
 * run makes); a refused one must name its source. */
#include <config.h>
#include "fuzz/fuzz.h"
#include "core/error.h"
#include "exp/gapstate.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N = 5, K = 2, M = 4 };

/* Bitwise equality of n doubles (NAN equals NAN). */
static int
same(const double *a, const double *b, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!(a[i] == b[i] || (isnan(a[i]) && isnan(b[i]))))
      return 0;
  return 1;
}

/* Read j into a fresh state (with AIS room); NULL when refused. */
static infb_gap_state *
read_state(const json_t *j)
{
  infb_gap_state *s = infb_gap_state_alloc(N, K);
  if (!s || infb_gap_state_alloc_ais(s, M))
    abort();
  infb_error_clear();
  int st = infb_gapstate_read(s, j, "fuzz");
  if (!st)
    st = infb_gapstate_read_ais(s, j, "fuzz");
  if (st) {
    if (strncmp(infb_error_message(), "fuzz", 4) != 0)
      abort(); /* an error must name its source */
    infb_gap_state_free(s);
    return NULL;
  }
  return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz_init();
  json_error_t err;
  json_t *j = json_loadb((const char *)data, size, 0, &err);
  if (!j)
    return 0;
  infb_gap_state *a = read_state(j);
  json_decref(j);
  if (!a)
    return 0;
  json_t *back = infb_gapstate_json(a);
  infb_gap_state *b = back ? read_state(back) : NULL;
  if (!b)
    abort(); /* what was read must write and read back */
  int ok = a->q_done == b->q_done && a->qstar_done == b->qstar_done &&
           a->iwae_done[0] == b->iwae_done[0] && a->iwae_done[1] == b->iwae_done[1] &&
           a->ais_done == b->ais_done && same(a->q_elbo, b->q_elbo, a->q_done) &&
           same(a->iw[1], b->iw[1], a->iwae_done[1]) &&
           same(a->khat[0], b->khat[0], a->iwae_done[0]) &&
           same(a->ais_lp, b->ais_lp, a->ais_done) && same(a->ais_step, b->ais_step, a->ais_done);
  for (size_t i = 0; ok && i < a->ais_done; i++)
    ok = a->ais_status[i] == b->ais_status[i] && a->ais_low_ess[i] == b->ais_low_ess[i];
  if (!ok)
    abort();
  json_decref(back);
  infb_gap_state_free(a);
  infb_gap_state_free(b);
  return 0;
}
