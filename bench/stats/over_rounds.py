"""
Paired timings: two variants timed round by round on the same inputs and machine (bench.speed's interleaved
rounds), one question: what does a whole run of A cost against a whole run of B?

The effect is log(Σ a / Σ b), the ratio of the totals a run pays. Not a median of per-round ratios: a
variant whose steps are of two kinds (AMPLIFY's λ = 1 steps are plain `none` steps) can have a median ratio
above 1 and a total below it. The test is the paired permutation test of that statistic: within each round
a and b are exchangeable when the variants cost the same, so their times are swapped round by round
(scipy.stats.permutation_test, permutation_type="samples"). Rounds share a batch and a machine load, and
are repeated measurements of that machine, not independent runs.

Reference: Good 2005, "Permutation, Parametric and Bootstrap Tests of Hypotheses", 3rd ed., Springer (paired
permutation tests).
"""

import math

import numpy as np
from scipy import stats as sps


def log_total_ratio(a, b, axis=-1):
    """log(Σ a / Σ b) along `axis`: the log of what A costs over the rounds against B."""
    return np.log(np.sum(a, axis=axis) / np.sum(b, axis=axis))


def total_ratio_test(a, b, n_resamples=10_000, seed=0):
    """(log(Σ a / Σ b), two-sided p of the paired permutation test). a, b: per-round times, paired by round.
    p is nan with fewer than 2 rounds or when every round's two times are equal (nothing to permute). With
    2^rounds <= n_resamples scipy enumerates every swap, so p is exact."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"total_ratio_test needs two 1-D arrays of per-round times of one length, got shapes "
                         f"{a.shape} and {b.shape}")
    p = math.nan
    if len(a) >= 2 and np.any(a != b):
        p = sps.permutation_test((a, b), log_total_ratio, permutation_type="samples", vectorized=True,
                                 n_resamples=n_resamples, random_state=seed).pvalue
    return float(log_total_ratio(a, b)), float(p)
