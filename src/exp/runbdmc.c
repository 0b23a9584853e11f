/* The BDMC stage of a VAE entry (see latentctx.h, infb_runvae_bdmc). */
#include <config.h> /* autoconf's, not exp/config.h */
#include "exp/latentctx.h"
#include "core/error.h"
#include "core/strparse.h"
#include "exp/results.h"
#include "exp/runshared.h"
#include "infer/bdmc.h"
#include "infer/gapeval.h"
#include "plot/truthfigs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Simulated points use rng streams far from the evaluated points'. */
#define BDMC_STREAM_OFFSET 2000000000u

/* The BDMC run's progress and saving. */
typedef struct {
  lctx *c;
  const lentry *e;
  size_t N, ntemps;
  const size_t *temps;
  double *v[6]; /* lower, lower_se, upper, upper_se, iwae, iwae_se */
} bdmc_ctx;

static const char *const arrays[6] = {"lower", "lower_se", "upper", "upper_se", "iwae",
                                      "iwae_se"};

static int
bdmc_progress(void *ctx, size_t temp, size_t done, size_t total)
{
  const bdmc_ctx *b = ctx;
  infb_run_progress_count(b->c->opt, done, total, "%s: BDMC with %zu temperatures (%zu of %zu)",
                          b->e->name, b->temps[temp], temp + 1, b->ntemps);
  return infb_run_interrupted(b->c->opt);
}

/* The record of settings [0, done): their per-point arrays (NAN as "nan"). */
static json_t *
record(const bdmc_ctx *b, size_t done)
{
  json_t *r = json_pack("{s:I, s:I}", "temps_done", (json_int_t)done, "points", (json_int_t)b->N);
  for (int k = 0; r && k < 6; k++) {
    size_t n = k < 4 ? done * b->N : b->N;
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
      json_array_append_new(a, isfinite(b->v[k][i]) ? json_real(b->v[k][i]) : json_string("nan"));
    if (!a || json_object_set_new(r, arrays[k], a)) {
      json_decref(r);
      r = NULL;
    }
  }
  return r;
}

static int
bdmc_save(void *ctx, size_t done)
{
  const bdmc_ctx *b = ctx;
  char hash[INFB_SHA256_HEX], legacy[INFB_SHA256_HEX];
  json_t *r = record(b, done);
  int st = r ? stage_hashes(b->c, INFB_STAGE_BDMC, hash, legacy) : GSL_ENOMEM;
  if (!st)
    st = infb_run_stage_save(b->c->dir, b->e->stem, INFB_STAGE_BDMC, hash, done == b->ntemps, r);
  json_decref(r);
  return infb_run_step_error(st, &b->c->write_failed, "BDMC");
}

/* Settings done in a record, its arrays read into b (0 when it does not fit). */
static size_t
restore(bdmc_ctx *b, const json_t *r)
{
  const json_t *d = json_object_get(r, "temps_done");
  if (!json_is_integer(d) || json_integer_value(d) < 0 ||
      (size_t)json_integer_value(d) > b->ntemps ||
      json_integer_value(json_object_get(r, "points")) != (json_int_t)b->N)
    return 0;
  size_t done = (size_t)json_integer_value(d);
  for (int k = 0; k < 6; k++) {
    size_t n = k < 4 ? done * b->N : b->N;
    const json_t *a = json_object_get(r, arrays[k]);
    if (json_array_size(a) != n)
      return 0;
    for (size_t i = 0; i < n; i++) {
      const json_t *x = json_array_get(a, i);
      b->v[k][i] = json_is_number(x) ? json_number_value(x) : NAN;
    }
  }
  return done;
}

/* Mean and se over the points where v is finite (errors mc, may be NULL). */
static infb_stat
finite_stat(const double *v, const double *mc, size_t n, double *tmp, double *tmp2)
{
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (isfinite(v[i])) {
      tmp[k] = v[i];
      tmp2[k++] = mc && isfinite(mc[i]) ? mc[i] : 0.0;
    }
  infb_stat s;
  infb_stat_of(tmp, mc ? tmp2 : NULL, k, &s);
  return s;
}

