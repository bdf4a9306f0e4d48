"""NLL, ECE and Brier against small hand-worked examples, and their paired bootstrap."""

import math
from dataclasses import asdict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_claims import claim_rows  # tests/ is on sys.path under pytest's default import mode

from amplify.train import TrainConfig
from bench.stats.calibration import (
    brier,
    brier_per_example,
    calibration,
    ece,
    nll,
    nll_per_example,
    paired_bootstrap_metric,
)
from bench.stats.monte_carlo import ResamplePlan

# four examples, three classes; confidences 0.7, 0.62, 0.5, 0.9 fall in four different 15ths
PROBS = np.array([[0.7, 0.2, 0.1],     # y=0: right, conf 0.70 -> bin (10/15, 11/15]
                  [0.3, 0.62, 0.08],   # y=2: wrong (predicts 1), conf 0.62 -> bin (9/15, 10/15]
                  [0.5, 0.5, 0.0],     # y=1: wrong (a tie predicts the first class, 0), conf 0.5
                  [0.05, 0.9, 0.05]])  # y=1: right, conf 0.90
LABELS = np.array([0, 2, 1, 1])


def test_nll_by_hand():
    per = [-math.log(0.7), -math.log(0.08), -math.log(0.5), -math.log(0.9)]  # 0.3567, 2.5257, 0.6931, 0.1054
    np.testing.assert_allclose(nll_per_example(PROBS, LABELS), per)
    assert nll(PROBS, LABELS) == pytest.approx(3.680912 / 4, abs=1e-6)
    logp = torch.tensor(PROBS).clamp_min(1e-300).log()
    assert nll(PROBS, LABELS) == pytest.approx(F.nll_loss(logp, torch.tensor(LABELS)).item())
    assert nll(np.array([[1.0, 0.0]]), np.array([1])) == pytest.approx(-math.log(1e-300))  # finite, not inf


def test_brier_by_hand():
    per = [0.3**2 + 0.2**2 + 0.1**2,            # 0.14
           0.3**2 + 0.62**2 + 0.92**2,          # 1.3208
           0.5**2 + 0.5**2 + 0.0,               # 0.5
           0.05**2 + 0.1**2 + 0.05**2]          # 0.015
    np.testing.assert_allclose(brier_per_example(PROBS, LABELS), per)
    assert brier(PROBS, LABELS) == pytest.approx(1.9758 / 4)
    assert brier(np.array([[0.0, 1.0]]), np.array([0])) == 2.0  # certain and wrong: the maximum


def test_ece_by_hand():
    # one example per bin: ECE = mean |correct - confidence| = (0.3 + 0.62 + 0.5 + 0.1) / 4
    assert ece(PROBS, LABELS) == pytest.approx(0.38)
    # two examples in one bin, (10/15, 11/15]: accuracy 1/2, confidence 0.71 -> |0.5 - 0.71| = 0.21
    assert ece(np.array([[0.7, 0.3], [0.72, 0.28]]), np.array([0, 1])) == pytest.approx(0.21)
    # calibrated: confidence 0.75, right 3 times in 4
    assert ece(np.tile([0.75, 0.25], (4, 1)), np.array([0, 0, 0, 1])) == pytest.approx(0.0)
    # bins are ((m-1)/15, m/15]: 0.8 = 12/15 shares a bin with 0.79, not with 0.81
    pair = lambda a, b: np.array([[a, 1 - a], [b, 1 - b]])
    assert ece(pair(0.8, 0.79), np.array([0, 1])) == pytest.approx(abs(0.5 - 0.795))
    assert ece(pair(0.8, 0.81), np.array([0, 1])) == pytest.approx((0.2 + 0.81) / 2)


def ece_loop(probs, labels, n_bins=15):
    """Guo et al. 2017, eq. 3, written out."""
    conf, pred = probs.max(1), probs.argmax(1)
    total = 0.0
    for m in range(1, n_bins + 1):
        inside = (conf > (m - 1) / n_bins) & (conf <= m / n_bins)
        if inside.any():
            total += inside.sum() / len(labels) * abs((pred[inside] == labels[inside]).mean() - conf[inside].mean())
    return total


def test_ece_equals_the_textbook_loop_on_random_predictions():
    rng = np.random.default_rng(0)
    for c in (2, 6, 50):
        logits = rng.normal(0, 3, (300, c))
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        labels = rng.integers(0, c, 300)
        assert ece(probs, labels) == pytest.approx(ece_loop(probs, labels), abs=1e-12)
    assert calibration(PROBS, LABELS) == {"nll": nll(PROBS, LABELS), "ece": ece(PROBS, LABELS),
                                          "brier": brier(PROBS, LABELS)}


