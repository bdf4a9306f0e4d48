"""
Many tests at once: Holm-Bonferroni adjusted p-values, and the Comparison row a significance table is made of,
Holm-corrected as one family by `compare_family`; and `stouffer`, one p-value from the signed two-sided
p-values of independent units (one test per dataset, say) that ask the same question.

References:
  Holm 1979, "A simple sequentially rejective multiple test procedure", Scand. J. Statistics 6.
  Stouffer, Suchman, DeVinney, Star & Williams 1949, "The American Soldier", vol. 1; Whitlock 2005,
    "Combining probability from independent tests", J. Evolutionary Biology 18 (the weighted z method;
    unlike Fisher's method on two-sided p-values it keeps each unit's direction, so opposite effects cancel).
"""

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps


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
    n: the number of units tested (seeds per group, or test examples). A resampled p carries its Monte Carlo
    interval [p_lo, p_hi] and its number of resamples (bench/stats/monte_carlo.py); an exact or analytic p
    has n_resamples 0 and no interval (nan: the point itself). p_holm (with its interval), significant and
    borderline are filled by `compare_family`; note carries a degenerate-input reason, if any.
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
    p_lo: float = math.nan
    p_hi: float = math.nan
    n_resamples: int = 0
    p_holm_lo: float = math.nan
    p_holm_hi: float = math.nan
    borderline: bool = False
    mc: object = dataclasses.field(default=None, repr=False, compare=False)  # the Resampled test behind p


def compare_family(rows, alpha=0.05):
    """Holm-correct one family of comparisons; returns new rows in the same order, with p_holm and its interval
    set, borderline = (the Holm-adjusted interval holds alpha) and significant = (p_holm <= alpha, not
    borderline). Holm's adjusted p is non-decreasing in every raw p, so adjusting the intervals' ends
    brackets it. A nan p stays nan and is never significant.

    rows: Comparison objects, or any dataclass with the same p fields. Which rows form a family is the
    caller's decision and belongs in the table's caption: usually every comparison the table makes, since
    those are the claims a reader takes from it. Resampled p's should be settled first
    (bench/stats/monte_carlo.settle), so that few rows are left borderline.
    """
    rows = list(rows)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    p = np.array([r.p for r in rows], dtype=float)
    lo = np.array([r.p if math.isnan(r.p_lo) else r.p_lo for r in rows], dtype=float)
    hi = np.array([r.p if math.isnan(r.p_hi) else r.p_hi for r in rows], dtype=float)
    q, q_lo, q_hi = holm(p), holm(lo), holm(hi)
    out = []
    for r, a, b, c in zip(rows, q, q_lo, q_hi, strict=True):
        borderline = bool(b <= alpha < c)
        out.append(dataclasses.replace(r, p_holm=float(a), p_holm_lo=float(b), p_holm_hi=float(c),
                                       borderline=borderline, significant=bool(a <= alpha) and not borderline))
    return out


def stouffer(signed):
    """[(two-sided p, direction)] -> (combined two-sided p, combined direction), every unit weighted alike.

    direction: +1 when the unit's effect points the way asked about, -1 when not (0: no direction). Each
    unit becomes z_i = direction_i * Φ⁻¹(1 - p_i / 2), and Z = Σ z_i / √k is standard normal when no unit
    has an effect; units must be independent. This is Stouffer's method on the one-sided p-values
    p_i / 2 (or 1 - p_i / 2), made two-sided again (tests/test_stats.py checks it against scipy's)."""
    signed = list(signed)
    if not signed:
        raise ValueError("stouffer needs at least one (p, direction) pair")
    z = [d * sps.norm.isf(min(max(p, 1e-300), 1.0) / 2) for p, d in signed]
    big_z = sum(z) / math.sqrt(len(z))
    return float(2 * sps.norm.sf(abs(big_z))), float(np.sign(big_z))
