/* The latent-model runner (see runlatent.h): data → each estimator's fit → the gap report
 * on the first [evaluate] points of each split → results.json, TSVs and figures.  The
 * model families bring their data and fits (runlingauss.c, runvae.c; latentctx.h); this
 * file drives the entries and writes the gap report, split by split (recorded stage by
 * stage for --resume on the VAE), and the outputs both families share.
 * Estimators see the data in working units (standardised when [data] standardize = yes);
 * parameters and log-densities are reported in original units (ln p shifts by −Σ ln sd,
 * gaps are invariant). */
#include <config.h> /* autoconf's, not exp/config.h */
#include "exp/runlatent.h"
#include "core/clock.h"
#include "core/error.h"
#include "exp/gapreport.h"
#include "infer/ais.h"
#include "infer/psis.h"
#include "plot/truthfigs.h"
#include "exp/gapstate.h"
#include "exp/latentctx.h"
#include "exp/results.h"
#include "exp/runshared.h"
#include "infer/gapeval.h"
#include "infer/latent.h"
#include "infer/vaemf.h"
#include "nn/vae.h"
#include "par/par.h"
#include "par/sched.h"
#include "plot/gnuplot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_math.h>

/* The VAE gap report's progress comes in about this many groups of points per phase. */
#define PROGRESS_GROUPS 20

static const char *split_name[2] = {"train", "test"};

/* ------------------------------------------------------------------ reporting */

static json_t *
stat_json(const infb_stat *s)
{
  if (s->n == 0 || !isfinite(s->mean))
    return json_null();
  json_t *o = json_pack("{s:o, s:o, s:I}", "mean", infb_json_number(s->mean), "se",
                        infb_json_number(s->se), "n", (json_int_t)s->n);
  if (isfinite(s->mc_se))
    json_object_set_new(o, "mc_se", infb_json_number(s->mc_se));
  return o;
}

/* Shift a log-density statistic from working to original units. */
static infb_stat
shifted(infb_stat s, double by)
{
  if (s.n)
    s.mean += by;
  return s;
}

/* Append a gaps.tsv row (10 numbers) and return it (NULL on ENOMEM, error raised). */
static double *
push_gap_row(lctx *c, const char *label)
{
  size_t k = c->ngaprows;
  double *rows = realloc(c->gaprows, (k + 1) * 10 * sizeof *rows);
  const char **labels = realloc(c->gaplabels, (k + 1) * sizeof *labels);
  if (rows)
    c->gaprows = rows;
  if (labels)
    c->gaplabels = labels;
  if (!rows || !labels)
    INFB_ERROR_NULL(GSL_ENOMEM, "out of memory");
  c->gaplabels[k] = label;
  c->ngaprows = k + 1;
  return c->gaprows + k * 10;
}

static int
add_gap_row(lctx *c, const char *label, int split, const infb_gap_report *r)
{
  double *v = push_gap_row(c, label);
  if (!v)
    return GSL_ENOMEM;
  v[0] = split;
  v[1] = r->approximation_gap.mean;
  v[2] = r->approximation_gap.se;
  v[3] = r->has_encoder ? r->amortization_gap.mean : NAN;
  v[4] = r->has_encoder ? r->amortization_gap.se : NAN;
  v[5] = r->has_encoder ? r->inference_gap.mean : NAN;
  v[6] = r->has_encoder ? r->inference_gap.se : NAN;
  v[7] = r->log_px.mean - c->log_jacobian;
  v[8] = r->elbo_qstar.mean - c->log_jacobian;
  v[9] = r->has_encoder ? r->elbo_q.mean - c->log_jacobian : NAN;
  return GSL_SUCCESS;
}

/* The per-point TSV's own columns, before its methods' (exp/gapreport.h). */
#define NPOINT_COLS 10
static const char *const point_cols[NPOINT_COLS] = {
    "index",  "log_px",           "elbo_qstar",       "elbo_qstar_numeric", "elbo_qstar_numeric_mc_se",
    "elbo_q", "approximation_gap", "amortization_gap", "inference_gap",      "qstar_steps"};

/* khat-STEM.gp: the PSIS k̂ of each IWAE proposal (train and, when evaluated, test). */
static int
write_khat_figure(const lctx *c, const lentry *e, const infb_gap_report *r, int both)
{
  size_t nm = 0;
  const char **mnames = NULL;
  char *pool = NULL;
  int st = infb_gapreport_columns(r, &nm, &mnames, &pool);
  const char **cols = st ? NULL : infb_malloc(NPOINT_COLS + nm, sizeof *cols);
  int any = 0;
  for (size_t j = 0; j < nm; j++)
    any |= strlen(mnames[j]) > 5 && strcmp(mnames[j] + strlen(mnames[j]) - 5, "_khat") == 0;
  if (cols && any) {
    memcpy(cols, point_cols, NPOINT_COLS * sizeof *cols);
    memcpy(cols + NPOINT_COLS, mnames, nm * sizeof *cols);
    char tr[128], te[128], stem[128];
    snprintf(stem, sizeof stem, "khat-%s", e->stem);
    snprintf(tr, sizeof tr, "gaps-%s-train.tsv", e->stem);
    snprintf(te, sizeof te, "gaps-%s-test.tsv", e->stem);
    st = infb_plot_khat_write(c->dir, stem, tr, both ? te : NULL, e->name,
                              infb_psis_threshold((size_t)infb_config_int(c->cfg, "evaluate",
                                                                          "iwae_k")),
                              NPOINT_COLS + nm, cols);
  } else if (!st && !cols) {
    st = GSL_ENOMEM;
  }
  free(cols);
  free(mnames);
  free(pool);
  return st;
}

