/* Tests of src/infer/lggroups: a linear-Gaussian job's context as a serving rank receives
 * it (the setup of infb_lg_groups_kind, par/sched.h), with and without the encoder's q:
 * the served copy holds the sender's settings, model (W, b, Ψ), X and q, and computes
 * group 0 to the same bytes as the original; a context cut short at any length, one with
 * a byte too many and one whose settings describe absurd sizes are refused with a
 * message.
 *
 *   tests/infer/lggroups-t [DIR]
 *
 * With DIR, the contexts are also written there as seeds of the fuzz target jobctx
 * (tests/fuzz/fuzz-jobctx.c; tests/fuzz/make-seeds). */
#include <config.h>
#include "tap/basic.h"
#include "core/error.h"
#include "infer/lggroups.h"
#include "model/lingauss.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_rng.h>

enum { D = 5, K = 2, N = 7, G = 3, FIRST = 4 };

typedef struct fixture {
  infb_lingauss *m;
  double X[N * D], EMU[N * K], ELV[N * K];
  infb_lg_groups w;
} fixture;

static void
fixture_init(fixture *f, int q)
{
  memset(f, 0, sizeof *f);
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, 3);
  f->m = infb_lingauss_alloc(D, K, 0);
  if (!f->m || infb_lingauss_random(f->m, r, 1.0, 1.0, 0.1, 0.5)) {
    printf("Bail out! a model: %s\n", infb_error_message());
    exit(1);
  }
  for (size_t i = 0; i < N * D; i++)
    f->X[i] = gsl_rng_uniform(r) - 0.5;
  for (size_t i = 0; i < N * K; i++) {
    f->EMU[i] = gsl_rng_uniform(r) - 0.5;
    f->ELV[i] = -1.0 - gsl_rng_uniform(r);
  }
  gsl_rng_free(r);
  infb_lg_groups_settings *s = &f->w.set;
  s->D = D;
  s->K = K;
  s->n = N;
  s->first_index = FIRST;
  s->q_mc = q;
  s->numeric = 1;
  s->init_given = q;
  s->q_samples = 4;
  infb_qstar_options_default(&s->qstar);
  s->qstar.samples = 4;
  s->qstar.max_steps = 20;
  s->qstar.check_every = 10;
  s->qstar.patience = 1;
  s->qstar.eval_samples = 8;
  s->qstar.batch_points = 2;
  s->qstar.seed = 7;
  s->G = G;
  s->ngroups = (N + G - 1) / G;
  f->w.m = f->m;
  f->w.X = f->X;
  f->w.EMU = q ? f->EMU : NULL;
  f->w.ELV = q ? f->ELV : NULL;
}

/* The status of refusing ctx (len bytes), −1 when it was set up or refused without a
 * message. */
static int
refusal(const void *ctx, size_t len)
{
  void *self = NULL;
  infb_error_clear();
  int st = infb_lg_groups_kind.setup(ctx, len, &self);
  if (!st) {
    infb_lg_groups_kind.teardown(self);
    return -1;
  }
  return infb_error_message()[0] ? st : -1;
}

static int
same_matrix(const gsl_matrix *a, const gsl_matrix *b)
{
  for (size_t i = 0; i < a->size1; i++)
    for (size_t j = 0; j < a->size2; j++)
      if (gsl_matrix_get(a, i, j) != gsl_matrix_get(b, i, j))
        return 0;
  return 1;
}

static int
same_vector(const gsl_vector *a, const gsl_vector *b)
{
  for (size_t i = 0; i < a->size; i++)
    if (gsl_vector_get(a, i) != gsl_vector_get(b, i))
      return 0;
  return 1;
}

/* One context: its round trip, group 0 on both sides, its cuts. */
static void
check_context(int q, const char *seeds)
{
  const char *name = q ? "with q" : "without q";
  fixture f;
  fixture_init(&f, q);
  void *ctx = NULL;
  size_t len = 0;
  ok(infb_lg_groups_context(&f.w, &ctx, &len) == 0, "%s: context made", name);
  void *self = NULL;
  infb_error_clear();
  int st = infb_lg_groups_kind.setup(ctx, len, &self);
  ok(st == 0, "%s: the %zu-byte context is set up (%s)", name, len, infb_error_message());
  if (!st) {
    const infb_lg_groups *c = self;
    infb_lg_groups_settings sent;
    memcpy(&sent, ctx, sizeof sent);
    ok(memcmp(&c->set, &sent, sizeof sent) == 0 && c->set.D == D && c->set.K == K &&
           c->set.n == N && c->set.G == G && c->set.ngroups == f.w.set.ngroups &&
           c->set.q_mc == q,
       "%s: the served settings are the original's", name);
    ok(c->m->D == D && c->m->K == K && same_matrix(c->m->W, f.m->W) &&
           same_vector(c->m->b, f.m->b) && same_vector(c->m->psi, f.m->psi) &&
           memcmp(c->X, f.X, sizeof f.X) == 0,
       "%s: the served W, b, psi and X are the original's", name);
    ok(q ? c->EMU && c->ELV && memcmp(c->EMU, f.EMU, sizeof f.EMU) == 0 &&
               memcmp(c->ELV, f.ELV, sizeof f.ELV) == 0
         : !c->EMU && !c->ELV,
       "%s: the served q is the original's", name);
    double r0[INFB_LG_GROUPS_PER_POINT * G], r1[INFB_LG_GROUPS_PER_POINT * G];
    size_t l0 = 0, l1 = 0;
    int s0 = infb_lg_groups_run(&f.w, 0, r0, &l0), s1 = infb_lg_groups_kind.run(self, 0, r1, &l1);
    ok(!s0 && !s1 && l0 == l1 && l0 == sizeof r0 && memcmp(r0, r1, l0) == 0,
       "%s: group 0 gives the same %zu bytes on the served copy", name, l0);
    infb_lg_groups_kind.teardown(self);
  } else {
    for (int i = 0; i < 4; i++)
      skip("%s: no served copy", name);
  }
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
  if (seeds) {
    char path[4096];
    snprintf(path, sizeof path, "%s/lg-%s", seeds, q ? "q" : "noq");
    FILE *fp = fopen(path, "wb");
    int bad = !fp || fputc(1, fp) == EOF || fwrite(ctx, 1, len, fp) != len;
    if ((fp && fclose(fp)) || bad)
      diag("could not write the seed %s", path);
  }
  free(ctx);
  infb_lingauss_free(f.m);
}