@pytest.mark.parametrize("bad", [np.zeros((0, 3)), np.array([[0.5, np.nan]]), np.array([0.5, 0.5])])
def test_bad_inputs_raise(bad):
    with pytest.raises(ValueError):
        nll(bad, np.zeros(len(bad), dtype=int))


def random_probs(rng, n, c, sharp):
    logits = rng.normal(0, sharp, (n, c))
    return np.exp(logits) / np.exp(logits).sum(1, keepdims=True)


def test_bootstrap_of_nll_is_the_accuracy_bootstrap_on_per_example_values():
    from bench.stats.over_examples import paired_bootstrap

    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 120)
    # p(true class) in [e^-1, 1], so per-example NLL lies in [0, 1], paired_bootstrap's domain
    pa = rng.uniform(math.exp(-1), 1, 120)
    pb = rng.uniform(math.exp(-1), 1, 120)
    probs = lambda p: np.where(np.arange(2)[None] == labels[:, None], p[:, None], 1 - p[:, None])
    ours = paired_bootstrap_metric("nll", probs(pa), probs(pb), labels, n_resamples=2000, seed=3)
    ref = paired_bootstrap(-np.log(pa), -np.log(pb), n_resamples=2000, seed=3)
    np.testing.assert_allclose(ours[:4], ref[:4], rtol=1e-9, atol=1e-12)
    assert (ours.mc.k, ours.mc.B) == (ref.mc.k, ref.mc.B)


def test_bootstrap_of_ece_recomputes_ece_on_each_resample_averaged_over_seeds():
    rng = np.random.default_rng(2)
    n, c = 60, 4
    labels = rng.integers(0, c, n)
    a = np.stack([random_probs(rng, n, c, 2.0) for _ in range(2)])  # two seeds
    b = random_probs(rng, n, c, 0.5)                                 # one seed
    got = paired_bootstrap_metric("ece", a, b, labels, n_resamples=300, seed=5)
    draw = np.random.default_rng([5, 0]).integers(0, n, size=(300, n), dtype=np.int32)  # block 0, one chunk
    deltas = np.array([np.mean([ece(s[i], labels[i]) for s in a]) - ece(b[i], labels[i]) for i in draw])
    delta = np.mean([ece(s, labels) for s in a]) - ece(b, labels)
    assert got.delta == pytest.approx(delta)
    assert got.p == pytest.approx((1 + np.sum(np.abs(deltas - delta) >= abs(delta) - 1e-12)) / 301)
    assert (got.ci_low, got.ci_high) == pytest.approx(tuple(np.quantile(deltas, [0.025, 0.975])))
    same = paired_bootstrap_metric("brier", a, a, labels, n_resamples=100)
    assert same.delta == 0.0 and same.p == 1.0


# -----------------------------------------------------------------------------
# the calibration tables and claim 6, on hand-written results


N = 40
LAB = np.arange(N) % 2
P_TRUE = {"none": 0.60, "amplify": 0.80, "labelsmooth": 0.75}  # probability of the true class, before jitter
JIT = (-0.02, 0.0, 0.02)


def probs_for(method, seed):
    """Every example right with p(true) = P_TRUE + seed jitter, except examples 0..3, wrong at that confidence."""
    p = np.full(N, P_TRUE[method] + JIT[seed])
    p_true = np.where(np.arange(N) < 4, 1 - p, p)
    return np.where(np.arange(2)[None] == LAB[:, None], p_true[:, None], 1 - p_true[:, None])


def fake_result(cfg, with_probs=True):
    from amplify.results import pack_log_probs

    probs = probs_for(cfg.method, cfg.seed)
    preds = probs.argmax(1)
    res = {"status": "ok", "config": asdict(cfg), "device": "cpu", "test_acc": float(np.mean(preds == LAB)),
           "mean_step_s": 0.1, "test_predictions": preds.tolist(), "test_labels": LAB.tolist()}
    if with_probs:
        res["test_probs"] = pack_log_probs(np.log(probs))
    return res


def records(methods=("none", "amplify", "labelsmooth"), old=()):
    """(cfg, result) for 3 seeds of each method on TREC-coarse; methods in `old` stored no probabilities."""
    out = []
    for m in methods:
        for s in range(3):
            cfg = TrainConfig(model="tiny", method=m, dataset="trec-coarse", seed=s, epochs=1)
            out.append((cfg, fake_result(cfg, with_probs=m not in old)))
    return out


