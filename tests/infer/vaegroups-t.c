/* Tests of src/infer/vaegroups: a job's context as a serving rank receives it (the setup
 * of infb_vae_groups_kind, par/sched.h) for every phase of a tiny VAE (16-8-2, ELU):
 * the served copy holds the sender's settings, groups, parameters, X, MU, LV and Z, and
 * computes group 0 to the same bytes as the original (the row contract, vaegroups.h);
 * a context cut short at any length, one with a byte too many and one whose settings
 * describe absurd sizes are refused with a message; and a group's result as rank 0
 * stores it (infb_vae_groups_store), which refuses a result of another length, another
 * group, a state too small, and counts or statuses that are not integers.
 *
 *   tests/infer/vaegroups-t [DIR]
 *
 * With DIR, the contexts and group 0's results are also written there as seeds of the
 * fuzz target jobctx (tests/fuzz/fuzz-jobctx.c; tests/fuzz/make-seeds). */
#include <config.h>
#include "tap/basic.h"
#include "core/error.h"
#include "fuzz/fuzz.h"
#include "infer/gapeval.h"
#include "infer/vaegroups.h"
#include "nn/vae.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_rng.h>

enum { D = 16, K = 2, H = 8, N = 8, G = 3, FIRST = 5, NPHASES = 7 };

static const char *const phase_names[NPHASES] = {"lq",   "qstar", "iwae-encoder", "iwae-qstar",
                                                 "ais",  "bdmc",  "quadrature"};

/* The original: rank 0's network, points and groups. */
typedef struct fixture {
  infb_vae_f32 *v;
  infb_vae_decoder *dec;
  float X[N * D], MU[N * K], LV[N * K];
  double Xd[N * D], Z[N * K];
  infb_vae_groups w;
} fixture;

static void
fixture_init(fixture *f)
{
  memset(f, 0, sizeof *f);
  infb_vae_arch a = {.D = D, .K = K, .nenc = 1, .ndec = 1, .act = INFB_ACT_ELU};
  a.enc_hidden[0] = H;
  a.dec_hidden[0] = H;
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, 11);
  f->v = infb_vae_alloc_f32(&a, 2, 64);
  if (!f->v || infb_vae_init_f32(f->v, r) || !(f->dec = infb_vae_decoder_alloc(f->v, 2 * 64))) {
    printf("Bail out! the tiny VAE: %s\n", infb_error_message());
    exit(1);
  }
  for (size_t i = 0; i < N * D; i++)
    f->Xd[i] = f->X[i] = (float)gsl_rng_uniform(r);
  for (size_t i = 0; i < N * K; i++) {
    f->MU[i] = (float)(gsl_rng_uniform(r) - 0.5);
    f->LV[i] = (float)(-1.0 - gsl_rng_uniform(r));
    f->Z[i] = gsl_rng_uniform(r) - 0.5;
  }
  gsl_rng_free(r);
  infb_vae_groups_settings *s = &f->w.set;
  s->arch = a;
  s->n = N;
  s->first_index = FIRST;
  s->B = 2;
  s->S = 64;
  s->parts = 1;
  s->q_samples = 4;
  s->iwae_k = 8;
  s->has_q = 1;
  infb_qstar_options_default(&s->qstar);
  s->qstar.samples = 4;
  s->qstar.max_steps = 20;
  s->qstar.check_every = 10;
  s->qstar.patience = 1;
  s->qstar.eval_samples = 8;
  s->qstar.batch_points = 2;
  s->qstar.seed = 7;
  s->quad_L = 4.0;
  s->quad_n = 8;
  f->w.v = f->v;
  f->w.dec = f->dec;
  f->w.X = f->X;
  f->w.Xd = f->Xd;
}

