/* The gap report (see gapeval.h): exact for the linear-Gaussian model, with the numeric
 * q* of infer/qstar.c beside the closed form. */
#include <config.h>
#include "infer/gapeval.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/fault.h"
#include "core/rng.h"
#include "infer/ais.h"
#include "infer/lggroups.h"
#include "infer/psis.h"
#include "infer/vaegroups.h"
#include "par/sched.h"
#include "nn/vae.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
infb_stat_of(const double *v, const double *mc, size_t n, infb_stat *out)
{
  out->n = n;
  out->mean = out->se = NAN;
  out->mc_se = NAN;
  if (n == 0)
    return;
  double m = 0.0;
  for (size_t i = 0; i < n; i++)
    m += v[i];
  m /= (double)n;
  double s2 = 0.0;
  for (size_t i = 0; i < n; i++)
    s2 += (v[i] - m) * (v[i] - m);
  out->mean = m;
  out->se = n > 1 ? sqrt(s2 / (double)(n - 1) / (double)n) : 0.0;
  if (mc) {
    double q = 0.0;
    for (size_t i = 0; i < n; i++)
      q += mc[i] * mc[i];
    out->mc_se = sqrt(q) / (double)n;
  }
}

void
infb_gap_report_free(infb_gap_report *rep)
{
  if (!rep)
    return;
  free(rep->pts);
  rep->pts = NULL;
  rep->n = 0;
  for (size_t j = 0; j < rep->nmethods; j++) {
    infb_logpx_method *m = &rep->methods[j];
    free(m->value);
    free(m->mc_se);
    for (size_t e = 0; e < m->nextra; e++)
      free(m->extra[e]);
  }
  memset(rep->methods, 0, sizeof rep->methods);
  rep->nmethods = 0;
  for (size_t j = 0; j < rep->nfamilies; j++) {
    free(rep->families[j].value);
    free(rep->families[j].mc_se);
  }
  memset(rep->families, 0, sizeof rep->families);
  rep->nfamilies = 0;
}

const char *
infb_logpx_kind_name(int kind)
{
  switch (kind) {
  case INFB_LOGPX_EXACT:
    return "exact";
  case INFB_LOGPX_LOWER:
    return "lower-bound";
  case INFB_LOGPX_UPPER:
    return "upper-bound";
  default:
    return "diagnostic";
  }
}

/* The summary of m over its finite values. */
static void
method_summarise(infb_logpx_method *m)
{
  size_t k = 0;
  int mc = m->kind != INFB_LOGPX_EXACT;
  double *v = infb_malloc(m->n ? m->n : 1, sizeof *v), *e = infb_malloc(m->n ? m->n : 1, sizeof *e);
  if (!v || !e) {
    free(v);
    free(e);
    infb_stat_of(NULL, NULL, 0, &m->stat);
    return;
  }
  for (size_t i = 0; i < m->n; i++)
    if (isfinite(m->value[i])) {
      v[k] = m->value[i];
      e[k++] = m->mc_se[i];
    }
  infb_stat_of(v, mc ? e : NULL, k, &m->stat);
  free(v);
  free(e);
}

infb_logpx_method *
infb_gap_report_add_method(infb_gap_report *rep, const char *name, int kind, size_t n,
                           const double *value, const double *mc_se)
{
  if (rep->nmethods == INFB_GAP_MAX_METHODS)
    INFB_ERROR_NULL(GSL_EINVAL, "gap report: more than %d ln p(x) methods",
                    INFB_GAP_MAX_METHODS);
  infb_logpx_method *m = &rep->methods[rep->nmethods];
  memset(m, 0, sizeof *m);
  m->value = infb_malloc(n ? n : 1, sizeof *m->value);
  m->mc_se = infb_malloc(n ? n : 1, sizeof *m->mc_se);
  if (!m->value || !m->mc_se) {
    free(m->value);
    free(m->mc_se);
    m->value = m->mc_se = NULL;
    return NULL;
  }
  m->name = name;
  m->kind = kind;
  m->n = n;
  for (size_t i = 0; i < n; i++) {
    m->value[i] = value[i];
    m->mc_se[i] = mc_se ? mc_se[i] : NAN;
  }
  method_summarise(m);
  rep->nmethods++;
  return m;
}

int
infb_gap_method_add_extra(infb_logpx_method *m, const char *name, const double *v)
{
  if (m->nextra == INFB_GAP_MAX_EXTRAS)
    return INFB_ERROR(GSL_EINVAL, "gap report: method %s has %d diagnostics already", m->name,
                      INFB_GAP_MAX_EXTRAS);
  double *c = infb_malloc(m->n ? m->n : 1, sizeof *c);
  if (!c)
    return GSL_ENOMEM;
  memcpy(c, v, m->n * sizeof *c);
  m->extra_name[m->nextra] = name;
  m->extra[m->nextra++] = c;
  return GSL_SUCCESS;
}

const infb_logpx_method *
infb_gap_report_method(const infb_gap_report *rep, const char *name)
{
  for (size_t j = 0; j < rep->nmethods; j++)
    if (strcmp(rep->methods[j].name, name) == 0)
      return &rep->methods[j];
  return NULL;
}

infb_qstar_family *
infb_gap_report_add_family(infb_gap_report *rep, const char *name, const double *value,
                           const double *mc_se)
{
  if (rep->nfamilies == INFB_GAP_MAX_FAMILIES)
    INFB_ERROR_NULL(GSL_EINVAL, "gap report: more than %d variational families",
                    INFB_GAP_MAX_FAMILIES);
  const size_t n = rep->n;
  infb_qstar_family *f = &rep->families[rep->nfamilies];
  memset(f, 0, sizeof *f);
  f->value = infb_malloc(n ? n : 1, sizeof *f->value);
  f->mc_se = infb_malloc(n ? n : 1, sizeof *f->mc_se);
  double *v = infb_malloc(n ? n : 1, sizeof *v), *e = infb_malloc(n ? n : 1, sizeof *e);
  if (!f->value || !f->mc_se || !v || !e) {
    free(f->value);
    free(f->mc_se);
    free(v);
    free(e);
    f->value = f->mc_se = NULL;
    return NULL;
  }
  f->name = name;
  f->n = n;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    f->value[i] = value[i];
    f->mc_se[i] = mc_se ? mc_se[i] : NAN;
    if (isfinite(value[i])) {
      v[k] = value[i];
      e[k++] = f->mc_se[i];
    }
  }
  infb_stat_of(v, mc_se ? e : NULL, k, &f->stat);
  free(v);
  free(e);
  rep->nfamilies++;
  return f;
}

