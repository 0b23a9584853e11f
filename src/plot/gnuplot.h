/* gnuplot script emission: one self-contained .gp per figure, reading its data by
 * relative path from TSV files in the same run directory and loading the shared style
 * (infbench-style.gp, copied into the directory), so the directory can be moved.  Scripts
 * set no terminal: `infbench plot DIR` chooses PNG (pngcairo) and SVG.  Nothing here runs
 * gnuplot.  Every file is written atomically (core/atomicfile.h).
 *
 * Names (estimators, features, axis labels, file names) appear verbatim in the figures:
 * quotes are escaped, text is not "enhanced" (an underscore is no subscript), control
 * characters become '?', and a data file name starting with one of < | - + is read as
 * ./NAME (never as a gnuplot pipe or special file).  The writers return GSL_SUCCESS, or
 * raise and return GSL_EINVAL (a NULL or empty argument), GSL_ENOMEM, or GSL_EFAILED
 * (the file could not be written; the message names the path). */
#ifndef INFB_PLOT_GNUPLOT_H
#define INFB_PLOT_GNUPLOT_H

#include <stddef.h>

/* Write DIR/infbench-style.gp (the text of plots/infbench.gp, embedded at build time). */
int infb_plot_style(const char *dir);

/* A regularisation path, from a TSV with the columns
 *   lambda  cv_loglik  cv_se  train_loglik  test_loglik  w:<feature1> ... w:<featurep>
 * (one row per λ, ascending; test_loglik NaN when there is no test set). */
typedef struct infb_plot_regpath {
  const char *stem;             /* output scripts <stem>-loglik.gp and <stem>-weights.gp */
  const char *tsv;              /* data file name, relative to the directory */
  const char *estimator;        /* e.g. "map" or "map:strong", for titles */
  size_t nfeatures;             /* p */
  const char *const *features;  /* p feature names (for the weights legend) */
  int has_test;                 /* a test split exists: plot test_loglik */
  double mle_test_loglik;       /* horizontal reference line (MLE's test, else train,
                                   log-likelihood); NAN: none */
  double lambda_evidence;       /* evidence-optimal λ (vertical line); NAN: none */
  double lambda_selected;       /* λ chosen by cross-validation (vertical line); NAN: none */
  const char *model;            /* "linreg" (λ is the ridge penalty α/β) or "logreg" (λ is
                                   the prior precision α), for the axis label; NULL or
                                   other: a generic label.  Added last: initialise the
                                   struct with designated initialisers. */
} infb_plot_regpath;
/* Log-likelihood per observation (nats) against λ on a log axis — train, test, and the
 * CV estimate with ±1 se error bars — with the marks above; and the weights against λ
 * (one line per feature, in original units). */
int infb_plot_regpath_write(const char *dir, const infb_plot_regpath *p);

/* Log evidence against the prior precision α (log axis) from a TSV with columns
 *   alpha  log_evidence
 * with the optimum (alpha_opt, log_ev_opt) marked when both are finite.  Writes
 * DIR/<stem>.gp. */
int infb_plot_evidence_write(const char *dir, const char *stem, const char *tsv,
                             const char *estimator, double alpha_opt, double log_ev_opt);

/* For a 1-D input: training (and test) points and, for each estimator, the predictive
 * mean with a ±band·sd shaded band, from
 *   predictive.tsv: x  <e1>:mean <e1>:lo <e1>:hi  <e2>:mean ...   (estimators in order)
 *   data-train.tsv / data-test.tsv: x  y
 * xlabel/ylabel are the feature and target names (NULL or "": "x", "y").  band = 0
 * draws no band (e.g. a logistic model's predictive probability); band < 0 or NaN is
 * GSL_EINVAL.  The points are drawn over the bands, the means over the points.  Writes
 * DIR/<stem>.gp. */
int infb_plot_predictive_write(const char *dir, const char *stem, const char *tsv,
                               size_t nest, const char *const *estimators,
                               const char *xlabel, const char *ylabel, int has_test,
                               double band);


/* ---------------------------------------------------------------- latent models */