/* Set f up for phase p: its q, its AIS options, its groups. */
static void
fixture_phase(fixture *f, int p)
{
  infb_vae_groups *w = &f->w;
  w->set.phase = p;
  w->set.qstar_init = p == INFB_VP_QSTAR;
  const int mu = p == INFB_VP_LQ || p == INFB_VP_QSTAR || p == INFB_VP_IWAE_QSTAR;
  w->MU = mu ? f->MU : NULL;
  w->LV = mu ? f->LV : NULL;
  w->Z = p == INFB_VP_BDMC ? f->Z : NULL;
  memset(&w->set.ais, 0, sizeof w->set.ais);
  w->set.ntrace = w->set.trace_stride = w->set.trace_rows = 0;
  if (p == INFB_VP_AIS || p == INFB_VP_BDMC) {
    infb_ais_options_default(&w->set.ais);
    w->set.ais.chains = 3;
    w->set.ais.temperatures = 10;
    w->set.ais.leapfrog = 2;
    w->set.ais.pilot_chains = 2;
    w->set.ais.tile_points = 4;
    w->set.ais.seed = 7;
    w->set.ais.init = p == INFB_VP_AIS ? INFB_AIS_ENCODER : INFB_AIS_PRIOR;
  }
  if (p == INFB_VP_AIS) {
    w->set.ntrace = 2;
    w->set.trace_stride = 5;
    w->set.trace_rows = infb_ais_trace_rows(10, 5);
  }
  if (infb_vae_groups_cut(w, 0, N, G, 1)) {
    printf("Bail out! cut: %s\n", infb_error_message());
    exit(1);
  }
}

/* The status of refusing ctx (len bytes), −1 when it was set up or refused without a
 * message. */
static int
refusal(const void *ctx, size_t len)
{
  void *self = NULL;
  infb_error_clear();
  int st = infb_vae_groups_kind.setup(ctx, len, &self);
  if (!st) {
    infb_vae_groups_kind.teardown(self);
    return -1;
  }
  return infb_error_message()[0] ? st : -1;
}

/* Write a seed of the fuzz target jobctx: options byte 0, the context, the result. */
static void
write_seed(const char *dir, const char *name, const void *ctx, size_t clen, const void *res,
           size_t rlen)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/vae-%s", dir, name);
  const size_t sl = strlen(FUZZ_SEPARATOR);
  for (size_t i = 0; i + sl <= clen; i++)
    if (memcmp((const char *)ctx + i, FUZZ_SEPARATOR, sl) == 0)
      diag("the seed %s holds the separator: its result is not read", path);
  FILE *fp = fopen(path, "wb");
  int bad = !fp || fputc(0, fp) == EOF || fwrite(ctx, 1, clen, fp) != clen ||
            fputs(FUZZ_SEPARATOR, fp) == EOF || fwrite(res, 1, rlen, fp) != rlen;
  if ((fp && fclose(fp)) || bad)
    diag("could not write the seed %s", path);
}

/* A gap state of N points with AIS room, and AIS traces for the traced points. */
typedef struct sink {
  infb_gap_state *s;
  infb_ais_trace t[N];
  double tb[N * 4 * 8];
} sink;

static void
sink_init(sink *k, const infb_vae_groups_settings *set)
{
  k->s = infb_gap_state_alloc(N, K);
  if (!k->s || infb_gap_state_alloc_ais(k->s, N)) {
    printf("Bail out! a gap state\n");
    exit(1);
  }
  memset(k->t, 0, sizeof k->t);
  const size_t R = set->trace_rows;
  for (size_t i = 0; i < set->ntrace; i++)
    k->t[i] = (infb_ais_trace){set->trace_stride, R, k->tb + 4 * i * R, k->tb + (4 * i + 1) * R,
                               k->tb + (4 * i + 2) * R, k->tb + (4 * i + 3) * R};
}

/* The status of storing res (len bytes) as group g of w into a fresh state, −1 when refused
 * without a message; *first receives the state's entry of the group's first point
 * (the phase's first column). */
static int
store(const infb_vae_groups *w, size_t g, const void *res, size_t len, double *first)
{
  sink k;
  sink_init(&k, &w->set);
  infb_error_clear();
  int st = infb_vae_groups_store(w, g, res, len, k.s, k.t);
  const size_t a = w->start[g < w->set.ngroups ? g : 0];
  switch (w->set.phase) {
  case INFB_VP_LQ:
    *first = k.s->q_elbo[a];
    break;
  case INFB_VP_QSTAR:
    *first = k.s->qs_elbo[a];
    break;
  case INFB_VP_IWAE_ENCODER:
  case INFB_VP_IWAE_QSTAR:
    *first = k.s->iw[w->set.phase == INFB_VP_IWAE_QSTAR][a];
    break;
  default:
    *first = k.s->ais_lp[a];
  }
  infb_gap_state_free(k.s);
  return st && !infb_error_message()[0] ? -1 : st;
}

