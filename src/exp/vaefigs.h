/* The VAE figures of a run (issue #4 §5; Cremer, Li & Duvenaud 2018, Fig. 2 for the
 * posterior panels): for each VAE estimator, after its gap report,
 *   iwae-EST       the IWAE bound against k (Burda et al. 2016) on the first points of
 *                  each evaluated split, mean over points ± se, with the gap report's
 *                  ln p̂(x) and L[q] over the same points for reference;
 *   recon-EST      the first images of the figure split above their reconstructions
 *                  (the decoder's Bernoulli means at the encoder's μ);
 *   samples-EST    decoder means at z ~ N(0, I) (stream ("figures/prior", 0));
 *   latent-EST     K = 2: the encoder means of the first images, coloured by class;
 *   posterior-EST  K = 2: the exact posterior p(z|x) ∝ p(x|z) N(z; 0, I) on a grid, the
 *                  factorised optimum q* and the encoder's q, for a few images.
 * Each figure is a TSV (or several) plus a gnuplot script (plot/gnuplot.h), listed in the
 * estimator's results under "figures"; a figure that does not apply (K ≠ 2) is named in
 * the estimator's "notes".  The figure split is the test split when it has images and
 * [evaluate] split is not train, else the training split.  Keys: [evaluate]
 * iwae_curve_k, iwae_curve_points; [plot] reconstructions, prior_samples, image_columns,
 * latent_points, posterior_images, posterior_grid, posterior_range, posterior_span;
 * [data] class_names (infbench.ini(5)). */
#ifndef INFB_EXP_VAEFIGS_H
#define INFB_EXP_VAEFIGS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "data/idx.h"
#include "exp/config.h"
#include "exp/runner.h"

struct infb_vae_f32;

/* The highest-density regions drawn for the exact posterior hold the probability of the
 * 1, 2, ..., INFB_VAEFIGS_LEVELS standard-deviation ellipses of a 2-D Gaussian,
 * 1 − exp(−k²/2), so they compare with the q* and q ellipses drawn beside them. */
enum { INFB_VAEFIGS_LEVELS = 3 };

/* Check the figure keys of cfg before anything is trained: [evaluate] iwae_curve_k must
 * be a list of integers ≥ 1 in increasing order.  GSL_SUCCESS, or INFB_ECONFIG raised
 * with a message naming the key. */
int infb_vaefigs_check(const infb_config *cfg);

/* The class labels of one split for the latent-space figure: when it is drawn (K = 2 and
 * [plot] latent_points > 0), read [data] <split>_labels (split "train" or "test"), or
 * `fallback` when that key is unset and [data] <split> is unset too (the images are the
 * default data set; fallback may be NULL: no labels), check them against `images` with
 * infb_idx_check_labels (as many classes as [data] class_names), and copy the first n
 * into *out (newly allocated, free()).  *out = NULL when no labels are wanted or known.
 * Returns GSL_SUCCESS, INFB_EDATA (unreadable or mismatched labels, raised) or
 * GSL_ENOMEM. */
int infb_vaefigs_labels(const infb_config *cfg, size_t K, const char *split,
                        const char *fallback, const infb_idx *images, size_t n,
                        uint8_t **out);

/* What the runner knows of a VAE run. */
typedef struct infb_vaefigs_input {
  const infb_config *cfg;
  const infb_run_options *opt; /* progress and interrupts (may be NULL) */
  const char *dir;            /* the run directory */
  const char *name;           /* the estimator entry, e.g. "amortized" or "amortized:big" */
  const char *stem;           /* its file stem, e.g. "amortized-big" */
  uint64_t seed;              /* master seed */
  size_t height, width;       /* image size in pixels (height·width = D) */
  const float *X[2];          /* train and test images as evaluated, n[s]×D (may be NULL
                                 when n[s] = 0) */
  size_t n[2];
  const uint8_t *labels[2];   /* their class labels (n[s] each), or NULL */
  size_t first_index[2];      /* rng stream index of image 0 of each split in the gap
                                 report (its q* streams are reused for the posterior
                                 figure, so q* is the gap report's) */
  int has_encoder;            /* the encoder was trained (not meanfield): without it the
                                 IWAE curve, the reconstructions and the latent space are
                                 not drawn (a note says so) and the posterior panels show
                                 no q */
} infb_vaefigs_input;

/* Write the figures of one trained VAE (parameters read only; an evaluation copy of the
 * network is made, sized [qstar] batch_points × samples rows) into in->dir, after its gap
 * report (the per-point files gaps-STEM-SPLIT.tsv are read for the reference lines), and
 * record them in obj (the estimator's results object): obj.figures.NAME = {script, data}
 * and obj.notes (strings).  Returns a status (INFB_EINTR when interrupted). */
int infb_vaefigs_write(const infb_vaefigs_input *in, struct infb_vae_f32 *vae, json_t *obj);

#endif
