/* The VAE figures of a run (see vaefigs.h): the IWAE bound against k (Burda, Grosse &
 * Salakhutdinov 2016, eq. 8; MATH.md §5), reconstructions and samples from the prior, and
 * for K = 2 the latent space and the exact posterior on a grid against q* and q (Cremer,
 * Li & Duvenaud 2018, Fig. 2). */
#define _POSIX_C_SOURCE 200809L
#include <config.h> /* autoconf's, not exp/config.h */
#include "exp/vaefigs.h"
#include "core/atomicfile.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/strparse.h"
#include "exp/results.h"
#include "exp/runshared.h"
#include "infer/gapeval.h"
#include "infer/qstar.h"
#include "nn/vae.h"
#include "plot/gnuplot.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_math.h>
#include <gsl/gsl_randist.h>

/* Columns of iwae-EST-SPLIT.tsv. */
enum { IW_NCOLS = 15 };

/* The exact posterior's window is found in passes: a grid over [−posterior_range,
 * posterior_range]² locates it, then POSTERIOR_REFINE grids over the window its moments
 * (and q*, q) give; the last one is drawn. */
enum { POSTERIOR_REFINE = 2 };

static const char *const split_name[2] = {"train", "test"};

/* ------------------------------------------------------------------ options */

typedef struct figopts {
  size_t *ks, nk;           /* [evaluate] iwae_curve_k, ascending */
  size_t iwae_points;       /* [evaluate] iwae_curve_points */
  const char *eval_split;   /* [evaluate] split */
  size_t eval_points;       /* [evaluate] points */
  size_t recon, prior, columns, latent, post_images, post_grid; /* [plot] */
  double post_range, post_span;
  char **class_names;       /* [data] class_names */
  size_t nclasses;
  infb_qstar_options qstar; /* the gap report's q* options ([qstar] or its variant) */
  int qstar_init_encoder;
} figopts;

static void
figopts_free(figopts *o)
{
  free(o->ks);
  infb_strlist_free(o->class_names);
}

/* [evaluate] iwae_curve_k: integers ≥ 1, increasing. */
static int
parse_ks(const infb_config *cfg, size_t **ks, size_t *nk)
{
  size_t n = 0;
  char **items = infb_strlist_split(infb_config_get(cfg, "evaluate", "iwae_curve_k"), &n);
  if (!items)
    return GSL_ENOMEM;
  size_t *v = infb_malloc(n ? n : 1, sizeof *v);
  int st = v ? GSL_SUCCESS : GSL_ENOMEM;
  for (size_t i = 0; !st && i < n; i++) {
    long k;
    if (infb_parse_long(items[i], &k, NULL) || k < 1)
      st = INFB_ERROR(INFB_ECONFIG, "[evaluate] iwae_curve_k: '%s' is not a positive integer",
                      items[i]);
    else if (i > 0 && (size_t)k <= v[i - 1])
      st = INFB_ERROR(INFB_ECONFIG,
                      "[evaluate] iwae_curve_k: give increasing values (%ld after %zu)", k,
                      v[i - 1]);
    else
      v[i] = (size_t)k;
  }
  infb_strlist_free(items);
  if (st) {
    free(v);
    return st;
  }
  *ks = v;
  *nk = n;
  return GSL_SUCCESS;
}

int
infb_vaefigs_check(const infb_config *cfg)
{
  size_t *ks = NULL, nk = 0;
  int st = parse_ks(cfg, &ks, &nk);
  free(ks);
  return st;
}

/* The section of a shared base for the estimator entry `name` ("amortized:big" → "qstar:big"). */
static void
variant_section(const char *name, const char *base, char *out, size_t cap)
{
  const char *colon = strchr(name, ':');
  if (colon)
    snprintf(out, cap, "%s:%s", base, colon + 1);
  else
    snprintf(out, cap, "%s", base);
}

static int
figopts_read(const infb_config *cfg, const char *name, figopts *o)
{
  memset(o, 0, sizeof *o);
  int st = parse_ks(cfg, &o->ks, &o->nk);
  if (st)
    return st;
  o->iwae_points = (size_t)infb_config_int(cfg, "evaluate", "iwae_curve_points");
  o->eval_split = infb_config_get(cfg, "evaluate", "split");
  o->eval_points = (size_t)infb_config_int(cfg, "evaluate", "points");
  o->recon = (size_t)infb_config_int(cfg, "plot", "reconstructions");
  o->prior = (size_t)infb_config_int(cfg, "plot", "prior_samples");
  o->columns = (size_t)infb_config_int(cfg, "plot", "image_columns");
  o->latent = (size_t)infb_config_int(cfg, "plot", "latent_points");
  o->post_images = (size_t)infb_config_int(cfg, "plot", "posterior_images");
  o->post_grid = (size_t)infb_config_int(cfg, "plot", "posterior_grid");
  o->post_range = infb_config_double(cfg, "plot", "posterior_range");
  o->post_span = infb_config_double(cfg, "plot", "posterior_span");
  o->class_names = infb_strlist_split(infb_config_get(cfg, "data", "class_names"), &o->nclasses);
  if (!o->class_names)
    return GSL_ENOMEM;
  /* The gap report's q* (as the runner's qstar_options, latentctx.h). */
  char sec[96];
  variant_section(name, "qstar", sec, sizeof sec);
  infb_qstar_options *q = &o->qstar;
  infb_qstar_options_default(q);
  q->samples = (size_t)infb_config_int(cfg, sec, "samples");
  q->lr = infb_config_double(cfg, sec, "lr");
  q->max_steps = (size_t)infb_config_int(cfg, sec, "max_steps");
  q->check_every = (size_t)infb_config_int(cfg, sec, "check_every");
  q->patience = (size_t)infb_config_int(cfg, sec, "patience");
  q->eval_samples = (size_t)infb_config_int(cfg, sec, "eval_samples");
  q->batch_points = (size_t)infb_config_int(cfg, sec, "batch_points");
  q->seed = (uint64_t)infb_config_int(cfg, "experiment", "seed");
  o->qstar_init_encoder = strcmp(infb_config_get(cfg, sec, "init"), "encoder") == 0;
  return GSL_SUCCESS;
}