/* One phase: the context, its round trip, group 0 on both sides, cuts, the store. */
static void
check_phase(fixture *f, int p, const char *seeds)
{
  const char *name = phase_names[p];
  fixture_phase(f, p);
  infb_vae_groups *w = &f->w;
  void *ctx = NULL;
  size_t len = 0;
  ok(infb_vae_groups_context(w, &ctx, &len) == 0, "%s: context of %zu groups made", name,
     w->set.ngroups);
  void *self = NULL;
  infb_error_clear();
  int st = infb_vae_groups_kind.setup(ctx, len, &self);
  ok(st == 0, "%s: the %zu-byte context is set up (%s)", name, len, infb_error_message());
  if (st) {
    for (int i = 0; i < 7; i++)
      skip("%s: no served copy", name);
    free(ctx);
    return;
  }
  const infb_vae_groups *c = self;
  /* The settings as sent: the original's, with the network's parameter count and what
   * the context holds. */
  infb_vae_groups_settings sent;
  memcpy(&sent, ctx, sizeof sent);
  size_t np = 0;
  const float *params = infb_vae_params_f32(f->v, &np);
  ok(memcmp(&c->set, &sent, sizeof sent) == 0 && c->set.phase == p && c->set.n == N &&
         c->set.first_index == FIRST && c->set.arch.D == D && c->set.arch.K == K &&
         c->set.arch.enc_hidden[0] == H && c->set.B == w->set.B && c->set.S == w->set.S &&
         c->set.ngroups == w->set.ngroups && c->set.nparams == np &&
         c->set.ais.tile_points == w->set.ais.tile_points &&
         c->set.trace_rows == w->set.trace_rows && c->set.has_mu == (w->MU != NULL) &&
         c->set.has_z == (w->Z != NULL),
     "%s: the served settings are the original's (%zu parameters)", name, np);
  size_t cnp = 0;
  const float *cparams = infb_vae_params_f32(c->v, &cnp);
  int same = cnp == np && memcmp(cparams, params, np * sizeof *params) == 0 &&
             memcmp(c->start, w->start, (w->set.ngroups + 1) * sizeof *w->start) == 0 &&
             memcmp(c->X, f->X, sizeof f->X) == 0;
  for (size_t i = 0; same && i < N * D; i++)
    same = c->Xd[i] == f->Xd[i];
  ok(same, "%s: the served groups, parameters, X and its doubles are the original's", name);
  if (w->MU)
    ok(c->MU && c->LV && memcmp(c->MU, f->MU, sizeof f->MU) == 0 &&
           memcmp(c->LV, f->LV, sizeof f->LV) == 0 && !c->Z,
       "%s: the served MU and LV are the original's", name);
  else if (w->Z)
    ok(c->Z && memcmp(c->Z, f->Z, sizeof f->Z) == 0 && !c->MU && !c->LV,
       "%s: the served Z is the original's", name);
  else
    ok(!c->MU && !c->LV && !c->Z, "%s: no MU, LV or Z served", name);

  /* Group 0 on the served copy and on the original: the same bytes. */
  const size_t rmax = infb_vae_groups_result_max(w);
  double *r0 = calloc(rmax / sizeof(double) + 1, sizeof *r0);
  double *r1 = calloc(rmax / sizeof(double) + 1, sizeof *r1);
  size_t l0 = 0, l1 = 0;
  int s0 = infb_vae_groups_run(w, 0, r0, &l0);
  int s1 = infb_vae_groups_kind.run(self, 0, r1, &l1);
  ok(!s0 && !s1 && l0 == l1 && l0 > 0 && l0 <= rmax && memcmp(r0, r1, l0) == 0,
     "%s: group 0 (%zu points) gives the same %zu bytes on the served copy", name,
     w->start[1] - w->start[0], l0);
  if (seeds)
    write_seed(seeds, name, ctx, len, r0, l0);
  infb_vae_groups_kind.teardown(self);

  /* Every cut of the context, and one byte too many, refused with a message. */
  size_t cuts = 0;
  for (size_t l = 0; l < len; l++)
    cuts += refusal(ctx, l) > 0;
  ok(cuts == len, "%s: each of the %zu cuts of the context is refused with a message (%zu)",
     name, len, cuts);
  char *more = malloc(len + 1);
  memcpy(more, ctx, len);
  more[len] = 0;
  is_int(GSL_EBADLEN, refusal(more, len + 1), "%s: a context with a byte too many is refused",
         name);
  free(more);

  /* The result stored as rank 0 stores it (L[q] … AIS; BDMC and the quadrature are
   * committed by their own jobs). */
  double first = NAN;
  st = store(w, 0, r0, l0, &first);
  if (p <= INFB_VP_AIS)
    ok(st == 0 && first == r0[0], "%s: group 0's result is stored (%s)", name,
       infb_error_message());
  else
    is_int(GSL_EINVAL, st, "%s: its result is not stored in a gap state", name);
  free(r0);
  free(r1);
  free(ctx);
}

