"""
Tests and effect sizes across training seeds: one accuracy per seed and method.

References:
  Welch 1947, "The generalization of 'Student's' problem when several different population variances
    are involved", Biometrika 34.
  Hedges 1981, "Distribution theory for Glass's estimator of effect size and related estimators",
    J. Educational Statistics 6 (the small-sample correction J).
  Brown & Forsythe 1974, "Robust tests for the equality of variances", JASA 69.
"""

import math
import warnings
from typing import NamedTuple

import numpy as np
from scipy import special
from scipy import stats as sps

from bench.stats.checks import _as_1d, _degenerate, _same_constant, _var


class MeanStd(NamedTuple):
    mean: float
    std: float


def mean_std(values):
    """Mean and sample standard deviation (ddof=1) of per-seed results, as the tables print them.

    std is nan for a single value: one seed says nothing about spread, and 0.0 would claim it does.
    No warning for that; it is the documented convention.
    """
    x = _as_1d(values, "values")
    std = math.sqrt(_var(x)) if x.size >= 2 else math.nan
    return MeanStd(float(np.mean(x)), std)


def mean_diff(a, b):
    """Plain difference of means, mean(a) - mean(b), in the units of the input (e.g. accuracy)."""
    return float(np.mean(_as_1d(a, "a")) - np.mean(_as_1d(b, "b")))


class TTest(NamedTuple):
    t: float
    p: float
    df: float


def welch_t(a, b):
    """Welch's unequal-variance t-test, two-sided, of mean(a) == mean(b). Returns (t, p, df).

    a, b: one result per training seed (e.g. test accuracy), the two methods' seeds independent.
    Assumes each group is a sample from a normal distribution; the variances may differ. The
    Welch-Satterthwaite df is used, so p equals scipy.stats.ttest_ind(a, b, equal_var=False).
    If A and B share seeds in a way that correlates their runs (same data order), the pairing is
    ignored here, which costs power but not validity.

    Degenerate cases (with a DegenerateInputWarning):
      - fewer than 2 values in either group: (nan, nan, nan); a variance cannot be estimated.
      - both groups have zero variance and equal means (identical constants): (0.0, 1.0, nan), no
        evidence of a difference.
      - both groups have zero variance and different means: (+-inf, nan, nan). scipy says p = 0.0
        here, but the t distribution has no defined df and three identical seeds per method do not
        prove a difference to infinite confidence; we refuse to give a p-value.
    One group constant and the other not is an ordinary Welch test (df = n - 1 of the other group).
    It is `welch_mean` of one unit.
    """
    r = welch_mean([(_as_1d(a, "a"), _as_1d(b, "b"))])
    return TTest(r.t, r.p, r.df)


class MeanDiffTest(NamedTuple):
    diff: float
    t: float
    p: float
    df: float
    low: float
    high: float


def welch_mean(pairs, confidence=0.95):
    """Welch's t-test and interval for the mean over units of mean(a) - mean(b), two-sided.

    pairs: [(a, b)], one per unit (e.g. one dataset), each a method's per-seed results; units independent.
    The estimate is D = (1/K) Σ_u (mean(a_u) - mean(b_u)), with variance (1/K²) Σ_u se²_u from each unit's
    Welch standard error se²_u = var(a_u)/n_a + var(b_u)/n_b, and degrees of freedom by Welch-Satterthwaite
    over every group: df = (Σ se²)² / Σ_groups (var/n)² / (n - 1). t = D / (sqrt(Σ se²_u) / K); the interval
    D ± t(df, (1 + confidence)/2) · sqrt(Σ se²_u) / K. It excludes 0 exactly when p < 1 - confidence.
    For one unit this is Welch's test: t, p and df equal `welch_t`'s and the interval is
    scipy.stats.ttest_ind(a, b, equal_var=False).confidence_interval(confidence).

    Every unit counts alike, whatever its spread: the estimate is the plain mean of the units' differences
    (what a table's "mean" column shows), not a precision-weighted one. Same assumptions as `welch_t`.
    Degenerate cases (with a DegenerateInputWarning), following `welch_t`: fewer than 2 values in a group of
    any unit: all nan; every group constant: (D, 0, 1, nan, nan, nan) when every unit's two groups are the
    same constant, else (D, ±inf, nan, nan, nan, nan), or t = nan when the units' differences cancel (D = 0).
    """
    if not pairs:
        raise ValueError("welch_mean: no units")
    diffs, parts, same = [], [], True  # parts: every group's (var/n, n - 1)
    for i, (a, b) in enumerate(pairs):
        a, b = _as_1d(a, f"pairs[{i}][0]"), _as_1d(b, f"pairs[{i}][1]")
        if a.size < 2 or b.size < 2:
            _degenerate(f"welch_mean: need at least 2 values per group, got {a.size} and {b.size} in unit {i}")
            return MeanDiffTest(*[math.nan] * 6)
        diffs.append(float(np.mean(a) - np.mean(b)))
        parts += [(_var(a) / a.size, a.size - 1), (_var(b) / b.size, b.size - 1)]
        same = same and _same_constant(a, b)
    k = len(diffs)
    diff = sum(diffs) / k
    se2 = sum(v for v, _ in parts)
    if se2 == 0.0:
        if same:
            _degenerate("welch_mean: in every unit both groups are the same constant; p = 1.0 by convention")
            return MeanDiffTest(diff, 0.0, 1.0, math.nan, math.nan, math.nan)
        _degenerate("welch_mean: every group has zero variance but the means differ; the test is undefined")
        t = math.copysign(math.inf, diff) if diff != 0.0 else math.nan  # 0 / 0: no direction to report
        return MeanDiffTest(diff, t, math.nan, math.nan, math.nan, math.nan)
    se = math.sqrt(se2) / k
    df = se2**2 / sum(v**2 / dof for v, dof in parts)
    t = diff / se
    half = sps.t.ppf((1 + confidence) / 2, df) * se
    return MeanDiffTest(diff, float(t), float(2.0 * sps.t.sf(abs(t), df)), float(df), diff - half, diff + half)


