/* Pareto k̂ of importance weights: the generalised-Pareto fit of Zhang & Stephens (2009,
 * Technometrics 51, 316–325) to the largest weights, with the weakly informative prior of
 * Vehtari, Simpson, Gelman, Yao & Gabry (2024, JMLR 25(72), PSIS), as MATH.md §9. */
#include <config.h>
#include "infer/psis.h"

#include <math.h>

/* The method's own constants (Zhang & Stephens; loo's gpdfit), not tuning options:
 * the grid's minimum number of points, the prior's scale factor in the grid, and the
 * weakly informative prior's weight (in pseudo-observations) and centre. */
#define GRID_MIN 30
#define GRID_PRIOR 3.0
#define WIP_N 10.0
#define WIP_K 0.5
/* The fewest exceedances a fit is attempted on. */
#define MIN_TAIL 5

const char *
infb_psis_status_name(int status)
{
  switch (status) {
  case INFB_PSIS_OK:
    return "ok";
  case INFB_PSIS_FEW:
    return "few-exceedances";
  case INFB_PSIS_FLAT:
    return "flat-tail";
  case INFB_PSIS_NONFINITE:
    return "non-finite";
  default:
    return "unknown";
  }
}

size_t
infb_psis_tail(size_t S)
{
  double a = (double)S / 5.0, b = 3.0 * sqrt((double)S);
  return (size_t)ceil(a < b ? a : b);
}

double
infb_psis_threshold(size_t S)
{
  double t = 1.0 - 1.0 / log10((double)S);
  return t < 0.7 ? t : 0.7;
}

/* Restore the min-heap property of h[0..n) below position i. */
static void
sift_down(double *h, size_t n, size_t i)
{
  double x = h[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && h[c + 1] < h[c])
      c++;
    if (!(h[c] < x))
      break;
    h[i] = h[c];
    i = c;
  }
  h[i] = x;
}

/* The n largest of lw[0..S) into h[0..n), sorted in decreasing order: a min-heap of size n
 * over one pass (O(S log n), deterministic, no worst case), then heapsort.  n ≤ S. */
static void
top_sorted(size_t S, const double *lw, size_t n, double *h)
{
  for (size_t s = 0; s < n; s++)
    h[s] = lw[s];
  for (size_t i = n / 2; i-- > 0;)
    sift_down(h, n, i);
  for (size_t s = n; s < S; s++)
    if (lw[s] > h[0]) {
      h[0] = lw[s];
      sift_down(h, n, 0);
    }
  /* Heapsort: the minimum goes to the end each time, leaving h decreasing. */
  for (size_t m = n; m > 1; m--) {
    double t = h[0];
    h[0] = h[m - 1];
    h[m - 1] = t;
    sift_down(h, m - 1, 0);
  }
}

/* k(θ) = mean_i ln(1 − θ y_i) over y[0..M). */
static double
k_of_theta(double theta, size_t M, const double *y)
{
  double s = 0.0;
  for (size_t i = 0; i < M; i++)
    s += log1p(-theta * y[i]);
  return s / (double)M;
}

int
infb_psis_khat(size_t S, const double *lw, double *work, double *khat)
{
  *khat = NAN;
  for (size_t s = 0; s < S; s++)
    if (isnan(lw[s]) || lw[s] == INFINITY)
      return INFB_PSIS_NONFINITE;
  const size_t M = infb_psis_tail(S);
  if (M < MIN_TAIL)
    return INFB_PSIS_FEW;

  /* work[0..M] = the M + 1 largest log-weights, decreasing; u = work[M]. */
  top_sorted(S, lw, M + 1, work);
  const double lmax = work[0];
  if (lmax == -INFINITY) /* every weight is zero: all exceedances are 0 */
    return INFB_PSIS_FLAT;
  /* y (increasing) in work[0..M): y_i = w_(i)/w_max − u/w_max, the scale by w_max only
   * for range (k̂ does not depend on it). */
  for (size_t i = 0, j = M - 1; i < j; i++, j--) {
    double t = work[i];
    work[i] = work[j];
    work[j] = t;
  }
  const double eu = exp(work[M] - lmax);
  double *y = work;
  for (size_t i = 0; i < M; i++)
    y[i] = exp(y[i] - lmax) - eu;

  /* Degenerate tails: all exceedances equal (a point mass, e.g. equal weights), fewer
   * than MIN_TAIL of them above the threshold, or a first quartile y* of 0 (the grid is
   * scaled by 1/y*). */
  if (y[0] == y[M - 1])
    return INFB_PSIS_FLAT;
  size_t npos = 0;
  for (size_t i = 0; i < M; i++)
    npos += y[i] > 0;
  if (npos < MIN_TAIL)
    return INFB_PSIS_FEW;
  const double ystar = y[(size_t)floor((double)M / 4.0 + 0.5) - 1];
  if (!(ystar > 0))
    return INFB_PSIS_FLAT;

  /* The profile posterior of θ on the grid θ_j = 1/y_M + (1 − √(m/(j − ½)))/(3 y*):
   * ℓ_j = M(ln(−θ_j/k(θ_j)) − k(θ_j) − 1), θ̂ = Σ_j θ_j e^ℓ_j / Σ_j e^ℓ_j, the sums
   * taken in one pass relative to the running maximum of ℓ (nothing is stored). */
  const size_t m = GRID_MIN + (size_t)floor(sqrt((double)M));
  const double yM = y[M - 1];
  double lmx = -INFINITY, s0 = 0.0, s1 = 0.0;
  for (size_t j = 1; j <= m; j++) {
    const double th = 1.0 / yM + (1.0 - sqrt((double)m / ((double)j - 0.5))) / (GRID_PRIOR * ystar);
    const double k = k_of_theta(th, M, y);
    const double l = (double)M * (log(-th / k) - k - 1.0);
    if (!isfinite(l)) /* NaN (θ_j = 0 exactly) or ±inf: no weight */
      continue;
    if (l > lmx) {
      const double r = exp(lmx - l);
      s0 *= r;
      s1 *= r;
      lmx = l;
    }
    const double e = exp(l - lmx);
    s0 += e;
    s1 += th * e;
  }
  if (!(s0 > 0)) /* no grid point has a finite profile likelihood */
    return INFB_PSIS_FLAT;
  const double k = k_of_theta(s1 / s0, M, y);
  *khat = ((double)M * k + WIP_N * WIP_K) / ((double)M + WIP_N);
  return INFB_PSIS_OK;
}
