/* What every supervised estimator consumes and produces: the problem (model, design,
 * targets, intercept convention) and the fit (weights, optional posterior covariance,
 * evidence, diagnostics).  The runner prepares problems and reads fits; the estimators
 * (mle.c, map.c, bayes.c, laplace.c, meanfield.c) fill them.
 *
 * Conventions (one for all estimators; documented in infbench.ini(5)):
 *  - linreg: y = Xw + b + ε, ε ~ N(0, σ²), β = 1/σ².  `lambda` is the ridge penalty in
 *    ½‖y − Xw − b‖² + ½λ‖w‖², i.e. MAP with prior precision α = λβ; MAP's σ² is
 *    RSS(w_MAP)/N.
 *  - logreg: p(y=1|x) = σ(xᵀw + b); `lambda` is the prior precision α.
 *  - intercept_prior FLAT: b is not penalised in MAP and is integrated out under a flat
 *    (improper, density 1) prior in bayes/laplace; SAME: b is one more weight under the
 *    weights' N(0, α⁻¹) prior, so the evidence is a proper density of y. */
#ifndef INFB_INFER_ESTIMATOR_H
#define INFB_INFER_ESTIMATOR_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>

typedef enum { INFB_MODEL_LINREG = 0, INFB_MODEL_LOGREG = 1 } infb_model_kind;
typedef enum { INFB_INTERCEPT_FLAT = 0, INFB_INTERCEPT_SAME = 1 } infb_intercept_prior;

typedef struct infb_problem {
  infb_model_kind model;    /* which likelihood */
  const gsl_matrix *X;      /* n×p training features, no intercept column */
  const gsl_vector *y;      /* n training targets (0/1 for logreg) */
  int intercept;            /* nonzero: fit an intercept b */
  infb_intercept_prior intercept_prior; /* how b enters priors (ignored without b) */
  double noise_var;         /* linreg: fixed σ² > 0, or 0 to estimate it */
  uint64_t seed;            /* master seed, for per-purpose rng streams */
} infb_problem;

/* Common solver controls; each estimator documents which it reads. */
typedef struct infb_solver_options {
  double tol;               /* relative tolerance (gradient norm, or change per sweep) */
  size_t max_iter;          /* iteration cap; reaching it is stop_reason "max_iter" */
  int method;               /* INFB_SOLVER_* */
} infb_solver_options;

enum {
  INFB_SOLVER_AUTO = 0,     /* the model's best: direct (linreg), newton (logreg) */
  INFB_SOLVER_DIRECT = 1,   /* closed form / normal equations */
  INFB_SOLVER_BFGS = 2,     /* GSL multimin vector_bfgs2 on the objective */
  INFB_SOLVER_NEWTON = 3    /* Newton / IRLS */
};

typedef struct infb_fit {
  size_t p;                 /* number of feature weights */
  gsl_vector *w;            /* p weights in feature order (the problem's units) */
  int has_intercept;        /* the problem had an intercept */
  double intercept;         /* b (0 when !has_intercept) */
  gsl_matrix *cov;          /* NULL, or the (p+h)×(p+h) covariance of (w, b), h = has_intercept,
                               b last: the posterior (bayes), its Laplace approximation, or
                               the mean-field q (diagonal, plus b's block) */
  double noise_var;         /* linreg: σ² of the predictive; NAN for logreg */
  size_t iterations;        /* solver iterations (0 for a closed form) */
  char stop_reason[64];     /* "closed form", "converged", "max_iter", ... */
  char note[256];           /* a remark for the report, e.g. the intercept convention */
  /* Optional results: NAN when the estimator does not produce them. */
  double lambda;            /* the penalty used (map) */
  double log_evidence;      /* ln p(y) (bayes exact, laplace approximate) */
  double alpha, beta;       /* prior precision, noise precision (bayes; alpha: laplace) */
  double elbo;              /* meanfield: ELBO at the optimum */
  double gap;               /* meanfield: log_evidence − elbo = KL(q‖p(w|y)) */
  double gap_analytic;      /* meanfield: ½(Σ ln A_jj − ln|A|) */
} infb_fit;

/* A fit for p ≥ 1 weights: w allocated and zeroed, cov NULL, optional results NAN.
 * NULL (error raised) when p == 0 or on allocation failure. */
infb_fit *infb_fit_alloc(size_t p, int has_intercept);
/* NULL is a no-op. */
void infb_fit_free(infb_fit *f);
/* Allocate f->cov as (p+h)×(p+h) zeros when it is NULL.  GSL_ENOMEM on failure. */
int infb_fit_alloc_cov(infb_fit *f);

/* Predictive distribution at the rows of X (m×p, the problem's units):
 *  linreg: mean[i] = x_iᵀw + b, var[i] = σ² + [x_i;1]ᵀ cov [x_i;1] (cov term when cov);
 *  logreg: mean[i] = P(y=1|x_i): σ(x_iᵀw + b), moderated by the probit approximation
 *          σ(μ/√(1 + πs²/8)) when cov is set (MacKay 1992); var[i] = mean(1 − mean).
 * mean and var have length m (var may be NULL). */
int infb_fit_predict(infb_model_kind model, const infb_fit *f, const gsl_matrix *X,
                     gsl_vector *mean, gsl_vector *var);

/* Average log predictive density per observation of (X, y) under f (see predict).  For
 * logreg the targets are 0/1.  Returns a GSL status; *avg receives the value. */
int infb_fit_loglik(infb_model_kind model, const infb_fit *f, const gsl_matrix *X,
                    const gsl_vector *y, double *avg);

#endif
