#!/usr/bin/env python3
"""Pareto k-hat of importance weights (MATH.md section 9) in numpy, written independently of
src/infer/psis.c for tests/infer/psis-t: a full sort instead of a heap selection, the grid
evaluated as one matrix, the grid weights normalised with a stored log-sum-exp.

usage: psis-ref.py FILE   (FILE: one log-weight per line)
Prints k-hat with 17 significant digits, or "skip: REASON" when numpy is missing."""
import math
import sys

try:
    import numpy as np
except ImportError:
    print("skip: numpy is not available to " + sys.executable)
    sys.exit(0)


def khat(lw):
    S = lw.size
    M = int(math.ceil(min(S / 5.0, 3.0 * math.sqrt(S))))
    lw = np.sort(lw)
    w = np.exp(lw - lw[-1])                 # scaled by the largest weight
    y = w[S - M:] - w[S - M - 1]            # exceedances over the (M+1)-th largest, increasing
    m = 30 + int(math.floor(math.sqrt(M)))
    j = np.arange(1, m + 1, dtype=float)
    ystar = y[int(math.floor(M / 4.0 + 0.5)) - 1]   # first quartile (loo's index)
    theta = 1.0 / y[-1] + (1.0 - np.sqrt(m / (j - 0.5))) / (3.0 * ystar)
    k = np.mean(np.log1p(-np.outer(theta, y)), axis=1)
    ell = M * (np.log(-theta / k) - k - 1.0)
    wt = np.exp(ell - ell.max())
    wt /= wt.sum()
    k = np.mean(np.log1p(-np.sum(theta * wt) * y))
    return (M * k + 10 * 0.5) / (M + 10)    # the weakly informative prior toward 0.5


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: psis-ref.py FILE")
    print("%.17g" % khat(np.loadtxt(sys.argv[1], dtype=float, ndmin=1)))