/* ------------------------------------------------------------------ labels */

int
infb_vaefigs_labels(const infb_config *cfg, size_t K, const char *split, const char *fallback,
                    const infb_idx *images, size_t n, uint8_t **out)
{
  *out = NULL;
  if (K != 2 || infb_config_int(cfg, "plot", "latent_points") <= 0)
    return GSL_SUCCESS;
  size_t nclasses = 0;
  char **names = infb_strlist_split(infb_config_get(cfg, "data", "class_names"), &nclasses);
  if (!names)
    return GSL_ENOMEM;
  infb_strlist_free(names);
  char key[64];
  snprintf(key, sizeof key, "%s_labels", split);
  char *path = infb_config_path(cfg, "data", key);
  if (!path && fallback && !infb_config_get(cfg, "data", split))
    path = infb_strdup(fallback);
  if (!path || nclasses == 0) {
    free(path);
    return GSL_SUCCESS;
  }
  if (n > images->n) {
    free(path);
    return INFB_ERROR(GSL_EINVAL, "labels: %zu images asked of the %zu in %s", n, images->n,
                      images->source);
  }
  infb_idx *lab = infb_idx_read(path, 1, 0);
  free(path);
  if (!lab)
    return INFB_EDATA;
  int st = infb_idx_check_labels(images, lab, nclasses);
  if (!st) {
    *out = infb_malloc(n ? n : 1, 1);
    if (*out)
      memcpy(*out, lab->data, n);
    else
      st = GSL_ENOMEM;
  }
  infb_idx_free(lab);
  return st;
}

/* ------------------------------------------------------------------ output helpers */

/* A TSV in the runner's format (results.h) whose rows come in blocks: opened here, rows
 * and blank lines written by the caller, committed with infb_afile_commit. */
static infb_afile *
blocks_open(const char *dir, const char *name, const char *comment, size_t ncols,
            const char *const *cols)
{
  char *path = infb_path_join(dir, name);
  if (!path)
    return NULL;
  infb_afile *af = infb_afile_open(path);
  free(path);
  if (!af)
    return NULL;
  fprintf(af->fp, "# %s\n# ", comment);
  for (size_t j = 0; j < ncols; j++)
    fprintf(af->fp, "%s%s", j ? "\t" : "", cols[j]);
  fputc('\n', af->fp);
  return af;
}

/* One row; `digits` significant digits (17 round-trips a double, 9 a float). */
static void
put_row(FILE *fp, const double *v, size_t n, int digits)
{
  for (size_t j = 0; j < n; j++) {
    if (isfinite(v[j]))
      fprintf(fp, "%s%.*g", j ? "\t" : "", digits, v[j]);
    else
      fprintf(fp, "%sNaN", j ? "\t" : "");
  }
  fputc('\n', fp);
}

/* obj.figures.KEY = {script: STEM.gp, data: [files...]} (ndata files). */
static void
add_figure(json_t *figs, const char *key, const char *stem, size_t ndata,
           const char *const *data)
{
  char script[200];
  snprintf(script, sizeof script, "%s.gp", stem);
  json_t *d = json_array();
  for (size_t i = 0; i < ndata; i++)
    json_array_append_new(d, json_string(data[i]));
  json_object_set_new(figs, key, json_pack("{s:s, s:o}", "script", script, "data", d));
}

static void
add_note(json_t *notes, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
add_note(json_t *notes, const char *fmt, ...)
{
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  json_array_append_new(notes, json_string(buf));
}

/* Columns ca and cb (by their names in the header line) of the first n rows of DIR/NAME, a
 * TSV written by infb_tsv_write.  *missing = 1 (and GSL_SUCCESS) when the file does not
 * exist; INFB_EDATA (raised) when it lacks the columns or n rows. */
static int
read_columns(const char *dir, const char *name, const char *ca, const char *cb, size_t n,
             double *a, double *b, int *missing)
{
  *missing = 0;
  char *path = infb_path_join(dir, name);
  if (!path)
    return GSL_ENOMEM;
  FILE *fp = fopen(path, "r");
  if (!fp) {
    int e = errno;
    int st = e == ENOENT ? GSL_SUCCESS
                         : INFB_ERROR(INFB_EDATA, "%s: cannot open (%s)", path, strerror(e));
    *missing = e == ENOENT;
    free(path);
    return st;
  }
  char *line = NULL, *header = NULL;
  size_t cap = 0, rows = 0;
  long ia = -1, ib = -1;
  int st = GSL_SUCCESS;
  while (!st && rows < n && getline(&line, &cap, fp) > 0) {
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '#') {
      free(header);
      header = infb_strdup(line[1] == ' ' ? line + 2 : line + 1);
      if (!header)
        st = GSL_ENOMEM;
      continue;
    }
    if (ia < 0) { /* the last comment line names the columns */
      long j = 0;
      for (char *tok = header ? strtok(header, "\t") : NULL; tok; tok = strtok(NULL, "\t"), j++) {
        if (strcmp(tok, ca) == 0)
          ia = j;
        if (strcmp(tok, cb) == 0)
          ib = j;
      }
      if (ia < 0 || ib < 0) {
        st = INFB_ERROR(INFB_EDATA, "%s: no columns %s and %s", path, ca, cb);
        break;
      }
    }
    long j = 0;
    int got = 0;
    for (char *p = line; p; j++) {
      char *tab = strchr(p, '\t');
      if (tab)
        *tab = '\0';
      if (j == ia || j == ib) {
        char *end;
        double v = strtod(p, &end);
        if (end == p) {
          st = INFB_ERROR(INFB_EDATA, "%s: row %zu: '%s' is not a number", path, rows + 1, p);
          break;
        }
        (j == ia ? a : b)[rows] = v;
        got++;
      }
      p = tab ? tab + 1 : NULL;
    }
    if (!st && got < 2)
      st = INFB_ERROR(INFB_EDATA, "%s: row %zu is short", path, rows + 1);
    rows++;
  }
  if (!st && rows < n)
    st = INFB_ERROR(INFB_EDATA, "%s: %zu rows, %zu expected", path, rows, n);
  free(line);
  free(header);
  fclose(fp);
  free(path);
  return st;
}

