/* The linear-Gaussian family of the latent-model runner (latentctx.h, runlatent.c):
 * synthetic or CSV data, standardised on request, the fits (EM for factor analysis and
 * PPCA, MAP-EM, meanfield, amortized, autoencoder), parameters and ln p(x) in original
 * units (ln p shifts by −Σ ln sd), and the K = 2 posterior figure. */
#include <config.h> /* autoconf's, not exp/config.h */
#include "exp/latentctx.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/strparse.h"
#include "data/csv.h"
#include "exp/results.h"
#include "exp/runshared.h"
#include "infer/amortized.h"
#include "infer/autoencoder.h"
#include "infer/em.h"
#include "infer/lgmeanfield.h"
#include "nn/act.h"
#include "plot/gnuplot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Points drawn in the K = 2 posterior figure. */
#define POSTERIOR_POINTS 4

/* ------------------------------------------------------------------ data */

static int
load_data(lctx *c)
{
  const infb_config *cfg = c->cfg;
  const char *source = infb_config_get(cfg, "data", "source");
  infb_dataset *all = NULL;
  int st;
  if (strcmp(source, "synthetic") == 0) {
    size_t n = (size_t)infb_config_int(cfg, "data", "n");
    size_t D = (size_t)infb_config_int(cfg, "data", "dim");
    if (c->K >= D)
      return INFB_ERROR(INFB_ECONFIG,
                        "[model] latent = %zu must be below the data dimension [data] dim = %zu",
                        c->K, D);
    infb_lingauss *truth = infb_lingauss_alloc(D, c->K, c->ppca);
    gsl_rng *r = infb_rng_stream(c->seed, "data/synthetic", 0);
    all = infb_dataset_alloc(n, D, 0);
    gsl_matrix *X = gsl_matrix_alloc(n, D);
    st = GSL_ENOMEM;
    if (truth && r && all && X) {
      double pmin = infb_config_double(cfg, "data", "psi_min");
      double pmax = infb_config_double(cfg, "data", "psi_max");
      if (pmin > pmax)
        st = INFB_ERROR(INFB_ECONFIG, "[data] psi_min = %g exceeds psi_max = %g", pmin, pmax);
      else
        st = infb_lingauss_random(truth, r, infb_config_double(cfg, "data", "weight_scale"),
                                  infb_config_double(cfg, "data", "bias"), pmin, pmax);
      if (!st)
        st = infb_lingauss_sample(truth, r, X, NULL);
      if (!st) {
        memcpy(all->X, X->data, n * D * sizeof *all->X);
        json_t *d = json_object_get(c->root, "data");
        json_t *W = json_array();
        for (size_t i = 0; i < D; i++) {
          gsl_vector_const_view row = gsl_matrix_const_row(truth->W, i);
          json_array_append_new(W, infb_json_array(row.vector.data, c->K));
        }
        json_object_set_new(d, "true_W", W);
        json_object_set_new(d, "true_b", infb_json_array(truth->b->data, D));
        json_object_set_new(d, "true_psi", infb_json_array(truth->psi->data, D));
        /* The truth's own approximation gap: what any exact fit would show. */
        infb_lingauss_cache *cache = infb_lingauss_cache_alloc(D, c->K);
        if (cache && !infb_lingauss_cache_set(cache, truth))
          json_object_set_new(d, "true_approximation_gap",
                              infb_json_number(infb_lingauss_approx_gap(cache)));
        infb_lingauss_cache_free(cache);
      }
    }
    infb_lingauss_free(truth);
    gsl_rng_free(r);
    gsl_matrix_free(X);
    if (st) {
      infb_dataset_free(all);
      return st;
    }
  } else {
    char *train = infb_config_path(cfg, "data", "train");
    const char *target = infb_config_get(cfg, "data", "target");
    const char *feat = infb_config_get(cfg, "data", "features");
    char **features = feat && *feat ? infb_strlist_split(feat, NULL) : NULL;
    all = infb_csv_read(train, target, features);
    free(train);
    char *test = infb_config_path(cfg, "data", "test");
    if (all && test) {
      c->test = infb_csv_read(test, target, features);
      if (!c->test) {
        free(test);
        infb_strlist_free(features);
        infb_dataset_free(all);
        return INFB_EDATA;
      }
    }
    free(test);
    infb_strlist_free(features);
    if (!all)
      return INFB_EDATA;
  }
  if (c->test) {
    c->train = all;
  } else {
    gsl_rng *r = infb_rng_stream(c->seed, "data/split", 0);
    if (!r) {
      infb_dataset_free(all);
      return GSL_ENOMEM;
    }
    st = infb_dataset_split(all, infb_config_double(cfg, "data", "test_fraction"), r, &c->train,
                            &c->test);
    gsl_rng_free(r);
    infb_dataset_free(all);
    if (st)
      return st;
  }
  c->D = c->train->p;
  if (c->K >= c->D)
    return INFB_ERROR(INFB_ECONFIG,
                      "[model] latent = %zu must be below the number of observed columns "
                      "D = %zu of %s",
                      c->K, c->D, c->train->source);
  if (c->train->n < 2)
    return INFB_ERROR(INFB_EDATA, "%s: only %zu training row(s); need at least 2",
                      c->train->source, c->train->n);
  return GSL_SUCCESS;
}