static int
write_points(const lctx *c, const lentry *e, int split, const infb_gap_report *r)
{
  const char *const *base = point_cols;
  const size_t nb = NPOINT_COLS;
  /* then every ln p(x) method's values, errors and diagnostics (exp/gapreport.h) */
  size_t nm = 0;
  const char **mnames = NULL;
  char *pool = NULL;
  int st = infb_gapreport_columns(r, &nm, &mnames, &pool);
  const size_t nc = nb + nm;
  const char **cols = st ? NULL : infb_malloc(nc, sizeof *cols);
  double *rows = cols ? infb_malloc(r->n * nc, sizeof *rows) : NULL;
  if (!rows) {
    free(mnames);
    free(pool);
    free(cols);
    return GSL_ENOMEM;
  }
  memcpy(cols, base, nb * sizeof *cols);
  memcpy(cols + nb, mnames, nm * sizeof *cols);
  double sh = -c->log_jacobian;
  for (size_t i = 0; i < r->n; i++) {
    const infb_gap_point *p = &r->pts[i];
    double *v = rows + nc * i;
    v[0] = (double)i;
    v[1] = p->log_px + sh;
    v[2] = p->elbo_qstar + sh;
    v[3] = p->elbo_qstar_numeric + sh;
    v[4] = p->elbo_qstar_numeric_mc_se;
    v[5] = p->elbo_q + sh;
    v[6] = p->approximation_gap;
    v[7] = p->amortization_gap;
    v[8] = p->inference_gap;
    v[9] = r->has_numeric ? (double)p->qstar_steps : NAN;
    infb_gapreport_row(r, i, sh, v + nb);
  }
  char file[128], comment[256];
  snprintf(file, sizeof file, "gaps-%s-%s.tsv", e->stem, split_name[split]);
  snprintf(comment, sizeof comment,
           "per-point log-densities and gaps (nats, original units); log_px is the %s "
           "estimate; then every method's (status columns: see infbench(1))",
           r->log_px_method);
  st = infb_tsv_write(c->dir, file, comment, nc, cols, r->n, NULL, rows);
  free(rows);
  free(cols);
  free(mnames);
  free(pool);
  return st;
}


static int
write_curve(const lctx *c, const lentry *e)
{
  const infb_latent_fit *f = &e->fit;
  if (!f->ncurve)
    return GSL_SUCCESS;
  const char *cols[] = {"step", "train", "test"};
  char file[128], stem[128];
  snprintf(file, sizeof file, "curve-%s.tsv", e->stem);
  snprintf(stem, sizeof stem, "curve-%s", e->stem);
  int st = infb_tsv_write(c->dir, file, f->curve_label, 3, cols, f->ncurve, NULL, f->curve);
  if (!st) {
    int em = !c->vae && (strcmp(e->base, "mle") == 0 || strcmp(e->base, "map") == 0 ||
                         strcmp(e->base, "meanfield") == 0);
    int has_test = 0;
    for (size_t i = 0; i < f->ncurve; i++)
      has_test |= isfinite(f->curve[3 * i + 2]);
    st = infb_plot_curve_write(c->dir, stem, file, e->name, em ? "iteration" : "epoch",
                               f->curve_label, has_test);
  }
  return st;
}

static int
write_angles(const lctx *c, const lentry *e, json_t *obj)
{
  const infb_latent_fit *f = &e->fit;
  if (!f->angles)
    return GSL_SUCCESS;
  json_object_set_new(obj, "principal_angles", infb_json_array(f->angles, f->nangles));
  double *rows = infb_malloc(3 * f->nangles, sizeof *rows);
  if (!rows)
    return GSL_ENOMEM;
  for (size_t k = 0; k < f->nangles; k++) {
    rows[3 * k] = (double)(k + 1);
    rows[3 * k + 1] = f->angles[k];
    rows[3 * k + 2] = f->angles[k] * 180.0 / M_PI;
  }
  const char *cols[] = {"index", "angle_rad", "angle_deg"};
  char file[128], stem[128];
  snprintf(file, sizeof file, "angles-%s.tsv", e->stem);
  snprintf(stem, sizeof stem, "angles-%s", e->stem);
  int st = infb_tsv_write(c->dir, file,
                          "principal angles between the decoder's subspace and the top-K "
                          "principal subspace of the training data",
                          3, cols, f->nangles, NULL, rows);
  free(rows);
  if (!st)
    st = infb_plot_angles_write(c->dir, stem, file, e->name, f->nangles);
  return st;
}

/* Record one split's gap report: results.json entries, the per-point TSV, the gaps.tsv
 * row and (on the training split) the histogram script. */