const infb_qstar_family *
infb_gap_report_family(const infb_gap_report *rep, const char *name)
{
  for (size_t j = 0; j < rep->nfamilies; j++)
    if (strcmp(rep->families[j].name, name) == 0)
      return &rep->families[j];
  return NULL;
}

/* The method ln p̂(x) is taken from: an exact one covering every point, else the lower
 * bound covering every point with the highest mean.  SIZE_MAX when there is none. */
static size_t
choose_method(const infb_gap_report *rep)
{
  size_t best = SIZE_MAX;
  for (size_t j = 0; j < rep->nmethods; j++) {
    const infb_logpx_method *m = &rep->methods[j];
    if (m->n != rep->n || m->stat.n != rep->n)
      continue;
    if (m->kind == INFB_LOGPX_EXACT)
      return j;
    if (m->kind == INFB_LOGPX_LOWER &&
        (best == SIZE_MAX || m->stat.mean > rep->methods[best].stat.mean))
      best = j;
  }
  return best;
}

/* Copy field `off` of every point into v. */
static void
column(const infb_gap_report *rep, size_t off, double *v)
{
  for (size_t i = 0; i < rep->n; i++)
    v[i] = *(const double *)((const char *)&rep->pts[i] + off);
}

static void
summarise(infb_gap_report *rep, double *v, double *mc)
{
  column(rep, offsetof(infb_gap_point, log_px), v);
  infb_stat_of(v, NULL, rep->n, &rep->log_px);
  column(rep, offsetof(infb_gap_point, elbo_qstar), v);
  infb_stat_of(v, NULL, rep->n, &rep->elbo_qstar);
  column(rep, offsetof(infb_gap_point, approximation_gap), v);
  infb_stat_of(v, NULL, rep->n, &rep->approximation_gap);
  if (rep->has_numeric) {
    column(rep, offsetof(infb_gap_point, elbo_qstar_numeric), v);
    column(rep, offsetof(infb_gap_point, elbo_qstar_numeric_mc_se), mc);
    infb_stat_of(v, mc, rep->n, &rep->elbo_qstar_numeric);
    rep->qstar_numeric_gap = rep->elbo_qstar.mean - rep->elbo_qstar_numeric.mean;
  } else {
    infb_stat_of(v, NULL, 0, &rep->elbo_qstar_numeric);
    rep->qstar_numeric_gap = NAN;
  }
  if (rep->has_q_mc) {
    column(rep, offsetof(infb_gap_point, elbo_q_mc), v);
    column(rep, offsetof(infb_gap_point, elbo_q_mc_se), mc);
    infb_stat_of(v, mc, rep->n, &rep->elbo_q_mc);
  } else {
    infb_stat_of(v, NULL, 0, &rep->elbo_q_mc);
  }
  if (rep->has_encoder) {
    column(rep, offsetof(infb_gap_point, elbo_q), v);
    infb_stat_of(v, NULL, rep->n, &rep->elbo_q);
    column(rep, offsetof(infb_gap_point, amortization_gap), v);
    infb_stat_of(v, NULL, rep->n, &rep->amortization_gap);
    column(rep, offsetof(infb_gap_point, inference_gap), v);
    infb_stat_of(v, NULL, rep->n, &rep->inference_gap);
  } else {
    infb_stat_of(v, NULL, 0, &rep->elbo_q);
    infb_stat_of(v, NULL, 0, &rep->amortization_gap);
    infb_stat_of(v, NULL, 0, &rep->inference_gap);
  }
}

/* The linear-Gaussian report's per-point Monte Carlo as a job: groups committed into the
 * report's points. */
typedef struct lg_job {
  infb_lg_groups *w;
  infb_gap_report *rep;
} lg_job;

static int
lg_commit(void *self, size_t g, const void *res, size_t len)
{
  const lg_job *j = self;
  const size_t G = j->w->set.G, a = g * G, n = j->w->set.n, m = n - a < G ? n - a : G;
  if (len != INFB_LG_GROUPS_PER_POINT * m * sizeof(double))
    return INFB_ERROR(GSL_EBADLEN, "gap report: a group's result of %zu bytes", len);
  double *v = infb_malloc(INFB_LG_GROUPS_PER_POINT * m, sizeof *v);
  if (!v)
    return GSL_ENOMEM;
  memcpy(v, res, len);
  int st = GSL_SUCCESS;
  for (size_t i = 0; !st && j->w->set.numeric && i < m; i++) {
    size_t steps;
    int stop;
    if (infb_par_result_count(v[4 * m + i], &steps) || infb_par_result_int(v[5 * m + i], &stop))
      st = INFB_ERROR(GSL_EINVAL, "gap report: q*'s steps %g or stop %g at point %zu are not "
                                  "integers in range", v[4 * m + i], v[5 * m + i], a + i);
  }
  for (size_t i = 0; !st && i < m; i++) {
    infb_gap_point *p = &j->rep->pts[a + i];
    if (j->w->set.q_mc) {
      p->elbo_q_mc = v[i];
      p->elbo_q_mc_se = v[m + i];
    }
    if (j->w->set.numeric) {
      p->elbo_qstar_numeric = v[2 * m + i];
      p->elbo_qstar_numeric_mc_se = v[3 * m + i];
      infb_par_result_count(v[4 * m + i], &p->qstar_steps);
      infb_par_result_int(v[5 * m + i], &p->qstar_stop);
    }
  }
  free(v);
  return st;
}

