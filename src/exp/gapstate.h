/* A VAE gap report's state (infer/gapeval.h, infb_gap_state) as JSON: what the evaluation
 * stage records of --resume hold while a split's report is unfinished.
 *
 *   {"n": N, "K": K, "q_done": a, "qstar_done": 0 or N, "iwae_done": [b, c],
 *    "q_elbo": [a numbers], "q_se": [a],
 *    "qstar_elbo": [q], "qstar_se": [q], "qstar_steps": [q integers], "qstar_stop": [q],
 *    "qstar_mu": [q·K], "qstar_lv": [q·K],                          (q = qstar_done)
 *    "iwae_encoder": [b], "iwae_encoder_se": [b], "iwae_qstar": [c], "iwae_qstar_se": [c],
 *    "khat_encoder": [b], "khat_encoder_status": [b], "khat_qstar": [c], ...   (optional)
 *    "legacy_max": [N], "legacy_max_se": [N],    (a report rebuilt from an old record)
 *    "ais": {"n": m, "done": d, "log_px": [d], "mc_se": [d], "ess": [d], "accept": [d],
 *            "step": [d], "status": [d], "low_ess": [d]}}                 (with AIS)
 *
 * States written before k̂ was kept read back with k̂ NAN and status -1.
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

/* Fill only s's AIS part from j's "ais" object (s has room for AIS on ais_n points,
 * infb_gap_state_alloc_ais): no "ais" object leaves ais_done 0; INFB_EDATA when its n is
 * not s->ais_n or its arrays disagree. */
int infb_gapstate_read_ais(infb_gap_state *s, const json_t *j, const char *what);

#endif
