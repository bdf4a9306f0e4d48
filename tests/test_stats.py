"""bench/stats/ against scipy, hand-worked textbook values and slow loop references."""

import itertools
import math
import warnings

import numpy as np
import pytest
from scipy import stats as sps

from bench.stats.checks import DegenerateInputWarning
from bench.stats.multiple_testing import Comparison, compare_family, holm, stouffer
from bench.stats.over_examples import mcnemar, paired_bootstrap, pool_seeds
from bench.stats.over_rounds import total_ratio_test
from bench.stats.over_seeds import (
    cohens_d,
    deviation_difference,
    hedges_correction,
    hedges_g,
    mean_diff,
    mean_std,
    paired_mean,
    variance_ratio_test,
    welch_mean,
    welch_t,
)

# -----------------------------------------------------------------------------
# welch_t


@pytest.mark.parametrize("na,nb", [(2, 2), (3, 3), (3, 5), (5, 10), (20, 7)])
def test_welch_matches_scipy(na, nb):
    rng = np.random.default_rng(na * 100 + nb)
    for _ in range(5):
        a = rng.normal(0.80, rng.uniform(0.001, 0.05), size=na)
        b = rng.normal(0.79, rng.uniform(0.001, 0.05), size=nb)
        t, p, df = welch_t(a, b)
        ref = sps.ttest_ind(a, b, equal_var=False)
        assert t == pytest.approx(ref.statistic, rel=1e-10)
        assert p == pytest.approx(ref.pvalue, rel=1e-9)
        assert df == pytest.approx(ref.df, rel=1e-10)