/* ------------------------------------------------------------------ network passes */

/* The encoder's means and ln σ² of n images, in chunks of cap rows. */
static int
encode_all(infb_vae_f32 *v, size_t cap, size_t n, size_t D, size_t K, const float *X,
           float *MU, float *LV)
{
  for (size_t i0 = 0; i0 < n; i0 += cap) {
    size_t m = n - i0 < cap ? n - i0 : cap;
    int st = infb_vae_encode_f32(v, m, X + i0 * D, MU + i0 * K, LV + i0 * K);
    if (st)
      return st;
  }
  return GSL_SUCCESS;
}

/* The decoder's Bernoulli means for n latent rows, in chunks of cap rows. */
static int
decode_all(infb_vae_f32 *v, size_t cap, size_t n, size_t D, size_t K, const float *Z, float *P)
{
  for (size_t i0 = 0; i0 < n; i0 += cap) {
    size_t m = n - i0 < cap ? n - i0 : cap;
    int st = infb_vae_decode_f32(v, m, Z + i0 * K, P + i0 * D);
    if (st)
      return st;
  }
  return GSL_SUCCESS;
}

/* ------------------------------------------------------------------ figure context */

typedef struct figctx {
  const infb_vaefigs_input *in;
  figopts o;
  infb_vae_f32 *v;        /* evaluation copy */
  size_t cap;             /* its rows per call */
  size_t D, K;
  int eval[2];            /* split evaluated by the gap report */
  size_t neval[2];        /* its points */
  int fs;                 /* the figure split */
  json_t *figs, *notes, *curves;
} figctx;

static int
interrupted(const figctx *f)
{
  return infb_run_interrupted(f->in->opt) ? INFB_ERROR(INFB_EINTR, "interrupted") : 0;
}

/* ------------------------------------------------------------------ (a) IWAE against k */

/* IWAE-k for every k of the list on the first P points of split s; the same stream
 * ("figures/iwae", first_index + i) for every k, so the bounds of one point are nested
 * (the k samples are the first k of the larger k's). */
static int
iwae_split(figctx *f, int s, size_t P, double *rows, int *has_ref)
{
  const infb_vaefigs_input *in = f->in;
  const size_t nk = f->o.nk, D = f->D;
  const size_t G = f->o.qstar.batch_points < P ? f->o.qstar.batch_points : P;
  double *cur = infb_malloc(P, sizeof *cur), *prev = infb_malloc(P, sizeof *prev);
  double *se = infb_malloc(P, sizeof *se), *d = infb_malloc(P, sizeof *d);
  double *lp = infb_malloc(P, sizeof *lp), *eq = infb_malloc(P, sizeof *eq);
  gsl_rng **rngs = infb_calloc(G, sizeof *rngs);
  int st = GSL_ENOMEM;
  if (!cur || !prev || !se || !d || !lp || !eq || !rngs)
    goto done;
  /* The gap report's ln p̂(x) and L[q] of the same points. */
  char gname[160];
  snprintf(gname, sizeof gname, "gaps-%s-%s.tsv", in->stem, split_name[s]);
  int missing = 0;
  infb_stat slp = {NAN, NAN, 0, NAN}, seq = {NAN, NAN, 0, NAN}, sgap = {NAN, NAN, 0, NAN};
  if ((st = read_columns(in->dir, gname, "log_px", "elbo_q", P, lp, eq, &missing)))
    goto done;
  if (!missing) {
    infb_stat_of(lp, NULL, P, &slp);
    infb_stat_of(eq, NULL, P, &seq);
    for (size_t i = 0; i < P; i++)
      d[i] = lp[i] - eq[i];
    infb_stat_of(d, NULL, P, &sgap);
  } else {
    add_note(f->notes, "iwae: no %s, so no reference lines for the %s split", gname,
             split_name[s]);
  }
  *has_ref = !missing;
  for (size_t j = 0; j < nk; j++) {
    if ((st = interrupted(f)))
      goto done;
    infb_run_progress(in->opt, "%s: figures: IWAE-%zu on %zu %s points", in->name, f->o.ks[j],
                      P, split_name[s]);
    for (size_t i0 = 0; !st && i0 < P; i0 += G) {
      size_t m = P - i0 < G ? P - i0 : G;
      for (size_t t = 0; t < m; t++)
        if (!(rngs[t] = infb_rng_sampler(in->seed, "figures/iwae", in->first_index[s] + i0 + t)))
          st = GSL_ENOMEM;
      if (!st)
        st = infb_vae_iwae_f32(f->v, m, in->X[s] + i0 * D, NULL, NULL, f->o.ks[j], rngs,
                               cur + i0, se + i0);
      for (size_t t = 0; t < m; t++) {
        gsl_rng_free(rngs[t]);
        rngs[t] = NULL;
      }
    }
    if (st)
      goto done;
    infb_stat sk, sg = {NAN, NAN, 0, NAN}, sq = {NAN, NAN, 0, NAN};
    infb_stat_of(cur, se, P, &sk);
    if (j > 0) {
      for (size_t i = 0; i < P; i++)
        d[i] = cur[i] - prev[i];
      infb_stat_of(d, NULL, P, &sg);
    }
    if (!missing) {
      for (size_t i = 0; i < P; i++)
        d[i] = cur[i] - eq[i];
      infb_stat_of(d, NULL, P, &sq);
    }
    double *r = rows + IW_NCOLS * j;
    r[0] = (double)f->o.ks[j];
    r[1] = sk.mean;
    r[2] = sk.se;
    r[3] = sk.mc_se;
    r[4] = sg.mean;
    r[5] = sg.se;
    r[6] = slp.mean;
    r[7] = slp.se;
    r[8] = seq.mean;
    r[9] = seq.se;
    r[10] = sq.mean;
    r[11] = sq.se;
    r[12] = sgap.mean;
    r[13] = sgap.se;
    r[14] = (double)P;
    double *t = cur;
    cur = prev;
    prev = t;
  }
  st = GSL_SUCCESS;
done:
  free(cur);
  free(prev);
  free(se);
  free(d);
  free(lp);
  free(eq);
  free(rngs);
  return st;
}