static json_t *
stat_obj(const infb_stat *s)
{
  if (s->n == 0)
    return json_null();
  json_t *o = json_pack("{s:o, s:o, s:I}", "mean", infb_json_number(s->mean), "se",
                        infb_json_number(s->se), "n", (json_int_t)s->n);
  if (o && isfinite(s->mc_se))
    json_object_set_new(o, "mc_se", infb_json_number(s->mc_se));
  return o;
}

/* The outputs: the TSVs and results.json's "bdmc". */
static int
outputs(bdmc_ctx *b, json_t *obj, const infb_ais_options *ao)
{
  const size_t N = b->N, nt = b->ntemps;
  double *t1 = infb_malloc(N, sizeof *t1), *t2 = infb_malloc(N, sizeof *t2);
  double *gap = infb_malloc(N, sizeof *gap), *gse = infb_malloc(N, sizeof *gse);
  double *rows = infb_malloc(nt * 9, sizeof *rows), *prow = infb_malloc(nt * N * 8, sizeof *prow);
  json_t *settings = json_array();
  int st = t1 && t2 && gap && gse && rows && prow && settings ? GSL_SUCCESS : GSL_ENOMEM;
  for (size_t j = 0; !st && j < nt; j++) {
    const double *lo = b->v[0] + j * N, *los = b->v[1] + j * N;
    const double *up = b->v[2] + j * N, *ups = b->v[3] + j * N;
    for (size_t i = 0; i < N; i++) {
      gap[i] = up[i] - lo[i];
      gse[i] = hypot(los[i], ups[i]);
      double *p = prow + (j * N + i) * 8;
      p[0] = (double)b->temps[j];
      p[1] = (double)i;
      p[2] = lo[i];
      p[3] = los[i];
      p[4] = up[i];
      p[5] = ups[i];
      p[6] = b->v[4][i];
      p[7] = b->v[5][i];
    }
    infb_stat sl = finite_stat(lo, los, N, t1, t2), su = finite_stat(up, ups, N, t1, t2);
    infb_stat sg = finite_stat(gap, gse, N, t1, t2), si = finite_stat(b->v[4], b->v[5], N, t1, t2);
    double *r = rows + 9 * j;
    r[0] = (double)b->temps[j];
    r[1] = sl.mean;
    r[2] = sl.se;
    r[3] = su.mean;
    r[4] = su.se;
    r[5] = sg.mean;
    r[6] = sg.se;
    r[7] = si.mean;
    r[8] = si.se;
    json_t *o = json_pack("{s:I, s:o, s:o, s:o, s:o}", "temperatures", (json_int_t)b->temps[j],
                          "lower", stat_obj(&sl), "upper", stat_obj(&su), "gap", stat_obj(&sg),
                          "iwae_encoder", stat_obj(&si));
    if (!o || json_array_append_new(settings, o))
      st = GSL_ENOMEM;
  }
  char file[160], pfile[160];
  snprintf(file, sizeof file, "bdmc-%s.tsv", b->e->stem);
  snprintf(pfile, sizeof pfile, "bdmc-%s-points.tsv", b->e->stem);
  if (!st) {
    const char *cols[] = {"temperatures", "lower", "lower_se", "upper", "upper_se",
                          "gap",          "gap_se", "iwae", "iwae_se"};
    st = infb_tsv_write(b->c->dir, file,
                        "BDMC on points simulated from the model: forward AIS (lower bound) and "
                        "reverse AIS (upper bound) of ln p(x), their gap, and the encoder's "
                        "IWAE; means and se over the points",
                        9, cols, nt, NULL, rows);
  }
  if (!st) {
    const char *cols[] = {"temperatures", "point", "lower", "lower_mc_se", "upper",
                          "upper_mc_se",  "iwae",  "iwae_mc_se"};
    st = infb_tsv_write(b->c->dir, pfile, "BDMC per simulated point (nats)", 8, cols, nt * N,
                        NULL, prow);
  }
  if (!st) {
    char stem[160];
    snprintf(stem, sizeof stem, "bdmc-%s", b->e->stem);
    st = infb_plot_bdmc_write(b->c->dir, stem, file, b->e->name);
  }
  if (!st) {
    json_t *bd = json_pack("{s:I, s:I, s:I, s:s, s:o}", "points", (json_int_t)N, "chains",
                           (json_int_t)ao->chains, "leapfrog", (json_int_t)ao->leapfrog,
                           "adapt", ao->adapt == INFB_AIS_FIXED ? "fixed" : "pilot",
                           "settings", settings);
    settings = NULL;
    st = bd ? json_object_set_new(obj, "bdmc", bd) ? GSL_ENOMEM : GSL_SUCCESS : GSL_ENOMEM;
  }
  json_decref(settings);
  free(t1);
  free(t2);
  free(gap);
  free(gse);
  free(rows);
  free(prow);
  return st;
}