/* Gap bars: for each (estimator, split) row of
 *   gaps.tsv: estimator  split  approximation_gap  approximation_gap_se  amortization_gap
 *             amortization_gap_se  inference_gap  inference_gap_se  log_px  elbo_qstar
 *             elbo_q
 * (split 0 = train, 1 = test; NaN where absent, e.g. no encoder → no amortisation gap)
 * a stacked bar (approximation at the bottom, amortisation on top) with ±1 se error bars
 * on each part, train and test side by side per estimator.  Writes DIR/<stem>.gp.
 * Estimators are placed in order of first appearance of their names (rows of one
 * estimator need not be adjacent), named on the x axis (vertically when long).  A
 * negative part is drawn below zero (positive parts stack up from 0, negative ones down),
 * so the y range always shows it; a diamond marks the inference gap (the sum). */
int infb_plot_gapbars_write(const char *dir, const char *stem, const char *tsv);

/* Histograms of the per-point gaps of one estimator, train against test, from
 *   gaps-<e>-<split>.tsv: index log_px elbo_qstar elbo_qstar_numeric
 *                         elbo_qstar_numeric_mc_se elbo_q approximation_gap
 *                         amortization_gap inference_gap qstar_steps
 * (tsv_test may be NULL; has_amortization: draw the amortisation-gap panel too).
 * Writes DIR/<stem>.gp.  The y axis is the fraction of each split's points (NaN gaps are
 * left out); gnuplot computes the bins from the data (Freedman–Diaconis width, between
 * 5 and 60 bins); gaps that are all equal (the linear-Gaussian approximation gap) give
 * one bar, with the value in the panel's title. */
int infb_plot_gaphist_write(const char *dir, const char *stem, const char *tsv_train,
                            const char *tsv_test, const char *estimator, int has_amortization);

/* A training curve from `tsv`: step  train  test (test NaN without a test set); ylabel
 * names the objective with its unit, xlabel the step ("epoch", "EM iteration"); NULL or
 * "": "objective", "step".  Writes DIR/<stem>.gp. */
int infb_plot_curve_write(const char *dir, const char *stem, const char *tsv,
                          const char *estimator, const char *xlabel, const char *ylabel,
                          int has_test);

/* K = 2: contours of the exact posterior p(z|x), the factorised optimum q*(z) and the
 * encoder's q(z|x) (when has_q) for each of npoints points side by side (Cremer et al.
 * 2018, Fig. 2), the densities written as gnuplot functions of the parameters in
 *   posterior-<e>.tsv: index m1 m2 s11 s12 s22 qs_m1 qs_m2 qs_v1 qs_v2 q_m1 q_m2 q_v1 q_v2
 * (one row per point; s = the posterior covariance, v = variances).  Writes
 * DIR/<stem>.gp.  gnuplot reads each row's parameters from the file (rows 0 .. npoints
 * − 1; npoints > 12: the first 12 only) and draws the 1, 2, 3 sd ellipses in square
 * panels with equal axis scales, each titled with KL(q*‖p) (the approximation gap) and
 * KL(q‖p); the q columns are read only when has_q.  npoints = 0 is GSL_EINVAL. */
int infb_plot_posterior2d_write(const char *dir, const char *stem, const char *tsv,
                                const char *estimator, size_t npoints, int has_q);

/* Principal angles (degrees) between the autoencoder's decoder subspace and the PCA
 * subspace, from angles-<e>.tsv: index angle_rad angle_deg.  Writes DIR/<stem>.gp.
 * K = 0 is GSL_EINVAL; up to 16 angles carry their value above the bar. */
int infb_plot_angles_write(const char *dir, const char *stem, const char *tsv,
                           const char *estimator, size_t K);

/* ---------------------------------------------------------------- VAE figures */

