"""
Significance tests and effect sizes for the benchmark tables.

Two units of randomness matter when comparing method A with method B, and each has its test:
  - across training seeds (one accuracy per seed and method): `welch_t`, `cohens_d`/`hedges_g`,
    `variance_ratio_test`. This is what the AMPLIFY paper reports (Welch's t-test over seeds).
    With 3-5 seeds these tests have little power; a non-significant result is "not shown", not "equal".
  - across test examples (one 0/1 correctness per example, same examples for both methods):
    `paired_bootstrap` and `mcnemar`. These ask whether the difference would hold on another test set
    drawn like this one, for these trained models; they say nothing about seed-to-seed variation.
When a table makes many comparisons, `holm` (through `compare_family`) controls the family-wise error.

Conventions, shared by every function here:
  - inputs are array-likes of finite numbers; an empty input, a nan or an inf raises ValueError (no data
    or a nan accuracy is a pipeline bug, not a statistical edge case).
  - a test that is undefined on its input (too few values, zero variance) returns nan where the answer
    is undefined and emits a `DegenerateInputWarning` saying why. The table code can record the reason
    with `warnings.catch_warnings(record=True)`. The one exception: two groups that are identical
    constants get "no difference" (p = 1.0), because nan there would hide a clear non-result and a
    small p would be a lie.
  - results are NamedTuples, so `t, p, df = welch_t(a, b)` unpacks and `.p` reads by name.

References:
  Welch 1947, "The generalization of 'Student's' problem when several different population variances
    are involved", Biometrika 34.
  McNemar 1947, "Note on the sampling error of the difference between correlated proportions or
    percentages", Psychometrika 12; Edwards 1948 for the continuity correction.
  Holm 1979, "A simple sequentially rejective multiple test procedure", Scand. J. Statistics 6.
  Efron & Tibshirani 1993, "An Introduction to the Bootstrap", ch. 13 (percentile interval) and
    ch. 16 (testing with the bootstrap: shift the bootstrap distribution to the null).
  Berg-Kirkpatrick, Burkett & Klein 2012, "An Empirical Investigation of Statistical Significance in
    NLP", EMNLP (the paired bootstrap over test examples, shift method).
  Phipson & Smyth 2010, "Permutation p-values should never be zero", Stat. Appl. Genet. Mol. Biol. 9.
  Hedges 1981, "Distribution theory for Glass's estimator of effect size and related estimators",
    J. Educational Statistics 6 (the small-sample correction J).
  Brown & Forsythe 1974, "Robust tests for the equality of variances", JASA 69.
"""

import dataclasses
import math
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import special
from scipy import stats as sps


class DegenerateInputWarning(RuntimeWarning):
    """A test was asked a question its input cannot answer (too few values, zero variance)."""


def _degenerate(reason):
    warnings.warn(reason, DegenerateInputWarning, stacklevel=3)


