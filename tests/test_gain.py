"""The gain-vs-labelled-examples table and picture (bench/report/gain.py) on made-up records: each cell is the
paired t over seeds that scipy computes, the mean column pairs seeds across datasets, and the files appear."""

from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from amplify.train import TrainConfig
from bench.report import gain
from bench.report.render import render

DATASETS = ("trec-coarse", "mrpc")


def records(sizes=(10, 100, None), seeds=(0, 1, 2), skip=()):
    """none and amplify on two datasets at each size; accuracy = a per-(size, dataset, seed) draw effect plus a
    method effect, so that pairing by seed matters."""
    rng = np.random.default_rng(0)
    out = []
    for k in sizes:
        for d in DATASETS:
            for s in seeds:
                draw = rng.normal(0.6, 0.05)
                for m, effect in (("none", 0.0), ("amplify", 0.01 * (1 + s))):
                    if (k, d, m, s) in skip:
                        continue
                    cfg = TrainConfig(model="tiny", dataset=d, method=m, seed=s, shots=k,
                                      **({"step_budget": 10} if k else {}))
                    out.append((cfg, {"status": "ok", "test_acc": draw + effect}))
    return out


def acc(recs, k, d, m):
    return [res["test_acc"] for cfg, res in sorted(recs, key=lambda r: r[0].seed)
            if (cfg.shots, cfg.dataset, cfg.method) == (k, d, m)]


def test_each_cell_is_scipys_paired_t_interval():
    recs = records()
    cells = {(c["size"], c["column"]): c for c in gain.gain_cells(recs, ("none", "amplify"), DATASETS)}
    assert set(cells) == {(s, c) for s in ("10", "100", "full") for c in (*DATASETS, "mean")}
    for k, label in ((10, "10"), (100, "100"), (None, "full")):
        for d in DATASETS:
            a, b = acc(recs, k, d, "amplify"), acc(recs, k, d, "none")
            ref = sps.ttest_rel(a, b)
            c = cells[label, d]
            assert c["gain"] == pytest.approx(np.mean(np.subtract(a, b)), abs=1e-12)  # 0.01, 0.02, 0.03: 2 points
            assert (c["low"], c["high"]) == pytest.approx(tuple(ref.confidence_interval(0.95)), rel=1e-9)
            assert c["n_seeds"] == 3


def test_mean_column_pairs_each_seed_over_datasets_and_uses_shared_seeds_only():
    recs = records(skip={(10, "mrpc", "none", 2)})  # seed 2 of mrpc's baseline missing at K = 10
    cells = {(c["size"], c["column"]): c for c in gain.gain_cells(recs, ("none", "amplify"), DATASETS)}
    assert cells["10", "mrpc"]["seeds"] == "0 1" and cells["10", "trec-coarse"]["seeds"] == "0 1 2"
    assert cells["10", "mean"]["seeds"] == "0 1"
    per_seed = [np.mean([acc(recs, 10, d, "amplify")[s] - acc(recs, 10, d, "none")[s] for d in DATASETS])
                for s in (0, 1)]
    ref = sps.ttest_1samp(per_seed, 0.0)
    assert (cells["10", "mean"]["low"], cells["10", "mean"]["high"]) == pytest.approx(
        tuple(ref.confidence_interval(0.95)), rel=1e-9)


def test_table_rows_and_missing_cells():
    recs = [r for r in records() if not (r[0].shots == 100 and r[0].dataset == "mrpc")]
    table = gain.gain_table(recs, ("none", "amplify"), DATASETS)
    assert table.headers == ["method", "labels", "trec-coarse", "mrpc", "mean"]
    assert [row[:2] for row in table.rows] == [["amplify", "K = 10"], ["amplify", "K = 100"], ["amplify", "full"]]
    assert table.rows[1][3:] == ["–", "–"]  # no mrpc at K = 100, so no mean either
    assert "[" in table.rows[0][2] and "+2.00 [" in table.rows[0][2]
    assert "Gain over none" in render(table)
    assert "3 seed(s) per cell." in table.notes[0]
    mixed = gain.gain_table(records(skip={(10, "mrpc", "none", 2)}), ("none", "amplify"), DATASETS)
    assert "the number of seeds differs between cells (2, 3; see the CSV)." in mixed.notes[0]


def test_one_seed_has_no_interval():
    table = gain.gain_table(records(seeds=(0,)), ("none", "amplify"), DATASETS)
    assert table.rows[0][2] == "+1.00 (n=1)"