/* The IWAE bound against the number of importance samples k (log axis; Burda et al. 2016)
 * for the training and the test points (tsv_train or tsv_test may be NULL, not both), from
 *   iwae-<e>-<split>.tsv: k iwae iwae_se iwae_mc_se gain gain_se log_px log_px_se elbo_q
 *       elbo_q_se iwae_minus_elbo_q iwae_minus_elbo_q_se log_px_minus_elbo_q
 *       log_px_minus_elbo_q_se points
 * (one row per k, ascending; iwae the mean over the points, iwae_se its standard error over
 * points, gain the mean paired increase over the previous row's k; log_px and elbo_q the
 * gap report's ln p̂(x) and L[q] over the same points, the same on every row; the _minus_
 * columns paired differences per point, with their standard errors): the means with ±
 * iwae_se error bars, train in colour 1, test in colour 2, and when has_ref the levels
 * log_px (dashed) and elbo_q (dotted) across the k range, and a second panel with
 * IWAE-k − L[q] (± its paired se, which is free of the spread between points) rising
 * towards ln p̂(x) − L[q] (dashed).  Writes DIR/<stem>.gp. */
int infb_plot_iwae_write(const char *dir, const char *stem, const char *tsv_train,
                         const char *tsv_test, const char *estimator, int has_ref);

/* Image grids, from a TSV with one block per image (blocks separated by two blank lines,
 * gnuplot's `index`), each block height·width rows in row-major pixel order, value in
 * [0, 1] drawn from black (0) to white (1), `columns` images per row:
 *   recon-<e>.tsv:   image kind row col value   block 2i: image i (kind 0), block 2i + 1:
 *                                                its reconstruction (kind 1), drawn below it
 *   samples-<e>.tsv: sample row col value        block i: sample i
 * nimages (the images, not the blocks), height, width and columns must be ≥ 1
 * (GSL_EINVAL).  Writes DIR/<stem>.gp. */
int infb_plot_recon_write(const char *dir, const char *stem, const char *tsv,
                          const char *estimator, size_t nimages, size_t height, size_t width,
                          size_t columns);
int infb_plot_samples_write(const char *dir, const char *stem, const char *tsv,
                            const char *estimator, size_t nsamples, size_t height,
                            size_t width, size_t columns);

/* K = 2: the latent space, from latent-<e>.tsv: index label mu1 mu2 (the encoder's means),
 * one colour and point type per class 0 .. nclasses − 1, named by class_names in the
 * legend, with equal axis scales; nclasses = 0: no labels, one colour (class_names
 * ignored).  Writes DIR/<stem>.gp. */
int infb_plot_latent2d_write(const char *dir, const char *stem, const char *tsv,
                             const char *estimator, size_t nclasses,
                             const char *const *class_names);

/* Highest-density regions of a gridded posterior: the columns lv1 .. lvL of the summary
 * below are the density levels whose regions hold 1 − exp(−k²/2), k = 1 .. L, of the
 * probability, as the k-standard-deviation ellipses of a 2-D Gaussian. */
enum { INFB_PLOT_POSTERIOR_LEVELS = 3 };

/* K = 2, a posterior known on a grid (the VAE; Cremer et al. 2018, Fig. 2): for each of
 * nimages images, a panel with the exact posterior p(z|x) shaded, its highest-density
 * regions (contours at lv1 .. lv3), and the 1, 2, 3 sd ellipses of q* and of the encoder's
 * q, from
 *   tsv (one row per image): index label log_px_grid m1 m2 s11 s12 s22 lv1 lv2 lv3 qs_m1
 *        qs_m2 qs_v1 qs_v2 q_m1 q_m2 q_v1 q_v2 kl_qstar kl_q cell z1_lo z1_hi z2_lo z2_hi
 *        (m, s the posterior's mean and covariance; qs_, q_ means and variances;
 *        kl_ the KL divergences from the posterior in nats; the square window z_lo..z_hi
 *        the panel shows, of cells `cell` wide);
 *   tsv_grid: z1 z2 density, one block per image (two blank lines apart), scans of fixed
 *        z1 one blank line apart (the grid layout gnuplot contours).
 * captions (nimages strings, may be NULL) head the panels (default "image <index>").
 * has_q = 0: no encoder, the q columns (NaN) are not read and q is not drawn.
 * nimages > 12: the first 12 only; nimages = 0 is GSL_EINVAL.  Writes DIR/<stem>.gp. */
int infb_plot_posterior_grid_write(const char *dir, const char *stem, const char *tsv,
                                   const char *tsv_grid, const char *estimator,
                                   size_t nimages, const char *const *captions, int has_q);

#endif
