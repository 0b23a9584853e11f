/* The latent-model runner (see runlatent.h): data → each estimator's fit → the gap report
 * on the first [evaluate] points of each split → results.json, TSVs and figures.
 * Estimators see the data in working units (standardised when [data] standardize = yes);
 * parameters and log-densities are reported in original units (ln p shifts by −Σ ln sd,
 * gaps are invariant). */
#include <config.h> /* autoconf's, not exp/config.h */
#include "exp/runlatent.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/strparse.h"
#include "data/csv.h"
#include "data/dataset.h"
#include "exp/gapstate.h"
#include "exp/results.h"
#include "exp/runshared.h"
#include "infer/amortized.h"
#include "infer/autoencoder.h"
#include "infer/em.h"
#include "infer/gapeval.h"
#include "infer/latent.h"
#include "infer/lgmeanfield.h"
#include "infer/vaetrain.h"
#include "infer/vaemf.h"
#include "data/idx.h"
#include "exp/vaefigs.h"
#include "nn/vae.h"
#include "nn/act.h"
#include "plot/gnuplot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gsl/gsl_math.h>

/* Test points use rng streams far from the training points' indices. */
#define TEST_STREAM_OFFSET 1000000000u
/* Points drawn in the K = 2 posterior figure. */
#define POSTERIOR_POINTS 4
/* Debian's Fashion-MNIST (package dataset-fashion-mnist), the default IDX data. */
#define FASHION_DIR "/usr/share/datasets/fashion-mnist/"
/* Samples per point for the validation ELBO on the training curve. */
#define VALID_SAMPLES 1
/* The VAE gap report's progress comes in about this many groups of points per phase. */
#define PROGRESS_GROUPS 20

typedef struct lentry {
  const char *name;      /* "amortized:mlp" (owned by the config) */
  char base[32];         /* "amortized" */
  char variant[32];      /* "mlp", or "" */
  char stem[64];         /* "amortized-mlp" */
  infb_latent_fit fit;   /* working units */
  int ok;                /* fitted */
  int evaluated[2];      /* gap report written for train / test */
  infb_vae_f32 *vae;     /* the VAE estimators' network (owned) */
  size_t skipped, halvings; /* VAE training: non-finite steps skipped, rate halvings */
  double seconds_before; /* --resume: training seconds spent by earlier sessions */
  json_t *sessions;      /* staged VAE training: where each session began ("start",
                            "after epoch 3"), for its stage record (owned) */
  infb_vaemf *mf;        /* meanfield on the VAE: its trainer, holding the training λ_i */
} lentry;

typedef struct lctx {
  const infb_config *cfg;
  const infb_run_options *opt;
  size_t D, K;
  int ppca;
  uint64_t seed;
  infb_dataset *train, *test;  /* original units */
  gsl_matrix *X[2];            /* working units: train, test (NULL when absent) */
  size_t n[2];                 /* rows of train, test */
  int vae;                     /* [model] type = vae: the image data below */
  float *F[2];                 /* vae: train and test images (binarised, or grey), n×D */
  float *grey;                 /* vae, dynamic binarisation: the training grey levels */
  float *valid;                /* vae: validation images */
  size_t nvalid;
  uint8_t *labels[2];          /* vae: class labels of F[0], F[1] for the figures, or NULL */
  size_t height, width;        /* vae: image size */
  double *mean, *sd;           /* standardisation (0 and 1 when off) */
  double log_jacobian;         /* Σ ln sd: ln p_orig(x) = ln p_work(x') − log_jacobian */
  char *dir;
  json_t *root, *ests;
  lentry *entries;
  size_t nentries, nfailed;
  int stopped;                 /* a stage was left for later (opt->stop_after) */
  int write_failed;            /* an output could not be written (runner.h) */
  /* gaps.tsv rows, (estimator, split) */
  double *gaprows;
  const char **gaplabels;
  size_t ngaprows;
} lctx;

static const char *split_name[2] = {"train", "test"};

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

/* ------------------------------------------------------------------ images (vae) */

/* A path key, or the Fashion-MNIST default. */
static char *
idx_path(const lctx *c, const char *key, const char *fallback)
{
  char *p = infb_config_path(c->cfg, "data", key);
  return p ? p : infb_strdup(fallback);
}

/* n rows of the image bytes, binarised (static), drawn (dynamic, from a fixed stream for
 * evaluation sets), or grey, into a new float array. */