static int
prepare(lctx *c)
{
  const size_t D = c->D;
  int st;
  c->mean = infb_calloc(D, sizeof *c->mean);
  c->sd = infb_malloc(D, sizeof *c->sd);
  if (!c->mean || !c->sd)
    return GSL_ENOMEM;
  for (size_t j = 0; j < D; j++)
    c->sd[j] = 1.0;
  if (infb_config_bool(c->cfg, "data", "standardize") &&
      (st = infb_dataset_moments(c->train, c->mean, c->sd)) != GSL_SUCCESS)
    return st;
  c->log_jacobian = 0.0;
  for (size_t j = 0; j < D; j++)
    c->log_jacobian += log(c->sd[j]);
  const infb_dataset *parts[2] = {c->train, c->test};
  for (int k = 0; k < 2; k++) {
    const infb_dataset *d = parts[k];
    if (!d || d->n == 0)
      continue;
    c->n[k] = d->n;
    c->X[k] = gsl_matrix_alloc(d->n, D);
    if (!c->X[k])
      return INFB_ERROR(GSL_ENOMEM, "cannot allocate a %zux%zu data matrix", d->n, D);
    for (size_t i = 0; i < d->n; i++)
      for (size_t j = 0; j < D; j++)
        gsl_matrix_set(c->X[k], i, j, (d->X[i * D + j] - c->mean[j]) / c->sd[j]);
  }
  json_t *d = json_object_get(c->root, "data");
  json_t *feat = json_array();
  for (size_t j = 0; j < D; j++)
    json_array_append_new(feat, json_string(c->train->names[j]));
  json_object_set_new(d, "features", feat);
  json_object_set_new(d, "D", json_integer((json_int_t)D));
  json_object_set_new(d, "n_train", json_integer((json_int_t)c->train->n));
  json_object_set_new(d, "n_test", json_integer((json_int_t)(c->test ? c->test->n : 0)));
  json_object_set_new(d, "standardized",
                      json_boolean(infb_config_bool(c->cfg, "data", "standardize")));
  return GSL_SUCCESS;
}

int
infb_runlingauss_load(lctx *c)
{
  int st = load_data(c);
  if (!st)
    st = prepare(c);
  return st;
}

/* ------------------------------------------------------------------ options */

static int
encoder_options(const lctx *c, const lentry *e, infb_encoder_options *o)
{
  char sec[96];
  shared_section(e, "encoder", sec, sizeof sec);
  memset(o, 0, sizeof *o);
  o->mlp = strcmp(infb_config_get(c->cfg, sec, "type"), "mlp") == 0;
  o->activation = infb_act_parse(infb_config_get(c->cfg, sec, "activation"));
  if (!o->mlp)
    return GSL_SUCCESS;
  size_t n = 0;
  char **items = infb_strlist_split(infb_config_get(c->cfg, sec, "hidden"), &n);
  if (!items)
    return GSL_ENOMEM;
  int st = GSL_SUCCESS;
  if (n == 0 || n > INFB_MAX_HIDDEN)
    st = INFB_ERROR(INFB_ECONFIG, "[%s] hidden: give 1 to %d layer widths", sec, INFB_MAX_HIDDEN);
  for (size_t i = 0; !st && i < n; i++) {
    long w;
    if (infb_parse_long(items[i], &w, NULL) || w < 1)
      st = INFB_ERROR(INFB_ECONFIG, "[%s] hidden: '%s' is not a positive width", sec, items[i]);
    else
      o->hidden[i] = (size_t)w;
  }
  o->nhidden = n;
  infb_strlist_free(items);
  return st;
}