def _as_1d(x, name):
    """Validate one sample: a non-empty 1-D array of finite floats."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: no values to test (did a run fail?)")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains nan or inf: {arr}")
    return arr


def _var(x):
    """Sample variance (ddof=1), exactly 0.0 when all values are equal.

    np.var([0.8, 0.8, 0.8], ddof=1) is 1.2e-32, not 0: the mean rounds to 0.8000000000000002. A
    zero-variance check on that number would miss identical seeds and hand welch_t a t of 1e15.
    """
    return 0.0 if np.ptp(x) == 0 else float(np.var(x, ddof=1))


def _same_constant(a, b):
    """Both groups constant (var 0), and the same constant; compared on values, not rounded means."""
    return a[0] == b[0]


# -----------------------------------------------------------------------------
# across seeds: one accuracy per seed and method


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
    """
    a, b = _as_1d(a, "a"), _as_1d(b, "b")
    na, nb = a.size, b.size
    if na < 2 or nb < 2:
        _degenerate(f"welch_t: need at least 2 values per group, got {na} and {nb}")
        return TTest(math.nan, math.nan, math.nan)
    diff = float(np.mean(a) - np.mean(b))
    se2_a, se2_b = _var(a) / na, _var(b) / nb  # squared standard errors of the means
    se2 = se2_a + se2_b
    if se2 == 0.0:
        if _same_constant(a, b):
            _degenerate("welch_t: both groups are the same constant; p = 1.0 by convention")
            return TTest(0.0, 1.0, math.nan)
        _degenerate("welch_t: both groups have zero variance but different means; the test is undefined")
        return TTest(math.copysign(math.inf, diff), math.nan, math.nan)
    t = diff / math.sqrt(se2)
    df = se2**2 / (se2_a**2 / (na - 1) + se2_b**2 / (nb - 1))  # Welch-Satterthwaite
    p = 2.0 * sps.t.sf(abs(t), df)
    return TTest(float(t), float(p), float(df))


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
    One group constant, the other not: ratio 0.0 or inf, and a finite p.
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
            "deviations from its median are all equal); need at least 3 values in one group"
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


# -----------------------------------------------------------------------------
# across test examples: per-example correctness of two models on the same examples


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

    if chunk_size is None:
        chunk_size = max(1, _CHUNK_ELEMENTS // n)
    rng = np.random.default_rng(seed)
    sums = np.empty(n_resamples)
    for start in range(0, n_resamples, chunk_size):
        m = min(chunk_size, n_resamples - start)
        idx = rng.integers(0, n, size=(m, n))
        sums[start : start + m] = d[idx].sum(axis=1)

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


# -----------------------------------------------------------------------------
# many comparisons at once


def holm(pvalues):
    """Holm-Bonferroni step-down adjusted p-values, in the input order.

    Sort the m p-values ascending, p_(1) <= ... <= p_(m); the adjusted value is
        p~_(i) = min(1, max_{j <= i} (m - j + 1) * p_(j))
    so adjusted values are monotone in the raw ones and capped at 1. Reject where p~ <= alpha; this
    controls the family-wise error rate at alpha under any dependence between the tests.
    nan-aware: a nan (a test that could not be run) stays nan and is not counted in m. Counting it
    would make the correction stricter for a test that never happened, and dropping it from the
    table silently would be worse.
    Raises ValueError for p-values outside [0, 1].
    """
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"holm expects a 1-D sequence of p-values, got shape {p.shape}")
    valid = ~np.isnan(p)
    if np.any((p[valid] < 0) | (p[valid] > 1)):
        raise ValueError(f"p-values must lie in [0, 1] (or be nan), got {p}")
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(valid)
    m = idx.size
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


@dataclass(frozen=True)
class Comparison:
    """One row of a significance table: A vs B on one dataset by one test.

    effect: the effect size that goes with the test (delta for the bootstrap, Hedges' g for seeds...);
    n: the number of units tested (seeds per group, or test examples). p_holm and significant are
    filled by `compare_family`; note carries a degenerate-input reason, if any.
    """

    method_a: str
    method_b: str
    dataset: str
    test: str
    statistic: float
    p: float
    p_holm: float = math.nan
    effect: float = math.nan
    n: int = 0
    significant: bool = False
    note: str = ""


def compare_family(rows, alpha=0.05):
    """Holm-correct one family of comparisons; returns new rows in the same order, with p_holm set and
    significant = (p_holm <= alpha). A nan p stays nan and is never significant.

    rows: Comparison objects, or any dataclass with fields p, p_holm and significant. Which rows form
    a family is the caller's decision and belongs in the table's caption: usually every comparison
    the table makes, since those are the claims a reader takes from it.
    """
    rows = list(rows)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    adjusted = holm([r.p for r in rows])
    return [
        dataclasses.replace(r, p_holm=float(q), significant=bool(q <= alpha))  # nan <= alpha is False
        for r, q in zip(rows, adjusted, strict=True)
    ]