static float *
idx_rows(const lctx *c, const infb_idx *x, size_t first, size_t n, const char *purpose)
{
  const char *mode = infb_config_get(c->cfg, "data", "binarize");
  float *out = infb_malloc(n * x->item, sizeof *out);
  if (!out)
    return NULL;
  infb_idx view = *x;
  view.n = n;
  view.dims[0] = n;
  view.data = x->data + first * x->item;
  if (strcmp(mode, "static") == 0) {
    infb_idx_binarize_static(&view, infb_config_double(c->cfg, "data", "threshold"), out);
  } else if (strcmp(mode, "dynamic") == 0 && purpose) {
    gsl_rng *r = infb_rng_stream(c->seed, purpose, 0);
    if (!r) {
      free(out);
      return NULL;
    }
    infb_idx_binarize_dynamic(&view, r, out);
    gsl_rng_free(r);
  } else {
    infb_idx_to_unit(&view, out);
  }
  return out;
}

static int
load_idx(lctx *c)
{
  char *trp = idx_path(c, "train", FASHION_DIR "train-images-idx3-ubyte.gz");
  char *tep = idx_path(c, "test", FASHION_DIR "t10k-images-idx3-ubyte.gz");
  infb_idx *tr = trp ? infb_idx_read(trp, 3, 0) : NULL;
  infb_idx *te = tr && tep ? infb_idx_read(tep, 3, 0) : NULL;
  free(trp);
  free(tep);
  int st = INFB_EDATA;
  if (!tr || !te)
    goto done;
  if (te->item != tr->item) {
    st = INFB_ERROR(INFB_EDATA, "%s: images of %zux%zu pixels, but %s has %zux%zu",
                    te->source, te->dims[1], te->dims[2], tr->source, tr->dims[1], tr->dims[2]);
    goto done;
  }
  size_t nvalid = (size_t)infb_config_int(c->cfg, "data", "n_valid");
  if (nvalid >= tr->n) {
    st = INFB_ERROR(INFB_ECONFIG, "[data] n_valid = %zu leaves no training images of the %zu in %s",
                    nvalid, tr->n, tr->source);
    goto done;
  }
  size_t ntrain = tr->n - nvalid, want = (size_t)infb_config_int(c->cfg, "data", "n_train");
  if (want > 0 && want < ntrain)
    ntrain = want;
  c->D = tr->item;
  c->n[0] = ntrain;
  c->n[1] = te->n;
  c->nvalid = nvalid;
  int dynamic = strcmp(infb_config_get(c->cfg, "data", "binarize"), "dynamic") == 0;
  st = GSL_ENOMEM;
  /* Training rows: binarised once (static), or grey levels the trainer redraws (dynamic). */
  if (dynamic) {
    c->grey = idx_rows(c, tr, 0, ntrain, NULL);
    c->F[0] = idx_rows(c, tr, 0, ntrain, "data/binarize-train");
  } else {
    c->F[0] = idx_rows(c, tr, 0, ntrain, NULL);
  }
  c->valid = nvalid ? idx_rows(c, tr, tr->n - nvalid, nvalid, "data/binarize-valid") : NULL;
  c->F[1] = idx_rows(c, te, 0, te->n, "data/binarize-test");
  if (!c->F[0] || !c->F[1] || (dynamic && !c->grey) || (nvalid && !c->valid))
    goto done;
  c->height = tr->dims[1];
  c->width = tr->dims[2];
  /* Class labels, when a figure wants them (exp/vaefigs.h). */
  if ((st = infb_vaefigs_labels(c->cfg, c->K, "train", FASHION_DIR "train-labels-idx1-ubyte.gz",
                                tr, ntrain, &c->labels[0])) ||
      (st = infb_vaefigs_labels(c->cfg, c->K, "test", FASHION_DIR "t10k-labels-idx1-ubyte.gz",
                                te, te->n, &c->labels[1])))
    goto done;
  json_t *d = json_object_get(c->root, "data");
  json_object_set_new(d, "train", json_string(tr->source));
  json_object_set_new(d, "test", json_string(te->source));
  json_object_set_new(d, "D", json_integer((json_int_t)c->D));
  json_object_set_new(d, "n_train", json_integer((json_int_t)ntrain));
  json_object_set_new(d, "n_valid", json_integer((json_int_t)nvalid));
  json_object_set_new(d, "n_test", json_integer((json_int_t)te->n));
  json_object_set_new(d, "binarize", json_string(infb_config_get(c->cfg, "data", "binarize")));
  st = GSL_SUCCESS;
done:
  infb_idx_free(tr);
  infb_idx_free(te);
  return st;
}