static int
report_split(lctx *c, lentry *e, json_t *obj, int s, const infb_gap_report *r)
{
  const char *which = infb_config_get(c->cfg, "evaluate", "split");
  json_t *gaps = json_object_get(obj, "gaps");
  double sh = -c->log_jacobian;
  json_t *g = json_object();
  infb_stat lp = shifted(r->log_px, sh), qs = shifted(r->elbo_qstar, sh);
  infb_stat qn = shifted(r->elbo_qstar_numeric, sh), q = shifted(r->elbo_q, sh);
  infb_stat qm = shifted(r->elbo_q_mc, sh);
  json_object_set_new(g, "log_px", stat_json(&lp));
  json_object_set_new(g, "elbo_qstar", stat_json(&qs));
  json_object_set_new(g, "elbo_qstar_numeric", stat_json(&qn));
  json_object_set_new(g, "elbo_q", stat_json(&q));
  json_object_set_new(g, "elbo_q_mc", stat_json(&qm));
  json_object_set_new(g, "approximation_gap", stat_json(&r->approximation_gap));
  json_object_set_new(g, "amortization_gap", stat_json(&r->amortization_gap));
  json_object_set_new(g, "inference_gap", stat_json(&r->inference_gap));
  json_object_set_new(g, "log_px_method", json_string(r->log_px_method));
  json_t *est = infb_gapreport_estimates_json(r, sh);
  if (!est)
    return GSL_ENOMEM;
  json_object_set_new(g, "log_px_estimates", est);
  json_t *fam = infb_gapreport_families_json(r, sh);
  if (!fam)
    return GSL_ENOMEM;
  json_object_set_new(g, "qstar_families", fam);
  if (c->vae) {
    /* Today's names for the methods' summaries (results.json schema 1). */
    static const char *const legacy[][2] = {{"log_px_iwae", "iwae-max"},
                                            {"log_px_iwae_encoder", "iwae-encoder"},
                                            {"log_px_iwae_qstar", "iwae-qstar"}};
    for (size_t j = 0; j < 3; j++) {
      const infb_logpx_method *m = infb_gap_report_method(r, legacy[j][1]);
      infb_stat none = {NAN, NAN, 0, NAN};
      json_object_set_new(g, legacy[j][0], stat_json(m ? &m->stat : &none));
    }
    json_t *kh = infb_gapreport_khat_json(r, (size_t)infb_config_int(c->cfg, "evaluate", "iwae_k"),
                                          sh);
    if (!kh)
      return GSL_ENOMEM;
    json_object_set_new(g, "psis_khat", kh);
    const infb_logpx_method *quad = infb_gap_report_method(r, "quadrature");
    if (r->has_quadrature && quad) {
      json_object_set_new(g, "log_px_quadrature", stat_json(&quad->stat));
      json_object_set_new(g, "quadrature_box", json_real(r->quadrature_L));
      json_object_set_new(g, "quadrature_grid", json_integer((json_int_t)r->quadrature_n));
      json_object_set_new(g, "quadrature_converged", json_boolean(r->quadrature_converged));
      json_object_set_new(g, "quadrature_change", infb_json_number(r->quadrature_change));
    }
  } else {
    json_object_set_new(g, "qstar_closed_minus_numeric", infb_json_number(r->qstar_numeric_gap));
    json_object_set_new(obj, "approximation_gap_analytic",
                        infb_json_number(r->approximation_gap_analytic));
  }
  json_object_set_new(g, "seconds", json_real(r->seconds));
  json_object_set_new(gaps, split_name[s], g);
  int st = write_points(c, e, s, r);
  if (!st)
    st = add_gap_row(c, e->name, s, r);
  /* The histogram reads the train file and, when both splits are evaluated, the test
   * file too (the writer labels its first file "train"; a test-only evaluation has no
   * histogram). */
  if (!st && s == 0) {
    char tr[128], te[128], stem[128];
    snprintf(stem, sizeof stem, "gaphist-%s", e->stem);
    snprintf(tr, sizeof tr, "gaps-%s-train.tsv", e->stem);
    snprintf(te, sizeof te, "gaps-%s-test.tsv", e->stem);
    int both = strcmp(which, "both") == 0 && c->n[1] > 0;
    st = infb_plot_gaphist_write(c->dir, stem, tr, both ? te : NULL, e->name, r->has_encoder);
    if (!st && c->vae)
      st = write_khat_figure(c, e, r, both);
  }
  e->evaluated[s] = 1;
  return st;
}

/* ------------------------------------------------------------------ gap report stages */

/* Nonzero when e's stages are recorded for --resume: the VAE trained with its trainer's
 * state (amortized, map).  meanfield's per-point q(z_i) are not checkpointed: it runs
 * again. */
static int
staged(const lctx *c, const lentry *e)
{
  return c->vae && strcmp(e->base, "meanfield") != 0;
}

/* The VAE gap report's progress, shown as the run's (and the way to stop it). */
typedef struct gap_progress_ctx {
  const lctx *c;
  const lentry *e;
  int split;
} gap_progress_ctx;

static int
gap_progress(void *ctx, const char *phase, size_t done, size_t total)
{
  const gap_progress_ctx *p = ctx;
  infb_run_progress_count(p->c->opt, done, total, "%s, %s points: %s", p->e->name,
                          split_name[p->split], phase);
  return infb_run_interrupted(p->c->opt);
}

/* Saving an unfinished split's gap report for --resume (infb_vae_gap_options.save): the
 * state goes to the split's evaluate record while its own phases run, then (with [ais])
 * the evaluate record is marked done and the AIS phase's state goes to the ais record. */
typedef struct gap_save_ctx {
  lctx *c;
  const lentry *e;
  int stage;        /* INFB_STAGE_EVALUATE_* */
  int ais_stage;    /* INFB_STAGE_AIS_* with [ais], else 0 */
  int eval_saved;   /* the evaluate record is marked done */
  json_t *sessions; /* where each session of this split's report began */
} gap_save_ctx;

/* Save stage `stage` of p's entry with the state gs (done or not), plus extra's members
 * (may be NULL). */
static int
save_state(const gap_save_ctx *p, int stage, int done, const infb_gap_state *gs,
           const json_t *extra)
{
  char hash[INFB_SHA256_HEX], legacy[INFB_SHA256_HEX];
  json_t *r = json_pack("{s:o, s:O}", "partial", infb_gapstate_json(gs), "sessions",
                        p->sessions);
  int st = r ? stage_hashes(p->c, stage, hash, legacy) : GSL_ENOMEM;
  if (!st && extra)
    json_object_update(r, (json_t *)extra);
  if (!st)
    st = infb_run_stage_save(p->c->dir, p->e->stem, stage, hash, done, r);
  json_decref(r);
  return st;
}

static int
gap_save(void *ctx, const infb_gap_state *gs)
{
  gap_save_ctx *p = ctx;
  int st;
  if (gs->iwae_done[1] < gs->n || !p->ais_stage) {
    st = save_state(p, p->stage, 0, gs, NULL);
  } else {
    st = p->eval_saved ? GSL_SUCCESS : save_state(p, p->stage, 1, gs, NULL);
    p->eval_saved = !st;
    if (!st)
      st = save_state(p, p->ais_stage, 0, gs, NULL);
  }
  return infb_run_step_error(st, &p->c->write_failed, "gap report on the %s points",
                             split_name[p->stage == INFB_STAGE_EVALUATE_TEST]);
}

/* A report recorded by an infbench that kept no per-point state (its evaluate record
 * done, without "partial"), rebuilt from its per-point TSV so that AIS can be added: L[q],
 * L[q*] and the per-point larger IWAE ("iwae-max"); the proposals' own IWAE and q*'s
 * parameters are not known (NAN). */
