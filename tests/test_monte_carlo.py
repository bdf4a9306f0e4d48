"""bench/stats/monte_carlo.py: resampled p-values carry a Monte Carlo interval that holds the exact p, a family
is resampled until no Holm verdict depends on the draw, and a test at the threshold is borderline."""

import itertools
import math

import numpy as np
import pytest

from bench.stats.monte_carlo import (
    START,
    BootstrapCounts,
    Exact,
    Resampled,
    SignFlips,
    Stouffer,
    mc_interval,
    settle,
    settled,
    straddles,
)
from bench.stats.multiple_testing import Comparison, compare_family
from bench.stats.over_examples import paired_bootstrap
from bench.stats.over_rounds import total_ratio_test


def exact_bootstrap_p(a, b):
    """The bootstrap's p∞, enumerated: every ordered resample of n examples is equally likely."""
    d = np.asarray(a, float) - np.asarray(b, float)
    n, total = len(d), d.sum()
    idx = np.stack(np.meshgrid(*[np.arange(n)] * n, indexing="ij"), axis=-1).reshape(-1, n)  # (n^n, n)
    sums = d[idx].sum(1)
    return float(np.mean(np.abs(sums - total) >= abs(total) - 1e-9))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_interval_of_a_bootstrap_p_holds_the_enumerated_p(seed):
    a, b = [1, 1, 1, 0, 1, 1, 0], [0, 1, 0, 0, 1, 0, 1]  # 7^7 = 823,543 resamples, all enumerated below
    exact = exact_bootstrap_p(a, b)
    boot = paired_bootstrap(a, b, seed=seed)
    p, lo, hi = boot.mc.interval()
    assert boot.mc.B == START and lo <= exact <= hi
    assert abs(p - exact) < 4 * boot.mc.se + 1 / START  # and the point estimate is within its stated error


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_interval_of_a_permutation_p_holds_the_enumerated_p(seed):
    rng = np.random.default_rng(11)
    a, b = rng.normal(103, 5, 15), rng.normal(100, 5, 15)  # 2^15 > START: resampled, not enumerated
    flips = np.array(list(itertools.product([False, True], repeat=15)))
    stats = np.log(np.where(flips, b, a).sum(1) / np.where(flips, a, b).sum(1))
    exact = float(np.mean(np.abs(stats) >= abs(math.log(a.sum() / b.sum())) - 1e-12))
    test = total_ratio_test(a, b, seed=seed).mc
    assert not test.is_exact and test.B == START
    _, lo, hi = test.interval()
    assert lo <= exact <= hi


def test_mc_interval_is_clopper_pearson():
    from scipy import stats as sps

    lo, hi = mc_interval(30, 1000, level=0.99)
    ref = sps.binomtest(30, 1000).proportion_ci(confidence_level=0.99, method="exact")
    assert (lo, hi) == pytest.approx((ref.low, ref.high))
    assert mc_interval(0, 100)[0] == 0.0 and mc_interval(100, 100)[1] == 1.0


def coin(bits, seed=0):
    """A resampled test whose p∞ is exactly 2^-bits: a resample is extreme when its first `bits` swaps are all on."""
    return Resampled(SignFlips(20), lambda swaps: swaps[:, :bits].all(axis=1), seed)


def test_a_test_at_the_threshold_is_borderline_at_the_cap_and_never_a_verdict():
    alpha = 2.0 ** -4  # the test's p∞ is alpha itself
    for seed in (0, 1, 2):
        at = coin(4, seed).grow(START)
        row = Comparison("a", "b", "d", "bootstrap", 0.0, at.p, mc=at)
        [out] = compare_family(settled([row], alpha, cap=80_000), alpha)
        assert out.n_resamples == 80_000 and out.p_holm_lo <= alpha < out.p_holm_hi
        assert out.borderline and not out.significant


def test_settle_draws_only_for_the_tests_a_verdict_depends_on():
    """Family of three at α = 0.035: p∞ = 2^-10 (Holm x3 = 0.003, clear), 2^-6 (Holm x2 = 0.031, close to α:
    10,000 resamples leave its interval holding α) and an exact 0.9."""
    alpha = 0.035
    clear, close, far = coin(10).grow(START), coin(6).grow(START), Exact(0.9)
    assert straddles(settle([clear, close, far], alpha, cap=START), alpha).tolist() == [False, True, False]
    adjusted = settle([clear, close, far], alpha)
    assert clear.B == START and close.B > START and not straddles(adjusted, alpha).any()
    assert adjusted[1, 2] < alpha  # settled: significant whatever the draw
    assert adjusted[1, 0] == pytest.approx(2 * 2 ** -6, rel=0.1)


def test_grown_tests_share_their_resamples_and_match_a_test_drawn_whole():
    d1, d2 = np.random.default_rng(3).normal(0.05, 1, (2, 40))
    make = lambda d: Resampled(BootstrapCounts(40), lambda c: np.abs(c @ d - d.sum()) >= abs(d.sum()), 5)
    t1, t2 = make(d1).grow(START), make(d2).grow(2 * START)
    from bench.stats.monte_carlo import grow_all

    grow_all([t1, t2], 4 * START)
    w1, w2 = make(d1).grow(4 * START), make(d2).grow(4 * START)
    assert (t1.k, t1.B, t2.k, t2.B) == (w1.k, w1.B, w2.k, w2.B)


def test_stouffer_member_brackets_the_combined_p():
    a, b = coin(3).grow(START), coin(5).grow(START)
    member = Stouffer([a, b], [1.0, 1.0])
    p, lo, hi = member.interval()
    assert lo <= p <= hi and lo < hi and member.leaves == [a, b]
    exact = Stouffer([Exact(0.03), Exact(0.2)], [1.0, -1.0])
    assert exact.interval()[0] == exact.interval()[1] == exact.interval()[2]
    assert Stouffer([a, b], [1.0, -1.0]).interval()[2] <= 1.0


def test_exact_permutation_tests_have_no_monte_carlo_error():
    rng = np.random.default_rng(1)
    r = total_ratio_test(rng.normal(110, 5, 8), rng.normal(100, 5, 8))
    assert r.mc.is_exact and r.mc.se == 0.0 and r.mc.B == 2 ** 8
    row = Comparison("a", "b", "d", "t", 0.0, r.p, mc=r.mc)
    [out] = settled([row], 0.05)
    assert out.n_resamples == 0 and out.p_lo == out.p_hi == r.p
