/* Maximum likelihood: the penalised solvers of each model at λ = 0. */
#include "config.h"
#include "infer/mle.h"
#include "core/error.h"
#include "model/linreg.h"
#include "model/logreg.h"

int
infb_mle_fit(const infb_problem *pb, const infb_solver_options *opt, infb_fit *fit)
{
  switch (pb->model) {
  case INFB_MODEL_LINREG:
    return infb_linreg_fit_penalized(pb, 0.0, opt, fit);
  case INFB_MODEL_LOGREG:
    return infb_logreg_fit_penalized(pb, 0.0, opt, fit);
  }
  return INFB_ERROR(GSL_EINVAL, "mle: unknown model %d", (int)pb->model);
}