static int
legacy_state(const lctx *c, const lentry *e, int s, infb_gap_state *gs)
{
  char path[512];
  snprintf(path, sizeof path, "%s/gaps-%s-%s.tsv", c->dir, e->stem, split_name[s]);
  FILE *f = fopen(path, "r");
  if (!f)
    return INFB_ERROR(INFB_EDATA, "%s: %s (needed to add AIS to a report recorded by an "
                      "earlier infbench)", path, strerror(errno));
  if (infb_gap_state_alloc_legacy(gs)) {
    fclose(f);
    return GSL_ENOMEM;
  }
  const size_t n = gs->n, K = gs->K;
  char line[65536];
  size_t row = 0;
  int st = GSL_SUCCESS;
  while (!st && fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n')
      continue;
    double v[10];
    char *q = line, *end;
    size_t k = 0;
    for (; k < 10; k++, q = end) {
      v[k] = strtod(q, &end);
      if (end == q)
        break;
    }
    if (k < 10 || row >= n || v[0] != (double)row) {
      st = INFB_ERROR(INFB_EDATA, "%s: row %zu is not a per-point row of %zu points", path,
                      row + 1, n);
      break;
    }
    gs->legacy_max[row] = v[1];
    gs->legacy_max_se[row] = NAN;
    gs->qs_elbo[row] = v[3];
    gs->qs_se[row] = v[4];
    gs->q_elbo[row] = v[5];
    gs->q_se[row] = NAN;
    gs->qs_steps[row] = isfinite(v[9]) && v[9] >= 0 ? (size_t)v[9] : 0;
    gs->qs_stop[row] = INFB_QSTAR_CONVERGED;
    for (int p = 0; p < 2; p++) {
      gs->iw[p][row] = gs->iw_se[p][row] = gs->khat[p][row] = NAN;
      gs->khat_status[p][row] = -1;
    }
    for (size_t j = 0; j < K; j++)
      gs->qs_mu[row * K + j] = gs->qs_lv[row * K + j] = NAN;
    row++;
  }
  fclose(f);
  if (!st && row != n)
    st = INFB_ERROR(INFB_EDATA, "%s holds %zu points, the report %zu", path, row, n);
  if (!st) {
    gs->q_done = gs->qstar_done = gs->iwae_done[0] = gs->iwae_done[1] = n;
    infb_run_progress(c->opt, "%s: the %s points' report (recorded without per-point state) "
                      "rebuilt from %s", e->name, split_name[s], path);
  }
  return st;
}

/* A staged VAE split's gap report goes on from its record (rec, may be NULL; a finished
 * one too, then only the phases added since run): fill gs from the record's state and
 * sessions from its sessions, then add where this session begins. */
static int
resume_split(const lctx *c, const lentry *e, int s, const json_t *rec, infb_gap_state *gs,
             json_t *sessions)
{
  const json_t *partial = json_object_get(rec, "partial");
  if (!partial)
    return json_array_append_new(sessions, json_string("start")) ? GSL_ENOMEM : GSL_SUCCESS;
  char what[160];
  snprintf(what, sizeof what, "the %s stage record of %s",
           infb_run_stage_name(s ? INFB_STAGE_EVALUATE_TEST : INFB_STAGE_EVALUATE_TRAIN),
           e->name);
  int st = infb_gapstate_read(gs, partial, what);
  if (st)
    return st;
  json_t *before = json_object_get(rec, "sessions");
  if (json_is_array(before))
    json_array_extend(sessions, before);
  size_t done;
  const char *phase = infb_gap_state_phase(gs, &done);
  if (strcmp(phase, "quadrature") == 0) { /* every recorded phase is done */
    infb_run_progress(c->opt, "%s: the %s points' gap report is recorded; rebuilt from it",
                      e->name, split_name[s]);
    return GSL_SUCCESS;
  }
  char where[96];
  if (done)
    snprintf(where, sizeof where, "%s after %zu of %zu points", phase, done,
             strcmp(phase, "AIS") == 0 ? gs->ais_n : gs->n);
  else
    snprintf(where, sizeof where, "%s", phase);
  infb_run_progress(c->opt, "%s: resuming the %s points' gap report at %s", e->name,
                    split_name[s], where);
  return json_array_append_new(sessions, json_string(where)) ? GSL_ENOMEM : GSL_SUCCESS;
}

/* Record split s of e as finished: its state, results.json entry, its gaps.tsv row (the
 * last one pushed) and where its sessions began, in the evaluate record and (with [ais])
 * the ais record.  Its per-point TSV and histogram script are already written. */
static int
record_split(lctx *c, gap_save_ctx *sc, json_t *obj, int s, const infb_gap_state *gs)
{
  json_t *g = json_object_get(json_object_get(obj, "gaps"), split_name[s]);
  json_t *r = json_pack("{s:O, s:o}", "gaps", g ? g : json_null(), "gaps_row",
                        infb_json_array(c->gaprows + 10 * (c->ngaprows - 1), 10));
  int st = r ? save_state(sc, sc->stage, 1, gs, r) : GSL_ENOMEM;
  if (!st && sc->ais_stage)
    st = save_state(sc, sc->ais_stage, 1, gs, r);
  json_decref(r);
  return st;
}

/* Reuse a recorded split (--resume): its results.json entry and gaps.tsv row. */
static int
restore_split(lctx *c, lentry *e, json_t *obj, int s, const json_t *rec)
{
  json_t *g = json_object_get(rec, "gaps");
  const json_t *row = json_object_get(rec, "gaps_row");
  if (!json_is_object(g) || json_array_size(row) != 10)
    return INFB_ERROR(INFB_EDATA, "the %s stage record of %s is incomplete; start a new run",
                      infb_run_stage_name(s ? INFB_STAGE_EVALUATE_TEST : INFB_STAGE_EVALUATE_TRAIN),
                      e->name);
  double *v = push_gap_row(c, e->name);
  if (!v)
    return GSL_ENOMEM;
  for (size_t j = 0; j < 10; j++)
    v[j] = json_num(json_array_get(row, j));
  json_object_set(json_object_get(obj, "gaps"), split_name[s], g);
  e->evaluated[s] = 1;
  infb_run_progress(c->opt, "%s: the %s points' gap report is recorded; reused", e->name,
                    split_name[s]);
  return GSL_SUCCESS;
}