/* A context with q whose settings are changed by fn and whose last trim bytes are cut
 * off, refused with status want. */
typedef void (*edit_fn)(infb_lg_groups_settings *s, int *q);

static void
absurd_trim(const char *what, int want, edit_fn fn, size_t trim)
{
  fixture f;
  fixture_init(&f, 1);
  void *ctx = NULL;
  size_t len = 0;
  if (infb_lg_groups_context(&f.w, &ctx, &len)) {
    ok(0, "absurd %s: a context", what);
    return;
  }
  infb_lg_groups_settings s;
  int q;
  memcpy(&s, ctx, sizeof s);
  memcpy(&q, (char *)ctx + sizeof s, sizeof q);
  fn(&s, &q);
  memcpy(ctx, &s, sizeof s);
  memcpy((char *)ctx + sizeof s, &q, sizeof q);
  is_int(want, refusal(ctx, len - trim), "absurd %s: refused with a message (%s)", what,
         infb_error_message());
  free(ctx);
  infb_lingauss_free(f.m);
}

static void
absurd(const char *what, int want, edit_fn fn)
{
  absurd_trim(what, want, fn, 0);
}

static void e_d0(infb_lg_groups_settings *s, int *q) { (void)q; s->D = 0; }
static void e_k0(infb_lg_groups_settings *s, int *q) { (void)q; s->K = 0; }
static void e_kd(infb_lg_groups_settings *s, int *q) { (void)q; s->K = D; }
static void e_d_huge(infb_lg_groups_settings *s, int *q) { (void)q; s->D = (size_t)1 << 40; }
static void e_dk_wrap(infb_lg_groups_settings *s, int *q) { (void)q; s->D = SIZE_MAX / 2; s->K = 4; }
static void e_n_huge(infb_lg_groups_settings *s, int *q) { (void)q; s->n = SIZE_MAX / 4; s->ngroups = s->n / G + (s->n % G != 0); }
static void e_n_more(infb_lg_groups_settings *s, int *q) { (void)q; s->n = N + 1; s->ngroups = (N + 1 + G - 1) / G; }
static void e_g0(infb_lg_groups_settings *s, int *q) { (void)q; s->G = 0; }
static void e_ng(infb_lg_groups_settings *s, int *q) { (void)q; s->ngroups = SIZE_MAX; }
static void e_ng1(infb_lg_groups_settings *s, int *q) { (void)q; s->ngroups += 1; }
static void e_q(infb_lg_groups_settings *s, int *q) { (void)s; *q = 0; }

int
main(int argc, char **argv)
{
  plan(2 * 8 + 11);
  const char *seeds = argc > 1 ? argv[1] : NULL;
  check_context(1, seeds);
  check_context(0, seeds);
  absurd("D = 0", GSL_EINVAL, e_d0);
  absurd("K = 0", GSL_EINVAL, e_k0);
  absurd("K = D", GSL_EINVAL, e_kd);
  absurd("D = 2^40", GSL_EBADLEN, e_d_huge);
  absurd("D·K past SIZE_MAX", GSL_EBADLEN, e_dk_wrap);
  absurd("n = SIZE_MAX/4", GSL_EBADLEN, e_n_huge);
  absurd("n one more than X holds", GSL_EBADLEN, e_n_more);
  absurd("G = 0", GSL_EINVAL, e_g0);
  absurd("ngroups = SIZE_MAX", GSL_EINVAL, e_ng);
  absurd("one group more than n and G make", GSL_EINVAL, e_ng1);
  /* Without the encoder's q (its 2·n·K doubles cut off), L[q] and q*'s start at it. */
  absurd_trim("L[q] by Monte Carlo without q", GSL_EINVAL, e_q, 2 * N * K * sizeof(double));
  infb_lg_groups_kind.teardown(NULL);
  return test_done();
}
