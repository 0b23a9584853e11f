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

#endif