/* ------------------------------------------------------------------ AIS */

void
infb_runlatent_ais_options(const lctx *c, infb_ais_options *o)
{
  infb_ais_options_default(o);
  const infb_config *g = c->cfg;
  o->chains = (size_t)infb_config_int(g, "ais", "chains");
  o->temperatures = (size_t)infb_config_int(g, "ais", "temperatures");
  o->leapfrog = (size_t)infb_config_int(g, "ais", "leapfrog");
  o->schedule = infb_config_is_word(g, "ais", "schedule", "sigmoid") ? INFB_AIS_SIGMOID
                                                                      : INFB_AIS_LINEAR;
  o->sigmoid_delta = infb_config_double(g, "ais", "sigmoid_delta");
  o->step_size = infb_config_double(g, "ais", "step_size");
  o->adapt = infb_config_is_word(g, "ais", "adapt", "online")  ? INFB_AIS_ONLINE
             : infb_config_is_word(g, "ais", "adapt", "fixed") ? INFB_AIS_FIXED
                                                                 : INFB_AIS_PILOT;
  o->pilot_chains = (size_t)infb_config_int(g, "ais", "pilot_chains");
  o->adapt_up = infb_config_double(g, "ais", "adapt_up");
  o->adapt_down = infb_config_double(g, "ais", "adapt_down");
  o->target_accept = infb_config_double(g, "ais", "target_accept");
  o->step_min = infb_config_double(g, "ais", "step_min");
  o->step_max = infb_config_double(g, "ais", "step_max");
  o->grad_clip = infb_config_double(g, "ais", "grad_clip");
  o->init = infb_config_is_word(g, "ais", "init", "encoder") ? INFB_AIS_ENCODER : INFB_AIS_PRIOR;
  o->ess_min = infb_config_double(g, "ais", "ess_min");
  o->tile_points = (size_t)infb_config_int(g, "ais", "tile_points");
  o->seed = c->seed;
}

/* Traces for the first [ais] trace_points of n points (n entries, the rest empty), their
 * values NAN until AIS fills them; *count the traced points.  NULL on ENOMEM. */
static infb_ais_trace *
ais_traces(const lctx *c, size_t n, size_t ais_n, size_t *count)
{
  size_t T = (size_t)infb_config_int(c->cfg, "ais", "temperatures");
  size_t want = (size_t)infb_config_int(c->cfg, "ais", "trace_points");
  size_t maxr = (size_t)infb_config_int(c->cfg, "ais", "trace_rows");
  size_t stride = (T + maxr - 1) / maxr;
  *count = want < ais_n ? want : ais_n;
  infb_ais_trace *t = infb_calloc(n ? n : 1, sizeof *t);
  for (size_t i = 0; t && i < *count; i++) {
    size_t rows = infb_ais_trace_rows(T, stride);
    double *buf = infb_malloc(4 * rows, sizeof *buf);
    if (!buf) {
      for (size_t j = 0; j < i; j++)
        free(t[j].beta);
      free(t);
      return NULL;
    }
    for (size_t k = 0; k < 4 * rows; k++)
      buf[k] = NAN;
    t[i] = (infb_ais_trace){stride, rows, buf, buf + rows, buf + 2 * rows, buf + 3 * rows};
  }
  return t;
}

static void
ais_traces_free(infb_ais_trace *t, size_t count)
{
  for (size_t i = 0; t && i < count; i++)
    free(t[i].beta);
  free(t);
}

/* ais-trace-STEM-SPLIT.tsv: the traced points' rows that this session filled (a point
 * run by an earlier session of a resumed run has none). */
static int
write_ais_traces(const lctx *c, const lentry *e, int s, const infb_ais_trace *t, size_t count)
{
  size_t total = 0, T = (size_t)infb_config_int(c->cfg, "ais", "temperatures");
  for (size_t i = 0; i < count; i++)
    for (size_t r = 0; r < t[i].rows; r++)
      total += isfinite(t[i].beta[r]);
  if (total == 0)
    return GSL_SUCCESS;
  double *rows = infb_malloc(6 * total, sizeof *rows);
  if (!rows)
    return GSL_ENOMEM;
  size_t k = 0;
  for (size_t i = 0; i < count; i++)
    for (size_t r = 0; r < t[i].rows; r++)
      if (isfinite(t[i].beta[r])) {
        double *v = rows + 6 * k++;
        v[0] = (double)i;
        v[1] = (double)(r + 1 < t[i].rows ? (r + 1) * t[i].stride : T);
        v[2] = t[i].beta[r];
        v[3] = t[i].logw[r];
        v[4] = t[i].accept[r];
        v[5] = t[i].step[r];
      }
  const char *cols[] = {"point", "t", "beta", "log_px_running", "accept", "step"};
  char file[128];
  snprintf(file, sizeof file, "ais-trace-%s-%s.tsv", e->stem, split_name[s]);
  int st = infb_tsv_write(c->dir, file,
                          "AIS diagnostics: log-mean-exp of the chains' ln w after temperature "
                          "t, the fraction of moves accepted at t, the step",
                          6, cols, total, NULL, rows);
  free(rows);
  if (!st) {
    char stem[128];
    snprintf(stem, sizeof stem, "ais-trace-%s-%s", e->stem, split_name[s]);
    st = infb_plot_ais_trace_write(c->dir, stem, file, e->name);
  }
  return st;
}

/* ------------------------------------------------------------------ the gap report */