int
infb_runvae_bdmc(lctx *c, const lentry *e, json_t *obj)
{
  size_t nt = 0;
  char **items = infb_strlist_split(infb_config_get(c->cfg, "bdmc", "temperatures"), &nt);
  size_t *temps = items ? infb_malloc(nt ? nt : 1, sizeof *temps) : NULL;
  int st = temps ? GSL_SUCCESS : GSL_ENOMEM;
  for (size_t j = 0; !st && j < nt; j++) {
    long v = 0;
    infb_parse_long(items[j], &v, NULL); /* checked by the config */
    temps[j] = (size_t)v;
  }
  infb_strlist_free(items);
  bdmc_ctx b = {c, e, (size_t)infb_config_int(c->cfg, "bdmc", "points"), nt, temps, {NULL}};
  for (int k = 0; !st && k < 6; k++)
    if (!(b.v[k] = infb_malloc((k < 4 ? nt : 1) * b.N, sizeof *b.v[k])))
      st = GSL_ENOMEM;
  infb_bdmc_options o;
  memset(&o, 0, sizeof o);
  infb_runlatent_ais_options(c, &o.ais);
  o.ais.init = INFB_AIS_PRIOR;
  if (o.ais.adapt == INFB_AIS_ONLINE)
    o.ais.adapt = INFB_AIS_PILOT; /* BDMC's bounds need frozen step sizes */
  o.points = b.N;
  o.temps = temps;
  o.ntemps = nt;
  o.iwae_k = strcmp(e->base, "meanfield") == 0 ? 0 : (size_t)infb_config_int(c->cfg, "evaluate", "iwae_k");
  o.first_index = BDMC_STREAM_OFFSET;
  o.seed = c->seed;
  o.save = bdmc_save;
  o.save_ctx = &b;
  o.progress = bdmc_progress;
  o.progress_ctx = &b;
  /* --resume: the settings recorded go on. */
  json_t *rec = NULL;
  int done = 0;
  char hash[INFB_SHA256_HEX], legacy[INFB_SHA256_HEX];
  if (!st && c->opt->resume && strcmp(e->base, "meanfield") != 0 &&
      !(st = stage_hashes(c, INFB_STAGE_BDMC, hash, legacy)))
    st = infb_run_stage_load(c->dir, e->stem, INFB_STAGE_BDMC, hash, legacy, &rec, &done);
  if (!st && rec) {
    o.first_temp = restore(&b, rec);
    if (o.first_temp)
      infb_run_progress(c->opt, "%s: BDMC goes on after %zu of %zu settings", e->name,
                        o.first_temp, nt);
  }
  json_decref(rec);
  if (strcmp(e->base, "meanfield") == 0)
    o.save = NULL; /* not staged: it runs again */
  if (!st && o.first_temp < nt)
    st = infb_bdmc_vae(e->vae, &o, NULL, b.v[0], b.v[1], b.v[2], b.v[3], b.v[4], b.v[5]);
  else if (!st && o.first_temp == nt && rec == NULL)
    st = GSL_SUCCESS;
  if (!st)
    st = infb_run_step_error(outputs(&b, obj, &o.ais), &c->write_failed, "BDMC outputs");
  for (int k = 0; k < 6; k++)
    free(b.v[k]);
  free(temps);
  return st;
}
