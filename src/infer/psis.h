/* Pareto k̂ of importance weights (PSIS diagnostic; Vehtari et al. 2015–2024; MATH.md §9):
 * a generalised-Pareto fit to the largest weights by Zhang & Stephens (2009), with the
 * weakly informative prior toward 0.5.  k̂ > infb_psis_threshold(S) says an importance-
 * sampling estimate from these weights cannot be trusted; k̂ < 0.5, finite variance. */
#ifndef INFB_INFER_PSIS_H
#define INFB_INFER_PSIS_H

#include <stddef.h>

/* Why a k̂ could not be fitted (k̂ is then NAN).  These are not GSL statuses: nothing is
 * raised through the error handler. */
enum infb_psis_status {
  INFB_PSIS_OK = 0,
  INFB_PSIS_FEW = 1,       /* fewer than 5 exceedances over the threshold: M < 5 (S < 25),
                            * or fewer than 5 of the M exceedances are > 0 */
  INFB_PSIS_FLAT = 2,      /* all exceedances equal (e.g. q equal to the posterior, or every
                            * weight 0), or their first quartile y* = 0 */
  INFB_PSIS_NONFINITE = 3  /* a log-weight is NaN or +inf */
};

/* The status's name: "ok", "few-exceedances", "flat-tail", "non-finite". */
const char *infb_psis_status_name(int status);

/* The tail size M = ⌈min(S/5, 3√S)⌉ (213 for S = 5000). */
size_t infb_psis_tail(size_t S);

/* The reliability threshold min(1 − 1/log10 S, 0.7) (0.7 at S = 5000). */
double infb_psis_threshold(size_t S);

/* k̂ of the S raw log-weights lw (not changed): tail M = infb_psis_tail(S), u the
 * (M+1)-th largest weight, exceedances y_i = w_(i)/w_max − u/w_max over the M largest,
 * the Zhang–Stephens profile-posterior mean of θ on m = 30 + ⌊√M⌋ grid points, k̂ =
 * mean_i ln(1 − θ̂ y_i) (loo's sign: k̂ > 0 heavy tail), then (M·k̂ + 10·0.5)/(M + 10).
 * y* = y_(⌊M/4 + ½⌋) in increasing order (loo's first quartile).  The checks in order:
 * NONFINITE, FEW (M < 5), FLAT (all equal), FEW (< 5 positive), FLAT (y* = 0).
 * work: at least S doubles (the caller's; M + 1 are used; nothing is allocated).  Returns
 * the status (enum infb_psis_status) and *khat (NAN unless OK).  −inf log-weights are zero
 * weights.  Deterministic: k̂ depends on the multiset of log-weights, not on their order. */
int infb_psis_khat(size_t S, const double *lw, double *work, double *khat);

#endif