def test_figure_files(tmp_path):
    table = gain.gain_table(records(), ("none", "amplify"), DATASETS)
    notes = gain.write_gain_figure(table, tmp_path)
    csv = (tmp_path / "gain_vs_labels.csv").read_text().splitlines()
    assert csv[0].startswith("method,size,column") and len(csv) == 1 + 9
    try:
        import matplotlib  # noqa: F401
    except ImportError:  # the optional extra: the CSV and how to get the PNG, never a silent skip
        assert not (tmp_path / "gain_vs_labels.png").exists() and "matplotlib" in notes[-1]
    else:
        assert (tmp_path / "gain_vs_labels.png").read_bytes()[:4] == b"\x89PNG"


def test_the_gain_preset_reads_every_committed_run_of_its_three_grids(capsys):
    """Its configs, rebuilt from the three presets, have those grids' keys: every finished clean result of the
    folders is found in place (and nothing is planned into them)."""
    import json

    from bench.compare import main
    from bench.presets import PRESETS

    main(["--preset", "minilm-fewshot-gain", "--dry-run"])
    lines = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith(("ok ", "missing "))]
    found = {Path(words[-1]) for words in lines if words[0] == "ok"}
    expected = set()
    for folder in PRESETS["minilm-fewshot-gain"].options["also_read"]:
        for path in Path(folder).glob("*.json"):
            result = json.loads(path.read_text())
            if result.get("status") == "ok" and not result["config"].get("noise"):
                expected.add(path)
    assert len(expected) >= 225 and found == expected
    assert all(Path(words[-1]).parent.name == "minilm-fewshot-gain" for words in lines if words[0] == "missing")


def test_budget_and_dev_curve_tables_speak_in_steps_under_a_step_budget():
    from bench.report.tables import budget_table, dev_curve_table

    recs = []
    for seed, best in ((0, 40), (1, 20)):
        cfg = TrainConfig(model="tiny", dataset="mrpc", method="none", seed=seed, shots=10, step_budget=40,
                          eval_every=20)
        curve = [{"epoch": 10, "steps": 20, "dev_acc": 0.5}, {"epoch": 20, "steps": 40, "dev_acc": 0.6}]
        recs.append((cfg, {"best_epoch": best // 2, "best_step": best, "epochs": curve}))
    budget = budget_table(recs, ("none",), ("mrpc",))
    assert budget.rows == [["none", "1/2 · 30.0"]] and "best-dev step" in budget.notes[0]
    assert "epoch" not in budget.title
    curves = dev_curve_table(recs, ("none",), ("mrpc",))
    assert curves.headers == ["dataset", "method", "step 20", "step 40"]
    assert "epoch" not in curves.title + " ".join(curves.notes)
    epochs = [(TrainConfig(model="tiny", dataset="mrpc", method="none", seed=0, epochs=2),
               {"best_epoch": 2, "epochs": [{"epoch": 1, "dev_acc": 0.5}, {"epoch": 2, "dev_acc": 0.6}]})]
    assert budget_table(epochs, ("none",), ("mrpc",)).title == "Runs whose best dev epoch was the last one allowed"
    assert dev_curve_table(epochs, ("none",), ("mrpc",)).title == "Dev accuracy per epoch, mean over seeds"


def test_a_few_label_accuracy_table_names_the_majority_class_and_the_best_dev_evaluation():
    from bench.report.tables import accuracy_table

    labels = {"trec-coarse": [0, 1, 1, 2, 1], "mrpc": [1, 0, 1, 1]}  # majorities: 3 of 5, 3 of 4
    recs = [(cfg, {**res, "test_labels": labels[cfg.dataset]}) for cfg, res in records(sizes=(10,))]
    table = accuracy_table(recs, ("none", "amplify"), DATASETS)
    assert table.notes[0].startswith("Test accuracy (%) at the best dev evaluation,")
    assert table.notes[-1] == ("Majority class (always predicting the test set's most frequent class): "
                               "trec-coarse 60.00, mrpc 75.00.")
    full = accuracy_table([(c, {**r, "test_labels": labels[c.dataset]}) for c, r in records(sizes=(None,))],
                          ("none", "amplify"), DATASETS)
    assert full.notes[0].startswith("Test accuracy (%) at the best-dev epoch,")
    assert not any("Majority" in n for n in full.notes)  # the full-data tables (quoted in the docs) stay as they are