def test_welch_one_group_constant_is_an_ordinary_test():
    a, b = [0.8, 0.8, 0.8], [0.70, 0.75, 0.72, 0.74]
    res = welch_t(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's var of [0.8] * 3 is 1e-32, it complains
        ref = sps.ttest_ind(a, b, equal_var=False)
    assert res.p == pytest.approx(ref.pvalue, rel=1e-9)
    assert res.df == pytest.approx(3.0)  # all the variance comes from b: df = nb - 1


def test_welch_too_few_values():
    with pytest.warns(DegenerateInputWarning, match="at least 2"):
        t, p, df = welch_t([0.8], [0.7, 0.75, 0.72])
    assert math.isnan(t) and math.isnan(p) and math.isnan(df)


def test_welch_identical_constants_is_not_significant():
    with pytest.warns(DegenerateInputWarning, match="same constant"):
        t, p, df = welch_t([0.8, 0.8, 0.8], [0.8, 0.8, 0.8])
    assert (t, p) == (0.0, 1.0) and math.isnan(df)


def test_welch_different_constants_gives_no_p():
    # scipy says p = 0.0 here; three tied seeds must not become "p < 0.001"
    with pytest.warns(DegenerateInputWarning, match="zero variance"):
        t, p, df = welch_t([0.7, 0.7, 0.7], [0.8, 0.8, 0.8])
    assert t == -math.inf and math.isnan(p) and math.isnan(df)


# -----------------------------------------------------------------------------
# paired_mean


@pytest.mark.parametrize("n,confidence", [(2, 0.95), (3, 0.95), (5, 0.9), (10, 0.99)])
def test_paired_mean_is_scipys_paired_t_and_interval(n, confidence):
    rng = np.random.default_rng(n)
    for _ in range(5):
        draw = rng.normal(0.6, 0.05, size=n)  # what a seed's draw gives both methods
        a, b = draw + rng.normal(0.01, 0.01, n), draw + rng.normal(0.0, 0.01, n)
        r = paired_mean(a, b, confidence)
        ref = sps.ttest_rel(a, b)
        assert (r.t, r.p, r.df) == pytest.approx((ref.statistic, ref.pvalue, ref.df), rel=1e-9)
        assert (r.low, r.high) == pytest.approx(tuple(ref.confidence_interval(confidence)), rel=1e-9)
        assert r.diff == pytest.approx(np.mean(a - b), rel=1e-12)
        assert r.high - r.low < welch_mean([(a, b)], confidence).high - welch_mean([(a, b)], confidence).low


def test_paired_mean_degenerate_cases_warn():
    with pytest.warns(DegenerateInputWarning):
        assert all(np.isnan(paired_mean([0.5], [0.4])))
    with pytest.warns(DegenerateInputWarning):
        r = paired_mean([0.5, 0.6], [0.5, 0.6])
    assert (r.diff, r.p, r.low, r.high) == (0.0, 1.0, 0.0, 0.0)
    with pytest.warns(DegenerateInputWarning):
        r = paired_mean([0.5, 0.6], [0.4, 0.5])
    assert r.t == np.inf and (r.low, r.high) == pytest.approx((0.1, 0.1))
    with pytest.raises(ValueError, match="pair up"):
        paired_mean([0.5, 0.6], [0.4])


# welch_mean


@pytest.mark.parametrize("na,nb,confidence", [(2, 2, 0.95), (3, 3, 0.95), (3, 5, 0.9), (5, 10, 0.99)])
def test_welch_mean_of_one_unit_is_welchs_test_and_interval(na, nb, confidence):
    rng = np.random.default_rng(na * 100 + nb)
    for _ in range(5):
        a = rng.normal(0.80, rng.uniform(0.001, 0.05), size=na)
        b = rng.normal(0.79, rng.uniform(0.001, 0.05), size=nb)
        r = welch_mean([(a, b)], confidence)
        ref = sps.ttest_ind(a, b, equal_var=False)
        assert (r.t, r.p, r.df) == pytest.approx((ref.statistic, ref.pvalue, ref.df), rel=1e-9)
        assert (r.low, r.high) == pytest.approx(tuple(ref.confidence_interval(confidence)), rel=1e-10)
        assert r.diff == pytest.approx(np.mean(a) - np.mean(b), rel=1e-12)


def test_welch_mean_is_the_plain_mean_of_the_units_differences():
    rng = np.random.default_rng(3)
    pairs = [(rng.normal(0.8, 0.01, 3), rng.normal(0.79, 0.02, 3)) for _ in range(4)]
    r = welch_mean(pairs)
    assert r.diff == pytest.approx(np.mean([np.mean(a) - np.mean(b) for a, b in pairs]), rel=1e-12)
    assert (r.low + r.high) / 2 == pytest.approx(r.diff, rel=1e-12)
    shifted = [(a + 0.04, b) if i == 0 else (a, b) for i, (a, b) in enumerate(pairs)]  # one unit +4 pts
    s = welch_mean(shifted)
    assert (s.diff, s.low, s.high) == pytest.approx((r.diff + 0.01, r.low + 0.01, r.high + 0.01), rel=1e-12)
    assert s.df == pytest.approx(r.df, rel=1e-12)  # a shift moves no spread


def test_welch_mean_interval_excludes_zero_exactly_when_p_is_below_one_minus_confidence():
    rng = np.random.default_rng(5)
    for _ in range(200):
        pairs = [(rng.normal(0.01, 0.01, 3), rng.normal(0, 0.02, 3)) for _ in range(3)]
        r = welch_mean(pairs, 0.9)
        assert (r.p < 0.1) == (r.low > 0 or r.high < 0)


@pytest.mark.parametrize("units,seeds", [(4, 3), (5, 5)])
def test_welch_mean_covers_the_true_mean_difference_95_percent_of_the_time(units, seeds):
    """Simulated grids (units with their own true Δ and unequal spreads): the interval covers the true mean Δ in
    95% of them (Welch's intervals are a little conservative in small samples: 95.7-96.4% here), so the test
    rejects a true null 5% of the time. A normal quantile instead of t would fall below the bounds at 3 seeds."""
    rng = np.random.default_rng(0)
    sds, deltas = rng.uniform(0.002, 0.02, size=(units, 2)), rng.uniform(-0.02, 0.02, units)
    hits, reps = 0, 3000
    for _ in range(reps):
        pairs = [(rng.normal(deltas[u], sds[u, 0], seeds), rng.normal(0, sds[u, 1], seeds)) for u in range(units)]
        r = welch_mean(pairs)
        hits += r.low <= deltas.mean() <= r.high
    assert 0.94 <= hits / reps <= 0.975


def test_welch_mean_degenerate_cases():
    with pytest.warns(DegenerateInputWarning, match="at least 2"):
        assert all(map(math.isnan, welch_mean([([0.8, 0.7], [0.7, 0.75]), ([0.8], [0.7, 0.75])])))
    with pytest.warns(DegenerateInputWarning, match="same constant"):
        r = welch_mean([([0.8, 0.8, 0.8], [0.8, 0.8]), ([0.7, 0.7], [0.7, 0.7])])
    assert r.diff == pytest.approx(0.0, abs=1e-12) and (r.t, r.p) == (0.0, 1.0) and math.isnan(r.low)
    with pytest.warns(DegenerateInputWarning, match="means differ"):
        r = welch_mean([([0.8, 0.8, 0.8], [0.7, 0.7, 0.7])])
    assert r.t == math.inf and math.isnan(r.p) and math.isnan(r.low)
    with pytest.warns(DegenerateInputWarning, match="means differ"):  # differences that cancel: no direction
        r = welch_mean([([0.8, 0.8], [0.7, 0.7]), ([0.7, 0.7], [0.8, 0.8])])
    assert r.diff == 0.0 and math.isnan(r.t) and math.isnan(r.p)
    with pytest.raises(ValueError, match="no units"):
        welch_mean([])


@pytest.mark.parametrize("bad", [[], [0.8, math.nan], [0.8, math.inf], [[0.8, 0.7]]])
def test_bad_inputs_raise(bad):
    with pytest.raises(ValueError):
        welch_t(bad, [0.7, 0.8])


# -----------------------------------------------------------------------------
# effect sizes, mean/std, variance comparison


def test_cohens_d_and_hedges_g_by_hand():
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0]
    # means 2.5 and 4; sample variances 5/3 and 4; pooled variance (3 * 5/3 + 2 * 4) / 5 = 2.6
    d = -1.5 / math.sqrt(2.6)
    assert cohens_d(a, b) == pytest.approx(d, rel=1e-12)
    j = math.gamma(2.5) / (math.sqrt(2.5) * math.gamma(2.0))  # df = 5
    assert hedges_g(a, b) == pytest.approx(d * j, rel=1e-12)
    assert mean_diff(a, b) == pytest.approx(-1.5)


