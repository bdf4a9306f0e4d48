"""
Tests across test examples: per-example correctness of two models on the same examples.

References:
  McNemar 1947, "Note on the sampling error of the difference between correlated proportions or
    percentages", Psychometrika 12; Edwards 1948 for the continuity correction.
  Efron & Tibshirani 1993, "An Introduction to the Bootstrap", ch. 13 (percentile interval) and
    ch. 16 (testing with the bootstrap: shift the bootstrap distribution to the null).
  Berg-Kirkpatrick, Burkett & Klein 2012, "An Empirical Investigation of Statistical Significance in
    NLP", EMNLP (the paired bootstrap over test examples, shift method).
  Phipson & Smyth 2010, "Permutation p-values should never be zero", Stat. Appl. Genet. Mol. Biol. 9.
"""

import math
from typing import NamedTuple

import numpy as np
from scipy import stats as sps

from bench.stats.checks import _as_1d, _degenerate
from bench.stats.monte_carlo import START, BootstrapCounts, Resampled, resamples


def _as_correctness(x, name, binary):
    arr = _as_1d(x, name)
    if binary:
        if not np.all((arr == 0) | (arr == 1)):
            raise ValueError(f"{name} must hold 0/1 (or bool) correctness per example")
    elif np.any(arr < 0) or np.any(arr > 1):
        raise ValueError(f"{name} must hold correctness in [0, 1] per example")
    return arr


def _as_pair(correct_a, correct_b, binary):
    a = _as_correctness(correct_a, "correct_a", binary)
    b = _as_correctness(correct_b, "correct_b", binary)
    if a.shape != b.shape:
        raise ValueError(f"correct_a and correct_b must cover the same examples, got {a.size} and {b.size}")
    return a, b


def pool_seeds(correct):
    """Combine several seeds' 0/1 correctness into one per-example value: the mean over seeds.

    correct: shape (n_seeds, n_examples), or a list of equal-length vectors, one per seed. Returns the
    per-example fraction of seeds that got the example right, ready for `paired_bootstrap`.

    Why the mean and not the alternative (pair seed i of A with seed i of B and concatenate the
    vectors): concatenation treats k copies of the same example as k independent draws from the test
    distribution. Resampled independently, the copies make the interval too narrow, by up to sqrt(k)
    when the seeds agree. Averaging keeps the example as the resampling unit. The pooled delta is
    exactly the mean of the per-seed deltas, and A and B may have different numbers of seeds with
    no arbitrary pairing. The seed-to-seed variation itself is `welch_t`'s job.
    """
    arr = np.asarray(correct, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"pool_seeds expects shape (n_seeds, n_examples), got {arr.shape}")
    for i, row in enumerate(arr):
        _as_correctness(row, f"seed row {i}", binary=True)
    return arr.mean(axis=0)


class Bootstrap(NamedTuple):
    delta: float
    ci_low: float
    ci_high: float
    p: float
    mc: Resampled | None = None  # the test behind p: its resamples, Monte Carlo interval, and more on demand


def bootstrap_test(d, seed=0):
    """The paired bootstrap's test of mean(d) = 0 as a Resampled test (bench/stats/monte_carlo.py): a resample
    is extreme when its shifted sum is at least as far from 0 as the data's, |Σ* − Σ| >= |Σ|. Sums, not
    means, so 0/1 inputs compare exact integers; the tolerance only guards pooled fractions (multiples of
    1 / n_seeds) against summation rounding."""
    d = np.asarray(d, dtype=float)
    total = float(d.sum())
    return Resampled(BootstrapCounts(d.size), lambda counts: np.abs(counts @ d - total) >= abs(total) - 1e-9, seed)