int
infb_gapeval_lingauss(const infb_lingauss *m, const gsl_matrix *X, size_t first_index,
                      const infb_encoder *enc, const infb_gap_options *o, infb_gap_report *rep)
{
  memset(rep, 0, sizeof *rep);
  const size_t n = X->size1, D = m->D, K = m->K;
  double t0 = infb_clock_seconds();
  if (X->size2 != D)
    return INFB_ERROR(GSL_EBADLEN, "gap report: the data have %zu columns, the model %zu",
                      X->size2, D);
  if (enc && (enc->D != D || enc->K != K))
    return INFB_ERROR(GSL_EBADLEN, "gap report: the encoder maps %zu to %zu, the model %zu to %zu",
                      enc->D, enc->K, D, K);
  if (n == 0)
    return INFB_ERROR(GSL_EINVAL, "gap report: no points");

  rep->n = n;
  rep->has_encoder = enc != NULL;
  rep->has_numeric = o->numeric_qstar != 0;
  rep->log_px_method = "exact";
  rep->pts = infb_calloc(n, sizeof *rep->pts);
  infb_lingauss_cache *cache = infb_lingauss_cache_alloc(D, K);
  gsl_vector *v = gsl_vector_alloc(n), *mc = gsl_vector_alloc(n);
  gsl_matrix *MU = gsl_matrix_alloc(n, K), *S2 = gsl_matrix_alloc(n, K);
  gsl_matrix *EMU = gsl_matrix_alloc(n, K), *ELV = gsl_matrix_alloc(n, K);
  int st = GSL_ENOMEM;
  if (!rep->pts || !cache || !v || !mc || !MU || !S2 || !EMU || !ELV)
    goto done;
  if ((st = infb_lingauss_cache_set(cache, m)) != GSL_SUCCESS)
    goto done;
  rep->approximation_gap_analytic = infb_lingauss_approx_gap(cache);

  /* ln p(x) and L[q*], exact. */
  if ((st = infb_lingauss_logpx(cache, X, v)) != GSL_SUCCESS)
    goto done;
  for (size_t i = 0; i < n; i++)
    rep->pts[i].log_px = gsl_vector_get(v, i);
  if ((st = infb_lingauss_qstar(cache, X, MU, S2)) != GSL_SUCCESS ||
      (st = infb_lingauss_elbo(cache, X, MU, S2, v)) != GSL_SUCCESS)
    goto done;
  for (size_t i = 0; i < n; i++) {
    infb_gap_point *p = &rep->pts[i];
    p->elbo_qstar = gsl_vector_get(v, i);
    p->approximation_gap = p->log_px - p->elbo_qstar;
    p->elbo_q = p->amortization_gap = p->inference_gap = NAN;
    p->elbo_q_mc = p->elbo_q_mc_se = NAN;
    p->log_px_mc_se = p->log_px_quadrature = NAN;
    p->elbo_qstar_numeric = p->elbo_qstar_numeric_mc_se = NAN;
  }

  /* L[q] of the encoder, exact for a Gaussian q. */
  if (enc) {
    if ((st = enc->fn(enc->self, n, X->data, EMU->data, ELV->data)) != GSL_SUCCESS)
      goto done;
    for (size_t i = 0; i < n * K; i++)
      S2->data[i] = exp(ELV->data[i]);
    if ((st = infb_lingauss_elbo(cache, X, EMU, S2, v)) != GSL_SUCCESS)
      goto done;
    for (size_t i = 0; i < n; i++) {
      infb_gap_point *p = &rep->pts[i];
      p->elbo_q = gsl_vector_get(v, i);
      p->amortization_gap = p->elbo_qstar - p->elbo_q;
      p->inference_gap = p->log_px - p->elbo_q;
    }
  }

  /* The per-point Monte Carlo, in groups of points on every rank there is
   * (infer/lggroups.h): the Monte-Carlo L[q] beside the closed form (the VAE has only the
   * former), and the numeric q* (the VAE's code path), checked against the closed form. */
  {
    infb_lg_groups w;
    memset(&w, 0, sizeof w);
    w.set = (infb_lg_groups_settings){.D = D, .K = K, .n = n, .first_index = first_index,
                                      .ppca = m->ppca, .q_mc = enc && o->q_samples > 0,
                                      .numeric = o->numeric_qstar != 0,
                                      .init_given = o->qstar_init_encoder && enc,
                                      .q_samples = o->q_samples, .qstar = o->qstar};
    w.set.qstar.progress = NULL;
    w.set.G = o->progress_points ? o->progress_points : n;
    w.set.ngroups = (n + w.set.G - 1) / w.set.G;
    w.m = m;
    w.X = X->data;
    w.EMU = enc ? EMU->data : NULL;
    w.ELV = enc ? ELV->data : NULL;
    lg_job lj = {&w, rep};
    char what[160];
    snprintf(what, sizeof what, "%s%sL[q] and q*", o->job_name ? o->job_name : "",
             o->job_name ? ": " : "");
    infb_par_job job = {INFB_PAR_KIND_LG_GAP, what, w.set.ngroups,
                        INFB_LG_GROUPS_PER_POINT * w.set.G * sizeof(double),
                        infb_lg_groups_context, infb_lg_groups_run, &w, lg_commit, &lj};
    if ((w.set.q_mc || w.set.numeric) && (st = infb_par_job_run(&job)) != GSL_SUCCESS)
      goto done;
    rep->has_q_mc = w.set.q_mc;
  }
  summarise(rep, v->data, mc->data);
  /* ffg's L[q*] in closed form (the numeric optimum is reported beside it). */
  column(rep, offsetof(infb_gap_point, elbo_qstar), v->data);
  infb_qstar_family *fam = infb_gap_report_add_family(rep, "ffg", v->data, NULL);
  if (!fam) {
    st = GSL_ENOMEM;
    goto done;
  }
  fam->note = "closed form";
  column(rep, offsetof(infb_gap_point, log_px), v->data);
  st = infb_gap_report_add_method(rep, "exact", INFB_LOGPX_EXACT, n, v->data, NULL)
           ? GSL_SUCCESS
           : GSL_ENOMEM;
  rep->chosen = 0;
done:
  rep->seconds = infb_clock_seconds() - t0;
  infb_lingauss_cache_free(cache);
  gsl_vector_free(v);
  gsl_vector_free(mc);
  gsl_matrix_free(MU);
  gsl_matrix_free(S2);
  gsl_matrix_free(EMU);
  gsl_matrix_free(ELV);
  if (st)
    infb_gap_report_free(rep);
  return st;
}

/* ------------------------------------------------------------------ the VAE */

/* The frozen VAE decoder as a double-precision q* callback: the rows' latents are
 * converted to float and run through the decoder in chunks of the evaluation network's
 * capacity; the points are read from the bound float copy (infb_vae_decoder_bind), or else
 * converted row by row. */
struct infb_vae_decoder {
  infb_vae_f32 *v;
  size_t D, K, cap;
  size_t parts;    /* v's threads when allocated: a set of buffers each */
  float *X, *Z, *G; /* per part: cap×D, cap×K, cap×K */
  float *WT;        /* the decoder's weights transposed (vae_decoder_transpose) */
  const float *Xb; /* bound points (NULL: none) */
  size_t nb;       /* their number */
};
typedef struct infb_vae_decoder vae_dec;

infb_vae_decoder *
infb_vae_decoder_alloc(struct infb_vae_f32 *v, size_t cap)
{
  const infb_vae_arch *arch = infb_vae_arch_f32(v);
  vae_dec *d = infb_calloc(1, sizeof *d);
  if (!d)
    return NULL;
  *d = (vae_dec){.v = v, .D = arch->D, .K = arch->K, .cap = cap ? cap : 1,
                 .parts = infb_vae_parts_f32(v)};
  const size_t rows = d->parts * d->cap;
  d->X = infb_malloc(rows * d->D, sizeof *d->X);
  d->Z = infb_malloc(rows * d->K, sizeof *d->Z);
  d->G = infb_malloc(rows * d->K, sizeof *d->G);
  d->WT = infb_malloc(infb_vae_decoder_nparams_f32(v), sizeof *d->WT);
  if (!d->X || !d->Z || !d->G || !d->WT) {
    infb_vae_decoder_free(d);
    return NULL;
  }
  infb_vae_decoder_refresh(d);
  return d;
}

