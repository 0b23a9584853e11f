/* The VAE family of the latent-model runner (latentctx.h, runlatent.c): IDX images
 * (Fashion-MNIST by default), binarised once or redrawn every epoch, and the training of
 * the VAE estimators (amortized, map; meanfield by variational EM), with the training
 * stage recorded for --resume; the figures are exp/vaefigs.h's. */
#include <config.h> /* autoconf's, not exp/config.h */
#include "exp/latentctx.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/strparse.h"
#include "data/idx.h"
#include "exp/results.h"
#include "exp/runshared.h"
#include "exp/vaefigs.h"
#include "infer/vaemf.h"
#include "infer/vaetrain.h"
#include "nn/act.h"
#include "nn/vae.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Debian's Fashion-MNIST (package dataset-fashion-mnist), the default IDX data. */
#define FASHION_DIR "/usr/share/datasets/fashion-mnist/"
/* Samples per point for the validation ELBO on the training curve. */
#define VALID_SAMPLES 1

/* ------------------------------------------------------------------ images */

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

int
infb_runvae_load(lctx *c)
{
  int st = load_idx(c);
  if (!st && c->K >= c->D)
    st = INFB_ERROR(INFB_ECONFIG, "[model] latent = %zu must be below the image size D = %zu",
                    c->K, c->D);
  if (!st)
    st = infb_vaefigs_check(c->cfg);
  return st;
}

/* ------------------------------------------------------------------ fitting */

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
  char hash[INFB_SHA256_HEX], legacy[INFB_SHA256_HEX];
  int st = !r ? GSL_ENOMEM : stage_hashes(c, INFB_STAGE_TRAIN, hash, legacy);
  if (!st)
    st = infb_run_stage_save(c->dir, e->stem, INFB_STAGE_TRAIN, hash, done, r);
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
int
infb_runvae_fit(lctx *c, lentry *e)
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
  char hash[INFB_SHA256_HEX], legacy[INFB_SHA256_HEX];
  if (c->opt->resume && ((st = stage_hashes(c, INFB_STAGE_TRAIN, hash, legacy)) ||
                         (st = infb_run_stage_load(c->dir, e->stem, INFB_STAGE_TRAIN, hash,
                                                   legacy, &rec, &rec_done))))
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

/* ------------------------------------------------------------------ figures */

int
infb_runvae_figures(const lctx *c, const lentry *e, json_t *obj)
{
  infb_vaefigs_input fi = {c->cfg, c->opt, c->dir, e->name, e->stem, c->seed, c->height,
                           c->width, {c->F[0], c->F[1]}, {c->n[0], c->n[1]},
                           {c->labels[0], c->labels[1]}, {0, TEST_STREAM_OFFSET},
                           strcmp(e->base, "meanfield") != 0};
  return infb_vaefigs_write(&fi, e->vae, obj);
}