static int
fig_iwae(figctx *f)
{
  const infb_vaefigs_input *in = f->in;
  if (f->o.nk == 0 || f->o.iwae_points == 0)
    return GSL_SUCCESS;
  static const char *const cols[IW_NCOLS] = {
      "k",         "iwae",   "iwae_se",   "iwae_mc_se",        "gain",
      "gain_se",   "log_px", "log_px_se", "elbo_q",            "elbo_q_se",
      "iwae_minus_elbo_q",   "iwae_minus_elbo_q_se", "log_px_minus_elbo_q",
      "log_px_minus_elbo_q_se", "points"};
  char files[2][160], stem[160];
  const char *written[2] = {NULL, NULL};
  const char *listed[2];
  size_t nlisted = 0;
  int has_ref = 1, any = 0;
  double *rows = infb_malloc(IW_NCOLS * f->o.nk, sizeof *rows);
  if (!rows)
    return GSL_ENOMEM;
  int st = GSL_SUCCESS;
  json_t *curve = json_object();
  for (int s = 0; s < 2 && !st; s++) {
    if (!f->eval[s])
      continue;
    size_t P = f->o.iwae_points < f->neval[s] ? f->o.iwae_points : f->neval[s];
    int ref = 0;
    if ((st = iwae_split(f, s, P, rows, &ref)))
      break;
    has_ref &= ref;
    snprintf(files[s], sizeof files[s], "iwae-%s-%s.tsv", in->stem, split_name[s]);
    char comment[320];
    snprintf(comment, sizeof comment,
             "IWAE-k on the first %zu %s points (nats): mean over the points, its standard "
             "error, Monte-Carlo error; gain over the previous k; the gap report's ln p(x) and "
             "L[q] over the same points; IWAE-k - L[q] and ln p(x) - L[q] (paired)",
             P, split_name[s]);
    if ((st = infb_tsv_write(in->dir, files[s], comment, IW_NCOLS, cols, f->o.nk, NULL, rows)))
      break;
    written[s] = files[s];
    listed[nlisted++] = files[s];
    any = 1;
    /* results.json: the curve's columns k .. gain_se and IWAE-k − L[q]. */
    static const int jcol[8] = {0, 1, 2, 3, 4, 5, 10, 11};
    static const char *const jname[8] = {"k",    "mean",    "se",
                                         "mc_se", "gain",   "gain_se",
                                         "minus_elbo_q", "minus_elbo_q_se"};
    json_t *g = json_pack("{s:I}", "points", (json_int_t)P);
    for (int c = 0; c < 8; c++) {
      json_t *arr = json_array();
      for (size_t j = 0; j < f->o.nk; j++)
        json_array_append_new(arr, c == 0 ? json_integer((json_int_t)f->o.ks[j])
                                          : infb_json_number(rows[IW_NCOLS * j + jcol[c]]));
      json_object_set_new(g, jname[c], arr);
    }
    json_object_set_new(curve, split_name[s], g);
  }
  free(rows);
  if (!st && any) {
    json_object_set_new(f->curves, "iwae_curve", curve);
    curve = NULL;
    snprintf(stem, sizeof stem, "iwae-%s", in->stem);
    st = infb_plot_iwae_write(in->dir, stem, written[0], written[1], in->name, has_ref);
    if (!st)
      add_figure(f->figs, "iwae", stem, nlisted, listed);
  }
  json_decref(curve);
  return st;
}

/* ------------------------------------------------------------------ (b), (c) image grids */

static int
fig_recon(figctx *f)
{
  const infb_vaefigs_input *in = f->in;
  const int s = f->fs;
  const size_t N = f->o.recon < in->n[s] ? f->o.recon : in->n[s];
  if (N == 0)
    return GSL_SUCCESS;
  const size_t D = f->D, K = f->K;
  infb_run_progress(in->opt, "%s: figures: %zu reconstructions", in->name, N);
  float *MU = infb_malloc(N * K, sizeof *MU), *LV = infb_malloc(N * K, sizeof *LV);
  float *P = infb_malloc(N * D, sizeof *P);
  int st = GSL_ENOMEM;
  infb_afile *af = NULL;
  char file[160], stem[160];
  snprintf(file, sizeof file, "recon-%s.tsv", in->stem);
  snprintf(stem, sizeof stem, "recon-%s", in->stem);
  if (!MU || !LV || !P)
    goto done;
  if ((st = encode_all(f->v, f->cap, N, D, K, in->X[s], MU, LV)) ||
      (st = decode_all(f->v, f->cap, N, D, K, MU, P)))
    goto done;
  static const char *const cols[] = {"image", "kind", "row", "col", "value"};
  char comment[200];
  snprintf(comment, sizeof comment,
           "the first %zu %s images (kind 0, as evaluated) and their reconstructions (kind 1: "
           "Bernoulli means at the encoder's mean), one block per image, %zux%zu pixels",
           N, split_name[s], in->height, in->width);
  if (!(af = blocks_open(in->dir, file, comment, 5, cols))) {
    st = GSL_EFAILED;
    goto done;
  }
  for (size_t i = 0; i < N; i++)
    for (int kind = 0; kind < 2; kind++) {
      if (i || kind)
        fputs("\n\n", af->fp);
      const float *img = kind ? P + i * D : in->X[s] + i * D;
      for (size_t p = 0; p < D; p++) {
        double r[5] = {(double)i, kind, (double)(p / in->width), (double)(p % in->width),
                       img[p]};
        put_row(af->fp, r, 5, 9);
      }
    }
  st = infb_afile_commit(af);
  af = NULL;
  if (!st)
    st = infb_plot_recon_write(in->dir, stem, file, in->name, N, in->height, in->width,
                               f->o.columns);
  if (!st) {
    const char *data[1] = {file};
    add_figure(f->figs, "reconstructions", stem, 1, data);
  }
done:
  infb_afile_abort(af);
  free(MU);
  free(LV);
  free(P);
  return st;
}