/* The gap report of one fit on the first [evaluate] points of each split. */
static int
evaluate(lctx *c, lentry *e, json_t *obj)
{
  const infb_latent_fit *f = &e->fit;
  const char *which = infb_config_get(c->cfg, "evaluate", "split");
  size_t points = (size_t)infb_config_int(c->cfg, "evaluate", "points");
  char qsec[96];
  shared_section(e, "qstar", qsec, sizeof qsec);
  infb_gap_options go;
  memset(&go, 0, sizeof go);
  go.numeric_qstar = infb_config_bool(c->cfg, "evaluate", "numeric_qstar");
  go.q_samples = (size_t)infb_config_int(c->cfg, "evaluate", "samples");
  go.qstar_init_encoder = strcmp(infb_config_get(c->cfg, qsec, "init"), "encoder") == 0;
  qstar_options(c, e, &go.qstar);
  infb_vae_gap_options vo = {
      .qstar = go.qstar,
      .qstar_init_encoder = go.qstar_init_encoder,
      .q_samples = go.q_samples,
      .iwae_k = (size_t)infb_config_int(c->cfg, "evaluate", "iwae_k"),
      .quad_L = infb_config_double(c->cfg, "evaluate", "quadrature_box"),
      .quad_n = (size_t)infb_config_int(c->cfg, "evaluate", "quadrature_grid"),
      .quad_tol = infb_config_double(c->cfg, "evaluate", "quadrature_tol"),
      .quad_max_n = (size_t)infb_config_int(c->cfg, "evaluate", "quadrature_max_grid"),
      .progress = gap_progress,
      /* [evaluate] group_points, or a twentieth of the points (rounded up to whole q*
       * batches by the report). */
      .progress_points = infb_config_int(c->cfg, "evaluate", "group_points") > 0
                             ? (size_t)infb_config_int(c->cfg, "evaluate", "group_points")
                             : (points + PROGRESS_GROUPS - 1) / PROGRESS_GROUPS,
  };
  gap_progress_ctx pc = {c, e, 0};
  vo.progress_ctx = &pc;
  const infb_encoder *enc = f->encoder.fn ? &f->encoder : NULL;

  /* [ais]: AIS in every VAE gap report, on the first [ais] points of each split. */
  const int ais_on = c->vae && infb_config_bool(c->cfg, "ais", "run");
  infb_ais_options ao;
  infb_runlatent_ais_options(c, &ao);
  const size_t ais_points = (size_t)infb_config_int(c->cfg, "ais", "points");

  json_object_set_new(obj, "gaps", json_object());
  json_object_set_new(obj, "log_px_method", json_string(c->vae ? "iwae" : "exact"));
  int st = GSL_SUCCESS;
  for (int s = 0; s < 2 && !st; s++) {
    if (c->n[s] == 0 || (strcmp(which, "both") != 0 && strcmp(which, split_name[s]) != 0))
      continue;
    /* --resume: a recorded split is reused; --stop-after leaves the later ones. */
    int stage = s ? INFB_STAGE_EVALUATE_TEST : INFB_STAGE_EVALUATE_TRAIN, done = 0;
    int ais_stage = ais_on ? (s ? INFB_STAGE_AIS_TEST : INFB_STAGE_AIS_TRAIN) : 0;
    int ais_done = 0;
    json_t *rec = NULL, *arec = NULL;
    char hash[INFB_SHA256_HEX], legacy[INFB_SHA256_HEX];
    if (staged(c, e) && c->opt->resume &&
        ((st = stage_hashes(c, stage, hash, legacy)) ||
         (st = infb_run_stage_load(c->dir, e->stem, stage, hash, legacy, &rec, &done))))
      return st;
    if (staged(c, e) && c->opt->resume && ais_stage &&
        ((st = stage_hashes(c, ais_stage, hash, legacy)) ||
         (st = infb_run_stage_load(c->dir, e->stem, ais_stage, hash, legacy, &arec, &ais_done)))) {
      json_decref(rec);
      return st;
    }
    /* A finished report of an earlier infbench (no per-point state) is reused as it was,
     * unless AIS is to be added to it. */
    int legacy_done = rec && done && !json_object_get(rec, "partial");
    if (legacy_done && !ais_stage) {
      st = restore_split(c, e, obj, s, rec);
      json_decref(rec);
      continue;
    }
    if (c->vae && c->opt->stop_after && stage > c->opt->stop_after) {
      json_decref(rec);
      c->stopped = 1;
      break;
    }
    if (infb_run_interrupted(c->opt)) {
      json_decref(rec);
      return INFB_ERROR(INFB_EINTR, "interrupted");
    }
    pc.split = s;
    char job_name[160];
    snprintf(job_name, sizeof job_name, "%s, %s", e->name, split_name[s]);
    vo.job_name = job_name;
    size_t n = c->n[s] < points ? c->n[s] : points;
    infb_run_progress(c->opt, "%s: gap report on %zu %s points", e->name, n, split_name[s]);
    /* A staged split records its state after every group of points, and goes on from the
     * recorded one (--resume). */
    infb_gap_state *gs = NULL;
    gap_save_ctx sc = {c, e, stage, ais_stage, rec && done, NULL};
    size_t ais_n = ais_points && ais_points < n ? ais_points : n;
    if (staged(c, e)) {
      gs = infb_gap_state_alloc(n, c->K);
      sc.sessions = json_array();
      st = gs && sc.sessions ? GSL_SUCCESS : GSL_ENOMEM;
      if (!st && ais_stage)
        st = infb_gap_state_alloc_ais(gs, ais_n);
      if (!st && legacy_done)
        st = legacy_state(c, e, s, gs);
      if (!st && arec) {
        char what[160];
        snprintf(what, sizeof what, "the %s stage record of %s", infb_run_stage_name(ais_stage),
                 e->name);
        st = infb_gapstate_read_ais(gs, json_object_get(arec, "partial"), what);
      }
      if (!st)
        st = resume_split(c, e, s, legacy_done ? NULL : rec, gs, sc.sessions);
    }
    size_t phase_done;
    const int rebuilt = gs && rec && done && !legacy_done &&
                        strcmp(infb_gap_state_phase(gs, &phase_done), "quadrature") == 0;
    json_decref(rec);
    json_decref(arec);
    vo.ais = ais_on ? &ao : NULL;
    vo.ais_points = ais_n;
    size_t ntrace = 0;
    infb_ais_trace *traces = ais_on && c->vae ? ais_traces(c, n, ais_n, &ntrace) : NULL;
    if (!st && ais_on && !traces)
      st = GSL_ENOMEM;
    vo.ais_trace = traces;
    vo.state = gs;
    vo.save = gs ? gap_save : NULL;
    vo.save_ctx = &sc;
    if (st) {
      infb_gap_state_free(gs);
      ais_traces_free(traces, ntrace);
      json_decref(sc.sessions);
      return st;
    }
    infb_gap_report r;
    size_t first = s ? TEST_STREAM_OFFSET : 0;
    if (c->vae) {
      /* meanfield: no encoder; its training q(z_i) stand in for it on the training split */
      vo.no_encoder = strcmp(e->base, "meanfield") == 0;
      vo.q_mu = vo.no_encoder && s == 0 && e->mf ? infb_vaemf_mu(e->mf) : NULL;
      vo.q_lv = vo.q_mu ? infb_vaemf_lv(e->mf) : NULL;
      st = infb_gapeval_vae(e->vae, n, c->F[s], first, &vo, &r);
    } else {
      gsl_matrix_const_view Xv = gsl_matrix_const_submatrix(c->X[s], 0, 0, n, c->D);
      /* Groups as the VAE's: the progress groups, in whole q* batches. */
      size_t B = go.qstar.batch_points ? go.qstar.batch_points : 1;
      go.progress_points = (vo.progress_points + B - 1) / B * B;
      go.job_name = job_name;
      st = infb_gapeval_lingauss(f->model, &Xv.matrix, first, enc, &go, &r);
    }
    const int made = !st; /* a failed save within the report named its own step */
    if (!st)
      st = report_split(c, e, obj, s, &r);
    if (!st && ais_on)
      st = write_ais_traces(c, e, s, traces, ntrace);
    /* A report rebuilt from complete records leaves them as they are. */
    if (!st && staged(c, e) && !rebuilt)
      st = record_split(c, &sc, obj, s, gs);
    if (made)
      st = infb_run_step_error(st, &c->write_failed, "gap report on the %s points",
                               split_name[s]);
    infb_gap_report_free(&r);
    infb_gap_state_free(gs);
    ais_traces_free(traces, ntrace);
    json_decref(sc.sessions);
  }
  /* The entry's method: the splits' when they agree, else "per split". */
  if (!st && c->vae) {
    const char *key, *common = NULL;
    json_t *g;
    int same = 1;
    json_object_foreach(json_object_get(obj, "gaps"), key, g) {
      const char *m = json_string_value(json_object_get(g, "log_px_method"));
      if (m && common && strcmp(m, common) != 0)
        same = 0;
      if (m && !common)
        common = m;
    }
    if (common)
      json_object_set_new(obj, "log_px_method", json_string(same ? common : "per split"));
  }
  return st;
}
/* ------------------------------------------------------------------ the run */

