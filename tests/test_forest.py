"""The forest experiment (bench/report/forest.py): its intervals against scipy's Welch interval and by hand, its
mean rows against the accuracy table, and its files with and without matplotlib."""

import csv
import io
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from amplify.train import TrainConfig
from bench import compare
from bench.experiments import EXPERIMENTS, GridSpec, ReportOptions
from bench.report import forest, plots
from bench.report.tables import accuracy_table

BASE = TrainConfig(model="minilm-l6", epochs=1)
DATASETS = ("trec-coarse", "mrpc", "sst-2")
METHODS = ("none", "tmix", "amplify")
OPTS = ReportOptions(alpha=0.05, n_resamples=100)


def records(seeds=(0, 1, 2, 3), one_seed=()):
    """Test accuracies drawn per (dataset, method): different means and spreads in every cell."""
    rng = np.random.default_rng(7)
    out = []
    for d in DATASETS:
        for i, m in enumerate(METHODS):
            centre, spread = rng.uniform(0.6, 0.9), rng.uniform(0.002, 0.02) * (1 + i)
            for s in seeds[:1] if (m, d) in one_seed else seeds:
                cfg = replace(BASE, dataset=d, method=m, seed=s)
                out.append((cfg, {"status": "ok", "test_acc": float(centre + spread * rng.standard_normal())}))
    return out


def accs(recs, m, d):
    return [100 * res["test_acc"] for cfg, res in sorted(recs, key=lambda r: r[0].seed)
            if cfg.method == m and cfg.dataset == d]


def test_each_dataset_row_is_scipys_welch_interval():
    recs = records()
    rows = [r for r in forest.forest_records(recs, METHODS, DATASETS) if r["dataset"] != forest.MEAN]
    assert [(r["dataset"], r["method"]) for r in rows] == [(d, m) for d in DATASETS for m in METHODS[1:]]
    for r in rows:
        a, b = accs(recs, r["method"], r["dataset"]), accs(recs, "none", r["dataset"])
        ref = stats.ttest_ind(a, b, equal_var=False)
        ci = ref.confidence_interval(0.95)
        assert r["delta_pts"] == pytest.approx(np.mean(a) - np.mean(b), abs=1e-9)
        assert (r["ci_low_pts"], r["ci_high_pts"]) == pytest.approx((ci.low, ci.high), abs=1e-9)
        assert r["welch_p"] == pytest.approx(ref.pvalue, rel=1e-9)
        assert (r["n_seeds"], r["n_seeds_baseline"], r["n_datasets"]) == (4, 4, 1)


def test_mean_rows_are_the_accuracy_tables_mean_and_a_welch_interval_by_hand():
    recs = records()
    mean = {r["method"]: r for r in forest.forest_records(recs, METHODS, DATASETS) if r["dataset"] == forest.MEAN}
    acc = {(r["method"], r["dataset"]): r["mean_acc"] for r in accuracy_table(recs, METHODS, DATASETS).records}
    for m in METHODS[1:]:
        r = mean[m]
        assert r["n_datasets"] == len(DATASETS)
        assert r["delta_pts"] == pytest.approx(100 * (acc[(m, "mean")] - acc[("none", "mean")]), abs=1e-9)
        # by hand: SE of the mean of K differences from every group's var/n; Welch-Satterthwaite df over the groups
        groups = [g for d in DATASETS for g in (accs(recs, m, d), accs(recs, "none", d))]
        v = [np.var(g, ddof=1) / len(g) for g in groups]
        se = np.sqrt(sum(v)) / len(DATASETS)
        df = sum(v) ** 2 / sum(x**2 / (len(g) - 1) for x, g in zip(v, groups, strict=True))
        half = stats.t.ppf(0.975, df) * se
        assert (r["ci_low_pts"], r["ci_high_pts"]) == pytest.approx((r["delta_pts"] - half, r["delta_pts"] + half))


def test_a_cell_with_one_seed_has_no_interval_and_the_table_says_so():
    recs = records(one_seed={("amplify", "mrpc")})
    t = forest.forest_table(forest.forest_records(recs, METHODS, DATASETS))
    row = next(r for r in t.rows if r[:2] == ["mrpc", "amplify"])
    assert row[3] == "–" and row[4] == "1/4"
    mean_row = next(r for r in t.rows if r[:2] == ["mean of 3", "amplify"])
    assert mean_row[3] == "–" and mean_row[4] == "1/4"  # Welch needs 2 seeds in every group of every dataset
    assert next(r for r in t.rows if r[:2] == ["mean of 3", "tmix"])[3].startswith("[")


def test_only_datasets_with_both_methods_count():
    recs = [r for r in records() if not (r[0].dataset == "sst-2" and r[0].method == "none")]
    rows = forest.forest_records(recs, METHODS, DATASETS)
    assert {r["dataset"] for r in rows} == {"trec-coarse", "mrpc", forest.MEAN}
    assert all(r["n_datasets"] == 2 for r in rows if r["dataset"] == forest.MEAN)


def spec():
    return GridSpec(BASE, DATASETS, METHODS, (0, 1, 2, 3))


def test_without_matplotlib_the_csv_and_how_to_get_the_png(tmp_path, monkeypatch):
    monkeypatch.setattr(forest, "figure_class", lambda: None)  # what an install without matplotlib sees
    (t,) = EXPERIMENTS["forest"].tables(records(), spec(), replace(OPTS, out_dir=str(tmp_path)))
    assert [p.name for p in tmp_path.iterdir()] == ["forest.csv"]
    assert "pip install -r requirements-plots.txt (matplotlib)" in t.notes[-1]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "forest.csv").read_text())))
    assert len(rows) == len(t.rows) == (len(DATASETS) + 1) * 2
    assert float(rows[0]["delta_pts"]) == pytest.approx(t.records[0]["delta_pts"])


def test_the_png_or_the_install_message(tmp_path):
    """With matplotlib installed: a PNG, named in the notes. Without: the message, never a silent skip."""
    (t,) = EXPERIMENTS["forest"].tables(records(), spec(), replace(OPTS, out_dir=str(tmp_path)))
    if plots.figure_class() is None:
        assert "matplotlib is not installed" in t.notes[-1] and not list(tmp_path.glob("*.png"))
        return
    assert (tmp_path / "forest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "forest.png" in t.notes[-1]
    assert not list(tmp_path.glob(".*.tmp"))


def test_no_out_dir_writes_nothing_and_the_command_line_knows_it(tmp_path, capsys):
    (t,) = EXPERIMENTS["forest"].tables(records(), spec(), replace(OPTS, out_dir=None))
    assert not any("Wrote" in n for n in t.notes)
    with pytest.raises(SystemExit):
        compare.main(["--help"])
    assert "forest" in capsys.readouterr().out