/* "784-200-200-50" style architecture lists from a config LIST key. */
static int
widths(const lctx *c, const char *sec, const char *key, size_t *out, size_t *n)
{
  size_t k = 0;
  char **items = infb_strlist_split(infb_config_get(c->cfg, sec, key), &k);
  if (!items)
    return GSL_ENOMEM;
  int st = GSL_SUCCESS;
  if (k == 0 || k > 8)
    st = INFB_ERROR(INFB_ECONFIG, "[%s] %s: give 1 to 8 layer widths", sec, key);
  for (size_t i = 0; !st && i < k; i++) {
    long w;
    if (infb_parse_long(items[i], &w, NULL) || w < 1)
      st = INFB_ERROR(INFB_ECONFIG, "[%s] %s: '%s' is not a positive width", sec, key, items[i]);
    else
      out[i] = (size_t)w;
  }
  *n = k;
  infb_strlist_free(items);
  return st;
}

/* ------------------------------------------------------------------ options */

/* The section serving entry e for a shared base ("encoder", "train", "qstar"): its
 * variant section "encoder:<variant>" (whose keys fall back to [encoder]). */
static void
shared_section(const lentry *e, const char *base, char *out, size_t cap)
{
  if (e->variant[0])
    snprintf(out, cap, "%s:%s", base, e->variant);
  else
    snprintf(out, cap, "%s", base);
}

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

static void
qstar_options(const lctx *c, const lentry *e, infb_qstar_options *o)
{
  char sec[96];
  shared_section(e, "qstar", sec, sizeof sec);
  infb_qstar_options_default(o);
  o->samples = (size_t)infb_config_int(c->cfg, sec, "samples");
  o->lr = infb_config_double(c->cfg, sec, "lr");
  o->max_steps = (size_t)infb_config_int(c->cfg, sec, "max_steps");
  o->check_every = (size_t)infb_config_int(c->cfg, sec, "check_every");
  o->patience = (size_t)infb_config_int(c->cfg, sec, "patience");
  o->eval_samples = (size_t)infb_config_int(c->cfg, sec, "eval_samples");
  o->batch_points = (size_t)infb_config_int(c->cfg, sec, "batch_points");
  o->seed = c->seed;
  /* Per-point work split over the threads (the VAE's gap report sets its own). */
  o->threads = (size_t)infb_config_int(c->cfg, "experiment", "threads");
}

/* ------------------------------------------------------------------ fitting */

static int fit_vae(lctx *c, lentry *e);

