"""
Calibration of predicted class probabilities: NLL, ECE and the Brier score, and a paired bootstrap for them.

Pure functions on arrays: `probs` is (N, C), rows summing to 1; `labels` is (N,) ints in [0, C).
  nll     mean over examples of -log p(true class)                 (lower is better; 0 = certain and right)
  ece     expected calibration error, 15 equal-width bins of the confidence (the top probability):
          Σ_bins (n_bin / N) · |accuracy(bin) - mean confidence(bin)|; bin m holds confidences in
          ((m-1)/15, m/15] (Guo et al. 2017, eq. 3; Naeini et al. 2015)
  brier   mean over examples of Σ_c (p_c - 1[c = y])^2, the multi-class form of Brier (1950); in [0, 2]
NLL and Brier are means of per-example values (`nll_per_example`, `brier_per_example`), so they are paired
over examples like correctness. ECE is not a mean of per-example values: it bins the examples first. Its
per-example form is the signed gap d_i = correct_i - confidence_i and its bin, ECE = (1/N) Σ_bins |Σ_{i in bin}
d_i| (`ece_from_gaps`), which is what the bootstrap resamples.

Several seeds of one method: NLL and Brier per example are averaged over seeds before pairing (as
`pool_seeds` does for correctness); ECE is the mean over seeds of each seed's ECE on the same resampled
examples. Conventions as in the rest of this room (checks.py): empty or non-finite inputs raise ValueError,
a test undefined on its input returns nan with a DegenerateInputWarning.

References: Brier 1950, "Verification of forecasts expressed in terms of probability", Monthly Weather
Review 78; Naeini, Cooper & Hauskrecht 2015, "Obtaining well calibrated probabilities using Bayesian
binning", AAAI; Guo, Pleiss, Sun & Weinberger 2017, "On calibration of modern neural networks", ICML.
The bootstrap's resampling, interval and p-value are those of over_examples.paired_bootstrap.
"""

import math
from typing import NamedTuple

import numpy as np

from bench.stats.checks import _degenerate
from bench.stats.monte_carlo import START, BootstrapCounts, Resampled, resamples

N_BINS = 15
_TINY = 1e-300  # -log(0) would be inf: a probability stored as 0 counts as 1e-300 (NLL 690.8)


def _check(probs, labels):
    p = np.asarray(probs, dtype=float)
    y = np.asarray(labels)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 2:
        raise ValueError(f"probs must be (N, C) with N >= 1 and C >= 2, got shape {p.shape}")
    if y.shape != (p.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be {p.shape[0]} integers, got shape {y.shape} of {y.dtype}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError("probs must be finite and non-negative")
    if np.any((y < 0) | (y >= p.shape[1])):
        raise ValueError(f"labels must lie in [0, {p.shape[1]})")
    return p, y


def nll_per_example(probs, labels):
    p, y = _check(probs, labels)
    return -np.log(np.maximum(p[np.arange(len(y)), y], _TINY))


def brier_per_example(probs, labels):
    p, y = _check(probs, labels)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(y)), y] = 1.0
    return ((p - onehot) ** 2).sum(axis=1)


def confidence_gaps(probs, labels, n_bins=N_BINS):
    """(bin of each example, gap = correct - confidence) with confidence = the top probability and the
    prediction its class (the first of tied top classes, as argmax)."""
    p, y = _check(probs, labels)
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(float)
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)  # ((m-1)/M, m/M] -> m-1
    return bins, correct - conf


def ece_from_gaps(bins, gaps, n_bins=N_BINS):
    sums = np.bincount(bins, weights=gaps, minlength=n_bins)
    return float(np.abs(sums).sum() / len(gaps))


def ece(probs, labels, n_bins=N_BINS):
    bins, gaps = confidence_gaps(probs, labels, n_bins)
    return ece_from_gaps(bins, gaps, n_bins)


def nll(probs, labels):
    return float(nll_per_example(probs, labels).mean())


def brier(probs, labels):
    return float(brier_per_example(probs, labels).mean())


METRICS = {"nll": nll, "ece": ece, "brier": brier}
METRIC_NAMES = {"nll": "NLL", "ece": "ECE", "brier": "Brier"}