/* What store refuses: results of group 0 (of the original w) that no rank computes. */
static void
check_store_refusals(fixture *f)
{
  double first;
  /* q*: per point ELBO, error, steps, stop, then μ and ln σ². */
  fixture_phase(f, INFB_VP_QSTAR);
  const infb_vae_groups *w = &f->w;
  const size_t m = w->start[1] - w->start[0], lq = m * (4 + 2 * K);
  double *r = calloc(lq, sizeof *r);
  is_int(0, store(w, 0, r, lq * sizeof *r, &first), "store: a q* result of zeros is stored");
  is_int(GSL_EBADLEN, store(w, 0, r, lq * sizeof *r - 1, &first),
         "store: a result a byte short is refused");
  is_int(GSL_EBADLEN, store(w, 0, r, (lq + 1) * sizeof *r, &first),
         "store: a result a double too long is refused");
  is_int(GSL_EINVAL, store(w, w->set.ngroups, r, lq * sizeof *r, &first),
         "store: group %zu of %zu is refused", w->set.ngroups, w->set.ngroups);
  const double bad[] = {NAN, -1.0, 0.5, 1e300, INFINITY};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    r[2 * m] = bad[i];
    is_int(GSL_EINVAL, store(w, 0, r, lq * sizeof *r, &first),
           "store: q*'s step count %g is refused", bad[i]);
    r[2 * m] = 0.0;
  }
  r[3 * m + 1] = 3e9;
  is_int(GSL_EINVAL, store(w, 0, r, lq * sizeof *r, &first), "store: q*'s stop 3e9 is refused");
  r[3 * m + 1] = NAN;
  is_int(GSL_EINVAL, store(w, 0, r, lq * sizeof *r, &first), "store: q*'s stop NaN is refused");
  free(r);
  /* IWAE: value, error, k̂, k̂'s status. */
  fixture_phase(f, INFB_VP_IWAE_QSTAR);
  r = calloc(4 * m, sizeof *r);
  r[3 * m] = -0.5;
  is_int(GSL_EINVAL, store(w, 0, r, 4 * m * sizeof *r, &first),
         "store: k-hat's status -0.5 is refused");
  free(r);
  /* AIS: 7 per point, then the traced points' traces. */
  fixture_phase(f, INFB_VP_AIS);
  const size_t ma = w->start[1] - w->start[0];
  size_t la = 7 * ma;
  for (size_t i = w->start[0]; i < w->start[1]; i++)
    la += i < w->set.ntrace ? 4 * w->set.trace_rows : 0;
  r = calloc(la, sizeof *r);
  is_int(0, store(w, 0, r, la * sizeof *r, &first), "store: an AIS result of zeros is stored");
  r[6 * ma] = -INFINITY;
  is_int(GSL_EINVAL, store(w, 0, r, la * sizeof *r, &first),
         "store: AIS's low-ESS flag -inf is refused");
  r[6 * ma] = 0.0;
  r[5 * ma] = 1e10;
  is_int(GSL_EINVAL, store(w, 0, r, la * sizeof *r, &first),
         "store: AIS's status 1e10 is refused");
  r[5 * ma] = 0.0;
  /* A state smaller than the groups (rank 0's own mistake, refused all the same). */
  infb_gap_state *s = infb_gap_state_alloc(N, K);
  infb_gap_state_alloc_ais(s, w->start[1] - 1);
  infb_error_clear();
  int st = infb_vae_groups_store(w, 0, r, la * sizeof *r, s, NULL);
  is_int(GSL_EBADLEN, st, "store: a state with AIS room for %zu points is refused (%s)",
         w->start[1] - 1, infb_error_message());
  infb_gap_state_free(s);
  free(r);
}

/* A context of f's L[q] with its settings and groups changed by fn and its last trim
 * bytes cut off, refused with status want. */