static int
fig_samples(figctx *f)
{
  const infb_vaefigs_input *in = f->in;
  const size_t S = f->o.prior, D = f->D, K = f->K;
  if (S == 0)
    return GSL_SUCCESS;
  infb_run_progress(in->opt, "%s: figures: %zu samples from the prior", in->name, S);
  float *Z = infb_malloc(S * K, sizeof *Z), *P = infb_malloc(S * D, sizeof *P);
  gsl_rng *r = infb_rng_stream(in->seed, "figures/prior", 0);
  int st = GSL_ENOMEM;
  infb_afile *af = NULL;
  char file[160], stem[160];
  snprintf(file, sizeof file, "samples-%s.tsv", in->stem);
  snprintf(stem, sizeof stem, "samples-%s", in->stem);
  if (!Z || !P || !r)
    goto done;
  /* z ~ N(0, I), sample after sample, dimension after dimension. */
  for (size_t i = 0; i < S * K; i++)
    Z[i] = (float)gsl_ran_gaussian_ziggurat(r, 1.0);
  if ((st = decode_all(f->v, f->cap, S, D, K, Z, P)))
    goto done;
  static const char *const cols[] = {"sample", "row", "col", "value"};
  char comment[200];
  snprintf(comment, sizeof comment,
           "%zu samples from the model: Bernoulli means at z ~ N(0, I) (stream figures/prior), "
           "one block per sample, %zux%zu pixels",
           S, in->height, in->width);
  if (!(af = blocks_open(in->dir, file, comment, 4, cols))) {
    st = GSL_EFAILED;
    goto done;
  }
  for (size_t i = 0; i < S; i++) {
    if (i)
      fputs("\n\n", af->fp);
    for (size_t p = 0; p < D; p++) {
      double row[4] = {(double)i, (double)(p / in->width), (double)(p % in->width),
                       P[i * D + p]};
      put_row(af->fp, row, 4, 9);
    }
  }
  st = infb_afile_commit(af);
  af = NULL;
  if (!st)
    st = infb_plot_samples_write(in->dir, stem, file, in->name, S, in->height, in->width,
                                 f->o.columns);
  if (!st) {
    const char *data[1] = {file};
    add_figure(f->figs, "prior_samples", stem, 1, data);
  }
done:
  infb_afile_abort(af);
  gsl_rng_free(r);
  free(Z);
  free(P);
  return st;
}

/* ------------------------------------------------------------------ (d) latent space */

static int
fig_latent(figctx *f)
{
  const infb_vaefigs_input *in = f->in;
  const int s = f->fs;
  const size_t M = f->o.latent < in->n[s] ? f->o.latent : in->n[s], K = f->K;
  if (M == 0)
    return GSL_SUCCESS;
  infb_run_progress(in->opt, "%s: figures: the latent space of %zu images", in->name, M);
  float *MU = infb_malloc(M * K, sizeof *MU), *LV = infb_malloc(M * K, sizeof *LV);
  double *rows = infb_malloc(M * 6, sizeof *rows);
  int st = GSL_ENOMEM;
  if (!MU || !LV || !rows)
    goto done;
  if ((st = encode_all(f->v, f->cap, M, f->D, K, in->X[s], MU, LV)))
    goto done;
  const uint8_t *lab = in->labels[s];
  for (size_t i = 0; i < M; i++) {
    double *r = rows + 6 * i;
    r[0] = (double)i;
    r[1] = lab ? (double)lab[i] : NAN;
    r[2] = MU[2 * i];
    r[3] = MU[2 * i + 1];
    r[4] = exp(0.5 * LV[2 * i]);
    r[5] = exp(0.5 * LV[2 * i + 1]);
  }
  static const char *const cols[] = {"index", "label", "mu1", "mu2", "sd1", "sd2"};
  char file[160], stem[160], comment[200];
  snprintf(file, sizeof file, "latent-%s.tsv", in->stem);
  snprintf(stem, sizeof stem, "latent-%s", in->stem);
  snprintf(comment, sizeof comment,
           "K = 2: the encoder's means and standard deviations of the first %zu %s images, "
           "with their class labels (NaN: none)",
           M, split_name[s]);
  if ((st = infb_tsv_write(in->dir, file, comment, 6, cols, M, NULL, rows)))
    goto done;
  if (!lab)
    add_note(f->notes, "latent space: no class labels for the %s images, drawn in one colour",
             split_name[s]);
  st = infb_plot_latent2d_write(in->dir, stem, file, in->name, lab ? f->o.nclasses : 0,
                                (const char *const *)f->o.class_names);
  if (!st) {
    const char *data[1] = {file};
    add_figure(f->figs, "latent_space", stem, 1, data);
  }
done:
  free(MU);
  free(LV);
  free(rows);
  return st;
}

/* ------------------------------------------------------------------ (e) grid posterior */

/* One grid of G×G cells of width h with lower corner (lo1, lo2): cell c = a·G + b has
 * centre z = (lo1 + (a + ½)h, lo2 + (b + ½)h) (scans of fixed z1).  The summaries of the
 * exact posterior p(z|x) ∝ p(x|z) N(z; 0, I) on it (midpoint rule). */
typedef struct pgrid {
  size_t G;
  double lo1, lo2, h;
  double *lw;        /* G² log weights ln p(x|z) + ln N(z; 0, I) */
  double log_px;     /* ln Σ_c p(x|z_c) N(z_c) h² */
  double m[2], S[3]; /* mean, covariance (s11, s12, s22) */
} pgrid;

