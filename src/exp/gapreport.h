/* A gap report's table of ln p(x) methods (infer/gapeval.h) in the run's outputs: the
 * results.json block log_px_estimates, the PSIS k̂ summaries, and the per-point TSV
 * columns of every method and diagnostic.  Values are shifted to original units by
 * `shift` nats (−Σ ln sd for standardised data; 0 for images). */
#ifndef INFB_EXP_GAPREPORT_H
#define INFB_EXP_GAPREPORT_H

#include <stddef.h>
#include <jansson.h>
#include "infer/gapeval.h"

/* {METHOD: {mean, se, n, mc_se, kind, points_of, note?}, ...} over r's methods (points_of:
 * the report's points; a method on fewer, e.g. AIS on the first [ais] points, adds
 * "paired": the mean difference to the chosen method on those points, with its se).
 * NULL on ENOMEM. */
json_t *infb_gapreport_estimates_json(const infb_gap_report *r, double shift);

/* {FAMILY: {mean, se, n, mc_se, note, approximation_gap: {mean, se, n, mc_se}}, ...}: L[q*]
 * of each variational family of r (today "ffg"), with its approximation gap ln p̂(x) −
 * L[q*] against the chosen method, paired per point.  NULL on ENOMEM. */
json_t *infb_gapreport_families_json(const infb_gap_report *r, double shift);

/* PSIS k̂ of each IWAE method with `samples` importance samples:
 *   {METHOD: {threshold, n_fitted, mean, above (fraction of fitted points over the
 *    threshold), statuses {ok, few-exceedances, flat-tail, non-finite, not-recorded},
 *    subset_below: {method, mean, se, n}}}
 * subset_below summarises the chosen ln p̂ over the points whose k̂ is at or below the
 * threshold — labelled a subset, never a correction.  An empty object when no method has
 * k̂.  NULL on ENOMEM. */
json_t *infb_gapreport_khat_json(const infb_gap_report *r, size_t samples, double shift);

/* The per-point columns of r's methods, after the report's own: for each method
 * "log_px_METHOD" and "log_px_METHOD_mc_se", then "METHOD_EXTRA" for each diagnostic
 * (METHOD with its hyphens as underscores: "log_px_iwae_qstar")
 * (points a method does not cover: NAN).  *ncols receives their number; names (ncols
 * entries) point into *pool; both are new allocations (free()).  GSL_ENOMEM. */
int infb_gapreport_columns(const infb_gap_report *r, size_t *ncols, const char ***names,
                           char **pool);
/* Row i's values of those columns into v (ncols), shifted. */
void infb_gapreport_row(const infb_gap_report *r, size_t i, double shift, double *v);

#endif