def test_calibration_table_numbers_and_na_for_old_results():
    from bench.report.calibration import calibration_table

    t = calibration_table(records(old=("labelsmooth",)), ["none", "amplify", "labelsmooth"], ["trec-coarse"])
    recs = {r["method"]: r for r in t.records}
    for m in ("none", "amplify"):
        per_seed = [nll(probs_for(m, s), LAB) for s in range(3)]
        # the float16 log-probabilities cost at most ~1e-3 relative
        assert recs[m]["nll_mean"] == pytest.approx(np.mean(per_seed), rel=2e-3)
        assert recs[m]["nll_std"] == pytest.approx(np.std(per_seed, ddof=1), rel=2e-2)
        assert recs[m]["ece_mean"] == pytest.approx(np.mean([ece(probs_for(m, s), LAB) for s in range(3)]), abs=1e-3)
        assert recs[m]["brier_mean"] == pytest.approx(np.mean([brier(probs_for(m, s), LAB) for s in range(3)]),
                                                      rel=2e-3)
        assert recs[m]["n_seeds"] == 3
    assert recs["amplify"]["nll_delta_vs_none"] == pytest.approx(recs["amplify"]["nll_mean"] - recs["none"]["nll_mean"])
    assert t.rows[2] == ["trec-coarse", "labelsmooth", "n/a", "n/a", "n/a", "0/3"]
    assert recs["labelsmooth"]["n_seeds"] == 0 and math.isnan(recs["labelsmooth"]["nll_mean"])


def test_calibration_significance_is_welch_and_bootstrap_with_holm_per_metric_and_test():
    from amplify.results import read_probs
    from bench.report.calibration import calibration_significance_table
    from bench.stats.multiple_testing import holm
    from bench.stats.over_seeds import welch_t

    recs = records()
    t = calibration_significance_table(recs, ["none", "amplify", "labelsmooth"], ["trec-coarse"],
                                       resampling=ResamplePlan(500, 0, 500))
    # family: labelsmooth vs none, amplify vs none, amplify vs labelsmooth; x 3 metrics
    assert [(r["method_a"], r["method_b"], r["metric"]) for r in t.records][:3] == [
        ("amplify", "none", "nll"), ("amplify", "none", "ece"), ("amplify", "none", "brier")]
    assert len(t.records) == 9
    stored = {(c.method, c.seed): read_probs(r) for c, r in recs}
    per_seed = lambda m: [nll(stored[(m, s)], LAB) for s in range(3)]
    nll_rows = [r for r in t.records if r["metric"] == "nll"]
    raw = [welch_t(per_seed(r["method_a"]), per_seed(r["method_b"])).p for r in nll_rows]
    np.testing.assert_allclose([r["welch_p"] for r in nll_rows], raw)
    np.testing.assert_allclose([r["welch_p_holm"] for r in nll_rows], holm(raw))
    a = np.stack([stored[("amplify", s)] for s in range(3)])
    b = np.stack([stored[("none", s)] for s in range(3)])
    boot = paired_bootstrap_metric("nll", a, b, LAB, n_resamples=500, seed=0)
    assert nll_rows[0]["bootstrap_p"] == boot.p and nll_rows[0]["boot_delta"] == boot.delta
    amp_none = t.rows[0]
    assert amp_none[:3] == ["trec-coarse", "amplify vs none", "NLL"] and amp_none[-1].endswith("amplify lower")


def test_claim_6_from_stored_probabilities(tmp_path, capsys):
    from amplify.results import write_json_atomic
    from bench import compare
    from bench.grid.plan import Run

    for cfg, res in records(methods=("none", "amplify")):  # no labelsmooth runs
        write_json_atomic(Run.of(cfg, tmp_path).path, res)
    assert compare.main(["--claims", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = claim_rows(out)
    nll_line = rows["AMPLIFY is better calibrated than none (NLL)"]
    assert nll_line[0].startswith("NLL Δ -") and nll_line[2] == "Welch over seeds, NLL" and nll_line[-1] == "supported"
    low, high = map(float, nll_line[1].strip("[]").split(","))  # the 95% interval: all of it below 0
    assert low < high < 0
    assert rows["AMPLIFY is better calibrated than none (ECE)"][0].startswith("ECE Δ ")
    assert rows["AMPLIFY is better calibrated than labelsmooth (Brier)"][-1] == (
        "not enough evidence (no runs: no unit with stored test probabilities of both amplify and labelsmooth)")


def test_claim_6_without_stored_probabilities_says_no_runs(tmp_path, capsys):
    from amplify.results import write_json_atomic
    from bench import compare
    from bench.grid.plan import Run

    for cfg, res in records(methods=("none", "amplify"), old=("none", "amplify")):
        write_json_atomic(Run.of(cfg, tmp_path).path, res)
    assert compare.main(["--claims", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = claim_rows(out)
    for metric in ("NLL", "ECE", "Brier"):
        assert rows[f"AMPLIFY is better calibrated than none ({metric})"][-1] == (
            "not enough evidence (no runs: no unit with stored test probabilities of both amplify and none)")
    assert rows["AMPLIFY is more accurate than none"][4] == "1.000"  # the older results still count for accuracy
