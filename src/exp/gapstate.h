/* A VAE gap report's state (infer/gapeval.h, infb_gap_state) as JSON: what the evaluation
 * stage records of --resume hold while a split's report is unfinished.
 *
 *   {"n": N, "K": K, "q_done": a, "qstar_done": 0 or N, "iwae_done": [b, c],
 *    "q_elbo": [a numbers], "q_se": [a],
 *    "qstar_elbo": [q], "qstar_se": [q], "qstar_steps": [q integers], "qstar_stop": [q],
 *    "qstar_mu": [q·K], "qstar_lv": [q·K],                          (q = qstar_done)
 *    "iwae_encoder": [b], "iwae_encoder_se": [b], "iwae_qstar": [c], "iwae_qstar_se": [c]}
 *
 * Only each phase's finished points are written.  Numbers are written with 17
 * significant digits (they read back bit for bit); a non-finite one as the string "nan",
 * "inf" or "-inf". */
#ifndef INFB_EXP_GAPSTATE_H
#define INFB_EXP_GAPSTATE_H

#include <jansson.h>
#include "infer/gapeval.h"

/* The JSON of s (a new reference), or NULL (error raised) on ENOMEM. */
json_t *infb_gapstate_json(const infb_gap_state *s);

/* Fill s (allocated for the report's n and K) from j.  INFB_EDATA, the message starting
 * with `what` (e.g. the record's path), when j is not a state of s's n and K or its
 * counts and arrays disagree; s is then unspecified. */
int infb_gapstate_read(infb_gap_state *s, const json_t *j, const char *what);

#endif
