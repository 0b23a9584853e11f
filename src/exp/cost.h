/* What the evaluation stages of an experiment will cost, from its config alone (infbench
 * check prints it): decoder rows and FLOP per gap report and in all, so that a user sees
 * before a run whether it fits one machine or needs a cluster (infbench(1), CLUSTERS).
 * FLOP are those of the decoder's gemms (2·n_in·n_out per row and layer forward, as much
 * again for the input gradient), as bench/vae_bench counts them. */
#ifndef INFB_EXP_COST_H
#define INFB_EXP_COST_H

#include <stddef.h>
#include "exp/config.h"

/* One evaluation stage. */
typedef struct infb_cost_stage {
  const char *name;            /* "L[q]", "q*", "IWAE", "AIS", "BDMC" (static) */
  const char *rows_are;        /* "forward" or "forward + gradient" (static) */
  size_t reports;              /* the gap reports it runs in (estimators × splits; BDMC:
                                  estimators) */
  double rows_lo, rows_hi;     /* decoder rows per report: a range where the count depends
                                  on the run (q*'s steps: its stopping rule's fewest, and
                                  max_steps); equal otherwise */
  double flop_lo, flop_hi;     /* FLOP per report; NAN when the data's dimension is unknown */
} infb_cost_stage;

#define INFB_COST_MAX_STAGES 8

/* The stages of config c (a resolved vae config; other models: *n = 0) into out (room
 * for INFB_COST_MAX_STAGES) and *n.  D is the data's dimension (0: unknown: FLOP NAN; the
 * idx source is 784).  Returns a status (INFB_ECONFIG for unusable decoder widths). */
int infb_cost_estimate(const infb_config *c, size_t D, infb_cost_stage *out, size_t *n);

/* FLOP of one decoder row (K → widths → D) forward; the input gradient costs as much. */
double infb_cost_decoder_flop(size_t K, const size_t *widths, size_t nwidths, size_t D);

#endif