void
infb_vae_decoder_refresh(infb_vae_decoder *d)
{
  infb_vae_decoder_transpose_f32(d->v, d->WT);
}

void
infb_vae_decoder_bind(infb_vae_decoder *d, size_t n, const float *X)
{
  d->Xb = X;
  d->nb = X ? n : 0;
}

void
infb_vae_decoder_free(infb_vae_decoder *d)
{
  if (!d)
    return;
  free(d->X);
  free(d->Z);
  free(d->G);
  free(d->WT);
  free(d);
}

/* The rows through v's decoder in chunks of cap: on part `part`'s buffers and worker
 * alone, or (part == SIZE_MAX) on buffers 0 with the decoder's own threads. */
static int
vae_decoder_run(vae_dec *d, size_t part, size_t R, const double *X, const size_t *xrow,
                const double *Z, double *logp, double *G)
{
  const size_t D = d->D, K = d->K, b = part == SIZE_MAX ? 0 : part;
  float *Xf = d->X + b * d->cap * D, *Zf = d->Z + b * d->cap * K, *Gf = d->G + b * d->cap * K;
  for (size_t r0 = 0; r0 < R; r0 += d->cap) {
    const size_t m = R - r0 < d->cap ? R - r0 : d->cap, nz = m * K;
    for (size_t i = 0; i < nz; i++)
      Zf[i] = (float)Z[r0 * K + i];
    const float *src = d->Xb;
    const size_t *rows = xrow + r0;
    if (src) {
      for (size_t r = 0; r < m; r++)
        if (rows[r] >= d->nb)
          return INFB_ERROR(GSL_EBADLEN, "vae decoder: row %zu names point %zu of %zu bound",
                            r0 + r, rows[r], d->nb);
    } else {
      for (size_t r = 0; r < m; r++)
        for (size_t j = 0; j < D; j++)
          Xf[r * D + j] = (float)X[rows[r] * D + j];
      src = Xf;
      rows = NULL;
    }
    int st = part == SIZE_MAX
                 ? infb_vae_decoder_loglik_rows_t_f32(d->v, d->WT, m, src, rows, Zf,
                                                      logp + r0, G ? Gf : NULL)
                 : infb_vae_decoder_loglik_part_t_f32(d->v, d->WT, part, m, src, rows, Zf,
                                                      logp + r0, G ? Gf : NULL);
    if (st)
      return st;
    if (G)
      for (size_t i = 0; i < nz; i++)
        G[r0 * K + i] = Gf[i];
  }
  return GSL_SUCCESS;
}

static int
vae_decoder(void *self, size_t R, const double *X, const size_t *xrow, const double *Z,
            double *logp, double *G)
{
  return vae_decoder_run(self, SIZE_MAX, R, X, xrow, Z, logp, G);
}

static int
vae_decoder_part(void *self, size_t part, size_t R, const double *X, const size_t *xrow,
                 const double *Z, double *logp, double *G)
{
  vae_dec *d = self;
  if (part >= d->parts)
    return INFB_ERROR(GSL_EINVAL, "vae decoder: part %zu of %zu", part, d->parts);
  return vae_decoder_run(d, part, R, X, xrow, Z, logp, G);
}

infb_decoder
infb_vae_decoder_ops(infb_vae_decoder *d)
{
  infb_decoder ops = {.D = d->D, .K = d->K, .fn = vae_decoder, .self = d,
                      .parts = d->parts, .fn_part = d->parts > 1 ? vae_decoder_part : NULL};
  return ops;
}

infb_gap_state *
infb_gap_state_alloc(size_t n, size_t K)
{
  infb_gap_state *s = infb_calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->n = n;
  s->K = K;
  s->q_elbo = infb_malloc(n, sizeof *s->q_elbo);
  s->q_se = infb_malloc(n, sizeof *s->q_se);
  s->qs_elbo = infb_malloc(n, sizeof *s->qs_elbo);
  s->qs_se = infb_malloc(n, sizeof *s->qs_se);
  s->qs_steps = infb_calloc(n, sizeof *s->qs_steps);
  s->qs_stop = infb_calloc(n, sizeof *s->qs_stop);
  s->qs_mu = infb_malloc(n * K, sizeof *s->qs_mu);
  s->qs_lv = infb_malloc(n * K, sizeof *s->qs_lv);
  int ok = s->q_elbo && s->q_se && s->qs_elbo && s->qs_se && s->qs_steps && s->qs_stop &&
           s->qs_mu && s->qs_lv;
  for (int p = 0; p < 2; p++) {
    s->iw[p] = infb_malloc(n, sizeof *s->iw[p]);
    s->iw_se[p] = infb_malloc(n, sizeof *s->iw_se[p]);
    s->khat[p] = infb_malloc(n, sizeof *s->khat[p]);
    s->khat_status[p] = infb_calloc(n, sizeof *s->khat_status[p]);
    ok = ok && s->iw[p] && s->iw_se[p] && s->khat[p] && s->khat_status[p];
    for (size_t i = 0; ok && i < n; i++)
      s->khat[p][i] = NAN;
  }
  if (!ok) {
    infb_gap_state_free(s);
    return NULL;
  }
  return s;
}

void
infb_gap_state_free(infb_gap_state *s)
{
  if (!s)
    return;
  free(s->q_elbo);
  free(s->q_se);
  free(s->qs_elbo);
  free(s->qs_se);
  free(s->qs_steps);
  free(s->qs_stop);
  free(s->qs_mu);
  free(s->qs_lv);
  for (int p = 0; p < 2; p++) {
    free(s->iw[p]);
    free(s->iw_se[p]);
    free(s->khat[p]);
    free(s->khat_status[p]);
  }
  free(s->ais_lp);
  free(s->ais_se);
  free(s->ais_ess);
  free(s->ais_accept);
  free(s->ais_step);
  free(s->ais_status);
  free(s->ais_low_ess);
  free(s->legacy_max);
  free(s->legacy_max_se);
  free(s);
}

int
infb_gap_state_alloc_ais(infb_gap_state *s, size_t m)
{
  double **d[] = {&s->ais_lp, &s->ais_se, &s->ais_ess, &s->ais_accept, &s->ais_step};
  for (size_t j = 0; j < sizeof d / sizeof d[0]; j++) {
    free(*d[j]);
    if (!(*d[j] = infb_malloc(m ? m : 1, sizeof **d[j])))
      return GSL_ENOMEM;
    for (size_t i = 0; i < m; i++)
      (*d[j])[i] = NAN;
  }
  free(s->ais_status);
  free(s->ais_low_ess);
  s->ais_status = infb_calloc(m ? m : 1, sizeof *s->ais_status);
  s->ais_low_ess = infb_calloc(m ? m : 1, sizeof *s->ais_low_ess);
  if (!s->ais_status || !s->ais_low_ess)
    return GSL_ENOMEM;
  s->ais_n = m;
  s->ais_done = 0;
  return GSL_SUCCESS;
}