/* Run the decoder on the grid (x repeated in Xrep, cap rows) and summarise. */
static int
pgrid_eval(infb_vae_f32 *v, size_t cap, const float *Xrep, float *Z, double *lp, pgrid *g)
{
  const size_t G = g->G, n = G * G;
  const double ln2pi = log(2 * M_PI);
  for (size_t c0 = 0; c0 < n; c0 += cap) {
    size_t m = n - c0 < cap ? n - c0 : cap;
    for (size_t r = 0; r < m; r++) {
      size_t c = c0 + r;
      Z[2 * r] = (float)(g->lo1 + ((double)(c / G) + 0.5) * g->h);
      Z[2 * r + 1] = (float)(g->lo2 + ((double)(c % G) + 0.5) * g->h);
    }
    int st = infb_vae_decoder_loglik_f32(v, m, Xrep, Z, lp, NULL);
    if (st)
      return st;
    for (size_t r = 0; r < m; r++) {
      double z1 = Z[2 * r], z2 = Z[2 * r + 1];
      g->lw[c0 + r] = lp[r] - 0.5 * (z1 * z1 + z2 * z2) - ln2pi;
    }
  }
  double mx = -INFINITY;
  for (size_t c = 0; c < n; c++)
    mx = fmax(mx, g->lw[c]);
  if (!isfinite(mx))
    return INFB_ERROR(GSL_EDOM, "grid posterior: the likelihood is not finite on the grid");
  double sum = 0, s1 = 0, s2 = 0;
  for (size_t c = 0; c < n; c++) {
    double w = exp(g->lw[c] - mx);
    sum += w;
    s1 += w * (g->lo1 + ((double)(c / G) + 0.5) * g->h);
    s2 += w * (g->lo2 + ((double)(c % G) + 0.5) * g->h);
  }
  g->m[0] = s1 / sum;
  g->m[1] = s2 / sum;
  double c11 = 0, c12 = 0, c22 = 0;
  for (size_t c = 0; c < n; c++) {
    double w = exp(g->lw[c] - mx) / sum;
    double d1 = g->lo1 + ((double)(c / G) + 0.5) * g->h - g->m[0];
    double d2 = g->lo2 + ((double)(c % G) + 0.5) * g->h - g->m[1];
    c11 += w * d1 * d1;
    c12 += w * d1 * d2;
    c22 += w * d2 * d2;
  }
  g->S[0] = c11;
  g->S[1] = c12;
  g->S[2] = c22;
  g->log_px = mx + log(sum) + 2 * log(g->h);
  return GSL_SUCCESS;
}

/* The next window: a square holding the posterior's mean ± span sd (each sd at least the
 * current cell width) and the levels-sd boxes of q* and q (q NULL: none). */
static void
pgrid_window(pgrid *g, double span, const double qs[4], const double *q)
{
  double lo[2], hi[2];
  for (int k = 0; k < 2; k++) {
    double sd = sqrt(fmax(g->S[k ? 2 : 0], g->h * g->h));
    lo[k] = g->m[k] - span * sd;
    hi[k] = g->m[k] + span * sd;
    const double *par[2] = {qs, q};
    for (int j = 0; j < (q ? 2 : 1); j++) {
      double r = INFB_PLOT_POSTERIOR_LEVELS * sqrt(par[j][2 + k]);
      lo[k] = fmin(lo[k], par[j][k] - r);
      hi[k] = fmax(hi[k], par[j][k] + r);
    }
  }
  double half = fmax(hi[0] - lo[0], hi[1] - lo[1]) / 2;
  g->h = 2 * half / (double)g->G;
  g->lo1 = (lo[0] + hi[0]) / 2 - half;
  g->lo2 = (lo[1] + hi[1]) / 2 - half;
}