def test_hedges_correction():
    assert hedges_correction(4) == pytest.approx(math.sqrt(2 / math.pi), rel=1e-12)  # 3 seeds vs 3
    for df in (4, 10, 50):  # the textbook approximation is close, and closer as df grows
        assert hedges_correction(df) == pytest.approx(1 - 3 / (4 * df - 1), rel=3e-3)
    with pytest.raises(ValueError):
        hedges_correction(1)


def test_effect_size_degenerate_cases():
    with pytest.warns(DegenerateInputWarning):
        assert math.isnan(cohens_d([0.8], [0.7, 0.75]))
    with pytest.warns(DegenerateInputWarning):
        assert cohens_d([0.8, 0.8], [0.8, 0.8, 0.8]) == 0.0
    with pytest.warns(DegenerateInputWarning):
        assert hedges_g([0.8, 0.8], [0.8, 0.8, 0.8]) == 0.0
    with pytest.warns(DegenerateInputWarning, match="means differ"):
        assert math.isnan(hedges_g([0.8, 0.8], [0.7, 0.7]))


def test_mean_std():
    m, s = mean_std([1.0, 2.0, 3.0, 4.0])
    assert m == 2.5 and s == pytest.approx(math.sqrt(5 / 3), rel=1e-12)
    m, s = mean_std([0.8])
    assert m == 0.8 and math.isnan(s)
    with pytest.raises(ValueError, match="empty"):
        mean_std([])


def test_variance_ratio_test():
    a, b = [0.800, 0.801, 0.802], [0.70, 0.80, 0.90, 0.75, 0.85]
    ratio, p = variance_ratio_test(a, b)
    assert ratio == pytest.approx(np.var(a, ddof=1) / np.var(b, ddof=1), rel=1e-12)
    assert p == pytest.approx(sps.levene(a, b, center="median").pvalue, rel=1e-12)