static void
train_options(const lctx *c, const lentry *e, infb_train_options *o)
{
  char sec[96];
  shared_section(e, "train", sec, sizeof sec);
  o->epochs = (size_t)infb_config_int(c->cfg, sec, "epochs");
  o->batch = (size_t)infb_config_int(c->cfg, sec, "batch");
  o->samples = (size_t)infb_config_int(c->cfg, sec, "samples");
  o->lr = infb_config_double(c->cfg, sec, "lr");
  o->lr_decay = infb_config_double(c->cfg, sec, "lr_decay");
  o->beta1 = infb_config_double(c->cfg, sec, "beta1");
  o->beta2 = infb_config_double(c->cfg, sec, "beta2");
  o->eps = infb_config_double(c->cfg, sec, "eps");
  o->seed = c->seed;
}

/* ------------------------------------------------------------------ fitting */

int
infb_runlingauss_fit(lctx *c, lentry *e)
{
  const infb_config *cfg = c->cfg;
  const char *sec = e->name;
  infb_latent_fit *fit = &e->fit;
  int st;
  if (strcmp(e->base, "mle") == 0 || strcmp(e->base, "map") == 0) {
    infb_em_fit_options o;
    memset(&o, 0, sizeof o);
    double lambda = 0.0;
    o.max_iter = (size_t)infb_config_int(cfg, sec, "max_iter");
    o.tol = infb_config_double(cfg, sec, "tol");
    o.psi_floor = infb_config_double(cfg, "mle", "psi_floor");
    o.init_scale = infb_config_double(cfg, "mle", "init_scale");
    o.method = INFB_EM_ITERATE;
    if (strcmp(e->base, "map") == 0) {
      double *lambdas = NULL;
      size_t n = 0;
      if ((st = infb_config_sweep(cfg, sec, "lambda", &lambdas, &n)) != GSL_SUCCESS)
        return st;
      lambda = lambdas[0];
      o.lambda = lambda;
      free(lambdas);
      if (n != 1)
        return INFB_ERROR(INFB_ECONFIG, "[%s] lambda: lingauss takes one value, not a sweep",
                          sec);
    } else if (strcmp(infb_config_get(cfg, sec, "solver"), "direct") == 0) {
      if (!c->ppca)
        return INFB_ERROR(INFB_ECONFIG, "[%s] solver = direct is the PPCA closed form: set "
                                        "[model] ppca = yes, or use solver = auto (EM)",
                          sec);
      o.method = INFB_EM_PPCA_CLOSED;
    }
    fit->model = infb_lingauss_alloc(c->D, c->K, c->ppca);
    gsl_rng *r = infb_rng_stream(c->seed, "em/init", 0);
    infb_em_result res;
    memset(&res, 0, sizeof res);
    st = !fit->model || !r ? GSL_ENOMEM : infb_em_fit(fit->model, c->X[0], &o, r, &res);
    gsl_rng_free(r);
    if (!st) {
      fit->iterations = res.iterations;
      snprintf(fit->stop_reason, sizeof fit->stop_reason, "%s", res.stop_reason);
      fit->nfloored = res.nfloored;
      size_t nt = res.trace_len;
      if (nt && !(st = infb_latent_fit_curve(fit, nt, "mean log-likelihood per point (nats)")))
        for (size_t i = 0; i < nt; i++) {
          fit->curve[3 * i] = (double)i;
          fit->curve[3 * i + 1] = res.trace[i] - c->log_jacobian;
        }
      snprintf(fit->note, sizeof fit->note, "%s%s",
               o.method == INFB_EM_PPCA_CLOSED ? "PPCA closed form (Tipping & Bishop 1999)"
               : c->ppca                       ? "EM for PPCA"
                                               : "EM for factor analysis",
               lambda > 0 ? "; Gaussian prior of precision lambda on W (MAP-EM)" : "");
    }
    infb_em_result_free(&res);
    return st;
  }
  if (strcmp(e->base, "meanfield") == 0) {
    infb_lgmeanfield_options o;
    memset(&o, 0, sizeof o);
    o.local_adam = strcmp(infb_config_get(cfg, sec, "local"), "adam") == 0;
    o.global_gradient = strcmp(infb_config_get(cfg, sec, "global"), "gradient") == 0;
    o.max_iter = (size_t)infb_config_int(cfg, sec, "max_iter");
    o.tol = infb_config_double(cfg, sec, "tol");
    o.psi_floor = infb_config_double(cfg, sec, "psi_floor");
    o.init_scale = infb_config_double(cfg, "mle", "init_scale");
    o.ppca = c->ppca;
    qstar_options(c, e, &o.qstar);
    train_options(c, e, &o.train);
    o.seed = c->seed;
    return infb_lgmeanfield_fit(c->X[0], c->X[1], c->K, &o, fit);
  }
  if (strcmp(e->base, "amortized") == 0) {
    infb_amortized_options o;
    memset(&o, 0, sizeof o);
    if ((st = encoder_options(c, e, &o.enc)) != GSL_SUCCESS)
      return st;
    train_options(c, e, &o.train);
    o.weight_decay = infb_config_double(cfg, sec, "weight_decay");
    o.init_scale = infb_config_double(cfg, "mle", "init_scale");
    o.psi_floor = infb_config_double(cfg, "mle", "psi_floor");
    o.ppca = c->ppca;
    o.name = e->name;
    return infb_amortized_fit(c->X[0], c->X[1], c->K, &o, fit);
  }
  if (strcmp(e->base, "autoencoder") == 0) {
    infb_autoencoder_options o;
    memset(&o, 0, sizeof o);
    if ((st = encoder_options(c, e, &o.enc)) != GSL_SUCCESS)
      return st;
    train_options(c, e, &o.train);
    o.name = e->name;
    return infb_autoencoder_fit(c->X[0], c->X[1], c->K, &o, fit);
  }
  return INFB_ERROR(INFB_ECONFIG, "estimator '%s' does not apply to model lingauss", e->name);
}