def calibration(probs, labels, n_bins=N_BINS):
    """{"nll", "ece", "brier"} of one run."""
    return {"nll": nll(probs, labels), "ece": ece(probs, labels, n_bins), "brier": brier(probs, labels)}


class MetricBootstrap(NamedTuple):
    delta: float
    ci_low: float
    ci_high: float
    p: float
    mc: Resampled | None = None  # the test behind p (bench/stats/monte_carlo.py)


def paired_bootstrap_metric(metric, probs_a, probs_b, labels, n_resamples=START, seed=0, confidence=0.95,
                            n_bins=N_BINS):
    """Paired bootstrap over test examples of delta = metric(A) - metric(B), metric in nll/ece/brier.

    probs_a, probs_b: (n_seeds, N, C) or (N, C), the same N examples in the same order; labels (N,).
    A method's value on a resample is the mean over its seeds of the metric on those examples. The
    resampled indices, the percentile interval and the shift-method p-value are those of
    over_examples.paired_bootstrap (the same resamples for the same seed), so the two agree on NLL when
    given its per-example values (tests/test_calibration.py checks it):
        p = (1 + #{b : |delta*_b - delta| >= |delta|}) / (B + 1);
    `.mc` is the test itself, with its Monte Carlo interval (bench/stats/monte_carlo.py).
    Fewer than 2 examples: (delta, nan, nan, nan, None) with a DegenerateInputWarning.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if not 0 < confidence < 1 or n_resamples < 1:
        raise ValueError("confidence must be in (0, 1) and n_resamples >= 1")
    sides = []
    for probs in (probs_a, probs_b):
        arr = np.asarray(probs, dtype=float)
        arr = arr[None] if arr.ndim == 2 else arr
        if arr.ndim != 3 or arr.shape[1] != len(labels):
            raise ValueError(f"probs must be (n_seeds, N, C) or (N, C) with N = {len(labels)}, got {arr.shape}")
        sides.append(arr)
    n = len(labels)

    if metric in ("nll", "brier"):
        per = nll_per_example if metric == "nll" else brier_per_example
        d = np.mean([per(p, labels) for p in sides[0]], axis=0) - np.mean([per(p, labels) for p in sides[1]], axis=0)

        def stat(counts):  # (m, n) -> (m,)
            return counts @ d / n

        delta = float(d.mean())
    else:
        # Every seed of both sides is a block of n_bins columns of one (N, S * n_bins) matrix: W[i, s, b] is
        # example i's gap under seed s if its confidence falls in bin b, else 0. A resample drawing example i
        # counts[r, i] times then has the bin sums of all seeds at once: counts @ W.
        blocks, weights = [], []
        for side, sign in zip(sides, (1.0, -1.0), strict=True):
            for p in side:
                bins, g = confidence_gaps(p, labels, n_bins)
                w = np.zeros((n, n_bins))
                w[np.arange(n), bins] = g
                blocks.append(w)
                weights.append(sign / len(side))  # ECE of a side = mean over its seeds
        W = np.concatenate(blocks, axis=1)  # (N, S * n_bins)
        weights = np.array(weights)         # (S,)

        def stat(counts):  # (m, n) -> (m,)
            eces = np.abs(counts @ W).reshape(len(counts), -1, n_bins).sum(axis=2) / n  # (m, S): every seed's
            return eces @ weights

        delta = float(stat(np.ones((1, n)))[0])  # the test set itself: every example once
    if n < 2:
        _degenerate(f"paired_bootstrap_metric: need at least 2 examples, got {n}")
        return MetricBootstrap(delta, math.nan, math.nan, math.nan)
    test = Resampled(BootstrapCounts(n), lambda counts: np.abs(stat(counts) - delta) >= abs(delta) - 1e-12, seed)
    deltas = np.concatenate([stat(counts) for counts in resamples(test.source, seed, 0, n_resamples)])
    test.k, test.B = int(np.sum(np.abs(deltas - delta) >= abs(delta) - 1e-12)), n_resamples
    lo, hi = np.quantile(deltas, [(1 - confidence) / 2, (1 + confidence) / 2])
    return MetricBootstrap(delta, float(lo), float(hi), test.p, test)