def test_variance_ratio_test_has_no_power_with_three_seeds():
    # A's spread is 100x smaller in SD (10^4 in variance), and still p > 0.05: the documented caveat
    ratio, p = variance_ratio_test([0.800, 0.801, 0.802], [0.70, 0.80, 0.90])
    assert ratio == pytest.approx(1e-4, rel=1e-6)
    assert p > 0.1


def test_variance_ratio_test_degenerate_cases():
    with pytest.warns(DegenerateInputWarning):
        assert all(math.isnan(x) for x in variance_ratio_test([0.8], [0.7, 0.75]))
    with pytest.warns(DegenerateInputWarning):
        assert variance_ratio_test([0.8, 0.8, 0.8], [0.7, 0.7]) == (1.0, 1.0)
    with pytest.warns(DegenerateInputWarning, match="Brown-Forsythe"):  # scipy says p = 3e-31
        ratio, p = variance_ratio_test([0.80, 0.81], [0.70, 0.90])
    assert ratio == pytest.approx(0.01**2 / 2 / (0.2**2 / 2)) and math.isnan(p)
    ratio, p = variance_ratio_test([0.8, 0.8, 0.8], [0.70, 0.80, 0.90])
    assert ratio == 0.0 and 0 < p <= 1
    with pytest.warns(DegenerateInputWarning, match="unequal deviations"):  # constant, and 2 values: no test
        ratio, p = variance_ratio_test([0.8, 0.8, 0.8], [0.70, 0.90])
    assert ratio == 0.0 and math.isnan(p)


# -----------------------------------------------------------------------------
# McNemar


def _table(both, b, c, neither):
    """Per-example correctness vectors with the given 2x2 counts."""
    a = [1] * both + [1] * b + [0] * c + [0] * neither
    bb = [1] * both + [0] * b + [1] * c + [0] * neither
    return np.array(a), np.array(bb)


def test_mcnemar_exact_by_hand():
    a, b = _table(30, 10, 2, 5)
    stat, p, nb, nc = mcnemar(a, b)  # b + c = 12 < 25: exact
    assert (nb, nc) == (10, 2) and stat == 2.0
    # 2 * P(X <= 2), X ~ Binomial(12, 1/2) = 2 * (1 + 12 + 66) / 4096
    assert p == pytest.approx(158 / 4096, rel=1e-12)
    assert mcnemar(b, a).p == pytest.approx(p, rel=1e-12)  # symmetric in A and B


def test_mcnemar_chi_square_by_hand():
    a, b = _table(100, 40, 20, 10)
    stat, p, nb, nc = mcnemar(a, b)  # b + c = 60 >= 25: chi-square with continuity correction
    assert (nb, nc) == (40, 20)
    assert stat == pytest.approx((40 - 20 - 1) ** 2 / 60, rel=1e-12)
    # chi-square with 1 df: sf(x) = erfc(sqrt(x / 2))
    assert p == pytest.approx(math.erfc(math.sqrt(361 / 60 / 2)), rel=1e-10)
    # forcing the exact test on the same table
    assert mcnemar(a, b, exact=True).p == pytest.approx(sps.binomtest(40, 60, 0.5).pvalue, rel=1e-12)


def test_mcnemar_switches_at_25_and_balanced_table():
    assert mcnemar(*_table(5, 12, 12, 5)).statistic == 12.0  # 24 discordant: exact, statistic min(b, c)
    stat, p, _, _ = mcnemar(*_table(5, 13, 12, 5))  # 25: chi-square, (|1| - 1)^2 / 25
    assert stat == 0.0 and p == 1.0
    stat, p, _, _ = mcnemar(*_table(5, 15, 15, 5))  # b == c: the correction does not overshoot zero
    assert stat == 0.0 and p == 1.0


def test_mcnemar_no_discordant_pairs():
    a = np.array([1, 0, 1, 1, 0])
    for exact in (None, True, False):
        assert mcnemar(a, a, exact=exact) == (0.0, 1.0, 0, 0)