/* ------------------------------------------------------------------ reporting */

/* Parameters in original units: W_orig = diag(sd) W, b_orig = mean + sd⊙b, ψ_orig = sd²ψ. */
static void
params_json(const lctx *c, const infb_lingauss *m, json_t *obj)
{
  json_t *W = json_array(), *b = json_array(), *psi = json_array();
  for (size_t d = 0; d < c->D; d++) {
    json_t *row = json_array();
    for (size_t k = 0; k < c->K; k++)
      json_array_append_new(row, infb_json_number(c->sd[d] * gsl_matrix_get(m->W, d, k)));
    json_array_append_new(W, row);
    json_array_append_new(b, infb_json_number(c->mean[d] + c->sd[d] * gsl_vector_get(m->b, d)));
    json_array_append_new(psi, infb_json_number(c->sd[d] * c->sd[d] * gsl_vector_get(m->psi, d)));
  }
  json_object_set_new(obj, "W", W);
  json_object_set_new(obj, "b", b);
  json_object_set_new(obj, "psi", psi);
}

/* Mean exact ln p(x) per point over a whole split, original units. */
static int
mean_loglik(const lctx *c, const infb_lingauss *m, const gsl_matrix *X, double *out)
{
  infb_lingauss_cache *cache = infb_lingauss_cache_alloc(c->D, c->K);
  gsl_vector *v = gsl_vector_alloc(X->size1);
  int st = GSL_ENOMEM;
  if (cache && v && !(st = infb_lingauss_cache_set(cache, m)) &&
      !(st = infb_lingauss_logpx(cache, X, v))) {
    double s = 0.0;
    for (size_t i = 0; i < X->size1; i++)
      s += gsl_vector_get(v, i);
    *out = s / (double)X->size1 - c->log_jacobian;
  }
  infb_lingauss_cache_free(cache);
  gsl_vector_free(v);
  return st;
}