int
infb_gap_state_alloc_legacy(infb_gap_state *s)
{
  free(s->legacy_max);
  free(s->legacy_max_se);
  s->legacy_max = infb_malloc(s->n ? s->n : 1, sizeof *s->legacy_max);
  s->legacy_max_se = infb_malloc(s->n ? s->n : 1, sizeof *s->legacy_max_se);
  return s->legacy_max && s->legacy_max_se ? GSL_SUCCESS : GSL_ENOMEM;
}

const char *
infb_gap_state_phase(const infb_gap_state *s, size_t *done)
{
  *done = 0;
  if (s->q_done < s->n) {
    *done = s->q_done;
    return "L[q]";
  }
  if (s->qstar_done < s->n) {
    *done = s->qstar_done;
    return "q*";
  }
  for (int p = 0; p < 2; p++)
    if (s->iwae_done[p] < s->n) {
      *done = s->iwae_done[p];
      return p ? "IWAE (q*)" : "IWAE (encoder)";
    }
  if (s->ais_done < s->ais_n) {
    *done = s->ais_done;
    return "AIS";
  }
  return "quadrature";
}

/* Report done of total points of a phase through o->progress; INFB_EINTR when it asks to
 * stop. */
static int
gap_progress(const infb_vae_gap_options *o, const char *phase, size_t done, size_t total)
{
  if (o->progress && o->progress(o->progress_ctx, phase, done, total))
    return INFB_ERROR(INFB_EINTR, "interrupted during %s", phase);
  return GSL_SUCCESS;
}

/* A group of points is recorded in s: the caller's save, then the fault point between
 * groups. */
static int
gap_saved(const infb_vae_gap_options *o, const infb_gap_state *s)
{
  int st = o->save ? o->save(o->save_ctx, s) : GSL_SUCCESS;
  if (!st)
    infb_fault_point("gap-group");
  return st;
}

/* Points per progress group for L[q] and q*: o->progress_points rounded up to a multiple
 * of the q* batch B (all n when 0). */
static size_t
gap_group(const infb_vae_gap_options *o, size_t B, size_t n)
{
  if (o->progress_points == 0 || o->progress_points >= n)
    return n;
  return (o->progress_points + B - 1) / B * B;
}

/* The largest |a_i − b_i| over n points. */
static double
max_change(size_t n, const double *a, const double *b)
{
  double m = 0.0;
  for (size_t i = 0; i < n; i++)
    m = fmax(m, fabs(a[i] - b[i]));
  return m;
}

/* A quadrature as a job: its groups committed into out. */
typedef struct quad_job {
  infb_vae_groups *w;
  const infb_vae_gap_options *o;
  double *out;
  size_t done;
} quad_job;

static int
quad_commit(void *self, size_t g, const void *res, size_t len)
{
  quad_job *q = self;
  const size_t a = q->w->start[g], m = q->w->start[g + 1] - a;
  if (len != m * sizeof(double))
    return INFB_ERROR(GSL_EBADLEN, "gap report: a quadrature group of %zu bytes", len);
  memcpy(q->out + a, res, len);
  q->done += m;
  return gap_progress(q->o, "quadrature", q->done, q->w->set.n);
}

/* One quadrature of all n points on [−L, L]² with g cells per axis, in groups of G points
 * (w: the report's groups, set up for the points) on every rank there is, with progress. */
static int
vae_quadrature_once(infb_vae_groups *w, const infb_vae_gap_options *o, size_t G, double L,
                    size_t g, double *out)
{
  const size_t n = w->set.n;
  w->set.phase = INFB_VP_QUADRATURE;
  w->set.quad_L = L;
  w->set.quad_n = g;
  w->MU = w->LV = NULL;
  int st = infb_vae_groups_cut(w, 0, n, G, 0);
  if (st || (st = gap_progress(o, "quadrature", 0, n)))
    return st;
  quad_job q = {w, o, out, 0};
  char what[160];
  snprintf(what, sizeof what, "%s%squadrature %zu×%zu on [−%g, %g]²",
           o->job_name ? o->job_name : "", o->job_name ? ": " : "", g, g, L, L);
  infb_par_job job = {INFB_PAR_KIND_VAE_GAP, what, w->set.ngroups,
                      infb_vae_groups_result_max(w), infb_vae_groups_context,
                      infb_vae_groups_run, w, quad_commit, &q};
  return infb_par_job_run(&job);
}

/* K = 2: quadrature in two phases, each stopping when the largest change over the points
 * is below tol (or the grid would exceed max_n cells per axis):
 *   box:  [−L, L]² against [−2L, 2L]² at the same spacing, doubling L (a posterior can sit
 *         beyond the starting box: |z| ≈ 7 is seen after a few dozen epochs with K = 2);
 *   grid: n against 2n cells on the final box, doubling n.
 * out[n] the last values; rep->quadrature_L, _n the box and grid they were computed on,
 * rep->quadrature_change the last doubling's largest change (NAN: none), and
 * rep->quadrature_converged whether both phases stopped by the tolerance. */
static int
vae_quadrature_all(infb_vae_groups *w, size_t G, const infb_vae_gap_options *o, double *out,
                   double *prev, infb_gap_report *rep)
{
  const size_t n = w->set.n;
  double L = o->quad_L;
  size_t g = o->quad_n;
  int box_ok = 0, grid_ok = 0;
  double change = NAN; /* the last doubling's largest change */
  int st = vae_quadrature_once(w, o, G, L, g, out);
  while (!st && !box_ok && 2 * g <= o->quad_max_n) {
    memcpy(prev, out, n * sizeof *out);
    if ((st = vae_quadrature_once(w, o, G, 2 * L, 2 * g, out)))
      break;
    L *= 2;
    g *= 2;
    change = max_change(n, out, prev);
    box_ok = change < o->quad_tol;
  }
  while (!st && !grid_ok && 2 * g <= o->quad_max_n) {
    memcpy(prev, out, n * sizeof *out);
    if ((st = vae_quadrature_once(w, o, G, L, 2 * g, out)))
      break;
    g *= 2;
    change = max_change(n, out, prev);
    grid_ok = change < o->quad_tol;
  }
  rep->quadrature_L = L;
  rep->quadrature_n = g;
  rep->quadrature_change = change;
  rep->quadrature_converged = box_ok && grid_ok;
  return st;
}