def paired_mean(a, b, confidence=0.95):
    """The paired t-test and interval for mean(a - b), two-sided, when a[i] and b[i] share unit i.

    a, b: one result per training seed, aligned so that position i of both comes from the same seed, where the
    seed fixes something both runs share (the few-label grids' draw of training and dev examples, the data
    order). The pairing removes that shared variation from the comparison, which Welch's test over seeds
    (`welch_t`) leaves in. Returns MeanDiffTest(diff, t, p, df = n - 1, low, high), equal to
    scipy.stats.ttest_rel(a, b) and its confidence_interval(confidence). Assumes the differences are a sample
    from a normal distribution.
    Degenerate cases (with a DegenerateInputWarning): fewer than 2 pairs: all nan; every difference the same:
    p = 1.0 when that difference is 0, else t = ±inf and p = nan; the interval is then the point itself.
    """
    a, b = _as_1d(a, "a"), _as_1d(b, "b")
    if a.size != b.size:
        raise ValueError(f"paired_mean: a and b must pair up, got {a.size} and {b.size} values")
    d = a - b
    if d.size < 2:
        _degenerate(f"paired_mean: need at least 2 pairs, got {d.size}")
        return MeanDiffTest(*[math.nan] * 6)
    diff, df = float(np.mean(d)), d.size - 1
    var = _var(d)
    if var == 0.0:
        _degenerate("paired_mean: every pair differs by the same amount; the test is undefined")
        if diff == 0.0:
            return MeanDiffTest(diff, math.nan, 1.0, float(df), diff, diff)
        return MeanDiffTest(diff, math.copysign(math.inf, diff), math.nan, float(df), diff, diff)
    se = math.sqrt(var / d.size)
    t = diff / se
    half = sps.t.ppf((1 + confidence) / 2, df) * se
    return MeanDiffTest(diff, float(t), float(2.0 * sps.t.sf(abs(t), df)), float(df), diff - half, diff + half)


def _pooled_sd(a, b):
    na, nb = a.size, b.size
    return math.sqrt(((na - 1) * _var(a) + (nb - 1) * _var(b)) / (na + nb - 2))


def cohens_d(a, b):
    """Cohen's d: (mean(a) - mean(b)) / pooled SD, the pooled SD with ddof=1 per group.

    Assumes both groups share one variance (that is what pooling means). It is biased away from zero
    in small samples; with a handful of seeds report `hedges_g` instead.
    Degenerate cases (with a DegenerateInputWarning): fewer than 2 values in either group -> nan;
    pooled SD zero -> 0.0 if the means are equal, else nan (an "infinite effect" from seeds that
    happen to tie is not a number worth printing).
    """
    a, b = _as_1d(a, "a"), _as_1d(b, "b")
    if a.size < 2 or b.size < 2:
        _degenerate(f"cohens_d: need at least 2 values per group, got {a.size} and {b.size}")
        return math.nan
    diff = float(np.mean(a) - np.mean(b))
    sd = _pooled_sd(a, b)
    if sd == 0.0:
        if _same_constant(a, b):
            _degenerate("cohens_d: both groups are the same constant; d = 0.0 by convention")
            return 0.0
        _degenerate("cohens_d: pooled SD is zero but the means differ; d is undefined")
        return math.nan
    return diff / sd