def test_mcnemar_rejects_non_binary_and_unequal_lengths():
    with pytest.raises(ValueError, match="0/1"):
        mcnemar([1, 0.5], [1, 0])
    with pytest.raises(ValueError, match="same examples"):
        mcnemar([1, 0, 1], [1, 0])


# -----------------------------------------------------------------------------
# Holm


def _holm_slow(p):
    """The formula, written out: adjusted p_(i) = min(1, max_{j <= i} (m - j + 1) p_(j))."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    m = len(p)
    out = [0.0] * m
    for rank, i in enumerate(order):
        out[i] = min(1.0, max((m - j) * p[order[j]] for j in range(rank + 1)))
    return out


def test_holm_textbook_example():
    # sorted: 0.005 * 4 = 0.02, 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, 0.04 * 1 = 0.04 -> max(0.06, 0.04)
    adj = holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adj, [0.03, 0.06, 0.06, 0.02], rtol=1e-12)


def test_holm_caps_at_one_and_is_monotone():
    np.testing.assert_allclose(holm([0.02, 0.6, 0.5]), [0.06, 1.0, 1.0], rtol=1e-12)
    rng = np.random.default_rng(0)
    for m in (1, 2, 5, 17):
        p = rng.uniform(0, 0.2, size=m) ** 2
        adj = holm(p)
        np.testing.assert_allclose(adj, _holm_slow(list(p)), rtol=1e-12)
        order = np.argsort(p)
        assert np.all(np.diff(adj[order]) >= 0) and np.all(adj >= p) and np.all(adj <= 1)


def test_holm_nan_stays_nan_and_does_not_count():
    adj = holm([0.01, math.nan, 0.04, 0.03, 0.005])
    assert math.isnan(adj[1])
    np.testing.assert_allclose(adj[[0, 2, 3, 4]], [0.03, 0.06, 0.06, 0.02], rtol=1e-12)  # m = 4, not 5
    assert np.isnan(holm([math.nan, math.nan])).all()
    assert holm([]).shape == (0,)


def test_holm_rejects_invalid_p():
    with pytest.raises(ValueError):
        holm([0.5, 1.5])


def test_holm_matches_statsmodels():
    from statsmodels.stats import multitest  # a test-only reference, pinned in requirements-dev.txt

    p = np.random.default_rng(1).uniform(0, 0.1, size=12)
    np.testing.assert_allclose(holm(p), multitest.multipletests(p, method="holm")[1], rtol=1e-12)


def test_compare_family():
    ps = [0.01, 0.04, 0.03, 0.005, math.nan]
    rows = [Comparison("amplify", f"rival{i}", "trec", "welch_t", 1.0, p, n=3) for i, p in enumerate(ps)]
    out = compare_family(rows, alpha=0.05)
    assert [r.method_b for r in out] == [r.method_b for r in rows]  # order preserved
    np.testing.assert_allclose([r.p_holm for r in out], [0.03, 0.06, 0.06, 0.02, math.nan], rtol=1e-12)
    assert [r.significant for r in out] == [True, False, False, True, False]
    assert all(math.isnan(r.p_holm) and not r.significant for r in rows)  # inputs untouched
    assert compare_family([]) == []


# -----------------------------------------------------------------------------
# paired bootstrap


def _bootstrap_slow(a, b, n_resamples, seed, confidence, block):
    """One resample at a time with the draws paired_bootstrap documents, pure Python arithmetic."""
    n = len(a)
    delta = sum(x - y for x, y in zip(a, b, strict=True)) / n
    deltas, extreme = [], 0
    for r in range(n_resamples):
        if r % block == 0:
            rng = np.random.default_rng([seed, r // block])
        idx = rng.integers(0, n, size=n, dtype=np.int32)
        d = sum(a[i] - b[i] for i in idx) / n
        deltas.append(d)
        extreme += abs(d - delta) >= abs(delta)
    deltas.sort()

    def quantile(q):  # numpy's default "linear": interpolate at position (B - 1) q
        h = (n_resamples - 1) * q
        lo = math.floor(h)
        hi = min(lo + 1, n_resamples - 1)
        return deltas[lo] + (h - lo) * (deltas[hi] - deltas[lo])

    p = (1 + extreme) / (n_resamples + 1)
    return delta, quantile((1 - confidence) / 2), quantile((1 + confidence) / 2), p


def _two_models(n, acc_a, acc_b, seed):
    rng = np.random.default_rng(seed)
    return (rng.random(n) < acc_a).astype(int), (rng.random(n) < acc_b).astype(int)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 64 resamples, so that a test of a few hundred crosses block boundaries."""
    from bench.stats import monte_carlo

    monkeypatch.setattr(monte_carlo, "BLOCK", 64)
    monte_carlo._kept_block.cache_clear()
    yield monte_carlo
    monte_carlo._kept_block.cache_clear()


