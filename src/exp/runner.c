/* The experiment runner (see runner.h): one pass from a resolved config to a run
 * directory.  Estimators see the data in working units (features standardised when
 * [data] standardize = yes); everything reported is transformed back to original units. */
#define _POSIX_C_SOURCE 200809L
#include <config.h> /* autoconf's, not exp/config.h */
#include "exp/runner.h"
#include "core/atomicfile.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/strparse.h"
#include "data/csv.h"
#include "data/synth.h"
#include "exp/results.h"
#include "exp/runlatent.h"
#include "exp/runshared.h"
#include "infer/bayes.h"
#include "infer/estimator.h"
#include "infer/laplace.h"
#include "infer/map.h"
#include "infer/meanfield.h"
#include "infer/mle.h"
#include "linalg/blas.h"
#include "plot/gnuplot.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One estimator entry of [estimators] run and what it produced. */
typedef struct entry {
  const char *name;   /* "map:strong" (owned by the config) */
  char base[32];      /* "map" */
  infb_fit *fit;      /* working units; NULL when it failed */
  int has_path;       /* map with a λ sweep: path-<stem>.tsv written */
  double lambda_cv;   /* the λ chosen by cross-validation */
} entry;

typedef struct run_ctx {
  const infb_config *cfg;
  const infb_run_options *opt;
  infb_model_kind model;
  infb_dataset *train, *test;   /* original units */
  gsl_matrix *Xtr, *Xte;        /* working units */
  gsl_vector *ytr, *yte;
  double *mean, *sd;            /* standardisation (mean 0, sd 1 when off) */
  infb_problem pb;
  char *dir;
  json_t *root, *ests;
  entry *entries;
  size_t nentries;
  size_t nfailed;
} run_ctx;

/* ------------------------------------------------------------------ data */

static int
check_targets(const run_ctx *c, const infb_dataset *d)
{
  if (c->model != INFB_MODEL_LOGREG || !d)
    return GSL_SUCCESS;
  for (size_t i = 0; i < d->n; i++) {
    double y = d->y[i];
    if (y != 0.0 && y != 1.0)
      return INFB_ERROR(INFB_EDATA, "%s: line %zu: target '%s' is %g; logreg needs 0 or 1",
                        d->source, d->line ? d->line[i] : i + 2, d->target, y);
  }
  return GSL_SUCCESS;
}

static int
check_classes(const infb_dataset *d)
{
  size_t ones = 0;
  for (size_t i = 0; i < d->n; i++)
    ones += d->y[i] == 1.0;
  if (ones == 0 || ones == d->n)
    return INFB_ERROR(INFB_EDATA,
                      "%s: target '%s' has a single class (all %d) in the training data; "
                      "logreg needs both",
                      d->source, d->target, ones ? 1 : 0);
  return GSL_SUCCESS;
}

