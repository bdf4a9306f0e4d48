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

import functools
import math
from typing import NamedTuple

import numpy as np
from scipy import stats as sps

from bench.stats.checks import _as_1d, _degenerate


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


_CHUNK_ELEMENTS = 1 << 21  # resampled indices held at once (16 MiB of int64), bounds memory for any n
_KEEP_ELEMENTS = 1 << 25  # counts kept for reuse up to this many entries (256 MiB of float64), for two test sets


def resample_counts(n, n_resamples, seed=0, chunk_size=None):
    """The bootstrap's resamples of n examples, as counts: chunks (m, n), counts[r, i] = how many times
    resample r drew example i, for resamples 0..n_resamples-1 in order; the draws are paired_bootstrap's
    (below). A statistic that is a sum over the drawn examples is then a product: Σ_{i in resample r} d_i
    = (counts @ d)[r].

    Every comparison on one test set resamples the same way (same n, B and seed), so the counts are drawn
    once and reused while they fit in _KEEP_ELEMENTS entries; beyond that they are drawn afresh each call,
    chunk by chunk, and memory stays bounded for any n.
    """
    if chunk_size is None:
        chunk_size = max(1, _CHUNK_ELEMENTS // n)
    if n * n_resamples <= _KEEP_ELEMENTS:
        return _kept_counts(n, n_resamples, seed, chunk_size)
    return _draw_counts(n, n_resamples, seed, chunk_size)


def _draw_counts(n, n_resamples, seed, chunk_size):
    rng = np.random.default_rng(seed)
    for start in range(0, n_resamples, chunk_size):
        m = min(chunk_size, n_resamples - start)
        idx = rng.integers(0, n, size=(m, n))                       # (m, n) example indices
        flat = (idx + n * np.arange(m)[:, None]).ravel()            # resample r's draws land in row r
        yield np.bincount(flat, minlength=m * n).reshape(m, n).astype(float)


@functools.lru_cache(maxsize=2)
def _kept_counts(n, n_resamples, seed, chunk_size):
    chunks = tuple(_draw_counts(n, n_resamples, seed, chunk_size))
    for c in chunks:
        c.flags.writeable = False  # shared by every caller
    return chunks


def paired_bootstrap(correct_a, correct_b, n_resamples=10000, seed=0, confidence=0.95, chunk_size=None):
    """Paired bootstrap over test examples of delta = accuracy(A) - accuracy(B).

    correct_a, correct_b: per-example correctness on the same examples in the same order: 0/1 for one
    seed, or fractions in [0, 1] from `pool_seeds`. delta is a fraction (0.012 = 1.2 points).
    Assumes the test examples are i.i.d. draws; the models are fixed (seed variation is not included).

    Resampling: B = n_resamples times, draw n example indices with replacement (the same indices for
    A and B, which is what makes it paired) and take delta*_b = mean(d[idx]) with d = a - b.
    Draws: rng = np.random.default_rng(seed); resample b's indices are the b-th call of
    rng.integers(0, n, size=n). Chunks of resamples are drawn as one (m, n) call, which numpy's
    Generator fills from the same stream, so the result does not depend on chunk_size
    (tests/test_stats.py checks both claims against a loop).

    Confidence interval: percentile interval (Efron & Tibshirani 1993, ch. 13) of the delta*,
    np.quantile's default linear interpolation at (1 - confidence) / 2 and (1 + confidence) / 2.

    p-value, two-sided, shift method: under the null the bootstrap distribution is centred on 0, so
    shift it by -delta (Efron & Tibshirani 1993, sec. 16.4; the two-sided form of the one-sided test
    #{delta* > 2 delta} / B of Berg-Kirkpatrick et al. 2012):
        p = (1 + #{b : |delta*_b - delta| >= |delta|}) / (B + 1)
    The +1s count the observed sample as one of the resamples, so p is never 0 with finite B
    (Phipson & Smyth 2010); the smallest reportable p is 1 / (B + 1). Ties count as extreme, so
    identical inputs give delta = 0, CI = [0, 0] and p = 1.0 exactly.

    Degenerate case: fewer than 2 examples -> (delta, nan, nan, nan) with a DegenerateInputWarning.
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

    sums = np.concatenate([counts @ d for counts in resample_counts(n, n_resamples, seed, chunk_size)])

    # the test compares sums, not means, so 0/1 inputs compare exact integers; the tolerance only
    # guards pooled fractions (multiples of 1 / n_seeds) against summation rounding
    total = float(d.sum())
    extreme = np.abs(sums - total) >= abs(total) - 1e-9
    p = (1 + int(extreme.sum())) / (n_resamples + 1)
    lo, hi = np.quantile(sums / n, [(1 - confidence) / 2, (1 + confidence) / 2])
    return Bootstrap(delta, float(lo), float(hi), float(p))


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
