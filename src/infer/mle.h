/* Maximum likelihood: least squares for linreg (σ² = RSS/N unless fixed), Newton/IRLS
 * for logreg (fails on separable data). */
#ifndef INFB_INFER_MLE_H
#define INFB_INFER_MLE_H

#include "infer/estimator.h"

/* Fill fit (allocated for pb's p and intercept).  Returns a GSL/INFB status; on failure
 * the error message says why and what to do (e.g. "use map"). */
int infb_mle_fit(const infb_problem *pb, const infb_solver_options *opt, infb_fit *fit);

#endif