static void
run_entry(lctx *c, lentry *e, size_t k)
{
  infb_run_progress(c->opt, "fitting %s (%zu/%zu)", e->name, k + 1, c->nentries);
  json_t *obj = json_object();
  json_object_set_new(obj, "estimator", json_string(e->base));
  json_object_set_new(obj, "status", json_string("ok"));
  json_object_set_new(c->ests, e->name, obj); /* c->ests owns obj; we keep a borrowed ref */
  infb_latent_fit_init(&e->fit);
  infb_error_clear();
  double t0 = infb_clock_seconds();
  int st = c->vae ? infb_runvae_fit(c, e) : infb_runlingauss_fit(c, e);
  double t1 = infb_clock_seconds();
  json_object_set_new(obj, "seconds", json_real(t1 - t0 + e->seconds_before));
  if (!st) {
    infb_latent_fit *f = &e->fit;
    e->ok = 1;
    json_object_set_new(obj, "iterations", json_integer((json_int_t)f->iterations));
    json_object_set_new(obj, "stop_reason", json_string(f->stop_reason));
    if (f->note[0])
      json_object_set_new(obj, "note", json_string(f->note));
    if (c->vae) {
      json_object_set_new(obj, "nonfinite_skipped", json_integer((json_int_t)e->skipped));
      json_object_set_new(obj, "lr_halvings", json_integer((json_int_t)e->halvings));
      st = evaluate(c, e, obj);
      if (!st && !c->stopped && infb_config_bool(c->cfg, "bdmc", "run"))
        st = infb_runvae_bdmc(c, e, obj);
      if (!st && !c->stopped)
        st = infb_run_step_error(infb_runvae_figures(c, e, obj), &c->write_failed, "figures");
    } else if (f->model) {
      st = infb_runlingauss_summary(c, e, obj);
      if (!st)
        st = evaluate(c, e, obj);
      if (!st)
        st = infb_run_step_error(infb_runlingauss_posterior(c, e), &c->write_failed, "outputs");
    } else {
      json_object_set_new(obj, "recon_mse_train", infb_json_number(f->recon_mse_train));
      json_object_set_new(obj, "recon_mse_test", infb_json_number(f->recon_mse_test));
    }
    if (!st)
      st = infb_run_step_error(write_curve(c, e), &c->write_failed, "outputs");
    if (!st)
      st = infb_run_step_error(write_angles(c, e, obj), &c->write_failed, "outputs");
    json_object_set_new(obj, "evaluation_seconds", json_real(infb_clock_seconds() - t1));
  }
  if (st) {
    const char *msg = infb_error_message();
    json_object_set_new(obj, "status", json_string(*msg ? msg : infb_strerror(st)));
    c->nfailed++;
  }
}

static int
write_gap_table(lctx *c)
{
  if (c->ngaprows == 0)
    return GSL_SUCCESS;
  const char *cols[] = {"estimator",         "split",   "approximation_gap",
                        "approximation_gap_se", "amortization_gap", "amortization_gap_se",
                        "inference_gap",     "inference_gap_se", "log_px",
                        "elbo_qstar",        "elbo_q"};
  int st = infb_tsv_write(c->dir, "gaps.tsv",
                          "gaps per estimator and split (split 0 = train, 1 = test), nats; "
                          "means over points with standard errors",
                          10, cols, c->ngaprows, c->gaplabels, c->gaprows);
  if (!st)
    st = infb_plot_gapbars_write(c->dir, "gaps", "gaps.tsv");
  return st;
}

