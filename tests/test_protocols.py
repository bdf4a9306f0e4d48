"""bench/experiments/protocols.py on made-up runs of both recipes: the two grids are told apart by run key, each
accuracy change is scipy's paired t over the shared seeds, the claims are each grid's own (side by side), and
the stopping table counts what the runs did. Also tuned.stopping_table on its own."""

from dataclasses import asdict

import numpy as np
import pytest
from scipy import stats as sps

from amplify.train import TrainConfig
from bench.experiments.protocols import protocol_configs, protocol_tables, single_configs, split
from bench.experiments.registry import GridSpec, ReportOptions
from bench.experiments.tuned import TUNED_LRS, stopping_table

SPEC = GridSpec(base=TrainConfig(model="tiny"), datasets=("trec-fine",), methods=("none", "amplify", "tmix"),
                seeds=(0, 1, 2))


def result(cfg, acc, epochs_run, best):
    return {"status": "ok", "config": asdict(cfg), "device": "cpu", "test_acc": acc, "mean_step_s": 0.1,
            "epochs": [{"dev_acc": 0.5}] * epochs_run, "best_epoch": best, "best_dev_acc": 0.5}


def records():
    """single: amplify 1 point below none; tuned: amplify 2 points above it; every tuned run +5 points on its
    single-recipe twin of the same seed, with a per-seed wobble so that the pairing matters."""
    out = []
    for cfg in protocol_configs(SPEC):
        tuned = cfg not in single_configs(SPEC)
        wobble = 0.01 * cfg.seed
        base = {"none": 0.80, "amplify": 0.79, "tmix": 0.81}[cfg.method] + wobble
        acc = base + (0.05 + (0.03 if cfg.method == "amplify" else 0.0) + 0.002 * cfg.seed if tuned else 0.0)
        out.append((cfg, result(cfg, acc, epochs_run=cfg.epochs if cfg.seed == 0 else 4, best=cfg.epochs - 1)))
    return out


def test_the_two_grids_are_the_presets_runs_told_apart_by_key():
    recs = records()
    single, tuned = split(recs, SPEC)
    assert len(single) == len(tuned) == 9
    assert {c.epochs for c, _ in single} == {6} and {c.lr for c, _ in single} == {1e-4}
    assert {c.epochs for c, _ in tuned} == {15}
    assert {(c.method, c.lr) for c, _ in tuned} == {(m, TUNED_LRS["trec-fine", m]) for m in SPEC.methods}


def test_each_change_is_the_paired_t_interval_and_the_claims_sit_side_by_side():
    recs = records()
    acc, claims, stop_single, stop_tuned = protocol_tables(recs, SPEC, ReportOptions())
    single, tuned = split(recs, SPEC)
    per_dataset = [r for r in acc.records if r["dataset"] == "trec-fine"]
    assert len(per_dataset) == len(acc.records) == 3  # one dataset: no "mean of" rows, which would repeat it
    for row in per_dataset:
        a = [r["test_acc"] for c, r in tuned if c.method == row["method"]]
        b = [r["test_acc"] for c, r in single if c.method == row["method"]]
        ref = sps.ttest_rel(a, b)
        assert row["change"] == pytest.approx(np.mean(np.subtract(a, b)))
        assert (row["low"], row["high"]) == pytest.approx(tuple(ref.confidence_interval(0.95)))
        assert row["paired_seeds"] == [0, 1, 2]
    line = {r["claim"]: r for r in claims.records}["AMPLIFY is more accurate than none"]
    assert line["single"]["effect"] == pytest.approx(-0.01) and line["tuned"]["effect"] == pytest.approx(0.02)
    assert line["same_verdict"] in (True, False)  # both tested: 3 seeds a method
    assert {r["method"]: r["stopped_early"] for r in stop_tuned.records} == {"none": 2, "amplify": 2, "tmix": 2}


def test_the_mean_rows_average_each_seed_over_the_datasets(monkeypatch):
    for m in SPEC.methods:
        monkeypatch.setitem(TUNED_LRS, ("mrpc", m), 1e-4)
    spec = GridSpec(base=SPEC.base, datasets=("trec-fine", "mrpc"), methods=SPEC.methods, seeds=SPEC.seeds)
    recs = []
    for cfg in protocol_configs(spec):
        tuned = cfg not in single_configs(spec)
        acc = 0.8 + 0.01 * cfg.seed + ((0.05 if cfg.dataset == "mrpc" else 0.02) + 0.003 * cfg.seed if tuned else 0)
        recs.append((cfg, result(cfg, acc, epochs_run=4, best=3)))
    acc = protocol_tables(recs, spec, ReportOptions())[0]
    rows = {(r["dataset"], r["method"]): r for r in acc.records}
    assert len(rows) == 3 * 3
    for m in SPEC.methods:
        mean = rows["mean of 2", m]
        assert mean["change"] == pytest.approx((rows["trec-fine", m]["change"] + rows["mrpc", m]["change"]) / 2)
        assert mean["change"] == pytest.approx(0.035 + 0.003) and mean["paired_seeds"] == [0, 1, 2]


def test_stopping_counts_early_stops_and_runs_still_improving_at_the_end():
    cfg = TrainConfig(model="tiny", method="none", epochs=15)
    recs = [(cfg, result(cfg, 0.8, 15, 15)), (cfg, result(cfg, 0.8, 15, 12)), (cfg, result(cfg, 0.8, 9, 6)),
            (cfg, result(cfg, 0.8, 11, 8))]
    (row,) = stopping_table(recs, ("none", "amplify")).records
    assert row == {"method": "none", "runs": 4, "stopped_early": 2, "stop_epochs": [9, 11],
                   "best_epochs": [15, 12, 6, 8], "best_at_budget_end": 1}
    assert stopping_table(recs, ("none",)).rows[0][3] == "10 (9–11)"


def test_the_preset_finds_every_committed_run_of_both_grids_in_place(capsys):
    """minilm-protocols' configs, rebuilt from the two presets' recipes, have those grids' keys: every finished
    result of minilm-table2 and minilm-tuned is found in place, and nothing is planned into them."""
    import json
    from pathlib import Path

    from bench.compare import main
    from bench.presets import PRESETS

    main(["--preset", "minilm-protocols", "--dry-run"])
    lines = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith(("ok ", "missing "))]
    found = {Path(words[-1]) for words in lines if words[0] == "ok"}
    expected = {path for folder in PRESETS["minilm-protocols"].options["also_read"]
                for path in Path(folder).glob("*.json") if json.loads(path.read_text()).get("status") == "ok"}
    assert len(expected) >= 225 + 14 and found == expected
    assert all(Path(words[-1]).parent.name == "minilm-protocols" for words in lines if words[0] == "missing")