@pytest.mark.parametrize("chunk_elements", [1 << 21, 1, 7 * 31, 200 * 31])
def test_bootstrap_matches_slow_loop(small_blocks, monkeypatch, chunk_elements):
    monkeypatch.setattr(small_blocks, "_CHUNK_ELEMENTS", chunk_elements)  # rows per chunk: the draws do not move
    monkeypatch.setattr(small_blocks, "_KEEP_ELEMENTS", 0 if chunk_elements == 1 else 1 << 25)  # kept or afresh
    a, b = _two_models(31, 0.7, 0.6, seed=5)
    ref = _bootstrap_slow(list(a), list(b), n_resamples=200, seed=3, confidence=0.9, block=64)
    res = paired_bootstrap(a, b, n_resamples=200, seed=3, confidence=0.9)
    assert tuple(res[:4]) == pytest.approx(ref, rel=1e-12, abs=1e-15)
    assert (res.mc.B, res.mc.p) == (200, ref[3])


def test_a_grown_test_is_the_test_drawn_at_its_final_size(small_blocks):
    a, b = _two_models(40, 0.7, 0.65, seed=6)
    grown = paired_bootstrap(a, b, n_resamples=100, seed=2).mc.grow(300)
    fresh = paired_bootstrap(a, b, n_resamples=300, seed=2).mc
    assert (grown.k, grown.B, grown.p) == (fresh.k, fresh.B, fresh.p)


def test_counts_are_the_drawn_indices_tallied():
    from bench.stats.monte_carlo import counts

    idx = np.array([[0, 0, 2], [1, 2, 2]], dtype=np.int32)
    np.testing.assert_array_equal(counts(idx, 3), [[2, 0, 1], [0, 1, 2]])


def test_bootstrap_is_reproducible():
    a, b = _two_models(400, 0.8, 0.78, seed=0)
    def boot(seed):
        return tuple(paired_bootstrap(a, b, n_resamples=2000, seed=seed)[:4])

    assert boot(7) == boot(7)
    assert boot(7) != boot(8)


def test_bootstrap_identical_models():
    a, _ = _two_models(300, 0.8, 0.8, seed=1)
    assert tuple(paired_bootstrap(a, a.copy(), n_resamples=1000)[:4]) == (0.0, 0.0, 0.0, 1.0)


def test_bootstrap_clearly_better_model():
    a, b = _two_models(500, 0.9, 0.6, seed=2)
    delta, lo, hi, p, _ = paired_bootstrap(a, b, n_resamples=5000, seed=0)
    assert delta == pytest.approx(a.mean() - b.mean())
    assert 0 < lo < delta < hi
    assert p == 1 / 5001  # no resample as extreme: the smallest p the method can report


def test_bootstrap_null_is_not_significant():
    a, b = _two_models(500, 0.8, 0.8, seed=4)  # same accuracy, independent errors
    _, lo, hi, p, _ = paired_bootstrap(a, b, n_resamples=3000, seed=0)
    assert lo < 0 < hi and p > 0.05