static int
fit_entry(lctx *c, lentry *e)
{
  const infb_config *cfg = c->cfg;
  const char *sec = e->name;
  infb_latent_fit *fit = &e->fit;
  int st;
  if (c->vae)
    return fit_vae(c, e);
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

/* Meanfield on the VAE: the decoder trained by variational EM with a factorised q(z_i)
 * per training point and no encoder (infer/vaemf.h); the network's encoder is a linear map
 * that is never trained or used.  Checkpoints hold the model only. */
static int
fit_vaemf(lctx *c, lentry *e, infb_vae_arch *arch, const infb_vaetrain_options *to,
          const char *tsec)
{
  const infb_config *cfg = c->cfg;
  infb_latent_fit *fit = &e->fit;
  infb_vaemf_options o;
  memset(&o, 0, sizeof o);
  o.train = *to;
  o.local_steps = (size_t)infb_config_int(cfg, e->name, "local_steps");
  o.local_lr = infb_config_double(cfg, e->name, "local_lr");
  arch->nenc = 0;
  e->vae = infb_vae_alloc_f32(arch, o.train.batch, o.train.samples);
  if (!e->vae)
    return GSL_ENOMEM;
  snprintf(fit->note, sizeof fit->note,
           "no encoder: Bernoulli decoder %zu-%zu...-%zu trained by variational EM with a "
           "factorised q(z_i) per training point (%zu local Adam steps per minibatch); on the "
           "training split L[q] is the ELBO of the training q(z_i)",
           arch->K, arch->dec_hidden[0], arch->D, o.local_steps);
  char *ckpt = infb_config_path(cfg, tsec, "checkpoint");
  if (ckpt) {
    int st = infb_vae_checkpoint_load(ckpt, e->vae, NULL);
    free(ckpt);
    if (!st)
      snprintf(fit->stop_reason, sizeof fit->stop_reason, "checkpoint");
    return st;
  }
  size_t epochs = (size_t)infb_config_int(cfg, tsec, "epochs");
  const float *Xtrain = o.train.dynamic ? c->grey : c->F[0];
  if (!(e->mf = infb_vaemf_alloc(e->vae, c->n[0], Xtrain, &o, 1)))
    return GSL_EFAILED;
  int st = infb_latent_fit_curve(fit, epochs + 1, "ELBO per point (nats)");
  if (st)
    return st;
  fit->ncurve = 0;
  char path[256];
  snprintf(path, sizeof path, "%s/checkpoint-%s.bin", c->dir, e->stem);
  snprintf(fit->stop_reason, sizeof fit->stop_reason, "epochs");
  infb_run_progress_count(c->opt, 0, epochs, "%s: training %zu epochs", e->name, epochs);
  for (size_t ep = 0; ep < epochs; ep++) {
    double tr = NAN;
    if ((st = infb_vaemf_epoch(e->mf, &tr)))
      break;
    double *row = fit->curve + 3 * fit->ncurve++;
    row[0] = (double)(ep + 1);
    row[1] = tr; /* held-out images have no q(z_i): no validation column */
    infb_run_progress_count(c->opt, ep + 1, epochs, "%s: epoch %zu/%zu, train %.3f nats, lr %.3g",
                            e->name, ep + 1, epochs, tr, infb_vaemf_lr(e->mf));
    if ((st = infb_vae_checkpoint_save(path, e->vae, NULL))) {
      st = infb_run_step_error(st, &c->write_failed, "training epoch %zu", ep + 1);
      break;
    }
    if (infb_run_interrupted(c->opt)) {
      snprintf(fit->stop_reason, sizeof fit->stop_reason, "interrupted");
      st = INFB_ERROR(INFB_EINTR, "%s: interrupted after epoch %zu; the checkpoint is %s",
                      e->name, ep + 1, path);
      break;
    }
  }
  fit->iterations = infb_vaemf_epochs_done(e->mf);
  e->skipped = infb_vaemf_skipped(e->mf);
  e->halvings = infb_vaemf_halvings(e->mf);
  return st;
}

/* ------------------------------------------------------------------ stages (--resume) */

/* The config hash the run records (results.json's config.hash). */
static const char *
run_hash(const lctx *c)
{
  return json_string_value(json_object_get(json_object_get(c->root, "config"), "hash"));
}

/* A JSON number, NAN for null (infb_json_number writes non-finite values as null). */
static double
json_num(const json_t *v)
{
  return json_is_number(v) ? json_number_value(v) : NAN;
}

/* The training stage's record of a VAE entry: its curve so far (one row per epoch done),
 * the training seconds, where each session began and, when done, the fit's summary. */
static int
train_record(const lctx *c, const lentry *e, int done, double seconds)
{
  const infb_latent_fit *f = &e->fit;
  json_t *curve = json_array();
  for (size_t i = 0; curve && i < f->ncurve; i++)
    json_array_append_new(curve, infb_json_array(f->curve + 3 * i, 3));
  json_t *r = json_pack("{s:I, s:o, s:f, s:O}", "epochs", (json_int_t)f->ncurve, "curve",
                        curve, "seconds", seconds, "sessions", e->sessions);
  if (r && done) {
    json_object_set_new(r, "iterations", json_integer((json_int_t)f->iterations));
    json_object_set_new(r, "stop_reason", json_string(f->stop_reason));
    json_object_set_new(r, "nonfinite_skipped", json_integer((json_int_t)e->skipped));
    json_object_set_new(r, "lr_halvings", json_integer((json_int_t)e->halvings));
  }
  int st = r ? infb_run_stage_save(c->dir, e->stem, INFB_STAGE_TRAIN, run_hash(c), done, r)
             : GSL_ENOMEM;
  json_decref(r);
  return st;
}

/* Restore a training record into e after its checkpoint (path, with `epochs` epochs done
 * of the config's max_epochs; e's curve holds max_epochs + 1 rows) was loaded: the curve's
 * first `epochs` rows, the seconds and, when done, the summary.  The record is written
 * before each checkpoint, so it holds the checkpoint's epochs or one more; anything else
 * mixes two runs. */
static int
train_restore(lentry *e, const json_t *r, size_t epochs, size_t max_epochs, int done,
              const char *path)
{
  infb_latent_fit *f = &e->fit;
  const json_t *curve = json_object_get(r, "curve");
  size_t rows = json_array_size(curve);
  if (rows < epochs || rows > epochs + 1 || (done && rows != epochs) || epochs > max_epochs)
    return INFB_ERROR(INFB_EDATA,
                      "%s holds %zu epochs, but the stage record %zu%s: the run directory "
                      "mixes two runs; start a new run",
                      path, epochs, rows, done ? " (finished)" : "");
  for (size_t i = 0; i < epochs; i++)
    for (size_t j = 0; j < 3; j++)
      f->curve[3 * i + j] = json_num(json_array_get(json_array_get(curve, i), j));
  f->ncurve = epochs;
  e->seconds_before = json_num(json_object_get(r, "seconds"));
  if (!isfinite(e->seconds_before))
    e->seconds_before = 0.0;
  json_t *sessions = json_object_get(r, "sessions");
  if (json_is_array(sessions))
    json_array_extend(e->sessions, sessions);
  if (done) {
    f->iterations = (size_t)json_integer_value(json_object_get(r, "iterations"));
    snprintf(f->stop_reason, sizeof f->stop_reason, "%s",
             json_string_value(json_object_get(r, "stop_reason")) ? json_string_value(json_object_get(r, "stop_reason")) : "epochs");
    e->skipped = (size_t)json_integer_value(json_object_get(r, "nonfinite_skipped"));
    e->halvings = (size_t)json_integer_value(json_object_get(r, "lr_halvings"));
  }
  return GSL_SUCCESS;
}

/* Train (or load) a VAE: amortized, or map (the same with a Gaussian prior on every
 * weight, coupled into the gradient). */
static int
fit_vae(lctx *c, lentry *e)
{
  const infb_config *cfg = c->cfg;
  infb_latent_fit *fit = &e->fit;
  char esec[96], tsec[96];
  shared_section(e, "encoder", esec, sizeof esec);
  shared_section(e, "train", tsec, sizeof tsec);
  infb_vae_arch arch;
  memset(&arch, 0, sizeof arch);
  arch.D = c->D;
  arch.K = c->K;
  arch.act = infb_act_parse(infb_config_get(cfg, "model", "activation"));
  int st = widths(c, esec, "hidden", arch.enc_hidden, &arch.nenc);
  if (!st)
    st = widths(c, "model", "decoder_hidden", arch.dec_hidden, &arch.ndec);
  if (st)
    return st;
  infb_vaetrain_options o;
  memset(&o, 0, sizeof o);
  o.batch = (size_t)infb_config_int(cfg, tsec, "batch");
  o.samples = (size_t)infb_config_int(cfg, tsec, "samples");
  o.lr = infb_config_double(cfg, tsec, "lr");
  o.schedule = strcmp(infb_config_get(cfg, tsec, "schedule"), "iwae") == 0 ? INFB_SCHEDULE_IWAE
                                                                            : INFB_SCHEDULE_CONSTANT;
  o.beta1 = infb_config_double(cfg, tsec, "beta1");
  o.beta2 = infb_config_double(cfg, tsec, "beta2");
  o.eps = infb_config_double(cfg, tsec, "eps");
  o.warmup_epochs = (size_t)infb_config_int(cfg, tsec, "warmup_epochs");
  const char *nf = infb_config_get(cfg, tsec, "nonfinite");
  o.nonfinite = strcmp(nf, "skip") == 0    ? INFB_NONFINITE_SKIP
                : strcmp(nf, "halve") == 0 ? INFB_NONFINITE_HALVE
                                           : INFB_NONFINITE_ABORT;
  o.dynamic = c->grey != NULL;
  o.seed = c->seed;
  if (strcmp(e->base, "meanfield") == 0)
    return fit_vaemf(c, e, &arch, &o, tsec);
  if (strcmp(e->base, "map") == 0) {
    double *lambdas = NULL;
    size_t n = 0;
    if ((st = infb_config_sweep(cfg, e->name, "lambda", &lambdas, &n)) != GSL_SUCCESS)
      return st;
    o.weight_decay = lambdas[0];
    free(lambdas);
    if (n != 1)
      return INFB_ERROR(INFB_ECONFIG, "[%s] lambda: vae takes one value, not a sweep", e->name);
  }
  e->vae = infb_vae_alloc_f32(&arch, o.batch, o.samples);
  if (!e->vae)
    return GSL_ENOMEM;
  /* Split: the fixed parts, run by the threads (so the numbers do not depend on them). */
  if (strcmp(infb_config_get(cfg, "experiment", "parallel"), "split") == 0 &&
      ((st = infb_vae_set_parts_f32(e->vae, (size_t)infb_config_int(cfg, "experiment",
                                                                       "parts"))) ||
       (st = infb_vae_set_run_threads_f32(
            e->vae, (size_t)infb_config_int(cfg, "experiment", "threads")))))
    return st;
  snprintf(fit->note, sizeof fit->note, "VAE %zu-%zu...-%zu encoder, Bernoulli decoder%s",
           arch.D, arch.enc_hidden[0], arch.K,
           o.weight_decay > 0 ? "; Gaussian prior on the weights (coupled L2)" : "");

  /* A saved model is evaluated as it is. */
  char *ckpt = infb_config_path(cfg, tsec, "checkpoint");
  if (ckpt) {
    st = infb_vae_checkpoint_load(ckpt, e->vae, NULL);
    free(ckpt);
    if (!st)
      snprintf(fit->stop_reason, sizeof fit->stop_reason, "checkpoint");
    return st;
  }
  size_t epochs = (size_t)infb_config_int(cfg, tsec, "epochs");
  const float *Xtrain = o.dynamic ? c->grey : c->F[0];
  char path[256];
  snprintf(path, sizeof path, "%s/checkpoint-%s.bin", c->dir, e->stem);
  /* --resume: a finished training stage is its last checkpoint; an unfinished one goes on
   * from it with the trainer's state, bit-identically to an uninterrupted run. */
  json_t *rec = NULL;
  int rec_done = 0;
  if (c->opt->resume &&
      (st = infb_run_stage_load(c->dir, e->stem, INFB_STAGE_TRAIN, run_hash(c), &rec, &rec_done)))
    return st;
  int resumed = rec && access(path, F_OK) == 0;
  if (!(e->sessions = json_array())) {
    json_decref(rec);
    return GSL_ENOMEM;
  }
  infb_vaetrain *t = infb_vaetrain_alloc(e->vae, c->n[0], Xtrain, &o, !resumed);
  if (!t) {
    json_decref(rec);
    return GSL_EFAILED;
  }
  if ((st = infb_latent_fit_curve(fit, epochs + 1, "ELBO per point (nats)")))
    goto done;
  fit->ncurve = 0;
  snprintf(fit->stop_reason, sizeof fit->stop_reason, "epochs");
  if (resumed) {
    if (!(st = infb_vae_checkpoint_load(path, e->vae, t)))
      st = train_restore(e, rec, infb_vaetrain_epochs_done(t), epochs, rec_done, path);
    if (st || rec_done)
      goto done;
    char where[64];
    snprintf(where, sizeof where, "after epoch %zu", infb_vaetrain_epochs_done(t));
    json_array_append_new(e->sessions, json_string(where));
    infb_run_progress(c->opt, "%s: resuming %s", e->name, where);
  } else {
    json_array_append_new(e->sessions, json_string("start"));
  }
  double t_session = infb_clock_seconds();
  infb_run_progress_count(c->opt, infb_vaetrain_epochs_done(t), epochs,
                          "%s: training %zu epochs", e->name, epochs);
  for (size_t ep = infb_vaetrain_epochs_done(t); ep < epochs; ep++) {
    double tr = NAN, va = NAN;
    if ((st = infb_vaetrain_epoch(t, &tr)))
      break;
    if (c->valid && (st = infb_vae_mean_elbo(e->vae, c->nvalid, c->valid, VALID_SAMPLES, c->seed,
                                             &va)))
      break;
    double *row = fit->curve + 3 * fit->ncurve++;
    row[0] = (double)(ep + 1);
    row[1] = tr;
    row[2] = va;
    infb_run_progress_count(c->opt, ep + 1, epochs,
                            "%s: epoch %zu/%zu, train %.3f, valid %.3f nats, lr %.3g", e->name,
                            ep + 1, epochs, tr, va, infb_vaetrain_lr(t));
    /* The record first: a checkpoint never has more epochs than its record. */
    if ((st = train_record(c, e, 0, e->seconds_before + infb_clock_seconds() - t_session)) ||
        (st = infb_vae_checkpoint_save(path, e->vae, t))) {
      st = infb_run_step_error(st, &c->write_failed, "training epoch %zu", ep + 1);
      break;
    }
    if (infb_run_interrupted(c->opt)) {
      snprintf(fit->stop_reason, sizeof fit->stop_reason, "interrupted");
      st = INFB_ERROR(INFB_EINTR, "%s: interrupted after epoch %zu; the checkpoint is %s",
                      e->name, ep + 1, path);
      break;
    }
  }
  fit->iterations = infb_vaetrain_epochs_done(t);
  e->skipped = infb_vaetrain_skipped(t);
  e->halvings = infb_vaetrain_halvings(t);
  if (!st)
    st = infb_run_step_error(
        train_record(c, e, 1, e->seconds_before + infb_clock_seconds() - t_session),
        &c->write_failed, "training's end");
done:
  json_decref(rec);
  infb_vaetrain_free(t);
  return st;
}

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

static int
write_points(const lctx *c, const lentry *e, int split, const infb_gap_report *r)
{
  const char *cols[] = {"index",
                        "log_px",
                        "elbo_qstar",
                        "elbo_qstar_numeric",
                        "elbo_qstar_numeric_mc_se",
                        "elbo_q",
                        "approximation_gap",
                        "amortization_gap",
                        "inference_gap",
                        "qstar_steps"};
  double *rows = infb_malloc(r->n * 10, sizeof *rows);
  if (!rows)
    return GSL_ENOMEM;
  double sh = -c->log_jacobian;
  for (size_t i = 0; i < r->n; i++) {
    const infb_gap_point *p = &r->pts[i];
    double *v = rows + 10 * i;
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
  }
  char file[128];
  snprintf(file, sizeof file, "gaps-%s-%s.tsv", e->stem, split_name[split]);
  int st = infb_tsv_write(c->dir, file,
                          "per-point log-densities and gaps (nats, original units)", 10, cols,
                          r->n, NULL, rows);
  free(rows);
  return st;
}

/* K = 2: the exact posterior, q* and q of the first training points, for the contours. */
static int
write_posterior2d(const lctx *c, const lentry *e)
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
  if (c->vae) {
    infb_stat li = shifted(r->log_px_iwae, sh);
    json_object_set_new(g, "log_px_iwae", stat_json(&li));
    json_object_set_new(g, "log_px_iwae_encoder", stat_json(&r->log_px_iwae_encoder));
    json_object_set_new(g, "log_px_iwae_qstar", stat_json(&r->log_px_iwae_qstar));
    if (r->has_quadrature) {
      json_object_set_new(g, "log_px_quadrature", stat_json(&r->log_px_quadrature));
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
  }
  e->evaluated[s] = 1;
  return st;
}

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

/* Saving an unfinished split's gap report for --resume (infb_vae_gap_options.save). */
typedef struct gap_save_ctx {
  lctx *c;
  const lentry *e;
  int stage;        /* INFB_STAGE_EVALUATE_* */
  json_t *sessions; /* where each session of this split's report began */
} gap_save_ctx;

static int
gap_save(void *ctx, const infb_gap_state *gs)
{
  const gap_save_ctx *p = ctx;
  json_t *r = json_pack("{s:o, s:O}", "partial", infb_gapstate_json(gs), "sessions",
                        p->sessions);
  int st = r ? infb_run_stage_save(p->c->dir, p->e->stem, p->stage, run_hash(p->c), 0, r)
             : GSL_ENOMEM;
  json_decref(r);
  return infb_run_step_error(st, &p->c->write_failed, "gap report on the %s points",
                             split_name[p->stage == INFB_STAGE_EVALUATE_TEST]);
}

/* A staged VAE split's gap report goes on from its record (rec, unfinished; may be NULL):
 * fill gs from the record's state and sessions from its sessions, then add where this
 * session begins. */
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
  char where[96];
  if (done)
    snprintf(where, sizeof where, "%s after %zu of %zu points", phase, done, gs->n);
  else
    snprintf(where, sizeof where, "%s", phase);
  infb_run_progress(c->opt, "%s: resuming the %s points' gap report at %s", e->name,
                    split_name[s], where);
  return json_array_append_new(sessions, json_string(where)) ? GSL_ENOMEM : GSL_SUCCESS;
}