int
infb_runlingauss_summary(const lctx *c, const lentry *e, json_t *obj)
{
  const infb_latent_fit *f = &e->fit;
  double ll;
  int st;
  params_json(c, f->model, obj);
  json_object_set_new(obj, "nfloored", json_integer((json_int_t)f->nfloored));
  if (!(st = mean_loglik(c, f->model, c->X[0], &ll)))
    json_object_set_new(obj, "train_loglik", infb_json_number(ll));
  if (!st && c->X[1] && !(st = mean_loglik(c, f->model, c->X[1], &ll)))
    json_object_set_new(obj, "test_loglik", infb_json_number(ll));
  return st;
}

int
infb_runlingauss_posterior(const lctx *c, const lentry *e)
{
  if (c->K != 2 || !e->fit.model)
    return GSL_SUCCESS;
  size_t n = c->train->n < POSTERIOR_POINTS ? c->train->n : POSTERIOR_POINTS;
  gsl_matrix_const_view Xv = gsl_matrix_const_submatrix(c->X[0], 0, 0, n, c->D);
  infb_lingauss_cache *cache = infb_lingauss_cache_alloc(c->D, 2);
  gsl_matrix *M = gsl_matrix_alloc(n, 2), *S = gsl_matrix_alloc(2, 2);
  gsl_matrix *QM = gsl_matrix_alloc(n, 2), *QV = gsl_matrix_alloc(n, 2);
  double *EM = infb_malloc(2 * n, sizeof *EM), *EV = infb_malloc(2 * n, sizeof *EV);
  double *rows = infb_malloc(14 * n, sizeof *rows);
  int st = GSL_ENOMEM;
  if (cache && M && S && QM && QV && EM && EV && rows &&
      !(st = infb_lingauss_cache_set(cache, e->fit.model)) &&
      !(st = infb_lingauss_posterior(cache, &Xv.matrix, M, S)) &&
      !(st = infb_lingauss_qstar(cache, &Xv.matrix, QM, QV))) {
    int has_q = e->fit.encoder.fn != NULL;
    if (has_q)
      st = e->fit.encoder.fn(e->fit.encoder.self, n, Xv.matrix.data, EM, EV);
    for (size_t i = 0; !st && i < n; i++) {
      double *v = rows + 14 * i;
      v[0] = (double)i;
      v[1] = gsl_matrix_get(M, i, 0);
      v[2] = gsl_matrix_get(M, i, 1);
      v[3] = gsl_matrix_get(S, 0, 0);
      v[4] = gsl_matrix_get(S, 0, 1);
      v[5] = gsl_matrix_get(S, 1, 1);
      v[6] = gsl_matrix_get(QM, i, 0);
      v[7] = gsl_matrix_get(QM, i, 1);
      v[8] = gsl_matrix_get(QV, i, 0);
      v[9] = gsl_matrix_get(QV, i, 1);
      v[10] = has_q ? EM[2 * i] : NAN;
      v[11] = has_q ? EM[2 * i + 1] : NAN;
      v[12] = has_q ? exp(EV[2 * i]) : NAN;
      v[13] = has_q ? exp(EV[2 * i + 1]) : NAN;
    }
    const char *cols[] = {"index", "m1",    "m2",    "s11",   "s12",  "s22",  "qs_m1",
                          "qs_m2", "qs_v1", "qs_v2", "q_m1", "q_m2", "q_v1", "q_v2"};
    char file[128], stem[128];
    snprintf(file, sizeof file, "posterior-%s.tsv", e->stem);
    snprintf(stem, sizeof stem, "posterior-%s", e->stem);
    if (!st)
      st = infb_tsv_write(c->dir, file,
                          "K = 2: exact posterior (mean, covariance), q* (mean, variances), "
                          "encoder q (mean, variances)",
                          14, cols, n, NULL, rows);
    if (!st)
      st = infb_plot_posterior2d_write(c->dir, stem, file, e->name, n, has_q);
  }
  infb_lingauss_cache_free(cache);
  gsl_matrix_free(M);
  gsl_matrix_free(S);
  gsl_matrix_free(QM);
  gsl_matrix_free(QV);
  free(EM);
  free(EV);
  free(rows);
  return st;
}
