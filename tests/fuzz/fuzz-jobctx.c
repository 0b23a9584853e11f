/* Fuzz target: a job's context as a serving rank parses it (par/sched.h's setup of the
 * kinds infb_vae_groups_kind and infb_lg_groups_kind, infer/vaegroups.h and
 * infer/lggroups.h), and a group's result as rank 0 stores it (infb_vae_groups_store).
 * Input: one byte of options, then the context, then (the VAE's kind) FUZZ_SEPARATOR and
 * group 0's result.  Bit 0: the linear-Gaussian kind, else the VAE's.  A context set up
 * without error is torn down again; with the VAE's kind its group 0's result is first
 * stored into a gap state of the context's n and K (with AIS room and traces for the AIS
 * phase).  A refused context or result must say why (a message).  Groups are not run:
 * they compute for long.  Seeds: the contexts tests/infer/vaegroups-t DIR and
 * tests/infer/lggroups-t DIR write (tests/fuzz/make-seeds); finding-*: what crashed the
 * parsers before they checked sizes.
 *
 * Memory: a VAE context's network (B·S rows per part) is allocated before the context's
 * bytes are read, and bounded there only by the node's memory; contexts whose network
 * would pass NET_FLOATS floats are skipped (the fuzzer's malloc limit), and no result is
 * stored into a gap state past STATE_ENTRIES entries (traces: TRACE_ENTRIES).  Sizes whose
 * product overflows are still set up: they must be refused. */
#include <config.h>
#include "fuzz/fuzz.h"
#include "core/error.h"
#include "infer/gapeval.h"
#include "infer/lggroups.h"
#include "infer/vaegroups.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { NET_FLOATS = 1 << 22, STATE_ENTRIES = 1000000, TRACE_ENTRIES = 100000 };

/* a·b, or SIZE_MAX when that overflows. */
static size_t
mul(size_t a, size_t b)
{
  return b && a > SIZE_MAX / b ? SIZE_MAX : a * b;
}

/* a + b, or SIZE_MAX when that overflows. */
static size_t
add(size_t a, size_t b)
{
  return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* A lower bound on the floats of the network that the context's settings describe (its
 * rows, times D, K and the hidden widths); SIZE_MAX when that overflows. */
static size_t
net_floats(const infb_vae_groups_settings *s)
{
  const infb_vae_arch *a = &s->arch;
  const size_t maxh = sizeof a->enc_hidden / sizeof a->enc_hidden[0];
  size_t width = add(a->D, a->K);
  for (size_t l = 0; l < a->nenc && l < maxh; l++)
    width = add(width, a->enc_hidden[l]);
  for (size_t l = 0; l < a->ndec && l < maxh; l++)
    width = add(width, a->dec_hidden[l]);
  return mul(mul(mul(s->B, s->S), s->parts), width);
}

/* Abort unless a refusal left a message. */
static void
refused(int st)
{
  if (st && !infb_error_message()[0])
    abort();
}

/* Store res (len bytes) as group 0's result of the served copy w. */
static void
store(const infb_vae_groups *w, const uint8_t *res, size_t len)
{
  const size_t n = w->set.n, K = w->set.arch.K;
  if (w->set.ngroups == 0 || mul(n + 1, K) > STATE_ENTRIES)
    return;
  infb_gap_state *s = infb_gap_state_alloc(n, K);
  if (!s || infb_gap_state_alloc_ais(s, n))
    abort();
  infb_ais_trace *t = NULL;
  double *tb = NULL;
  const size_t R = w->set.trace_rows, nt = w->set.ntrace;
  if (w->set.phase == INFB_VP_AIS && nt > 0 && mul(mul(nt, R), 4) <= TRACE_ENTRIES) {
    t = calloc(n, sizeof *t);
    tb = calloc(4 * nt * R + 1, sizeof *tb);
    if (!t || !tb)
      abort();
    for (size_t i = 0; i < nt && i < n; i++)
      t[i] = (infb_ais_trace){w->set.trace_stride, R, tb + 4 * i * R, tb + (4 * i + 1) * R,
                              tb + (4 * i + 2) * R, tb + (4 * i + 3) * R};
  }
  infb_error_clear();
  refused(infb_vae_groups_store(w, 0, res, len, s, t));
  free(t);
  free(tb);
  infb_gap_state_free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  fuzz_init();
  if (size < 1)
    return 0;
  const int lg = data[0] & 1u;
  const uint8_t *part[2];
  size_t len[2];
  size_t np = fuzz_split(data + 1, size - 1, part, len, 2);
  /* The context, in memory of its own (aligned, and ASan sees its end). */
  uint8_t *ctx = malloc(len[0] ? len[0] : 1);
  if (!ctx)
    abort();
  memcpy(ctx, part[0], len[0]);
  const infb_par_kind *kind = lg ? &infb_lg_groups_kind : &infb_vae_groups_kind;
  if (!lg && len[0] >= sizeof(infb_vae_groups_settings)) {
    infb_vae_groups_settings s;
    memcpy(&s, ctx, sizeof s);
    size_t f = net_floats(&s);
    if (f > NET_FLOATS && f != SIZE_MAX) {
      free(ctx);
      return 0;
    }
  }
  void *self = NULL;
  infb_error_clear();
  int st = kind->setup(ctx, len[0], &self);
  free(ctx);
  refused(st);
  if (st)
    return 0;
  if (!lg)
    store(self, np > 1 ? part[1] : (const uint8_t *)"", np > 1 ? len[1] : 0);
  kind->teardown(self);
  return 0;
}