/* One phase of the report as a job of par/sched.h: its groups from the phase's done count
 * (a prefix of its points), committed into the state; the done count advances over the
 * groups committed without a gap (they may arrive out of order from other ranks), the
 * state is saved at each advance, and progress counts every committed point. */
typedef struct phase_job {
  infb_vae_groups *w;
  const infb_vae_gap_options *o;
  infb_gap_state *gs;
  size_t *done;              /* the phase's done count in gs */
  size_t total;              /* the phase's points */
  const char *phase;         /* its progress name */
  unsigned char *got;        /* per group: committed */
  size_t next;               /* the first group not committed */
  size_t base, points;       /* done at the start; points committed since */
} phase_job;

static int
phase_commit(void *self, size_t g, const void *res, size_t len)
{
  phase_job *p = self;
  const infb_vae_groups *w = p->w;
  int st = infb_vae_groups_store(w, g, res, len, p->gs, p->o->ais_trace);
  if (st)
    return st;
  p->got[g] = 1;
  p->points += w->start[g + 1] - w->start[g];
  size_t before = *p->done;
  while (p->next < w->set.ngroups && p->got[p->next])
    *p->done = w->start[++p->next];
  if (*p->done != before && (st = gap_saved(p->o, p->gs)))
    return st;
  return gap_progress(p->o, p->phase, p->base + p->points, p->total);
}

/* Rank 0's own q* groups report progress as their points stop. */
static int
phase_qstar_progress(void *ctx, size_t stopped)
{
  const phase_job *p = ctx;
  return gap_progress(p->o, "q*", p->base + p->points + stopped, p->total);
}

/* Run phase w->set.phase on points [*done, total) in groups (G points; AIS: `tiles` row
 * tiles), on every rank there is. */
static int
run_phase(infb_vae_groups *w, const infb_vae_gap_options *o, infb_gap_state *gs, size_t *done,
          size_t total, size_t G, size_t tiles, const char *phase)
{
  if (*done >= total)
    return GSL_SUCCESS;
  int st = infb_vae_groups_cut(w, *done, total, G, tiles);
  if (st || (st = gap_progress(o, phase, *done, total)))
    return st;
  phase_job pj = {w, o, gs, done, total, phase, NULL, 0, *done, 0};
  if (!(pj.got = infb_calloc(w->set.ngroups ? w->set.ngroups : 1, 1)))
    return GSL_ENOMEM;
  if (w->set.phase == INFB_VP_QSTAR) {
    w->qstar_progress = phase_qstar_progress;
    w->qstar_progress_ctx = &pj;
  }
  char what[160];
  snprintf(what, sizeof what, "%s%s%s", o->job_name ? o->job_name : "",
           o->job_name ? ": " : "", phase);
  infb_par_job job = {INFB_PAR_KIND_VAE_GAP, what, w->set.ngroups,
                      infb_vae_groups_result_max(w), infb_vae_groups_context,
                      infb_vae_groups_run, w, phase_commit, &pj};
  st = infb_par_job_run(&job);
  w->qstar_progress = NULL;
  w->qstar_progress_ctx = NULL;
  free(pj.got);
  return st;
}

/* An int array of n as doubles in buf. */
static const double *
as_doubles(const int *v, size_t n, double *buf)
{
  for (size_t i = 0; i < n; i++)
    buf[i] = v[i];
  return buf;
}

/* The VAE's ln p(x) methods from the state: IWAE per proposal (with k̂), their per-point
 * max (a diagnostic; a legacy record's only IWAE, then a lower bound by its old
 * definition), AIS. */
static int
vae_methods(infb_gap_report *rep, const infb_gap_state *gs, int has_q, size_t n)
{
  static const char *const iw_names[2] = {"iwae-encoder", "iwae-qstar"};
  double *buf = infb_malloc(n ? n : 1, sizeof *buf), *mx = infb_malloc(n ? n : 1, sizeof *mx);
  double *mxse = infb_malloc(n ? n : 1, sizeof *mxse);
  int st = buf && mx && mxse ? GSL_SUCCESS : GSL_ENOMEM;
  for (int p = 0; !st && p < 2; p++) {
    int any = 0;
    for (size_t i = 0; i < n; i++)
      any |= isfinite(gs->iw[p][i]);
    if ((p == 0 && !has_q) || !any)
      continue;
    infb_logpx_method *m =
        infb_gap_report_add_method(rep, iw_names[p], INFB_LOGPX_LOWER, n, gs->iw[p], gs->iw_se[p]);
    if (!m || infb_gap_method_add_extra(m, "khat", gs->khat[p]) ||
        infb_gap_method_add_extra(m, "khat_status", as_doubles(gs->khat_status[p], n, buf)))
      st = GSL_ENOMEM;
  }
  if (!st && gs->legacy_max) {
    infb_logpx_method *m = infb_gap_report_add_method(rep, "iwae-max", INFB_LOGPX_LOWER, n,
                                                      gs->legacy_max, gs->legacy_max_se);
    if (!m)
      st = GSL_ENOMEM;
    else
      m->note = "recorded by an earlier infbench: the per-point larger of the two IWAE "
                "proposals' estimates (biased upward); the proposals' own were not kept";
  } else if (!st && has_q) {
    for (size_t i = 0; i < n; i++) {
      int e = gs->iw[0][i] >= gs->iw[1][i];
      mx[i] = e ? gs->iw[0][i] : gs->iw[1][i];
      mxse[i] = e ? gs->iw_se[0][i] : gs->iw_se[1][i];
    }
    infb_logpx_method *m =
        infb_gap_report_add_method(rep, "iwae-max", INFB_LOGPX_DIAGNOSTIC, n, mx, mxse);
    if (!m)
      st = GSL_ENOMEM;
    else
      m->note = "the per-point larger of the two proposals' IWAE: biased upward, never chosen";
  }
  if (!st && gs->ais_n > 0 && gs->ais_done == gs->ais_n) {
    infb_logpx_method *m = infb_gap_report_add_method(rep, "ais", INFB_LOGPX_LOWER, gs->ais_n,
                                                      gs->ais_lp, gs->ais_se);
    if (!m || infb_gap_method_add_extra(m, "ess", gs->ais_ess) ||
        infb_gap_method_add_extra(m, "low_ess", as_doubles(gs->ais_low_ess, gs->ais_n, buf)) ||
        infb_gap_method_add_extra(m, "accept", gs->ais_accept) ||
        infb_gap_method_add_extra(m, "step", gs->ais_step) ||
        infb_gap_method_add_extra(m, "status", as_doubles(gs->ais_status, gs->ais_n, buf)))
      st = GSL_ENOMEM;
  }
  free(buf);
  free(mx);
  free(mxse);
  return st;
}

