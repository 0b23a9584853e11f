/* MAP with a Gaussian prior on the weights (= L2 weight decay), for one λ or along a
 * regularisation path with λ chosen by K-fold cross-validation on the training set. */
#ifndef INFB_INFER_MAP_H
#define INFB_INFER_MAP_H

#include "infer/estimator.h"

/* MAP at one λ (> 0 for a proper prior; λ = 0 reduces to the MLE).  Sets fit->lambda. */
int infb_map_fit(const infb_problem *pb, double lambda, const infb_solver_options *opt,
                 infb_fit *fit);

/* One point of a regularisation path. */
typedef struct infb_map_path_point {
  double lambda;       /* penalty */
  double cv_loglik;    /* mean held-out log predictive density per observation over folds */
  double cv_se;        /* its standard error over folds */
  gsl_vector *w;       /* weights fitted on the whole training set at this λ (owned) */
  double intercept;    /* and the intercept */
  double noise_var;    /* linreg σ² = RSS/N at this λ; NAN for logreg */
} infb_map_path_point;

/* Fit MAP at each of lambdas[0..n) on the whole training set and score each by
 * `folds`-fold cross-validation: with perm a gsl_ran_shuffle of 0..N−1 drawn from the
 * stream ("map/cv", 0) of pb->seed, row perm[i] belongs to fold i mod folds.  path[0..n) is filled (the caller frees each point's w with
 * infb_map_path_free).  *best receives the index of the λ with the highest cv_loglik.
 * A λ whose fit fails gets cv_loglik = NAN and w = NULL; fails only if every λ fails. */
int infb_map_path(const infb_problem *pb, const double *lambdas, size_t n, size_t folds,
                  const infb_solver_options *opt, infb_map_path_point *path, size_t *best);
void infb_map_path_free(infb_map_path_point *path, size_t n);

#endif