static void
free_ctx(lctx *c)
{
  infb_dataset_free(c->train);
  infb_dataset_free(c->test);
  gsl_matrix_free(c->X[0]);
  gsl_matrix_free(c->X[1]);
  free(c->mean);
  free(c->sd);
  free(c->dir);
  for (size_t k = 0; k < c->nentries; k++) {
    infb_latent_fit_free(&c->entries[k].fit);
    infb_vae_free_f32(c->entries[k].vae);
    json_decref(c->entries[k].sessions);
    infb_vaemf_free(c->entries[k].mf);
  }
  free(c->entries);
  free(c->F[0]);
  free(c->F[1]);
  free(c->grey);
  free(c->valid);
  free(c->labels[0]);
  free(c->labels[1]);
  free(c->gaprows);
  free(c->gaplabels);
  json_decref(c->root);
}

/* schedule.log in the run directory ctx: a line per group of every job of par/sched.h
 * (job, group, rank, seconds, start), appended by rank 0 as the jobs end — a log, which
 * differs from run to run, read by bench/schedule-sim.py. */
static void
schedule_log(void *ctx, const infb_par_job *job, const infb_par_group_stat *gs, double seconds)
{
  char *path = infb_path_join(ctx, "schedule.log");
  FILE *f = path ? fopen(path, "a") : NULL;
  free(path);
  if (!f)
    return; /* a log: its loss stops nothing */
  if (ftell(f) == 0)
    fprintf(f, "# infbench schedule log: job\tgroup\trank\tseconds\tstart\tranks\n");
  for (size_t g = 0; g < job->ngroups; g++)
    fprintf(f, "%s\t%zu\t%d\t%.6f\t%.6f\t%d\n", job->what, g, gs[g].rank, gs[g].seconds,
            gs[g].start, infb_par_size());
  (void)seconds;
  fclose(f);
}

int
infb_run_latent(const infb_config *cfg, const infb_run_options *opt, infb_run_result *res)
{
  memset(res, 0, sizeof *res);
  lctx c;
  memset(&c, 0, sizeof c);
  c.cfg = cfg;
  c.opt = opt;
  c.K = (size_t)infb_config_int(cfg, "model", "latent");
  c.ppca = infb_config_bool(cfg, "model", "ppca");
  c.seed = (uint64_t)infb_config_int(cfg, "experiment", "seed");
  c.root = infb_run_root(cfg);
  if (!c.root)
    return GSL_ENOMEM;
  infb_run_root_recorded(c.root, opt);
  c.ests = json_object_get(c.root, "estimators");
  json_t *model = json_object_get(c.root, "model");
  json_object_set_new(model, "latent", json_integer((json_int_t)c.K));
  json_object_set_new(model, "ppca", json_boolean(c.ppca));

  c.vae = strcmp(infb_config_get(cfg, "model", "type"), "vae") == 0;
  infb_run_progress(opt, "loading data");
  int st = c.vae ? infb_runvae_load(&c) : infb_runlingauss_load(&c);
  if (!st && opt->recorded_cfg && opt->outdir)
    st = infb_run_extend_check(cfg, opt, opt->outdir);
  if (!st && !(st = infb_run_make_dir(cfg, opt, &c.dir))) {
    res->created_dir = 1;
    res->outdir = infb_strdup(c.dir);
  }
  if (!st && (st = infb_run_write_config(cfg, c.dir)) == GSL_SUCCESS)
    st = infb_plot_style(c.dir);
  if (!st) {
    infb_par_set_log(schedule_log, c.dir);
    infb_par_set_timeout((double)infb_config_int(cfg, "experiment", "group_timeout"));
  }
  if (c.dir)
    st = infb_run_step_error(st, &res->write_failed, "setting up the run directory");
  char *const *names = infb_config_estimators(cfg);
  while (!st && names[c.nentries])
    c.nentries++;
  if (!st && !(c.entries = infb_calloc(c.nentries ? c.nentries : 1, sizeof *c.entries)))
    st = GSL_ENOMEM;
  if (st) {
    free_ctx(&c);
    return st;
  }
  json_t *order = json_array();
  for (size_t k = 0; k < c.nentries; k++) {
    lentry *e = &c.entries[k];
    e->name = names[k];
    size_t blen = strcspn(names[k], ":");
    snprintf(e->base, sizeof e->base, "%.*s", (int)blen, names[k]);
    snprintf(e->variant, sizeof e->variant, "%s", names[k][blen] ? names[k] + blen + 1 : "");
    infb_run_stem(names[k], e->stem, sizeof e->stem);
    infb_latent_fit_init(&e->fit);
    json_array_append_new(order, json_string(names[k]));
  }
  json_object_set_new(c.root, "order", order);

  int intr = 0;
  for (size_t k = 0; k < c.nentries; k++) {
    if (infb_run_interrupted(opt)) {
      intr = 1;
      break;
    }
    run_entry(&c, &c.entries[k], k);
  }
  infb_run_progress(opt, "writing outputs");
  json_object_set_new(c.root, "interrupted", json_boolean(intr || infb_run_interrupted(opt)));
  if (c.stopped)
    json_object_set_new(c.root, "stopped_after",
                        json_string(infb_run_stage_name(opt->stop_after)));
  res->stopped = c.stopped;
  char *json_path = infb_path_join(c.dir, "results.json");
  st = json_path ? write_gap_table(&c) : GSL_ENOMEM;
  if (!st)
    st = infb_json_write(json_path, c.root);
  st = infb_run_step_error(st, &c.write_failed, "writing the outputs");
  res->write_failed = c.write_failed;
  free(json_path);
  res->nfailed = c.nfailed;
  res->results = json_incref(c.root);
  infb_par_set_log(NULL, NULL);
  free_ctx(&c);
  return infb_run_status(st, intr, res->nfailed);
}
