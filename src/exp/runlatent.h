/* The runner for latent-variable models (lingauss, runlingauss.c; the VAE, runvae.c):
 * data without a target, the latent estimators, and the gap report of every fit on the
 * train and test points (infer/gapeval.h).  Called by infb_run (runner.h) for [model]
 * type = lingauss or vae; same contract. */
#ifndef INFB_EXP_RUNLATENT_H
#define INFB_EXP_RUNLATENT_H

#include "exp/runner.h"

int infb_run_latent(const infb_config *cfg, const infb_run_options *opt, infb_run_result *res);

#endif