/* Record split s of e as finished: its results.json entry, its gaps.tsv row (the last
 * one pushed) and where its sessions began (may be NULL).  Its per-point TSV and
 * histogram script are already written. */
static int
record_split(lctx *c, const lentry *e, json_t *obj, int s, json_t *sessions)
{
  json_t *g = json_object_get(json_object_get(obj, "gaps"), split_name[s]);
  json_t *r = json_pack("{s:O, s:o}", "gaps", g ? g : json_null(), "gaps_row",
                        infb_json_array(c->gaprows + 10 * (c->ngaprows - 1), 10));
  if (r && sessions)
    json_object_set(r, "sessions", sessions);
  int st = r ? infb_run_stage_save(c->dir, e->stem,
                                   s ? INFB_STAGE_EVALUATE_TEST : INFB_STAGE_EVALUATE_TRAIN,
                                   run_hash(c), 1, r)
             : GSL_ENOMEM;
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
      .progress_points = (points + PROGRESS_GROUPS - 1) / PROGRESS_GROUPS,
  };
  gap_progress_ctx pc = {c, e, 0};
  vo.progress_ctx = &pc;
  const infb_encoder *enc = f->encoder.fn ? &f->encoder : NULL;

  json_object_set_new(obj, "gaps", json_object());
  json_object_set_new(obj, "log_px_method", json_string(c->vae ? "iwae" : "exact"));
  int st = GSL_SUCCESS;
  for (int s = 0; s < 2 && !st; s++) {
    if (c->n[s] == 0 || (strcmp(which, "both") != 0 && strcmp(which, split_name[s]) != 0))
      continue;
    /* --resume: a recorded split is reused; --stop-after leaves the later ones. */
    int stage = s ? INFB_STAGE_EVALUATE_TEST : INFB_STAGE_EVALUATE_TRAIN, done = 0;
    json_t *rec = NULL;
    if (staged(c, e) && c->opt->resume &&
        (st = infb_run_stage_load(c->dir, e->stem, stage, run_hash(c), &rec, &done)))
      return st;
    if (rec && done) {
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
    size_t n = c->n[s] < points ? c->n[s] : points;
    infb_run_progress(c->opt, "%s: gap report on %zu %s points", e->name, n, split_name[s]);
    /* A staged split records its state after every group of points, and goes on from the
     * recorded one (--resume). */
    infb_gap_state *gs = NULL;
    gap_save_ctx sc = {c, e, stage, NULL};
    if (staged(c, e)) {
      gs = infb_gap_state_alloc(n, c->K);
      sc.sessions = json_array();
      st = gs && sc.sessions ? resume_split(c, e, s, rec, gs, sc.sessions) : GSL_ENOMEM;
    }
    json_decref(rec);
    vo.state = gs;
    vo.save = gs ? gap_save : NULL;
    vo.save_ctx = &sc;
    if (st) {
      infb_gap_state_free(gs);
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
      st = infb_gapeval_lingauss(f->model, &Xv.matrix, first, enc, &go, &r);
    }
    const int made = !st; /* a failed save within the report named its own step */
    if (!st)
      st = report_split(c, e, obj, s, &r);
    if (!st && staged(c, e))
      st = record_split(c, e, obj, s, sc.sessions);
    if (made)
      st = infb_run_step_error(st, &c->write_failed, "gap report on the %s points",
                               split_name[s]);
    infb_gap_report_free(&r);
    infb_gap_state_free(gs);
    json_decref(sc.sessions);
  }
  /* The entry's method: "quadrature" when every evaluated split took ln p(x) from it. */
  if (!st && c->vae) {
    const char *key;
    json_t *g;
    size_t nsplit = 0, nquad = 0;
    json_object_foreach(json_object_get(obj, "gaps"), key, g) {
      const char *m = json_string_value(json_object_get(g, "log_px_method"));
      nsplit++;
      nquad += m && strcmp(m, "quadrature") == 0;
    }
    if (nsplit > 0 && nquad == nsplit)
      json_object_set_new(obj, "log_px_method", json_string("quadrature"));
  }
  return st;
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
  int st = fit_entry(c, e);
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
      if (!st && !c->stopped) {
        infb_vaefigs_input fi = {c->cfg, c->opt, c->dir, e->name, e->stem, c->seed, c->height,
                                 c->width, {c->F[0], c->F[1]}, {c->n[0], c->n[1]},
                                 {c->labels[0], c->labels[1]}, {0, TEST_STREAM_OFFSET},
                                 strcmp(e->base, "meanfield") != 0};
        st = infb_run_step_error(infb_vaefigs_write(&fi, e->vae, obj), &c->write_failed,
                                 "figures");
      }
    } else if (f->model) {
      double ll;
      params_json(c, f->model, obj);
      json_object_set_new(obj, "nfloored", json_integer((json_int_t)f->nfloored));
      if (!(st = mean_loglik(c, f->model, c->X[0], &ll)))
        json_object_set_new(obj, "train_loglik", infb_json_number(ll));
      if (!st && c->X[1] && !(st = mean_loglik(c, f->model, c->X[1], &ll)))
        json_object_set_new(obj, "test_loglik", infb_json_number(ll));
      if (!st)
        st = evaluate(c, e, obj);
      if (!st)
        st = infb_run_step_error(write_posterior2d(c, e), &c->write_failed, "outputs");
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
  int st = c.vae ? load_idx(&c) : load_data(&c);
  if (!st && !c.vae)
    st = prepare(&c);
  if (!st && c.vae && c.K >= c.D)
    st = INFB_ERROR(INFB_ECONFIG, "[model] latent = %zu must be below the image size D = %zu",
                    c.K, c.D);
  if (!st && c.vae)
    st = infb_vaefigs_check(cfg);
  if (!st && !(st = infb_run_make_dir(cfg, opt, &c.dir))) {
    res->created_dir = 1;
    res->outdir = infb_strdup(c.dir);
  }
  if (!st && (st = infb_run_write_config(cfg, c.dir)) == GSL_SUCCESS)
    st = infb_plot_style(c.dir);
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
  free_ctx(&c);
  return infb_run_status(st, intr, res->nfailed);
}