static int
cmp_desc(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* KL(N(mu, diag var) ‖ p) on the grid, both normalised over its cells (nats). */
static double
grid_kl(const pgrid *g, const double *logpost, double mu1, double mu2, double v1, double v2)
{
  const size_t G = g->G, n = G * G;
  double mq = 0, acc = 0;
  for (size_t c = 0; c < n; c++) {
    double z1 = g->lo1 + ((double)(c / G) + 0.5) * g->h;
    double z2 = g->lo2 + ((double)(c % G) + 0.5) * g->h;
    double lq = -0.5 * ((z1 - mu1) * (z1 - mu1) / v1 + (z2 - mu2) * (z2 - mu2) / v2) -
                log(2 * M_PI) - 0.5 * log(v1 * v2);
    double w = exp(lq) * g->h * g->h;
    if (w > 0) {
      mq += w;
      acc += w * (lq - logpost[c]);
    }
  }
  /* q renormalised to the window: Σ (w/mq)(ln q − ln mq − ln p). */
  return acc / mq - log(mq);
}

static int
fig_posterior(figctx *f)
{
  const infb_vaefigs_input *in = f->in;
  const int s = f->fs;
  const size_t Q = f->o.post_images < in->n[s] ? f->o.post_images : in->n[s];
  if (Q == 0)
    return GSL_SUCCESS;
  const size_t D = f->D, K = f->K, G = f->o.post_grid, n = G * G, cap = f->cap;
  const int has_q = in->has_encoder;
  infb_run_progress(in->opt, "%s: figures: q* and the grid posterior of %zu images", in->name,
                    Q);
  float *MU = infb_malloc(Q * K, sizeof *MU), *LV = infb_malloc(Q * K, sizeof *LV);
  double *Xd = infb_malloc(Q * D, sizeof *Xd);
  double *QM = infb_malloc(Q * K, sizeof *QM), *QV = infb_malloc(Q * K, sizeof *QV);
  infb_qstar_point *qp = infb_calloc(Q, sizeof *qp);
  float *Xrep = infb_malloc(cap * D, sizeof *Xrep), *Z = infb_malloc(cap * K, sizeof *Z);
  double *lp = infb_malloc(cap, sizeof *lp), *lw = infb_malloc(n, sizeof *lw);
  double *sorted = infb_malloc(n, sizeof *sorted);
  const size_t ncol = 23 + INFB_PLOT_POSTERIOR_LEVELS;
  double *rows = infb_malloc(Q * ncol, sizeof *rows);
  char **captions = infb_calloc(Q, sizeof *captions);
  infb_vae_decoder *dec = infb_vae_decoder_alloc(f->v, cap);
  infb_afile *af = NULL;
  int st = GSL_ENOMEM;
  char file[160], gfile[160], stem[160];
  snprintf(file, sizeof file, "posterior-%s.tsv", in->stem);
  snprintf(gfile, sizeof gfile, "posterior-%s-grid.tsv", in->stem);
  snprintf(stem, sizeof stem, "posterior-%s", in->stem);
  if (!MU || !LV || !Xd || !QM || !QV || !qp || !Xrep || !Z || !lp || !lw || !sorted || !rows ||
      !captions || !dec)
    goto done;

  /* The encoder's q and the gap report's q* (same options and streams). */
  if ((st = encode_all(f->v, cap, Q, D, K, in->X[s], MU, LV)))
    goto done;
  for (size_t i = 0; i < Q * D; i++)
    Xd[i] = in->X[s][i];
  infb_qstar_options qo = f->o.qstar;
  qo.init_given = f->o.qstar_init_encoder && has_q; /* as the gap report */
  for (size_t i = 0; i < Q * K; i++) {
    QM[i] = qo.init_given ? MU[i] : 0.0;
    QV[i] = qo.init_given ? LV[i] : 0.0;
  }
  qo.threads = infb_vae_run_threads_f32(f->v); /* as the gap report */
  infb_vae_decoder_bind(dec, Q, in->X[s]);  /* Xd is its double copy */
  infb_decoder dd = infb_vae_decoder_ops(dec);
  if ((st = infb_qstar_optimize(&dd, &qo, Q, Xd, in->first_index[s], QM, QV, qp)))
    goto done;
  if ((st = interrupted(f)))
    goto done;

  static const char *const gcols[] = {"z1", "z2", "density"};
  char comment[256];
  snprintf(comment, sizeof comment,
           "K = 2: the exact posterior p(z|x) of the first %zu %s images on a %zux%zu grid "
           "(density, integrating to 1 over the cells), one block per image, scans of fixed z1",
           Q, split_name[s], G, G);
  if (!(af = blocks_open(in->dir, gfile, comment, 3, gcols))) {
    st = GSL_EFAILED;
    goto done;
  }
  for (size_t i = 0; i < Q; i++) {
    const float *x = in->X[s] + i * D;
    for (size_t r = 0; r < cap; r++)
      memcpy(Xrep + r * D, x, D * sizeof *x);
    const double qs[4] = {QM[2 * i], QM[2 * i + 1], exp(QV[2 * i]), exp(QV[2 * i + 1])};
    const double q[4] = {has_q ? MU[2 * i] : NAN, has_q ? MU[2 * i + 1] : NAN,
                         has_q ? exp(LV[2 * i]) : NAN, has_q ? exp(LV[2 * i + 1]) : NAN};
    pgrid g = {.G = G, .lo1 = -f->o.post_range, .lo2 = -f->o.post_range,
               .h = 2 * f->o.post_range / (double)G, .lw = lw};
    for (int pass = 0; pass <= POSTERIOR_REFINE && !st; pass++) {
      if (pass)
        pgrid_window(&g, f->o.post_span, qs, has_q ? q : NULL);
      st = pgrid_eval(f->v, cap, Xrep, Z, lp, &g);
    }
    if (st)
      goto done;
    /* Log density on the grid: ln p(z|x) = lw − ln p(x) (the grid's normaliser). */
    for (size_t c = 0; c < n; c++)
      lw[c] -= g.log_px;
    /* Highest-density levels: the density at which the cells above it hold the
     * probability 1 − exp(−k²/2). */
    double h2 = g.h * g.h;
    for (size_t c = 0; c < n; c++)
      sorted[c] = exp(lw[c]);
    qsort(sorted, n, sizeof *sorted, cmp_desc);
    double *row = rows + ncol * i;
    double cum = 0;
    size_t c = 0;
    for (int k = 1; k <= INFB_PLOT_POSTERIOR_LEVELS; k++) {
      double target = -expm1(-0.5 * k * k);
      while (c < n - 1 && cum + sorted[c] * h2 < target)
        cum += sorted[c++] * h2;
      row[8 + k - 1] = sorted[c];
    }
    size_t j = 0;
    row[j++] = (double)i;
    row[j++] = in->labels[s] ? (double)in->labels[s][i] : NAN;
    row[j++] = g.log_px;
    row[j++] = g.m[0];
    row[j++] = g.m[1];
    row[j++] = g.S[0];
    row[j++] = g.S[1];
    row[j++] = g.S[2];
    j += INFB_PLOT_POSTERIOR_LEVELS;
    for (int t = 0; t < 4; t++)
      row[j++] = qs[t];
    for (int t = 0; t < 4; t++)
      row[j++] = q[t];
    row[j++] = grid_kl(&g, lw, qs[0], qs[1], qs[2], qs[3]);
    row[j++] = has_q ? grid_kl(&g, lw, q[0], q[1], q[2], q[3]) : NAN;
    row[j++] = g.h;
    row[j++] = g.lo1;
    row[j++] = g.lo1 + (double)G * g.h;
    row[j++] = g.lo2;
    row[j++] = g.lo2 + (double)G * g.h;
    /* The grid block. */
    if (i)
      fputs("\n\n", af->fp);
    for (size_t a = 0; a < G; a++) {
      if (a)
        fputc('\n', af->fp);
      for (size_t b = 0; b < G; b++) {
        double v3[3] = {g.lo1 + ((double)a + 0.5) * g.h, g.lo2 + ((double)b + 0.5) * g.h,
                        exp(lw[a * G + b])};
        put_row(af->fp, v3, 3, 17);
      }
    }
    char cap_text[160];
    const uint8_t *lab = in->labels[s];
    if (lab && lab[i] < f->o.nclasses)
      snprintf(cap_text, sizeof cap_text, "%s image %zu: %s", split_name[s], i,
               f->o.class_names[lab[i]]);
    else
      snprintf(cap_text, sizeof cap_text, "%s image %zu", split_name[s], i);
    if (!(captions[i] = infb_strdup(cap_text))) {
      st = GSL_ENOMEM;
      goto done;
    }
  }
  st = infb_afile_commit(af);
  af = NULL;
  if (st)
    goto done;
  const char *cols[23 + INFB_PLOT_POSTERIOR_LEVELS];
  {
    static const char *const head[] = {"index", "label", "log_px_grid", "m1", "m2",
                                       "s11",   "s12",   "s22"};
    static const char *const lvn[] = {"lv1", "lv2", "lv3", "lv4", "lv5", "lv6", "lv7", "lv8"};
    static const char *const tail[] = {"qs_m1", "qs_m2", "qs_v1", "qs_v2", "q_m1",
                                       "q_m2",  "q_v1",  "q_v2",  "kl_qstar", "kl_q",
                                       "cell",  "z1_lo", "z1_hi", "z2_lo", "z2_hi"};
    _Static_assert(INFB_PLOT_POSTERIOR_LEVELS <= sizeof lvn / sizeof lvn[0],
                   "level column names");
    _Static_assert(sizeof head / sizeof head[0] + sizeof tail / sizeof tail[0] == 23,
                   "posterior summary columns");
    size_t j = 0;
    for (size_t t = 0; t < 8; t++)
      cols[j++] = head[t];
    for (size_t t = 0; t < INFB_PLOT_POSTERIOR_LEVELS; t++)
      cols[j++] = lvn[t];
    for (size_t t = 0; t < 15; t++)
      cols[j++] = tail[t];
  }
  snprintf(comment, sizeof comment,
           "K = 2, per image: ln p(x) on the grid, the exact posterior's mean and covariance, "
           "its highest-density levels (1-%d sd), q* and q (means, variances), KL(q*|p) and "
           "KL(q|p) on the grid (nats), the grid's cell and window",
           INFB_PLOT_POSTERIOR_LEVELS);
  if ((st = infb_tsv_write(in->dir, file, comment, ncol, cols, Q, NULL, rows)))
    goto done;
  st = infb_plot_posterior_grid_write(in->dir, stem, file, gfile, in->name, Q,
                                      (const char *const *)captions, has_q);
  if (!st) {
    const char *data[2] = {file, gfile};
    add_figure(f->figs, "posterior", stem, 2, data);
  }
done:
  infb_afile_abort(af);
  infb_vae_decoder_free(dec);
  for (size_t i = 0; captions && i < Q; i++)
    free(captions[i]);
  free(captions);
  free(MU);
  free(LV);
  free(Xd);
  free(QM);
  free(QV);
  free(qp);
  free(Xrep);
  free(Z);
  free(lp);
  free(lw);
  free(sorted);
  free(rows);
  return st;
}

/* ------------------------------------------------------------------ driver */

int
infb_vaefigs_write(const infb_vaefigs_input *in, struct infb_vae_f32 *vae, json_t *obj)
{
  if (!in || !vae || !obj || !in->cfg || !in->dir || !in->name || !in->stem)
    return INFB_ERROR(GSL_EINVAL, "figures: missing arguments");
  const infb_vae_arch *arch = infb_vae_arch_f32(vae);
  figctx f;
  memset(&f, 0, sizeof f);
  f.in = in;
  f.D = arch->D;
  f.K = arch->K;
  if (in->height * in->width != f.D)
    return INFB_ERROR(GSL_EINVAL, "figures: %zux%zu images, but the model has D = %zu",
                      in->height, in->width, f.D);
  int st = figopts_read(in->cfg, in->name, &f.o);
  if (st) {
    figopts_free(&f.o);
    return st;
  }
  /* An evaluation copy of the network, of the gap report's q* batch shape. */
  f.v = infb_vae_alloc_f32(arch, f.o.qstar.batch_points, f.o.qstar.samples);
  size_t np = 0, np2 = 0;
  const float *src = infb_vae_params_f32(vae, &np);
  float *dst = f.v ? infb_vae_params_f32(f.v, &np2) : NULL;
  f.figs = json_object();
  f.notes = json_array();
  f.curves = obj;
  if (!dst || np != np2 || !f.figs || !f.notes) {
    st = GSL_ENOMEM;
    goto done;
  }
  memcpy(dst, src, np * sizeof *dst);
  f.cap = f.o.qstar.batch_points * f.o.qstar.samples;
  for (int s = 0; s < 2; s++) {
    f.eval[s] = in->n[s] > 0 && in->X[s] &&
                (strcmp(f.o.eval_split, "both") == 0 || strcmp(f.o.eval_split, split_name[s]) == 0);
    f.neval[s] = in->n[s] < f.o.eval_points ? in->n[s] : f.o.eval_points;
  }
  f.fs = in->n[1] > 0 && in->X[1] && strcmp(f.o.eval_split, "train") != 0 ? 1 : 0;
  if (in->n[f.fs] == 0 || !in->X[f.fs]) {
    st = INFB_ERROR(GSL_EINVAL, "figures: no images");
    goto done;
  }
  if (!in->has_encoder)
    add_note(f.notes, "no trained encoder: no IWAE-against-k, reconstruction or latent-space "
                      "figure, and no q in the posterior figure");
  if (in->has_encoder && !(st = interrupted(&f)))
    st = fig_iwae(&f);
  if (!st && in->has_encoder && !(st = interrupted(&f)))
    st = fig_recon(&f);
  if (!st && !(st = interrupted(&f)))
    st = fig_samples(&f);
  if (!st && f.K == 2) {
    if (in->has_encoder && !(st = interrupted(&f)))
      st = fig_latent(&f);
    if (!st && !(st = interrupted(&f)))
      st = fig_posterior(&f);
  } else if (!st) {
    add_note(f.notes,
             "latent space and posterior figures: drawn for K = 2 only, the model has K = %zu",
             f.K);
  }
done:
  if (f.figs)
    json_object_set_new(obj, "figures", f.figs);
  if (f.notes && json_array_size(f.notes))
    json_object_set_new(obj, "notes", f.notes);
  else
    json_decref(f.notes);
  infb_vae_free_f32(f.v);
  figopts_free(&f.o);
  return st;
}