typedef void (*edit_fn)(infb_vae_groups_settings *s, size_t *start);

static void
absurd_trim(fixture *f, const char *what, int want, edit_fn fn, size_t trim)
{
  fixture_phase(f, INFB_VP_LQ);
  void *ctx = NULL;
  size_t len = 0;
  if (infb_vae_groups_context(&f->w, &ctx, &len)) {
    ok(0, "absurd %s: a context", what);
    return;
  }
  infb_vae_groups_settings s;
  memcpy(&s, ctx, sizeof s);
  fn(&s, (size_t *)((char *)ctx + sizeof s));
  memcpy(ctx, &s, sizeof s);
  int st = refusal(ctx, len - trim);
  is_int(want, st, "absurd %s: refused with a message (%s)", what, infb_error_message());
  free(ctx);
}

static void
absurd(fixture *f, const char *what, int want, edit_fn fn)
{
  absurd_trim(f, what, want, fn, 0);
}

static void e_n_huge(infb_vae_groups_settings *s, size_t *g) { (void)g; s->n = SIZE_MAX / 2; }
static void e_n_more(infb_vae_groups_settings *s, size_t *g) { (void)g; s->n = N + 1; }
static void e_nd_wrap(infb_vae_groups_settings *s, size_t *g) { (void)g; s->n = SIZE_MAX / D + 2; }
static void e_d_zero(infb_vae_groups_settings *s, size_t *g) { (void)g; s->arch.D = 0; }
static void e_d_huge(infb_vae_groups_settings *s, size_t *g) { (void)g; s->arch.D = (size_t)1 << 40; }
static void e_k_huge(infb_vae_groups_settings *s, size_t *g) { (void)g; s->arch.K = SIZE_MAX / 4; }
static void e_width(infb_vae_groups_settings *s, size_t *g) { (void)g; s->arch.enc_hidden[0] = (size_t)1 << 40; }
static void e_width0(infb_vae_groups_settings *s, size_t *g) { (void)g; s->arch.dec_hidden[0] = 0; }
static void e_nenc(infb_vae_groups_settings *s, size_t *g) { (void)g; s->arch.nenc = 9; }
static void e_act(infb_vae_groups_settings *s, size_t *g) { (void)g; s->arch.act = (enum infb_act)99; }
static void e_np(infb_vae_groups_settings *s, size_t *g) { (void)g; s->nparams = SIZE_MAX / 4 + 1; }
static void e_np1(infb_vae_groups_settings *s, size_t *g) { (void)g; s->nparams += 1; }
static void e_ng(infb_vae_groups_settings *s, size_t *g) { (void)g; s->ngroups = SIZE_MAX; }
static void e_ng2(infb_vae_groups_settings *s, size_t *g) { (void)g; s->ngroups = SIZE_MAX / 8; }
static void e_b0(infb_vae_groups_settings *s, size_t *g) { (void)g; s->B = 0; }
static void e_b(infb_vae_groups_settings *s, size_t *g) { (void)g; s->B = (size_t)1 << 40; }
static void e_bs(infb_vae_groups_settings *s, size_t *g) { (void)g; s->B = s->S = (size_t)1 << 33; }
static void e_s0(infb_vae_groups_settings *s, size_t *g) { (void)g; s->S = 0; }
static void e_parts0(infb_vae_groups_settings *s, size_t *g) { (void)g; s->parts = 0; }
static void e_parts(infb_vae_groups_settings *s, size_t *g) { (void)g; s->parts = INFB_VAE_MAX_PARTS + 1; }
static void e_phase(infb_vae_groups_settings *s, size_t *g) { (void)g; s->phase = INFB_VP_QUADRATURE + 1; }
static void e_phase_neg(infb_vae_groups_settings *s, size_t *g) { (void)g; s->phase = -1; }
static void e_tile0(infb_vae_groups_settings *s, size_t *g) { (void)g; s->phase = INFB_VP_AIS; s->ais.tile_points = 0; }
static void e_tile(infb_vae_groups_settings *s, size_t *g) { (void)g; s->phase = INFB_VP_AIS; s->ais.tile_points = SIZE_MAX; s->ais.chains = 1; }
static void e_ntrace(infb_vae_groups_settings *s, size_t *g) { (void)g; s->phase = INFB_VP_AIS; s->ais.tile_points = 1; s->ais.chains = 1; s->ntrace = N + 1; s->trace_rows = 1; }
static void e_rows(infb_vae_groups_settings *s, size_t *g) { (void)g; s->phase = INFB_VP_AIS; s->ais.tile_points = 1; s->ais.chains = 1; s->ntrace = 1; s->trace_rows = SIZE_MAX / 8; }
static void e_down(infb_vae_groups_settings *s, size_t *g) { (void)s; g[1] = g[2] + 1; }
static void e_past(infb_vae_groups_settings *s, size_t *g) { g[s->ngroups] = N + 1; }
static void e_nomu(infb_vae_groups_settings *s, size_t *g) { (void)g; s->has_mu = 0; }