int
infb_gapeval_vae(struct infb_vae_f32 *vtrain, size_t n, const float *X, size_t first_index,
                 const infb_vae_gap_options *o, infb_gap_report *rep)
{
  memset(rep, 0, sizeof *rep);
  double t0 = infb_clock_seconds();
  const infb_vae_arch *arch = infb_vae_arch_f32(vtrain);
  const size_t D = arch->D, K = arch->K;
  if (n == 0)
    return INFB_ERROR(GSL_EINVAL, "gap report: no points");
  if (o->no_encoder && !o->q_mu != !o->q_lv)
    return INFB_ERROR(GSL_EINVAL, "gap report: give both q_mu and q_lv, or neither");
  if (o->state && (o->state->n != n || o->state->K != K))
    return INFB_ERROR(GSL_EBADLEN,
                      "gap report: the state holds %zu points with K = %zu, the report has "
                      "%zu with K = %zu",
                      o->state->n, o->state->K, n, K);
  /* L[q] exists for the encoder's q, or for a given q in its place (no_encoder). */
  const int has_q = !o->no_encoder || o->q_mu;
  /* An evaluation copy of the network, sized for batches of points × samples. */
  size_t B = o->qstar.batch_points ? o->qstar.batch_points : 1;
  size_t S = o->qstar.samples > 64 ? o->qstar.samples : 64;
  infb_vae_f32 *v = infb_vae_alloc_f32(arch, B, S);
  if (v && (infb_vae_set_parts_f32(v, infb_vae_parts_f32(vtrain)) || /* as trained */
            infb_vae_set_run_threads_f32(v, infb_vae_run_threads_f32(vtrain)))) {
    infb_vae_free_f32(v);
    v = NULL;
  }
  size_t np = 0, np2 = 0;
  float *src = infb_vae_params_f32(vtrain, &np);
  float *dst = v ? infb_vae_params_f32(v, &np2) : NULL;
  vae_dec *dec = v ? infb_vae_decoder_alloc(v, B * S) : NULL;
  /* The phases' per-point results: the caller's state, or one of our own. */
  infb_gap_state *own = o->state ? NULL : infb_gap_state_alloc(n, K);
  infb_gap_state *gs = o->state ? o->state : own;
  double *Xd = infb_malloc(n * D, sizeof *Xd);
  float *MU = infb_malloc(n * K, sizeof *MU), *LV = infb_malloc(n * K, sizeof *LV);
  double *a = infb_malloc(n, sizeof *a), *b = infb_malloc(n, sizeof *b);
  rep->pts = infb_calloc(n, sizeof *rep->pts);
  infb_vae_groups w; /* the phases' groups (below) */
  memset(&w, 0, sizeof w);
  int st = GSL_ENOMEM;
  if (!v || !dst || np != np2 || !dec || !gs || !Xd || !MU || !LV || !a || !b || !rep->pts)
    goto done;
  if (o->ais && !gs->ais_lp &&
      (st = infb_gap_state_alloc_ais(gs, o->ais_points && o->ais_points < n ? o->ais_points : n)))
    goto done;
  if (o->ais && gs->ais_n > n) {
    st = INFB_ERROR(GSL_EBADLEN, "gap report: AIS on %zu of %zu points", gs->ais_n, n);
    goto done;
  }
  memcpy(dst, src, np * sizeof *dst);
  infb_vae_decoder_refresh(dec); /* the snapshot of the weights just copied */
  rep->n = n;
  rep->has_encoder = has_q;
  rep->has_numeric = 1;
  rep->log_px_method = "iwae";
  rep->approximation_gap_analytic = NAN;
  for (size_t i = 0; i < n * D; i++)
    Xd[i] = X[i];

  /* The encoder's q (or the given one), and L[q] by Monte Carlo. */
  if (o->no_encoder && has_q) {
    memcpy(MU, o->q_mu, n * K * sizeof *MU);
    memcpy(LV, o->q_lv, n * K * sizeof *LV);
  }
  for (size_t i0 = 0; !o->no_encoder && i0 < n; i0 += dec->cap) {
    size_t m = n - i0 < dec->cap ? n - i0 : dec->cap;
    if ((st = infb_vae_encode_f32(v, m, X + i0 * D, MU + i0 * K, LV + i0 * K)))
      goto done;
  }
  if (!has_q) {
    for (size_t i = 0; i < n; i++)
      gs->q_elbo[i] = gs->q_se[i] = gs->iw[0][i] = gs->iw_se[0][i] = NAN;
    gs->q_done = gs->iwae_done[0] = n;
  }
  const size_t G = gap_group(o, B, n); /* points per group */
  /* The phases, each in groups of points handed to every rank there is (par/sched.h). */
  w.set.arch = *arch;
  w.set.n = n;
  w.set.first_index = first_index;
  w.set.B = B;
  w.set.S = S;
  w.set.parts = infb_vae_parts_f32(v);
  w.set.q_samples = o->q_samples;
  w.set.iwae_k = o->iwae_k;
  w.set.has_q = has_q;
  w.set.qstar_init = o->qstar_init_encoder && has_q;
  w.set.no_encoder = o->no_encoder;
  w.set.qstar = o->qstar;
  w.set.qstar.progress = NULL;
  if (o->ais) {
    w.set.ais = *o->ais;
    w.set.ais.seed = o->qstar.seed;
    w.set.ais.progress = NULL;
    for (size_t i = 0; o->ais_trace && i < n && o->ais_trace[i].rows > 0; i++) {
      w.set.ntrace = i + 1;
      w.set.trace_stride = o->ais_trace[0].stride;
      w.set.trace_rows = o->ais_trace[0].rows;
    }
  }
  w.v = v;
  w.dec = dec;
  w.X = X;
  w.Xd = Xd;

  /* L[q] by Monte Carlo. */
  w.set.phase = INFB_VP_LQ;
  w.MU = MU;
  w.LV = LV;
  if ((st = run_phase(&w, o, gs, &gs->q_done, n, G, 0, "L[q]")))
    goto phase_done;
  for (size_t i = 0; i < n; i++) {
    rep->pts[i].elbo_q = rep->pts[i].elbo_q_mc = gs->q_elbo[i];
    rep->pts[i].elbo_q_mc_se = gs->q_se[i];
  }
  rep->has_q_mc = has_q;

  /* L[q*], numerically. */
  w.set.phase = INFB_VP_QSTAR;
  w.MU = w.set.qstar_init ? MU : NULL;
  w.LV = w.set.qstar_init ? LV : NULL;
  if ((st = run_phase(&w, o, gs, &gs->qstar_done, n, G, 0, "q*")))
    goto phase_done;
  for (size_t i = 0; i < n; i++) {
    infb_gap_point *p = &rep->pts[i];
    p->elbo_qstar = p->elbo_qstar_numeric = gs->qs_elbo[i];
    p->elbo_qstar_numeric_mc_se = gs->qs_se[i];
    p->qstar_steps = gs->qs_steps[i];
    p->qstar_stop = gs->qs_stop[i];
  }
  {
    infb_qstar_family *fam = infb_gap_report_add_family(rep, "ffg", gs->qs_elbo, gs->qs_se);
    if (!fam) {
      st = GSL_ENOMEM;
      goto phase_done;
    }
    fam->note = "numeric (Adam on the reparameterised ELBO)";
  }

  /* ln p̂(x): IWAE with both proposals. */
  w.set.phase = INFB_VP_IWAE_ENCODER;
  w.MU = o->no_encoder ? MU : NULL;
  w.LV = o->no_encoder ? LV : NULL;
  if ((st = run_phase(&w, o, gs, &gs->iwae_done[0], n, G, 0, "IWAE (encoder)")))
    goto phase_done;
  for (size_t i = 0; i < n * K; i++) {
    MU[i] = (float)gs->qs_mu[i];
    LV[i] = (float)gs->qs_lv[i];
  }
  w.set.phase = INFB_VP_IWAE_QSTAR;
  w.MU = MU;
  w.LV = LV;
  if ((st = run_phase(&w, o, gs, &gs->iwae_done[1], n, G, 0, "IWAE (q*)")))
    goto phase_done;
  if (o->ais) {
    w.set.phase = INFB_VP_AIS;
    w.MU = o->no_encoder ? o->q_mu : NULL;
    w.LV = o->no_encoder ? o->q_lv : NULL;
    st = run_phase(&w, o, gs, &gs->ais_done, gs->ais_n, G, infb_vae_run_threads_f32(v), "AIS");
  }
phase_done:
  if (st)
    goto done;
  if ((st = vae_methods(rep, gs, has_q, n)))
    goto done;
  if (o->ais && o->ais->adapt == INFB_AIS_ONLINE)
    for (size_t j = 0; j < rep->nmethods; j++)
      if (strcmp(rep->methods[j].name, "ais") == 0)
        rep->methods[j].note = "approximate: online step sizes (the authors' code) make the "
                               "kernel depend on the chain's past; not a guaranteed bound";
  if (K == 2) {
    if ((st = vae_quadrature_all(&w, G, o, a, b, rep)))
      goto done;
    for (size_t i = 0; i < n; i++)
      rep->pts[i].log_px_quadrature = a[i];
    rep->has_quadrature = 1;
    /* Converged, the quadrature is ln p(x) itself (to within quad_tol): exact, and
     * chosen; else only shown. */
    infb_logpx_method *m = infb_gap_report_add_method(
        rep, "quadrature", rep->quadrature_converged ? INFB_LOGPX_EXACT : INFB_LOGPX_DIAGNOSTIC,
        n, a, NULL);
    if (!m) {
      st = GSL_ENOMEM;
      goto done;
    }
    if (!rep->quadrature_converged)
      m->note = "not converged: neither a bound nor exact";
  } else {
    for (size_t i = 0; i < n; i++)
      rep->pts[i].log_px_quadrature = NAN;
  }
  rep->chosen = choose_method(rep);
  if (rep->chosen == SIZE_MAX) {
    st = INFB_ERROR(GSL_EDOM, "gap report: no ln p(x) estimate is finite on every point "
                              "(see the per-point statuses)");
    goto done;
  }
  {
    const infb_logpx_method *m = &rep->methods[rep->chosen];
    rep->log_px_method = m->name;
    for (size_t i = 0; i < n; i++) {
      infb_gap_point *p = &rep->pts[i];
      p->log_px = m->value[i];
      p->log_px_mc_se = m->mc_se[i];
      p->approximation_gap = p->log_px - p->elbo_qstar;
      p->amortization_gap = p->elbo_qstar - p->elbo_q;
      p->inference_gap = p->log_px - p->elbo_q;
    }
  }

  /* Summaries, with the Monte-Carlo errors of the estimated quantities (none for the
   * quadrature: a gap's quadrature term adds no Monte-Carlo error). */
  const int exact = rep->methods[rep->chosen].kind == INFB_LOGPX_EXACT;
  for (size_t i = 0; i < n; i++) {
    a[i] = rep->pts[i].log_px;
    b[i] = rep->pts[i].log_px_mc_se;
  }
  infb_stat_of(a, exact ? NULL : b, n, &rep->log_px);
  for (size_t i = 0; i < n; i++) {
    a[i] = rep->pts[i].elbo_qstar;
    b[i] = rep->pts[i].elbo_qstar_numeric_mc_se;
  }
  infb_stat_of(a, b, n, &rep->elbo_qstar);
  rep->elbo_qstar_numeric = rep->elbo_qstar;
  for (size_t i = 0; i < n; i++) {
    a[i] = rep->pts[i].elbo_q;
    b[i] = rep->pts[i].elbo_q_mc_se;
  }
  infb_stat_of(a, b, has_q ? n : 0, &rep->elbo_q);
  rep->elbo_q_mc = rep->elbo_q;
  /* A gap's Monte-Carlo error combines its two terms' (independent draws). */
  for (size_t i = 0; i < n; i++) {
    const infb_gap_point *p = &rep->pts[i];
    a[i] = p->approximation_gap;
    b[i] = hypot(exact ? 0.0 : p->log_px_mc_se, p->elbo_qstar_numeric_mc_se);
  }
  infb_stat_of(a, b, n, &rep->approximation_gap);
  for (size_t i = 0; i < n; i++) {
    const infb_gap_point *p = &rep->pts[i];
    a[i] = p->amortization_gap;
    b[i] = hypot(p->elbo_qstar_numeric_mc_se, p->elbo_q_mc_se);
  }
  infb_stat_of(a, b, has_q ? n : 0, &rep->amortization_gap);
  for (size_t i = 0; i < n; i++) {
    const infb_gap_point *p = &rep->pts[i];
    a[i] = p->inference_gap;
    b[i] = hypot(exact ? 0.0 : p->log_px_mc_se, p->elbo_q_mc_se);
  }
  infb_stat_of(a, b, has_q ? n : 0, &rep->inference_gap);
  rep->qstar_numeric_gap = NAN;
  st = GSL_SUCCESS;
done:
  free(w.start);
  rep->seconds = infb_clock_seconds() - t0;
  infb_vae_decoder_free(dec);
  infb_vae_free_f32(v);
  free(Xd);
  free(MU);
  free(LV);
  free(a);
  free(b);
  infb_gap_state_free(own);
  if (st)
    infb_gap_report_free(rep);
  return st;
}