static int
load_data(run_ctx *c)
{
  const infb_config *cfg = c->cfg;
  uint64_t seed = (uint64_t)infb_config_int(cfg, "experiment", "seed");
  const char *source = infb_config_get(cfg, "data", "source");
  infb_dataset *all = NULL;
  int st;

  if (strcmp(source, "synthetic") == 0) {
    size_t n = (size_t)infb_config_int(cfg, "data", "n");
    size_t p = (size_t)infb_config_int(cfg, "data", "dim");
    double scale = infb_config_double(cfg, "data", "weight_scale");
    double bias = infb_config_double(cfg, "data", "bias");
    double *w = infb_malloc(p, sizeof *w);
    gsl_rng *r = infb_rng_stream(seed, "data/synthetic", 0);
    if (!w || !r) {
      free(w);
      gsl_rng_free(r);
      return GSL_ENOMEM;
    }
    if (c->model == INFB_MODEL_LINREG)
      all = infb_synth_linreg(n, p, infb_config_double(cfg, "data", "noise"), scale, bias, r, w);
    else
      all = infb_synth_logreg(n, p, scale, bias, r, w);
    gsl_rng_free(r);
    if (all) {
      json_t *d = json_object_get(c->root, "data");
      json_object_set_new(d, "true_weights", infb_json_array(w, p));
      json_object_set_new(d, "true_intercept", json_real(bias));
    }
    free(w);
    if (!all)
      return GSL_EFAILED;
  } else {
    char *train = infb_config_path(cfg, "data", "train");
    const char *target = infb_config_get(cfg, "data", "target");
    const char *feat = infb_config_get(cfg, "data", "features");
    char **features = NULL;
    if (feat && *feat) {
      features = infb_strlist_split(feat, NULL);
      if (!features) {
        free(train);
        return GSL_ENOMEM;
      }
    }
    all = infb_csv_read(train, target, features);
    free(train);
    if (all && (st = check_targets(c, all)) != GSL_SUCCESS) {
      infb_dataset_free(all);
      infb_strlist_free(features);
      return st;
    }
    char *test = infb_config_path(cfg, "data", "test");
    if (all && test) {
      c->test = infb_csv_read(test, target, features);
      if (!c->test || (st = check_targets(c, c->test)) != GSL_SUCCESS) {
        free(test);
        infb_dataset_free(all);
        infb_strlist_free(features);
        return c->test ? st : INFB_EDATA;
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
    double frac = infb_config_double(cfg, "data", "test_fraction");
    gsl_rng *r = infb_rng_stream(seed, "data/split", 0);
    if (!r) {
      infb_dataset_free(all);
      return GSL_ENOMEM;
    }
    st = infb_dataset_split(all, frac, r, &c->train, &c->test);
    gsl_rng_free(r);
    infb_dataset_free(all);
    if (st)
      return st;
  }
  if (c->model == INFB_MODEL_LOGREG && (st = check_classes(c->train)) != GSL_SUCCESS)
    return st;
  if (c->train->n < 2)
    return INFB_ERROR(INFB_EDATA, "%s: only %zu training row(s); need at least 2",
                      c->train->source, c->train->n);
  return GSL_SUCCESS;
}

/* Working-unit copies of the data: standardised features when asked. */
static int
prepare_problem(run_ctx *c)
{
  const size_t p = c->train->p;
  int st;
  c->mean = infb_calloc(p, sizeof *c->mean);
  c->sd = infb_malloc(p, sizeof *c->sd);
  if (!c->mean || !c->sd)
    return GSL_ENOMEM;
  for (size_t j = 0; j < p; j++)
    c->sd[j] = 1.0;
  if (infb_config_bool(c->cfg, "data", "standardize") &&
      (st = infb_dataset_moments(c->train, c->mean, c->sd)) != GSL_SUCCESS)
    return st;

  const infb_dataset *parts[2] = {c->train, c->test};
  gsl_matrix **Xs[2] = {&c->Xtr, &c->Xte};
  gsl_vector **ys[2] = {&c->ytr, &c->yte};
  for (int k = 0; k < 2; k++) {
    const infb_dataset *d = parts[k];
    if (!d || d->n == 0)
      continue;
    *Xs[k] = gsl_matrix_alloc(d->n, p);
    *ys[k] = gsl_vector_alloc(d->n);
    if (!*Xs[k] || !*ys[k])
      return INFB_ERROR(GSL_ENOMEM, "cannot allocate a %zux%zu design", d->n, p);
    for (size_t i = 0; i < d->n; i++) {
      for (size_t j = 0; j < p; j++)
        gsl_matrix_set(*Xs[k], i, j, (d->X[i * p + j] - c->mean[j]) / c->sd[j]);
      gsl_vector_set(*ys[k], i, d->y[i]);
    }
  }
  c->pb.model = c->model;
  c->pb.X = c->Xtr;
  c->pb.y = c->ytr;
  c->pb.intercept = infb_config_bool(c->cfg, "model", "intercept");
  const char *ip = infb_config_get(c->cfg, "model", "intercept_prior");
  c->pb.intercept_prior = strcmp(ip, "same") == 0 ? INFB_INTERCEPT_SAME : INFB_INTERCEPT_FLAT;
  c->pb.noise_var = infb_config_is_word(c->cfg, "model", "noise", "estimate")
                        ? 0.0
                        : infb_config_double(c->cfg, "model", "noise");
  c->pb.seed = (uint64_t)infb_config_int(c->cfg, "experiment", "seed");
  return GSL_SUCCESS;
}

/* ------------------------------------------------------------------ units */

/* Weights and intercept in original units: w_j = w'_j/sd_j, b = b' − Σ w'_j mean_j/sd_j,
 * and their standard deviations from the working-unit covariance when there is one
 * (sd_w, sd_b may then be NULL-free; they are NAN without a covariance). */
static void
to_original(const run_ctx *c, const gsl_vector *w, double b, const gsl_matrix *cov,
            double *wo, double *bo, double *sd_w, double *sd_b)
{
  const size_t p = w->size;
  double bb = b;
  for (size_t j = 0; j < p; j++) {
    wo[j] = gsl_vector_get(w, j) / c->sd[j];
    bb -= gsl_vector_get(w, j) * c->mean[j] / c->sd[j];
  }
  *bo = c->pb.intercept ? bb : NAN;
  if (!sd_w)
    return;
  for (size_t j = 0; j < p; j++)
    sd_w[j] = cov ? sqrt(gsl_matrix_get(cov, j, j)) / c->sd[j] : NAN;
  *sd_b = NAN;
  if (cov && c->pb.intercept) {
    /* b_orig = aᵀ(w', b') with a = (−mean/sd, 1): Var = aᵀ cov a. */
    double v = 0.0;
    for (size_t i = 0; i <= p; i++) {
      double ai = i < p ? -c->mean[i] / c->sd[i] : 1.0;
      for (size_t k = 0; k <= p; k++) {
        double ak = k < p ? -c->mean[k] / c->sd[k] : 1.0;
        v += ai * ak * gsl_matrix_get(cov, i, k);
      }
    }
    *sd_b = sqrt(v > 0 ? v : 0);
  }
}

/* ------------------------------------------------------------------ estimators */

static void
solver_options(const infb_config *cfg, const char *sec, infb_solver_options *o)
{
  o->tol = infb_config_double(cfg, sec, "tol");
  o->max_iter = (size_t)infb_config_int(cfg, sec, "max_iter");
  const char *m = infb_config_get(cfg, sec, "solver");
  o->method = !m || strcmp(m, "auto") == 0 ? INFB_SOLVER_AUTO
              : strcmp(m, "direct") == 0   ? INFB_SOLVER_DIRECT
              : strcmp(m, "bfgs") == 0     ? INFB_SOLVER_BFGS
                                           : INFB_SOLVER_NEWTON;
}

static void
bayes_options(const infb_config *cfg, infb_bayes_options *o)
{
  o->alpha_evidence = infb_config_is_word(cfg, "bayes", "alpha", "evidence");
  o->beta_evidence = infb_config_is_word(cfg, "bayes", "beta", "evidence");
  o->alpha = o->alpha_evidence ? 1.0 : infb_config_double(cfg, "bayes", "alpha");
  o->beta = o->beta_evidence ? 1.0 : infb_config_double(cfg, "bayes", "beta");
  o->tol = infb_config_double(cfg, "bayes", "tol");
  o->max_iter = (size_t)infb_config_int(cfg, "bayes", "max_iter");
}

/* The log-evidence curve against α: evidence-<stem>.tsv. */
static int
write_evidence_curve(run_ctx *c, const char *sec, const char *stem, const infb_fit *fit)
{
  double *alphas = NULL;
  size_t n = 0;
  int st = infb_config_sweep(c->cfg, sec, "alpha_path", &alphas, &n);
  if (st)
    return st;
  double *rows = infb_malloc(2 * n, sizeof *rows);
  infb_fit *tmp = infb_fit_alloc(c->train->p, c->pb.intercept);
  if (!rows || !tmp) {
    free(alphas);
    free(rows);
    infb_fit_free(tmp);
    return GSL_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    double le = NAN;
    if (c->model == INFB_MODEL_LINREG) {
      infb_bayes_log_evidence(&c->pb, alphas[i], fit->beta, &le);
    } else {
      infb_laplace_options lo;
      memset(&lo, 0, sizeof lo);
      lo.alpha = alphas[i];
      solver_options(c->cfg, sec, &lo.solver);
      lo.tol = infb_config_double(c->cfg, sec, "tol");
      lo.max_iter = (size_t)infb_config_int(c->cfg, sec, "max_iter");
      if (infb_laplace_fit(&c->pb, &lo, tmp) == GSL_SUCCESS)
        le = tmp->log_evidence;
    }
    rows[2 * i] = alphas[i];
    rows[2 * i + 1] = le;
  }
  char file[96], gp[96], comment[160];
  snprintf(file, sizeof file, "evidence-%s.tsv", stem);
  snprintf(gp, sizeof gp, "evidence-%s", stem);
  snprintf(comment, sizeof comment, "log evidence against prior precision alpha (%s)%s",
           c->model == INFB_MODEL_LINREG ? "beta at its fitted value" : "Laplace approximation",
           "");
  const char *cols[] = {"alpha", "log_evidence"};
  st = infb_tsv_write(c->dir, file, comment, 2, cols, n, NULL, rows);
  if (!st)
    st = infb_plot_evidence_write(c->dir, gp, file, stem, fit->alpha, fit->log_evidence);
  free(alphas);
  free(rows);
  infb_fit_free(tmp);
  return st;
}

/* MAP along a λ sweep: path TSV, selected λ refitted. */
static int
run_map_path(run_ctx *c, entry *e, const double *lambdas, size_t n,
             const infb_solver_options *so, infb_fit *fit, json_t *obj)
{
  const size_t p = c->train->p;
  size_t folds = (size_t)infb_config_int(c->cfg, e->name, "folds");
  infb_map_path_point *path = infb_calloc(n, sizeof *path);
  if (!path)
    return GSL_ENOMEM;
  size_t best = 0;
  int st = infb_map_path(&c->pb, lambdas, n, folds, so, path, &best);
  if (st) {
    infb_map_path_free(path, n);
    free(path);
    return st;
  }
  /* Columns: lambda cv_loglik cv_se train_loglik test_loglik w:<feature>... */
  size_t ncol = 5 + p;
  double *rows = infb_malloc(n * ncol, sizeof *rows);
  const char **cols = infb_calloc(ncol, sizeof *cols);
  char **wcols = infb_calloc(p, sizeof *wcols);
  double *wo = infb_malloc(p, sizeof *wo);
  if (!rows || !cols || !wcols || !wo) {
    st = GSL_ENOMEM;
    goto done;
  }
  cols[0] = "lambda";
  cols[1] = "cv_loglik";
  cols[2] = "cv_se";
  cols[3] = "train_loglik";
  cols[4] = "test_loglik";
  for (size_t j = 0; j < p; j++) {
    size_t len = strlen(c->train->names[j]) + 3;
    wcols[j] = infb_malloc(len, 1);
    if (!wcols[j]) {
      st = GSL_ENOMEM;
      goto done;
    }
    snprintf(wcols[j], len, "w:%s", c->train->names[j]);
    cols[5 + j] = wcols[j];
  }
  for (size_t l = 0; l < n; l++) {
    double *r = rows + l * ncol;
    r[0] = path[l].lambda;
    r[1] = path[l].cv_loglik;
    r[2] = path[l].cv_se;
    r[3] = r[4] = NAN;
    for (size_t j = 0; j < p; j++)
      r[5 + j] = NAN;
    if (!path[l].w)
      continue;
    gsl_vector_memcpy(fit->w, path[l].w);
    fit->intercept = path[l].intercept;
    fit->noise_var = path[l].noise_var;
    infb_fit_loglik(c->model, fit, c->Xtr, c->ytr, &r[3]);
    if (c->Xte)
      infb_fit_loglik(c->model, fit, c->Xte, c->yte, &r[4]);
    double bo;
    to_original(c, path[l].w, path[l].intercept, NULL, wo, &bo, NULL, NULL);
    for (size_t j = 0; j < p; j++)
      r[5 + j] = wo[j];
  }
  char stem[64], file[96];
  infb_run_stem(e->name, stem, sizeof stem);
  snprintf(file, sizeof file, "path-%s.tsv", stem);
  st = infb_tsv_write(c->dir, file,
                      "regularisation path: log-likelihood per observation (nats), "
                      "weights in original units",
                      ncol, cols, n, NULL, rows);
  if (st)
    goto done;
  e->has_path = 1;
  e->lambda_cv = path[best].lambda;
  json_t *pj = json_array();
  for (size_t l = 0; l < n; l++)
    json_array_append_new(pj, json_pack("{s:o, s:o, s:o}", "lambda", json_real(path[l].lambda),
                                        "cv_loglik", infb_json_number(path[l].cv_loglik),
                                        "cv_se", infb_json_number(path[l].cv_se)));
  json_object_set_new(obj, "path", pj);
  json_object_set_new(obj, "lambda_selection", json_string("cross-validation"));
  json_object_set_new(obj, "folds", json_integer((json_int_t)folds));
  /* The reported MAP is the refit at the selected λ. */
  st = infb_map_fit(&c->pb, path[best].lambda, so, fit);
done:
  if (wcols)
    for (size_t j = 0; j < p; j++)
      free(wcols[j]);
  free(wcols);
  free(cols);
  free(rows);
  free(wo);
  infb_map_path_free(path, n);
  free(path);
  return st;
}

/* Fit one entry; fills obj with its estimator-specific fields. */
static int
fit_entry(run_ctx *c, entry *e, infb_fit *fit, json_t *obj)
{
  const infb_config *cfg = c->cfg;
  const char *sec = e->name;
  infb_solver_options so;
  int st;
  char stem[64];
  infb_run_stem(e->name, stem, sizeof stem);

  if (strcmp(e->base, "mle") == 0) {
    solver_options(cfg, sec, &so);
    return infb_mle_fit(&c->pb, &so, fit);
  }
  if (strcmp(e->base, "map") == 0) {
    solver_options(cfg, sec, &so);
    double *lambdas = NULL;
    size_t n = 0;
    if ((st = infb_config_sweep(cfg, sec, "lambda", &lambdas, &n)) != GSL_SUCCESS)
      return st;
    if (n == 1) {
      st = infb_map_fit(&c->pb, lambdas[0], &so, fit);
      json_object_set_new(obj, "lambda_selection", json_string("fixed"));
    } else {
      st = run_map_path(c, e, lambdas, n, &so, fit, obj);
    }
    free(lambdas);
    if (!st)
      json_object_set_new(obj, "lambda", json_real(fit->lambda));
    return st;
  }
  if (strcmp(e->base, "bayes") == 0) {
    infb_bayes_options bo;
    bayes_options(cfg, &bo);
    /* A variant [bayes:NAME] overrides through the same accessors. */
    bo.alpha_evidence = infb_config_is_word(cfg, sec, "alpha", "evidence");
    bo.beta_evidence = infb_config_is_word(cfg, sec, "beta", "evidence");
    if (!bo.alpha_evidence)
      bo.alpha = infb_config_double(cfg, sec, "alpha");
    if (!bo.beta_evidence)
      bo.beta = infb_config_double(cfg, sec, "beta");
    bo.tol = infb_config_double(cfg, sec, "tol");
    bo.max_iter = (size_t)infb_config_int(cfg, sec, "max_iter");
    if ((st = infb_bayes_fit(&c->pb, &bo, fit)) != GSL_SUCCESS)
      return st;
    json_object_set_new(obj, "log_evidence", infb_json_number(fit->log_evidence));
    json_object_set_new(obj, "alpha", infb_json_number(fit->alpha));
    json_object_set_new(obj, "beta", infb_json_number(fit->beta));
    json_object_set_new(obj, "alpha_selection",
                        json_string(bo.alpha_evidence ? "evidence" : "fixed"));
    json_object_set_new(obj, "beta_selection",
                        json_string(c->pb.noise_var > 0 ? "fixed by [model] noise"
                                    : bo.beta_evidence ? "evidence"
                                                       : "fixed"));
    return write_evidence_curve(c, sec, stem, fit);
  }
  if (strcmp(e->base, "laplace") == 0) {
    infb_laplace_options lo;
    memset(&lo, 0, sizeof lo);
    lo.alpha_evidence = infb_config_is_word(cfg, sec, "alpha", "evidence");
    lo.alpha = lo.alpha_evidence ? 1.0 : infb_config_double(cfg, sec, "alpha");
    solver_options(cfg, sec, &lo.solver);
    lo.tol = lo.solver.tol;
    lo.max_iter = lo.solver.max_iter;
    if ((st = infb_laplace_fit(&c->pb, &lo, fit)) != GSL_SUCCESS)
      return st;
    json_object_set_new(obj, "log_evidence", infb_json_number(fit->log_evidence));
    json_object_set_new(obj, "alpha", infb_json_number(fit->alpha));
    json_object_set_new(obj, "alpha_selection",
                        json_string(lo.alpha_evidence ? "evidence" : "fixed"));
    return write_evidence_curve(c, sec, stem, fit);
  }
  if (strcmp(e->base, "meanfield") == 0) {
    /* At the (α, β) of [bayes]: fixed values, or its type-II ML optimum. */
    infb_bayes_options bo;
    bayes_options(cfg, &bo);
    infb_fit *b = infb_fit_alloc(c->train->p, c->pb.intercept);
    if (!b)
      return GSL_ENOMEM;
    st = infb_bayes_fit(&c->pb, &bo, b);
    infb_meanfield_options mo = {
        .alpha = b->alpha,
        .beta = b->beta,
        .tol = infb_config_double(cfg, sec, "tol"),
        .max_iter = (size_t)infb_config_int(cfg, sec, "max_iter"),
    };
    infb_fit_free(b);
    if (st)
      return st;
    if ((st = infb_meanfield_fit(&c->pb, &mo, fit)) != GSL_SUCCESS)
      return st;
    json_object_set_new(obj, "elbo", infb_json_number(fit->elbo));
    json_object_set_new(obj, "log_evidence", infb_json_number(fit->log_evidence));
    json_object_set_new(obj, "gap", infb_json_number(fit->gap));
    json_object_set_new(obj, "gap_analytic", infb_json_number(fit->gap_analytic));
    json_object_set_new(obj, "alpha", infb_json_number(fit->alpha));
    json_object_set_new(obj, "beta", infb_json_number(fit->beta));
    return GSL_SUCCESS;
  }
  return INFB_ERROR(INFB_ECONFIG, "unknown estimator '%s'", e->name);
}

static void
run_entry(run_ctx *c, entry *e, size_t k)
{
  const size_t p = c->train->p;
  infb_run_progress(c->opt, "fitting %s (%zu/%zu)", e->name, k + 1, c->nentries);
  json_t *obj = json_object();
  json_object_set_new(obj, "estimator", json_string(e->base));
  json_object_set_new(obj, "status", json_string("ok"));
  json_object_set(c->ests, e->name, obj);
  json_decref(obj);

  infb_fit *fit = infb_fit_alloc(p, c->pb.intercept);
  if (!fit) {
    json_object_set_new(obj, "status", json_string(infb_error_message()));
    c->nfailed++;
    return;
  }
  infb_error_clear();
  double t0 = infb_clock_seconds();
  int st = fit_entry(c, e, fit, obj);
  double secs = infb_clock_seconds() - t0;
  double ltr = NAN, lte = NAN;
  if (!st)
    st = infb_fit_loglik(c->model, fit, c->Xtr, c->ytr, &ltr);
  if (!st && c->Xte)
    st = infb_fit_loglik(c->model, fit, c->Xte, c->yte, &lte);
  if (!st && !(isfinite(ltr) && (!c->Xte || isfinite(lte))))
    st = INFB_ERROR(GSL_EDOM, "%s: the log-likelihood is not finite (train %g, test %g); "
                              "check the data scale or use [data] standardize = yes",
                    e->name, ltr, lte);
  if (st) {
    const char *msg = infb_error_message();
    json_object_set_new(obj, "status", json_string(*msg ? msg : infb_strerror(st)));
    json_object_set_new(obj, "seconds", json_real(secs));
    infb_fit_free(fit);
    c->nfailed++;
    return;
  }
  double *wo = infb_malloc(p, sizeof *wo), *sdw = infb_malloc(p, sizeof *sdw), bo, sdb;
  if (wo && sdw) {
    to_original(c, fit->w, fit->intercept, fit->cov, wo, &bo, sdw, &sdb);
    json_object_set_new(obj, "weights", infb_json_array(wo, p));
    json_object_set_new(obj, "intercept", infb_json_number(bo));
    if (fit->cov) {
      json_object_set_new(obj, "weights_sd", infb_json_array(sdw, p));
      json_object_set_new(obj, "intercept_sd", infb_json_number(sdb));
    }
  }
  free(wo);
  free(sdw);
  json_object_set_new(obj, "train_loglik", infb_json_number(ltr));
  json_object_set_new(obj, "test_loglik", infb_json_number(lte));
  if (c->model == INFB_MODEL_LINREG)
    json_object_set_new(obj, "noise_var", infb_json_number(fit->noise_var));
  json_object_set_new(obj, "iterations", json_integer((json_int_t)fit->iterations));
  json_object_set_new(obj, "stop_reason", json_string(fit->stop_reason));
  json_object_set_new(obj, "seconds", json_real(secs));
  if (fit->note[0])
    json_object_set_new(obj, "note", json_string(fit->note));
  e->fit = fit;
}

/* ------------------------------------------------------------------ outputs */

/* Comparison table and weights in original units. */
static int
write_tables(run_ctx *c)
{
  const size_t n = c->nentries, p = c->train->p;
  /* Numbers that reproduce only: the timings stay in results.json (beside the provenance),
   * so two runs of one config and seed, or a run and its --resume, write the same bytes. */
  enum { NF = 8 };
  const char *cols[] = {"estimator", "train_loglik", "test_loglik", "log_evidence", "elbo",
                        "gap", "lambda", "alpha", "beta"};
  double *rows = infb_malloc(n * NF, sizeof *rows);
  const char **labels = infb_calloc(n + 1, sizeof *labels);
  double *wrows = infb_malloc((p + 1) * (n ? n : 1), sizeof *wrows);
  const char **wlabels = infb_calloc(p + 1, sizeof *wlabels);
  const char **wcols = infb_calloc(n + 1, sizeof *wcols);
  int st = GSL_ENOMEM;
  if (!rows || !labels || !wrows || !wlabels || !wcols)
    goto done;
  static const char *fields[NF] = {"train_loglik", "test_loglik", "log_evidence", "elbo",
                                   "gap", "lambda", "alpha", "beta"};
  wcols[0] = "feature";
  for (size_t k = 0; k < n; k++) {
    json_t *o = json_object_get(c->ests, c->entries[k].name);
    labels[k] = c->entries[k].name;
    wcols[k + 1] = c->entries[k].name;
    for (size_t f = 0; f < NF; f++) {
      json_t *v = json_object_get(o, fields[f]);
      rows[k * NF + f] = json_is_number(v) ? json_number_value(v) : NAN;
    }
    json_t *w = json_object_get(o, "weights");
    for (size_t j = 0; j < p; j++) {
      json_t *v = json_array_get(w, j);
      wrows[j * n + k] = json_is_number(v) ? json_number_value(v) : NAN;
    }
    json_t *b = json_object_get(o, "intercept");
    wrows[p * n + k] = json_is_number(b) ? json_number_value(b) : NAN;
  }
  for (size_t j = 0; j < p; j++)
    wlabels[j] = c->train->names[j];
  wlabels[p] = "(intercept)";
  st = infb_tsv_write(c->dir, "estimators.tsv",
                      "comparison: log-likelihoods are per observation (nats)", NF, cols, n,
                      labels, rows);
  if (!st && n > 0)
    st = infb_tsv_write(c->dir, "weights.tsv", "weights in original units", n, wcols, p + 1,
                        wlabels, wrows);
done:
  free(rows);
  free(labels);
  free(wrows);
  free(wlabels);
  free(wcols);
  return st;
}

/* For a single feature: the data and each estimator's predictive mean ± band·sd. */
static int
write_predictive(run_ctx *c)
{
  if (c->train->p != 1)
    return GSL_SUCCESS;
  size_t nok = 0;
  for (size_t k = 0; k < c->nentries; k++)
    nok += c->entries[k].fit != NULL;
  if (nok == 0)
    return GSL_SUCCESS;
  const char *xcol[] = {"x", "y"};
  const infb_dataset *parts[2] = {c->train, c->test};
  const char *names[2] = {"data-train.tsv", "data-test.tsv"};
  double lo = INFINITY, hi = -INFINITY;
  int st;
  for (int k = 0; k < 2; k++) {
    const infb_dataset *d = parts[k];
    if (!d)
      continue;
    double *rows = infb_malloc(2 * d->n, sizeof *rows);
    if (!rows)
      return GSL_ENOMEM;
    for (size_t i = 0; i < d->n; i++) {
      rows[2 * i] = d->X[i];
      rows[2 * i + 1] = d->y[i];
      lo = fmin(lo, d->X[i]);
      hi = fmax(hi, d->X[i]);
    }
    char comment[128];
    snprintf(comment, sizeof comment, "%s data: x = %s, y = %s", k ? "test" : "training",
             d->names[0], d->target);
    st = infb_tsv_write(c->dir, names[k], comment, 2, xcol, d->n, NULL, rows);
    free(rows);
    if (st)
      return st;
  }
  size_t grid = (size_t)infb_config_int(c->cfg, "plot", "grid");
  double band = infb_config_double(c->cfg, "plot", "band");
  double pad = 0.05 * (hi - lo > 0 ? hi - lo : 1.0);
  lo -= pad;
  hi += pad;
  size_t ncol = 1 + 3 * nok;
  double *rows = infb_malloc(grid * ncol, sizeof *rows);
  const char **cols = infb_calloc(ncol, sizeof *cols);
  char **owned = infb_calloc(3 * nok, sizeof *owned);
  const char **ests = infb_calloc(nok, sizeof *ests);
  gsl_matrix *Xg = gsl_matrix_alloc(grid, 1);
  gsl_vector *mean = gsl_vector_alloc(grid), *var = gsl_vector_alloc(grid);
  st = GSL_ENOMEM;
  if (!rows || !cols || !owned || !ests || !Xg || !mean || !var)
    goto done;
  cols[0] = "x";
  for (size_t i = 0; i < grid; i++) {
    double x = lo + (hi - lo) * (double)i / (double)(grid - 1);
    rows[i * ncol] = x;
    gsl_matrix_set(Xg, i, 0, (x - c->mean[0]) / c->sd[0]);
  }
  size_t e = 0;
  for (size_t k = 0; k < c->nentries; k++) {
    const entry *en = &c->entries[k];
    if (!en->fit)
      continue;
    ests[e] = en->name;
    static const char *suffix[] = {"mean", "lo", "hi"};
    for (int s = 0; s < 3; s++) {
      size_t len = strlen(en->name) + 8;
      owned[3 * e + s] = infb_malloc(len, 1);
      if (!owned[3 * e + s])
        goto done;
      snprintf(owned[3 * e + s], len, "%s:%s", en->name, suffix[s]);
      cols[1 + 3 * e + s] = owned[3 * e + s];
    }
    if ((st = infb_fit_predict(c->model, en->fit, Xg, mean, var)) != GSL_SUCCESS)
      goto done;
    for (size_t i = 0; i < grid; i++) {
      double m = gsl_vector_get(mean, i);
      /* A band on the response for linreg; the probability itself for logreg. */
      double h = c->model == INFB_MODEL_LINREG ? band * sqrt(gsl_vector_get(var, i)) : 0.0;
      rows[i * ncol + 1 + 3 * e] = m;
      rows[i * ncol + 2 + 3 * e] = m - h;
      rows[i * ncol + 3 + 3 * e] = m + h;
    }
    e++;
  }
  char comment[160], ylabel[128];
  snprintf(comment, sizeof comment, "predictive %s with a +-%g sd band, x = %s",
           c->model == INFB_MODEL_LINREG ? "mean of y" : "P(y = 1)", band, c->train->names[0]);
  if (c->model == INFB_MODEL_LINREG)
    snprintf(ylabel, sizeof ylabel, "%s", c->train->target);
  else
    snprintf(ylabel, sizeof ylabel, "%s; predictive P(%s = 1)", c->train->target,
             c->train->target);
  st = infb_tsv_write(c->dir, "predictive.tsv", comment, ncol, cols, grid, NULL, rows);
  if (!st)
    st = infb_plot_predictive_write(c->dir, "predictive", "predictive.tsv", nok, ests,
                                    c->train->names[0], ylabel, c->test != NULL,
                                    c->model == INFB_MODEL_LINREG ? band : 0.0);
done:
  if (owned)
    for (size_t i = 0; i < 3 * nok; i++)
      free(owned[i]);
  free(owned);
  free(rows);
  free(cols);
  free(ests);
  gsl_matrix_free(Xg);
  gsl_vector_free(mean);
  gsl_vector_free(var);
  return st;
}

/* Regularisation-path figures, marked with the MLE's log-likelihood and the
 * evidence-optimal λ (linreg: α/β of bayes; logreg: α of laplace). */
static int
write_path_plots(run_ctx *c)
{
  double mle_ll = NAN, lambda_ev = NAN;
  for (size_t k = 0; k < c->nentries; k++) {
    const entry *e = &c->entries[k];
    if (!e->fit)
      continue;
    json_t *o = json_object_get(c->ests, e->name);
    if (strcmp(e->base, "mle") == 0 && !isfinite(mle_ll)) {
      json_t *v = json_object_get(o, c->Xte ? "test_loglik" : "train_loglik");
      mle_ll = json_is_number(v) ? json_number_value(v) : NAN;
    }
    if (strcmp(e->base, "bayes") == 0 && !isfinite(lambda_ev))
      lambda_ev = e->fit->alpha / e->fit->beta;
    if (strcmp(e->base, "laplace") == 0 && !isfinite(lambda_ev))
      lambda_ev = e->fit->alpha;
  }
  for (size_t k = 0; k < c->nentries; k++) {
    const entry *e = &c->entries[k];
    if (!e->has_path)
      continue;
    char stem[64], tsv[96], pstem[96];
    infb_run_stem(e->name, stem, sizeof stem);
    snprintf(tsv, sizeof tsv, "path-%s.tsv", stem);
    snprintf(pstem, sizeof pstem, "path-%s", stem);
    infb_plot_regpath rp = {
        .stem = pstem,
        .tsv = tsv,
        .estimator = e->name,
        .nfeatures = c->train->p,
        .features = (const char *const *)c->train->names,
        .has_test = c->Xte != NULL,
        .mle_test_loglik = mle_ll,
        .lambda_evidence = lambda_ev,
        .lambda_selected = e->lambda_cv,
        .model = c->model == INFB_MODEL_LOGREG ? "logreg" : "linreg",
    };
    int st = infb_plot_regpath_write(c->dir, &rp);
    if (st)
      return st;
  }
  return GSL_SUCCESS;
}

/* ------------------------------------------------------------------ the run */

static void
free_ctx(run_ctx *c)
{
  infb_dataset_free(c->train);
  infb_dataset_free(c->test);
  gsl_matrix_free(c->Xtr);
  gsl_matrix_free(c->Xte);
  gsl_vector_free(c->ytr);
  gsl_vector_free(c->yte);
  free(c->mean);
  free(c->sd);
  free(c->dir);
  for (size_t k = 0; k < c->nentries; k++)
    infb_fit_free(c->entries[k].fit);
  free(c->entries);
  json_decref(c->root);
}

static json_t *
data_summary(const run_ctx *c)
{
  json_t *d = json_object_get(c->root, "data");
  json_t *feat = json_array();
  for (size_t j = 0; j < c->train->p; j++)
    json_array_append_new(feat, json_string(c->train->names[j]));
  json_object_set_new(d, "features", feat);
  json_object_set_new(d, "target", json_string(c->train->target));
  json_object_set_new(d, "n_train", json_integer((json_int_t)c->train->n));
  json_object_set_new(d, "n_test", json_integer((json_int_t)(c->test ? c->test->n : 0)));
  json_object_set_new(d, "standardized",
                      json_boolean(infb_config_bool(c->cfg, "data", "standardize")));
  return d;
}

int
infb_run(const infb_config *cfg, const infb_run_options *opt, infb_run_result *res)
{
  memset(res, 0, sizeof *res);
  run_ctx c;
  memset(&c, 0, sizeof c);
  c.cfg = cfg;
  c.opt = opt;
  const char *type = infb_config_get(cfg, "model", "type");
  /* Every gemm on one thread, so that no result depends on the thread count (OpenBLAS
   * splits a threaded gemm by its threads), except in a vae run that leaves its threads
   * to OpenBLAS (parallel = blas).  A vae run splitting its passes (split) and the
   * latent models' q* run the threads themselves, on fixed parts. */
  int blas = strcmp(type, "vae") == 0 &&
             strcmp(infb_config_get(cfg, "experiment", "parallel"), "blas") == 0;
  infb_blas_set_threads(blas ? (int)infb_config_int(cfg, "experiment", "threads") : 1);
  /* Small sgemms in blocks (linalg/blas.h). */
  infb_blas_apply_blocking(infb_config_get(cfg, "experiment", "gemm_blocking"),
                           (size_t)infb_config_int(cfg, "experiment", "gemm_block_cols"),
                           (size_t)infb_config_int(cfg, "experiment", "gemm_block_depth"));
  if (strcmp(type, "lingauss") == 0 || strcmp(type, "vae") == 0)
    return infb_run_latent(cfg, opt, res);
  c.model = strcmp(type, "logreg") == 0 ? INFB_MODEL_LOGREG : INFB_MODEL_LINREG;

  int st;
  c.root = infb_run_root(cfg);
  if (!c.root)
    return GSL_ENOMEM;
  json_object_set_new(json_object_get(c.root, "model"), "intercept",
                      json_boolean(infb_config_bool(cfg, "model", "intercept")));
  json_object_set_new(json_object_get(c.root, "model"), "intercept_prior",
                      json_string(infb_config_get(cfg, "model", "intercept_prior")));
  c.ests = json_object_get(c.root, "estimators");
  infb_run_root_recorded(c.root, opt); /* resuming: the hash and file the run recorded */

  infb_run_progress(opt, "loading data");
  if ((st = load_data(&c)) != GSL_SUCCESS || (st = prepare_problem(&c)) != GSL_SUCCESS) {
    free_ctx(&c);
    return st;
  }
  data_summary(&c);
  if ((st = infb_run_make_dir(cfg, opt, &c.dir)) != GSL_SUCCESS) {
    free_ctx(&c);
    return st;
  }
  res->created_dir = 1;
  res->outdir = infb_strdup(c.dir);
  if ((st = infb_run_write_config(cfg, c.dir)) != GSL_SUCCESS ||
      (st = infb_plot_style(c.dir)) != GSL_SUCCESS) {
    free_ctx(&c);
    return infb_run_step_error(st, &res->write_failed, "setting up the run directory");
  }

  char *const *names = infb_config_estimators(cfg);
  while (names[c.nentries])
    c.nentries++;
  c.entries = infb_calloc(c.nentries ? c.nentries : 1, sizeof *c.entries);
  if (!c.entries) {
    free_ctx(&c);
    return GSL_ENOMEM;
  }
  json_t *order = json_array();
  for (size_t k = 0; k < c.nentries; k++) {
    c.entries[k].name = names[k];
    c.entries[k].lambda_cv = NAN;
    snprintf(c.entries[k].base, sizeof c.entries[k].base, "%.*s",
             (int)strcspn(names[k], ":"), names[k]);
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
  json_object_set_new(c.root, "interrupted", json_boolean(intr));
  char *json_path = infb_path_join(c.dir, "results.json");
  st = json_path ? GSL_SUCCESS : GSL_ENOMEM;
  if (!st)
    st = write_tables(&c);
  if (!st)
    st = write_predictive(&c);
  if (!st)
    st = write_path_plots(&c);
  if (!st)
    st = infb_json_write(json_path, c.root);
  st = infb_run_step_error(st, &res->write_failed, "writing the outputs");
  free(json_path);
  res->nfailed = c.nfailed;
  res->results = json_incref(c.root);
  free_ctx(&c);
  return infb_run_status(st, intr, res->nfailed);
}

void
infb_run_result_free(infb_run_result *res)
{
  if (!res)
    return;
  free(res->outdir);
  json_decref(res->results);
  res->outdir = NULL;
  res->results = NULL;
}