int
main(int argc, char **argv)
{
  plan(NPHASES * 9 + 16 + 32);
  const char *seeds = argc > 1 ? argv[1] : NULL;
  fixture f;
  fixture_init(&f);
  for (int p = 0; p < NPHASES; p++)
    check_phase(&f, p, seeds);
  check_store_refusals(&f);

  /* Settings that no sender makes, each refused before anything is sized from it. */
  absurd(&f, "n = SIZE_MAX/2", GSL_EBADLEN, e_n_huge);
  absurd(&f, "n one more than X holds", GSL_EBADLEN, e_n_more);
  absurd(&f, "n·D past SIZE_MAX", GSL_EBADLEN, e_nd_wrap);
  absurd(&f, "D = 0", GSL_EINVAL, e_d_zero);
  absurd(&f, "D = 2^40", GSL_EBADLEN, e_d_huge);
  absurd(&f, "K = SIZE_MAX/4", GSL_EBADLEN, e_k_huge);
  absurd(&f, "an encoder width of 2^40", GSL_EBADLEN, e_width);
  absurd(&f, "a decoder width of 0", GSL_EINVAL, e_width0);
  absurd(&f, "9 encoder layers", GSL_EINVAL, e_nenc);
  absurd(&f, "activation 99", GSL_EINVAL, e_act);
  absurd(&f, "nparams = SIZE_MAX/4 + 1", GSL_EBADLEN, e_np);
  absurd(&f, "one parameter more than the network has", GSL_EBADLEN, e_np1);
  absurd(&f, "ngroups = SIZE_MAX", GSL_EBADLEN, e_ng);
  absurd(&f, "ngroups = SIZE_MAX/8", GSL_EBADLEN, e_ng2);
  absurd(&f, "B = 0", GSL_EINVAL, e_b0);
  absurd(&f, "B = 2^40", GSL_EINVAL, e_b);
  absurd(&f, "B = S = 2^33", GSL_EINVAL, e_bs);
  absurd(&f, "S = 0", GSL_EINVAL, e_s0);
  absurd(&f, "parts = 0", GSL_EINVAL, e_parts0);
  absurd(&f, "parts past INFB_VAE_MAX_PARTS", GSL_EINVAL, e_parts);
  absurd(&f, "phase past the last", GSL_EINVAL, e_phase);
  absurd(&f, "phase -1", GSL_EINVAL, e_phase_neg);
  absurd(&f, "AIS with tile_points = 0", GSL_EINVAL, e_tile0);
  absurd(&f, "AIS with tile_points = SIZE_MAX", GSL_EINVAL, e_tile);
  absurd(&f, "AIS traces of more points than n", GSL_EINVAL, e_ntrace);
  absurd(&f, "AIS traces of SIZE_MAX/8 rows", GSL_EINVAL, e_rows);
  absurd(&f, "groups going down", GSL_EINVAL, e_down);
  absurd(&f, "groups ending past n", GSL_EINVAL, e_past);
  absurd_trim(&f, "L[q] without MU and LV", GSL_EINVAL, e_nomu, 2 * N * K * sizeof(float));
  /* A short settings struct, and nothing at all. */
  is_int(GSL_EBADLEN, refusal("", 0), "an empty context is refused");
  infb_vae_groups_settings zero;
  memset(&zero, 0, sizeof zero);
  is_int(GSL_EINVAL, refusal(&zero, sizeof zero), "settings of zeros alone are refused");
  infb_vae_groups_kind.teardown(NULL);
  ok(1, "teardown(NULL) is a no-op");

  free(f.w.start);
  infb_vae_decoder_free(f.dec);
  infb_vae_free_f32(f.v);
  return test_done();
}
