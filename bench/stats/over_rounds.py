"""
Paired timings: two variants timed round by round on the same inputs and machine (bench.speed's interleaved
rounds), one question: what does a whole run of A cost against a whole run of B?

The effect is log(Σ a / Σ b), the ratio of the totals a run pays. Not a median of per-round ratios: a
variant whose steps are of two kinds (AMPLIFY's λ = 1 steps are plain `none` steps) can have a median ratio
above 1 and a total below it. The test is the paired permutation test of that statistic: within each round
a and b are exchangeable when the variants cost the same, so their times are swapped round by round.
Rounds share a batch and a machine load, and are repeated measurements of that machine, not independent runs.

Reference: Good 2005, "Permutation, Parametric and Bootstrap Tests of Hypotheses", 3rd ed., Springer (paired
permutation tests).
"""

import math
from typing import NamedTuple

import numpy as np

from bench.stats.monte_carlo import START, Resampled, SignFlips


def log_total_ratio(a, b, axis=-1):
    """log(Σ a / Σ b) along `axis`: the log of what A costs over the rounds against B."""
    return np.log(np.sum(a, axis=axis) / np.sum(b, axis=axis))


class RatioTest(NamedTuple):
    log_ratio: float
    p: float
    mc: Resampled | None = None  # the permutation test behind p (bench/stats/monte_carlo.py)


def total_ratio_test(a, b, n_resamples=START, seed=0):
    """(log(Σ a / Σ b), two-sided p of the paired permutation test, the test). a, b: per-round times, paired by
    round. A permutation swaps a round's two times with probability 1/2 (bench/stats/monte_carlo.SignFlips);
    it is extreme when |log(Σ a* / Σ b*)| >= |log(Σ a / Σ b)|. With 2^rounds <= monte_carlo.START every
    swap pattern is enumerated and p is exact; otherwise p = (1 + k) / (B + 1) from B random patterns, with
    its Monte Carlo interval. p is nan with fewer than 2 rounds or when every round's two times are equal
    (nothing to permute)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"total_ratio_test needs two 1-D arrays of per-round times of one length, got shapes "
                         f"{a.shape} and {b.shape}")
    observed = float(log_total_ratio(a, b))
    if len(a) < 2 or not np.any(a != b):
        return RatioTest(observed, math.nan)
    diff = b - a

    def extreme(swaps):  # (m, rounds) bool -> (m,)
        moved = swaps @ diff
        return np.abs(np.log((a.sum() + moved) / (b.sum() - moved))) >= abs(observed) - 1e-12

    test = Resampled(SignFlips(len(a)), extreme, seed).grow(n_resamples)
    return RatioTest(observed, test.p, test)