def test_bootstrap_degenerate_and_invalid_inputs():
    with pytest.warns(DegenerateInputWarning, match="at least 2 examples"):
        delta, lo, hi, p, mc = paired_bootstrap([1], [0])
    assert delta == 1.0 and math.isnan(lo) and math.isnan(hi) and math.isnan(p) and mc is None
    with pytest.raises(ValueError, match="same examples"):
        paired_bootstrap([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        paired_bootstrap([1, 2], [1, 0])
    with pytest.raises(ValueError, match="confidence"):
        paired_bootstrap([1, 0], [1, 0], confidence=95)


def test_pool_seeds():
    rng = np.random.default_rng(9)
    seeds_a = (rng.random((3, 200)) < 0.8).astype(int)
    seeds_b = (rng.random((5, 200)) < 0.7).astype(int)  # the seed counts need not match
    pa, pb = pool_seeds(seeds_a), pool_seeds(list(seeds_b))
    np.testing.assert_allclose(pa, seeds_a.mean(axis=0))
    res = paired_bootstrap(pa, pb, n_resamples=1000)
    assert res.delta == pytest.approx(seeds_a.mean() - seeds_b.mean(), rel=1e-12)  # mean of per-seed deltas
    assert res.ci_low < res.delta < res.ci_high
    # pooled fractions with identical seeds on both sides: the tie tolerance keeps p at exactly 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert paired_bootstrap(pa, pa.copy(), n_resamples=500).p == 1.0
    with pytest.raises(ValueError, match="n_seeds"):
        pool_seeds([1, 0, 1])
    with pytest.raises(ValueError, match="0/1"):
        pool_seeds([[1, 0.5]])


def test_stouffer_matches_scipy_on_one_sided_p_values():
    signed = [(0.04, 1.0), (0.30, -1.0), (0.01, 1.0)]
    p, direction = stouffer(signed)
    one_sided = [q / 2 if d > 0 else 1 - q / 2 for q, d in signed]
    ref = sps.combine_pvalues(one_sided, method="stouffer").pvalue  # H1: the asked-about direction
    assert p == pytest.approx(2 * min(ref, 1 - ref)) and direction == 1.0
    assert stouffer([(0.2, 1.0), (0.2, -1.0)]) == (1.0, 0.0)  # opposite effects cancel
    with pytest.raises(ValueError, match="at least one"):
        stouffer([])


def test_total_ratio_test_is_the_ratio_of_totals_and_an_exact_paired_permutation_test():
    """8 rounds: 2^8 = 256 swaps, fewer than the 10,000 resamples, so every pattern is enumerated; the p is the
    share of all swaps whose |statistic| reaches the observed one, enumerated here too."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(110, 5, 8), rng.normal(100, 5, 8)
    e, p, mc = total_ratio_test(a, b)
    assert math.exp(e) == pytest.approx(a.sum() / b.sum())
    flips = np.array(list(itertools.product([False, True], repeat=8)))  # (256, 8): swap round i or not
    stats = np.log(np.where(flips, b, a).sum(1) / np.where(flips, a, b).sum(1))
    assert p == pytest.approx(np.mean(np.abs(stats) >= abs(e) - 1e-12))
    assert mc.is_exact and mc.interval() == (p, p, p)
    assert math.isnan(total_ratio_test(a, a)[1]) and math.isnan(total_ratio_test(a[:1], b[:1])[1])
    with pytest.raises(ValueError, match="per-round times of one length"):
        total_ratio_test(a, b[:5])


def test_deviation_difference_is_what_brown_forsythe_compares():
    a, b = [0.0] * 9 + [10.0], [-3.0, -2.0, -2.0, -1.0, 0.0, 0.0, 1.0, 2.0, 2.0, 3.0]
    assert deviation_difference(a, b) == pytest.approx(1.0 - 1.6)  # A: smaller mean deviation ...
    assert variance_ratio_test(a, b).ratio > 1  # ... and the larger variance
    za, zb = (np.abs(np.asarray(x) - np.median(x)) for x in (a, b))  # Brown-Forsythe = a t-test on these
    t = sps.ttest_ind(za, zb).statistic
    assert t**2 == pytest.approx(sps.levene(a, b, center="median").statistic) and np.sign(t) == -1
