/* Tests of src/infer/estimator: fits, predictive distributions and log predictive
 * densities against direct computation (Gaussian density; probit-moderated sigmoid,
 * Bishop PRML eq. 4.153). */
#include "config.h"
#include "tap/basic.h"
#include "core/error.h"
#include "infer/estimator.h"

#include <math.h>
#include <gsl/gsl_math.h>

int
main(void)
{
  plan(17);
  infb_fit_free(NULL);
  ok(1, "fit_free(NULL) is a no-op");
  ok(infb_fit_alloc(0, 1) == NULL, "a fit with no weights is refused");

  infb_fit *f = infb_fit_alloc(2, 1);
  ok(f && f->w->size == 2 && f->cov == NULL, "fit_alloc: 2 weights, no covariance");
  ok(isnan(f->log_evidence) && isnan(f->elbo) && isnan(f->lambda), "optional results start NAN");
  gsl_vector_set(f->w, 0, 0.5);
  gsl_vector_set(f->w, 1, -2.0);
  f->intercept = 1.0;
  f->noise_var = 0.25;

  gsl_matrix *X = gsl_matrix_alloc(2, 2);
  gsl_vector *y = gsl_vector_alloc(2), *mean = gsl_vector_alloc(2), *var = gsl_vector_alloc(2);
  double xs[2][2] = {{1.0, 2.0}, {-1.0, 0.5}};
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++)
      gsl_matrix_set(X, i, j, xs[i][j]);

  /* Plug-in linreg: mean = xᵀw + b, var = σ². */
  infb_fit_predict(INFB_MODEL_LINREG, f, X, mean, var);
  is_double_abs(1.0 + 0.5 - 4.0, gsl_vector_get(mean, 0), 1e-15, "linreg mean x^T w + b");
  is_double_abs(0.25, gsl_vector_get(var, 0), 1e-15, "linreg plug-in variance = sigma^2");
  gsl_vector_set(y, 0, -2.0);
  gsl_vector_set(y, 1, 0.0);
  double avg, want = 0.0;
  for (int i = 0; i < 2; i++) {
    double m = 1.0 + 0.5 * xs[i][0] - 2.0 * xs[i][1], r = gsl_vector_get(y, i) - m;
    want += -0.5 * log(2 * M_PI * 0.25) - r * r / (2 * 0.25);
  }
  infb_fit_loglik(INFB_MODEL_LINREG, f, X, y, &avg);
  is_double_rel(want / 2, avg, 1e-14, "linreg average log density");

  /* With a covariance Σ over (w, b): var = σ² + [x;1]ᵀΣ[x;1]. */
  infb_fit_alloc_cov(f);
  double S[3][3] = {{0.2, 0.05, 0.01}, {0.05, 0.3, -0.02}, {0.01, -0.02, 0.1}};
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 3; b++)
      gsl_matrix_set(f->cov, a, b, S[a][b]);
  infb_fit_predict(INFB_MODEL_LINREG, f, X, mean, var);
  double z[3] = {xs[1][0], xs[1][1], 1.0}, q = 0;
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 3; b++)
      q += z[a] * S[a][b] * z[b];
  is_double_rel(0.25 + q, gsl_vector_get(var, 1), 1e-14, "linreg predictive var = sigma^2 + z^T S z");

  /* Logreg: σ(η) without covariance, σ(η/√(1+πs²/8)) with. */
  gsl_matrix_free(f->cov);
  f->cov = NULL;
  infb_fit_predict(INFB_MODEL_LOGREG, f, X, mean, var);
  double eta0 = 1.0 + 0.5 - 4.0;
  is_double_rel(1 / (1 + exp(-eta0)), gsl_vector_get(mean, 0), 1e-14, "logreg P(y=1) = sigmoid(eta)");
  is_double_rel(gsl_vector_get(mean, 0) * (1 - gsl_vector_get(mean, 0)), gsl_vector_get(var, 0),
                1e-14, "logreg variance p(1-p)");
  infb_fit_alloc_cov(f);
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 3; b++)
      gsl_matrix_set(f->cov, a, b, S[a][b]);
  infb_fit_predict(INFB_MODEL_LOGREG, f, X, mean, NULL);
  double eta1 = 1.0 - 0.5 - 1.0;
  is_double_rel(1 / (1 + exp(-eta1 / sqrt(1 + M_PI * q / 8))), gsl_vector_get(mean, 1), 1e-14,
                "logreg moderated P(y=1) (probit approximation)");
  gsl_vector_set(y, 0, 1.0);
  gsl_vector_set(y, 1, 0.0);
  infb_fit_loglik(INFB_MODEL_LOGREG, f, X, y, &avg);
  infb_fit_predict(INFB_MODEL_LOGREG, f, X, mean, NULL);
  want = 0.5 * (log(gsl_vector_get(mean, 0)) + log(1 - gsl_vector_get(mean, 1)));
  is_double_rel(want, avg, 1e-12, "logreg average log predictive probability");

  /* Extreme logits stay finite. */
  gsl_vector_set(f->w, 0, 1e3);
  gsl_matrix_free(f->cov);
  f->cov = NULL;
  gsl_vector_set(y, 1, 1.0); /* row 1 has eta = 1 − 1000 − 1: ln σ ≈ −1000 */
  infb_fit_loglik(INFB_MODEL_LOGREG, f, X, y, &avg);
  ok(isfinite(avg) && avg < -400, "logreg log-likelihood stays finite at extreme logits (%g)", avg);

  /* Shape errors. */
  gsl_matrix *X3 = gsl_matrix_alloc(2, 3);
  is_int(GSL_EBADLEN, infb_fit_predict(INFB_MODEL_LINREG, f, X3, mean, var), "predict rejects a wrong width");
  is_int(GSL_EBADLEN, infb_fit_loglik(INFB_MODEL_LINREG, f, X3, y, &avg), "loglik rejects a wrong width");
  f->noise_var = 0.0;
  is_int(GSL_EDOM, infb_fit_loglik(INFB_MODEL_LINREG, f, X, y, &avg), "a zero predictive variance is an error");
  ok(infb_fit_alloc_cov(f) == 0 && f->cov->size1 == 3, "alloc_cov sizes (w, b)");

  gsl_matrix_free(X);
  gsl_matrix_free(X3);
  gsl_vector_free(y);
  gsl_vector_free(mean);
  gsl_vector_free(var);
  infb_fit_free(f);
  return test_done();
}