def hedges_correction(df):
    """Hedges' exact small-sample factor J(df) = Gamma(df/2) / (sqrt(df/2) * Gamma((df-1)/2)).

    The familiar 1 - 3 / (4 df - 1) is its approximation; with df = 4 (3 seeds vs 3) the exact value
    is 0.798 against 0.800, so the difference is small, but there is no reason to approximate.
    """
    if df <= 1:
        raise ValueError(f"Hedges' correction needs df > 1, got {df}")
    return math.exp(special.gammaln(df / 2) - special.gammaln((df - 1) / 2)) / math.sqrt(df / 2)


def hedges_g(a, b):
    """Hedges' g: Cohen's d times J(na + nb - 2), nearly unbiased for small samples.

    Same assumptions and degenerate cases as `cohens_d` (nan stays nan, 0.0 stays 0.0).
    """
    d = cohens_d(a, b)
    if math.isnan(d) or d == 0.0:
        return d
    return d * hedges_correction(len(a) + len(b) - 2)


class VarianceTest(NamedTuple):
    ratio: float
    p: float


def _equal_deviations(x):
    """True when |x - median(x)| is the same for every value, up to rounding (relative 1e-12).

    Exact comparison fails: for x = [0.80, 0.81] the two deviations differ in the last bit, and
    scipy turns that into W = 3e30. Results that really differ do so by far more than 1e-12
    (one test example is 1e-4 of accuracy even on 10,000 examples).
    """
    z = np.abs(x - np.median(x))
    return np.ptp(z) <= 1e-12 * max(1.0, float(np.max(np.abs(x))))


def variance_ratio_test(a, b):
    """Is the spread across seeds different? Returns (var(a) / var(b), two-sided p).

    ratio uses sample variances (ddof=1); ratio < 1 means A varies less across seeds, the paper's
    "lower variance" claim. p is the Brown-Forsythe test: Levene's test centred on the median
    (scipy.stats.levene(center="median")), robust to non-normal results, unlike the F-test whose
    p-value is badly wrong when the data are not normal.

    Power: with 3 seeds per method this test can almost never reject. One of the three absolute
    deviations from the median is always exactly zero, so each group carries two numbers of
    information. A large ratio with p = 0.4 is the expected outcome even for a real effect; report
    the ratio as descriptive and do not claim "lower variance" from it.

    Degenerate cases (with a DegenerateInputWarning):
      - fewer than 2 values in either group: (nan, nan).
      - both groups constant: (1.0, 1.0), equal spread by convention.
      - in both groups all absolute deviations from the median are equal (always so with 2 values
        per group): the test's within-group variance is zero and its statistic infinite. p = nan;
        scipy reports p = 1e-31 or 0.0 there, depending on rounding.
    One group constant, the other not: ratio 0.0 or inf; p finite when the other group's deviations from
    its median differ (with 3 or more values), else nan as above.
    """
    a, b = _as_1d(a, "a"), _as_1d(b, "b")
    if a.size < 2 or b.size < 2:
        _degenerate(f"variance_ratio_test: need at least 2 values per group, got {a.size} and {b.size}")
        return VarianceTest(math.nan, math.nan)
    va, vb = _var(a), _var(b)
    if va == 0.0 and vb == 0.0:
        _degenerate("variance_ratio_test: both groups are constant; ratio = p = 1.0 by convention")
        return VarianceTest(1.0, 1.0)
    ratio = va / vb if vb > 0 else math.inf
    if _equal_deviations(a) and _equal_deviations(b):
        _degenerate(
            f"variance_ratio_test: Brown-Forsythe is undefined with n = {a.size}, {b.size} (each group's "
            "deviations from its median are all equal); need at least 3 values with unequal deviations in one group"
        )
        return VarianceTest(ratio, math.nan)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's divide-by-zero; handled just below
        res = sps.levene(a, b, center="median")
    if not np.isfinite(res.statistic):
        _degenerate(
            f"variance_ratio_test: Brown-Forsythe statistic is {res.statistic} "
            f"(n = {a.size}, {b.size}); too few values for the test"
        )
        return VarianceTest(ratio, math.nan)
    return VarianceTest(ratio, float(res.pvalue))


def deviation_difference(a, b):
    """mean |a - median(a)| - mean |b - median(b)|: the difference Brown-Forsythe tests (its groups are the
    absolute deviations from the median), so its sign is the direction of `variance_ratio_test`'s p (> 0: A
    spreads more). It can disagree with the variance ratio, which squares the deviations: [0]*9 + [10] has
    the larger variance but the smaller mean deviation against [-2]*5 + [2]*5."""
    a, b = _as_1d(a, "a"), _as_1d(b, "b")
    return float(np.mean(np.abs(a - np.median(a))) - np.mean(np.abs(b - np.median(b))))