def paired_bootstrap(correct_a, correct_b, n_resamples=START, seed=0, confidence=0.95):
    """Paired bootstrap over test examples of delta = accuracy(A) - accuracy(B).

    correct_a, correct_b: per-example correctness on the same examples in the same order: 0/1 for one
    seed, or fractions in [0, 1] from `pool_seeds`. delta is a fraction (0.012 = 1.2 points).
    Assumes the test examples are i.i.d. draws; the models are fixed (seed variation is not included).

    Resampling: B = n_resamples times, draw n example indices with replacement (the same indices for
    A and B, which is what makes it paired) and take delta*_b = mean(d[idx]) with d = a - b. The draws
    are bench/stats/monte_carlo.py's: resample b is row b mod BLOCK of block b // BLOCK, whose generator is
    np.random.default_rng([seed, b // BLOCK]), one rng.integers(0, n, size=n, dtype=np.int32) per row
    (tests/test_stats.py checks this against a loop).

    Confidence interval: percentile interval (Efron & Tibshirani 1993, ch. 13) of the delta*,
    np.quantile's default linear interpolation at (1 - confidence) / 2 and (1 + confidence) / 2.

    p-value, two-sided, shift method: under the null the bootstrap distribution is centred on 0, so
    shift it by -delta (Efron & Tibshirani 1993, sec. 16.4; the two-sided form of the one-sided test
    #{delta* > 2 delta} / B of Berg-Kirkpatrick et al. 2012):
        p = (1 + #{b : |delta*_b - delta| >= |delta|}) / (B + 1)
    The +1s count the observed sample as one of the resamples, so p is never 0 with finite B
    (Phipson & Smyth 2010); the smallest reportable p is 1 / (B + 1). Ties count as extreme, so
    identical inputs give delta = 0, CI = [0, 0] and p = 1.0 exactly. `.mc` is the test itself: its
    Monte Carlo interval, and more resamples for p when a verdict needs them (monte_carlo.settle).

    Degenerate case: fewer than 2 examples -> (delta, nan, nan, nan, None) with a DegenerateInputWarning.
    A bootstrap distribution of one point would otherwise give p = 1 / (B + 1).
    """
    a, b = _as_pair(correct_a, correct_b, binary=False)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be positive, got {n_resamples}")
    d = a - b
    n = d.size
    delta = float(d.mean())
    if n < 2:
        _degenerate(f"paired_bootstrap: need at least 2 examples, got {n}")
        return Bootstrap(delta, math.nan, math.nan, math.nan)

    test = bootstrap_test(d, seed)
    sums = np.concatenate([counts @ d for counts in resamples(test.source, seed, 0, n_resamples)])
    test.k, test.B = int(np.sum(np.abs(sums - d.sum()) >= abs(d.sum()) - 1e-9)), n_resamples
    lo, hi = np.quantile(sums / n, [(1 - confidence) / 2, (1 + confidence) / 2])
    return Bootstrap(delta, float(lo), float(hi), test.p, test)


class McNemar(NamedTuple):
    statistic: float
    p: float
    b: int
    c: int


def mcnemar(correct_a, correct_b, exact=None):
    """McNemar's test, two-sided, of "A and B are equally accurate" from paired 0/1 correctness.

    Only the discordant examples count: b = #(A right, B wrong), c = #(A wrong, B right). Under the
    null each discordant example is a fair coin, b ~ Binomial(b + c, 1/2).
    Assumes examples are independent; one run of each model (for several seeds, test each seed pair
    and Holm-correct, or use `paired_bootstrap` on `pool_seeds`).

    exact=None picks the exact test when b + c < 25, where the chi-square approximation is poor.
      exact: statistic = min(b, c), p = scipy.stats.binomtest(b, b + c, 0.5).pvalue
             (= min(1, 2 * P(X <= min(b, c))), the distribution being symmetric).
      chi-square: statistic = max(|b - c| - 1, 0)^2 / (b + c) with Edwards' continuity correction,
             p = chi2.sf(statistic, df=1). The max(., 0) only matters when b == c: the correction
             must not overshoot past zero. statsmodels gives 1 / (b + c) there; we give 0 and p = 1.
    b + c == 0 (the models agree everywhere): statistic 0.0, p = 1.0.
    """
    right_a, right_b = _as_pair(correct_a, correct_b, binary=True)
    b = int(np.sum((right_a == 1) & (right_b == 0)))
    c = int(np.sum((right_a == 0) & (right_b == 1)))
    n = b + c
    if n == 0:
        return McNemar(0.0, 1.0, b, c)
    if exact is None:
        exact = n < 25
    if exact:
        return McNemar(float(min(b, c)), float(sps.binomtest(b, n, 0.5).pvalue), b, c)
    stat = max(abs(b - c) - 1, 0) ** 2 / n
    return McNemar(float(stat), float(sps.chi2.sf(stat, df=1)), b, c)
