/* Private to the latent-model runner (runlatent.c) and its model families (runlingauss.c,
 * runvae.c): the run's context and entries, the option helpers they share, and each
 * family's hooks (data, fit, the family's results).  Nothing outside src/exp includes it. */
#ifndef INFB_EXP_LATENTCTX_H
#define INFB_EXP_LATENTCTX_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include <gsl/gsl_matrix.h>
#include "data/dataset.h"
#include "exp/config.h"
#include "exp/runner.h"
#include "exp/runshared.h"
#include "infer/latent.h"
#include "infer/qstar.h"
#include "infer/vaemf.h"

/* Test points use rng streams far from the training points' indices. */
#define TEST_STREAM_OFFSET 1000000000u

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

/* ------------------------------------------------------------------ shared helpers */

/* The section serving entry e for a shared base ("encoder", "train", "qstar"): its
 * variant section "encoder:<variant>" (whose keys fall back to [encoder]). */
static inline void
shared_section(const lentry *e, const char *base, char *out, size_t cap)
{
  if (e->variant[0])
    snprintf(out, cap, "%s:%s", base, e->variant);
  else
    snprintf(out, cap, "%s", base);
}

/* The q* optimiser's options for entry e ([qstar], or its variant section). */
static inline void
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

/* The hash stage `stage`'s record is keyed by, and the legacy hash it may also hold
 * (infb_run_stage_hashes).  GSL_ENOMEM. */
static inline int
stage_hashes(const lctx *c, int stage, char hash[INFB_SHA256_HEX], char legacy[INFB_SHA256_HEX])
{
  return infb_run_stage_hashes(c->cfg, c->opt, stage, hash, legacy);
}

/* A JSON number, NAN for null (infb_json_number writes non-finite values as null). */
static inline double
json_num(const json_t *v)
{
  return json_is_number(v) ? json_number_value(v) : NAN;
}

/* [ais] as AIS options (seed c->seed; the threads and progress are the caller's). */
struct infb_ais_options;
void infb_runlatent_ais_options(const lctx *c, struct infb_ais_options *o);

/* ------------------------------------------------------------------ lingauss (runlingauss.c) */

/* The data of [data] source (synthetic, or CSV files split into train and test) into
 * c->train, c->test, c->D, then the working-unit matrices c->X, c->n, the standardisation
 * (c->mean, c->sd, c->log_jacobian) and the "data" block of c->root.  INFB_ECONFIG,
 * INFB_EDATA (raised), GSL_ENOMEM; what was filled in is freed with the context. */
int infb_runlingauss_load(lctx *c);

/* Fit entry e on c->X[0] (c->X[1], when present, for the held-out curves) into e->fit.
 * INFB_ECONFIG for an estimator that does not apply; the estimator's statuses. */
int infb_runlingauss_fit(lctx *c, lentry *e);

/* A fit with a model (e->fit.model): its parameters in original units (W, b, psi),
 * nfloored and the mean exact ln p(x) of each split (train_loglik, test_loglik) into obj. */
int infb_runlingauss_summary(const lctx *c, const lentry *e, json_t *obj);

/* K = 2 and a model: posterior-STEM.tsv and its script (the exact posterior, q* and the
 * encoder's q of the first training points); nothing otherwise.  Write statuses. */
int infb_runlingauss_posterior(const lctx *c, const lentry *e);

/* ------------------------------------------------------------------ VAE (runvae.c) */

/* The IDX images ([data] train, test; Fashion-MNIST by default) into c->F, c->grey,
 * c->valid, c->labels, c->n, c->D, c->height, c->width and the "data" block of c->root,
 * then the checks that need them ([model] latent below D, the figures' keys).
 * INFB_ECONFIG, INFB_EDATA (raised), GSL_ENOMEM; what was filled in is freed with the
 * context. */
int infb_runvae_load(lctx *c);

/* Train entry e's VAE (amortized, map, meanfield) into e->vae and e->fit (curve, note,
 * stop reason), or load its [train] checkpoint; amortized and map record their training
 * stage and go on from it under --resume.  INFB_EINTR when interrupted (the checkpoint
 * kept), the trainer's and the writes' statuses. */
int infb_runvae_fit(lctx *c, lentry *e);

/* [bdmc]: the BDMC sandwich of entry e's decoder (infer/bdmc.h) on [bdmc] points simulated
 * from it, at each [bdmc] temperatures with the [ais] chain settings: bdmc-STEM.tsv (per
 * setting: the bounds, the gap and the encoder's IWAE, means and se over points),
 * bdmc-STEM-points.tsv, results.json's "bdmc" and, for a staged entry, the stage record
 * "bdmc" after each setting (--resume goes on from it).  Statuses of the run. */
int infb_runvae_bdmc(lctx *c, const lentry *e, json_t *obj);

/* Entry e's figures (exp/vaefigs.h) after its gap report, listed in obj.  Write
 * statuses. */
int infb_runvae_figures(const lctx *c, const lentry *e, json_t *obj);

#endif
