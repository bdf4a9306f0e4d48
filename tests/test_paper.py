"""The paper's experiments (bench/experiments/, bench/report/plots.py): which runs each preset makes, the shape and
numbers of its tables on hand-written results, figure4's files with and without matplotlib, and two
end-to-end grids of the tiny model on real TREC data through the command line."""

import csv
import io
import json
import math
from dataclasses import replace

import numpy as np
import pytest

from amplify.train import TrainConfig
from bench import compare
from bench.experiments import EXPERIMENTS, GridSpec, ReportOptions, figure4, reference_bug, table1, table6
from bench.grid.plan import plan, run_key
from bench.report import plots
from bench.report.render import bold, render
from bench.report.speed_files import interleaved_steps

N_TEST = 40
BASE = TrainConfig(model="minilm-l6", epochs=1, dataset="trec-coarse")
OPTS = ReportOptions(alpha=0.05, n_resamples=300)
METHODS = ("none", "embedmix", "sentmix", "tmix", "amplify")


def spec(methods=METHODS, datasets=("trec-coarse",), seeds=(0, 1), base=BASE):
    return GridSpec(base, tuple(datasets), tuple(methods), tuple(seeds))


def result(cfg, acc, step_s=0.1, losses=None):
    """A result dict whose first round(acc * N_TEST) examples (rotated by the seed) are right."""
    labels = np.arange(N_TEST) % 3
    right = np.zeros(N_TEST, bool)
    right[(5 * cfg.seed + np.arange(round(acc * N_TEST))) % N_TEST] = True
    preds = np.where(right, labels, (labels + 1) % 3)
    losses = list(np.linspace(2.0, 1.0, 12)) if losses is None else losses
    return {"status": "ok", "config": {}, "test_acc": float(np.mean(preds == labels)),
            "test_predictions": preds.tolist(), "test_labels": labels.tolist(), "mean_step_s": step_s,
            "train_loss_steps": losses, "epochs": [{"steps": len(losses), "train_time_s": step_s * len(losses)}]}


# -----------------------------------------------------------------------------
# which runs


def test_every_paper_experiment_is_registered_and_in_the_help(capsys):
    for name in ("table1", "table4", "table5", "table6", "figure4", "reference-bug"):
        assert name in EXPERIMENTS
    with pytest.raises(SystemExit):
        compare.main(["--help"])
    out = capsys.readouterr().out
    assert "reference-bug" in out and "--claims" in out and "--figure-steps" in out and "reduced" in out


def test_table1_sweeps_n_draws_and_shares_n5_with_table2():
    cfgs = table1.table1_configs(spec(seeds=(0, 1)))
    assert [c.n_draws for c in cfgs] == [n for n in table1.N_DRAWS for _ in (0, 1)]
    assert {c.method for c in cfgs} == {"amplify"}
    table2 = {run_key(c) for c in EXPERIMENTS["table2"].configs(spec())}
    shared = [c.n_draws for c in cfgs if run_key(c) in table2]
    assert shared == [5, 5]  # n = 5 is table2's amplify run: one results directory trains it once


def test_noise_tables_run_every_method_at_five_levels_and_the_clean_one_is_table2s():
    for kind, exp in (("delete", "table4"), ("swap", "table5")):
        cfgs = EXPERIMENTS[exp].configs(spec())
        assert len(cfgs) == 5 * len(METHODS) * 2
        assert sorted({c.noise_p for c in cfgs}) == [0.0, 0.05, 0.10, 0.15, 0.20]
        assert {c.noise for c in cfgs if c.noise_p > 0} == {kind}
        assert {c.noise for c in cfgs if c.noise_p == 0} == {None}
        clean = {run_key(c) for c in cfgs if c.noise_p == 0}
        assert clean == {run_key(c) for c in EXPERIMENTS["table2"].configs(spec())}
        plan(cfgs, "/nonexistent")  # no two cells share a key


@pytest.mark.parametrize("model,depth,expected", [
    ("bert-base-uncased", 12, [None, [4], [8], [12]]),
    ("minilm-l6", 6, [None, [2], [4], [6]]),
    ("tiny", 2, [None, [1], [2]]),  # 4th and 8th of 12 both land on block 1 of 2: run once
])
def test_table6_scales_the_paper_blocks(model, depth, expected):
    variants = table6.block_variants(replace(BASE, model=model))
    assert [v for v, _ in variants] == expected and variants[0][1] == f"all {depth} blocks"
    if model == "tiny":
        assert variants[1][1] == "block 1 of 2 (paper: 4th, 8th of 12)"
    if model == "bert-base-uncased":
        assert variants[1][1] == "block 4 of 12"
    cfgs = table6.table6_configs(spec(base=replace(BASE, model=model), seeds=(0,)))
    assert [c.amplify_layers for c in cfgs] == expected and {c.method for c in cfgs} == {"amplify"}


def test_table6_reads_the_depth_of_custom_weights(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"num_hidden_layers": 24}))
    assert table6.model_depth(replace(BASE, weights=str(tmp_path))) == 24
    with pytest.raises(ValueError, match="num_hidden_layers"):
        table6.model_depth(replace(BASE, weights=str(tmp_path / "missing")))


def test_reference_bug_runs_each_baseline_both_ways_and_needs_one(tmp_path, capsys):
    cfgs = reference_bug.reference_bug_configs(spec())
    pairs = sorted({(c.method, c.label_perm) for c in cfgs})
    assert pairs == [("amplify", "same"), ("embedmix", "independent"), ("embedmix", "same"), ("none", "same"),
                     ("sentmix", "independent"), ("sentmix", "same"), ("tmix", "independent"), ("tmix", "same")]
    with pytest.raises(SystemExit) as e:
        compare.main(["--experiment", "reference-bug", "--methods", "none", "amplify", "--results", str(tmp_path)])
    assert e.value.code == 2 and "at least one of embedmix" in capsys.readouterr().err


# -----------------------------------------------------------------------------
# tables, on hand-written results


def test_table1_tables():
    accs = {1: [0.50, 0.55], 3: [0.60, 0.60], 5: [0.70, 0.75], 7: [0.70, 0.70], 9: [0.65, 0.70], 20: [0.40, 0.45]}
    records = [(c, result(c, accs[c.n_draws][c.seed])) for c in table1.table1_configs(spec())]
    acc, sig = table1.table1_tables(records, spec(), OPTS)
    assert acc.headers == ["λ draws", "trec-coarse"] and [r[0] for r in acc.rows] == [f"n={n}" for n in table1.N_DRAWS]
    rows = {r[0]: r[1] for r in acc.rows}
    assert rows["n=5"] == bold("72.50 ± 3.54") and rows["n=20"] == "42.50 ± 3.54 (-30.00)"
    assert acc.records[0]["λ draws"] == "n=1"
    assert [r[1] for r in sig.rows] == ["n=1 vs n=5", "n=3 vs n=5", "n=7 vs n=5", "n=9 vs n=5", "n=20 vs n=5"]
    assert "the 5 comparisons of this table" in sig.notes[0]
    assert sig.records[-1]["delta"] == pytest.approx(-0.30)
    assert "n=5 better" in sig.rows[-1][-1]  # 30 points on 40 examples: the paired tests see it


def test_noise_tables_shape_and_robustness_numbers():
    s = spec(methods=("none", "amplify"))
    cfgs = EXPERIMENTS["table4"].configs(s)
    drop = {"none": 0.10, "amplify": 0.025}  # accuracy lost per 5% of deleted words
    records = [(c, result(c, 0.9 - drop[c.method] * round(c.noise_p / 0.05) + 0.025 * c.seed)) for c in cfgs]
    acc, sig, rob = EXPERIMENTS["table4"].tables(records, s, OPTS)
    assert acc.name == "table4-trec-coarse"
    assert acc.headers == ["method", "0% (clean)", "5%", "10%", "15%", "20%"]  # no "mean" over noise levels
    assert [r[0] for r in acc.rows] == ["none", "amplify"]
    assert acc.rows[1][-1] == bold("81.25 ± 1.77") + " (+30.00)"  # 0.80 and 0.825 vs none's 0.50 and 0.525
    assert [r[0] for r in sig.rows] == ["trec-coarse 5%", "trec-coarse 10%", "trec-coarse 15%", "trec-coarse 20%"]
    assert sig.headers[0] == "setting" and "the 4 comparisons" in sig.notes[0]
    assert rob.headers == ["dataset", "method", "5%", "10%", "15%", "20%"]
    assert rob.rows[0][2:] == ["-10.00 ± 0.00 (2)", "-20.00 ± 0.00 (2)", "-30.00 ± 0.00 (2)", "-40.00 ± 0.00 (2)"]
    assert rob.rows[1][-1] == "-10.00 ± 0.00 (2)"
    assert "\x02" not in render(rob, "markdown")


def test_table6_and_reference_bug_tables():
    s = spec(methods=("none", "tmix", "amplify"))
    cfgs = table6.table6_configs(s)
    records = [(c, result(c, 0.8 if c.amplify_layers is None else 0.6 + 0.05 * c.seed)) for c in cfgs]
    acc, sig = table6.table6_tables(records, s, OPTS)
    assert [r[0] for r in acc.rows] == ["all 6 blocks", "block 2 of 6 (paper: 4th of 12)",
                                        "block 4 of 6 (paper: 8th of 12)", "block 6 of 6 (paper: 12th of 12)"]
    assert acc.headers[0] == "AMPLIFY mixes in" and len(sig.rows) == 3
    assert all(r[1].endswith("vs all 6 blocks") for r in sig.rows)

    cfgs = reference_bug.reference_bug_configs(s)
    records = [(c, result(c, {"none": 0.6, "tmix": 0.7, "amplify": 0.8}[c.method]
                          - (0.2 if c.label_perm == "independent" else 0.0) + 0.025 * c.seed)) for c in cfgs]
    acc, sig = reference_bug.reference_bug_tables(records, s, OPTS)
    assert [r[0] for r in acc.rows] == ["none", "tmix", "tmix (released pairing)", "amplify"]
    assert acc.rows[2][1] == "51.25 ± 1.77 (-10.00)"  # Δ vs none
    assert [r[1] for r in sig.rows] == ["tmix (released pairing) vs tmix", "amplify vs tmix",
                                        "amplify vs tmix (released pairing)"]
    assert sig.records[0]["delta"] == pytest.approx(-0.20) and sig.records[2]["delta"] == pytest.approx(0.30)


# -----------------------------------------------------------------------------
# figure4: CSVs always, PNGs with matplotlib, and the install message without it


def figure4_records(s):
    records = []
    for c in EXPERIMENTS["figure4"].configs(s):
        losses = list(1.5 - 0.05 * np.arange(30) + (0.1 if c.method == "none" else 0.0) + 0.01 * c.seed)
        records.append((c, result(c, {"none": 0.6, "tmix": 0.7, "amplify": 0.9}[c.method] + 0.025 * c.seed,
                                  step_s={"none": 0.1, "tmix": 0.12, "amplify": 0.11}[c.method], losses=losses)))
    return records


def test_figure4_without_matplotlib_writes_the_csvs_and_says_how_to_get_the_pngs(tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "figure_class", lambda: None)  # what an install without matplotlib sees
    s = spec(methods=("none", "tmix", "amplify"))
    loss, pv = figure4.figure4_tables(figure4_records(s), s, replace(OPTS, out_dir=str(tmp_path), figure_steps=20))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figure4_loss.csv", "figure4_pvalues.csv"]
    assert "pip install -r requirements-plots.txt (matplotlib) for the PNGs" in loss.notes[-1]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "figure4_loss.csv").read_text())))
    assert len(rows) == 3 * 20  # 3 methods x the first 20 of 30 steps
    first = next(r for r in rows if r["method"] == "none" and r["step"] == "1")
    assert float(first["loss"]) == pytest.approx(1.605) and float(first["cumulative_train_s"]) == pytest.approx(0.1)
    assert [r[:4] for r in loss.rows][0] == ["trec-coarse", "none", "2", "20"]
    assert loss.rows[0][6] == "0.000" and loss.headers[6] == "step-to-step sd"  # these losses fall by 0.05 a step
    assert [r[1] for r in pv.rows] == ["none vs tmix", "none vs amplify", "tmix vs amplify"]
    pvals = list(csv.DictReader(io.StringIO((tmp_path / "figure4_pvalues.csv").read_text())))
    assert {r["a"] + "/" + r["b"] for r in pvals} == {"none/tmix", "none/amplify", "tmix/amplify"}


def test_figure4_pngs_or_the_install_message(tmp_path):
    """With matplotlib installed: both PNGs exist and are PNGs. Without: the message, never a silent skip."""
    s = spec(methods=("none", "tmix", "amplify"))
    loss, _ = figure4.figure4_tables(figure4_records(s), s, replace(OPTS, out_dir=str(tmp_path)))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib is not installed" in loss.notes[-1] and not list(tmp_path.glob("*.png"))
        return
    for name in ("figure4_loss.png", "figure4_pvalues.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and name in loss.notes[-1]
    assert not list(tmp_path.glob(".*.tmp"))


def speed_json(path, data, ms):
    """A bench.speed JSON of `data`'s batches: each variant's step times over 4 rounds."""
    variants = {m: {"times_ms": [t * f for f in (0.9, 1.0, 1.1, 1.2)]} for m, t in ms.items()}
    path.write_text(json.dumps({"schema": 1, "benchmark": "speed", "data": data, "variants": variants,
                                "load_avg_1min": {"before": 1.0, "after": 1.5}}))
    return path


def test_figure4_draws_the_interleaved_step_times_beside_the_runs_timers(tmp_path):
    """--speed: each method's cumulative time at its interleaved median step (IQR in the table), the runs' own
    timers kept beside it; a method the benchmark did not time keeps its timers only."""
    s = spec(methods=("none", "tmix", "amplify"))
    speed = speed_json(tmp_path / "speed-trec.json", "trec-coarse", {"none": 100.0, "amplify": 200.0})
    out = tmp_path / "out"
    loss, _ = figure4.figure4_tables(figure4_records(s), s, replace(OPTS, out_dir=str(out), figure_steps=20,
                                                                     speed=(str(speed),)))
    by = {r["method"]: r for r in loss.records}
    assert by["amplify"]["interleaved_ms_ms"] == pytest.approx(210.0)  # median of 180, 200, 220, 240
    assert (by["amplify"]["interleaved_ms_q1"], by["amplify"]["interleaved_ms_q3"]) == pytest.approx((195.0, 225.0))
    assert "interleaved_ms_ms" not in by["tmix"] and loss.rows[1][-1] == "–"
    assert loss.rows[2][-1] == "210 (195–225)"
    assert str(speed) in loss.notes[3] and "1.0 before, 1.5 after" in loss.notes[3]
    rows = list(csv.DictReader(io.StringIO((out / "figure4_loss.csv").read_text())))
    step3 = {r["method"]: r for r in rows if r["step"] == "3"}
    assert float(step3["none"]["cumulative_train_s_interleaved"]) == pytest.approx(3 * 0.105)
    assert float(step3["none"]["cumulative_train_s"]) == pytest.approx(0.3)  # the runs' timers, as before
    assert step3["tmix"]["cumulative_train_s_interleaved"] == ""


def test_two_speed_files_of_one_dataset_and_method_are_an_error(tmp_path):
    a = speed_json(tmp_path / "speed-a.json", "trec-coarse", {"none": 100.0})
    b = speed_json(tmp_path / "speed-b.json", "trec-coarse", {"none": 90.0})
    s = spec(methods=("none", "tmix"))
    loss, _ = figure4.figure4_tables(figure4_records(s), s, replace(OPTS, speed=(str(a),)))
    assert loss.notes[3].startswith("ms/step, interleaved: the median")  # it times trec-coarse's batches
    other = speed_json(tmp_path / "speed-c.json", "mrpc", {"none": 90.0})
    loss, _ = figure4.figure4_tables(figure4_records(s), s, replace(OPTS, speed=(str(other),)))
    assert loss.notes[3] == f"ms/step, interleaved: none of {other} times these datasets' batches."
    with pytest.raises(ValueError, match="both time none on trec-coarse; pass one of them"):
        interleaved_steps([a, b])
    assert interleaved_steps([tmp_path / "speed-a.json"])["trec-coarse", "none"]["ms"] == pytest.approx(105.0)
    with pytest.raises(SystemExit) as e:  # on the command line: one line, before any report
        compare.main(["--experiment", "figure4", "--report-only", "--results", str(tmp_path),
                      "--speed", str(a), str(b)])
    assert e.value.code == 2


def test_figure4_step_to_step_sd_is_per_run_then_averaged():
    """Two runs swinging by ±0.2 each step, out of phase, and a flat one: per run 0.2, 0.2 and 0, so the cell
    says 0.133, though the mean curve over the three is flat."""
    s = spec(methods=("none",), seeds=(0, 1, 2))
    swings = {0: [1.0, 1.2] * 5 + [1.0], 1: [1.0] * 11, 2: [1.2, 1.0] * 5 + [1.2]}  # 10 changes each
    records = [(c, result(c, 0.7, losses=swings[c.seed])) for c in EXPERIMENTS["figure4"].configs(s)]
    cell = plots.curves(records, ["none"], ["trec-coarse"], steps=11)["trec-coarse", "none"]
    assert cell["jitter"] == pytest.approx(0.4 / 3)
    np.testing.assert_allclose(cell["loss"], [3.2 / 3] * 11)  # the mean curve: flat
    assert math.isnan(plots.curves(records, ["none"], ["trec-coarse"], steps=2)["trec-coarse", "none"]["jitter"])


def test_cumulative_time_is_exact_at_epoch_ends():
    res = {"epochs": [{"steps": 4, "train_time_s": 2.0}, {"steps": 6, "train_time_s": 3.0}]}
    np.testing.assert_allclose(plots.cumulative_time(res), [0.5, 1.0, 1.5, 2.0, 3.5, 5.0])
    np.testing.assert_allclose(plots.smooth([1, 2, 3, 4], 2), [1, 1.5, 2.5, 3.5])


# -----------------------------------------------------------------------------
# end to end: the command line, the tiny model, real TREC data


def tiny_args(results, data_dir, *extra):
    return ["--model", "tiny", "--datasets", "trec-coarse", "--epochs", "1", "--train-limit", "64",
            "--eval-limit", "64", "--max-length", "32", "--batch-size", "16", "--lr", "1e-3",
            "--data-dir", str(data_dir), "--cache-dir", str(results.parent / "cache"), "--results", str(results),
            "--quiet", "--in-process", "--bootstrap", "200", *extra]


def test_table6_end_to_end_on_the_tiny_model(data_dir, tmp_path, capsys):
    code = compare.main(["--experiment", "table6", "--seeds", "0", *tiny_args(tmp_path / "r", data_dir)])
    out = capsys.readouterr().out
    assert code == 0 and "3 runs in" in out and "3 ok, 0 failed, 0 missing" in out
    assert "### Table 6: AMPLIFY mixing in one block only vs in every block" in out
    assert "| block 1 of 2 (paper: 4th, 8th of 12)" in out and "| all 2 blocks" in out
    assert "vs all 2 blocks" in out and "verdict (α=0.05, Holm)" in out


def test_figure4_end_to_end_then_claims_on_the_same_directory(data_dir, tmp_path, capsys):
    args = tiny_args(tmp_path / "r", data_dir, "--methods", "none", "amplify", "--seeds", "0", "1",
                     "--out", str(tmp_path / "out"), "--figure-steps", "3")
    assert compare.main(["--experiment", "figure4", *args]) == 0
    out = capsys.readouterr().out
    assert "### Figure 4: training loss over the first iterations" in out and "figure4_loss.csv" in out
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "figure4_loss.csv").read_text())))
    assert sorted({(r["method"], r["step"]) for r in rows}) == [(m, str(i)) for m in ("amplify", "none")
                                                                for i in (1, 2, 3)]
    assert (tmp_path / "out" / "tables.md").is_file()
    assert compare.main(["--claims", "--results", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "4 result files" in out and "4 runs used" in out and "AMPLIFY is more accurate than none" in out
    assert "not enough evidence (no runs: no unit with both amplify and tmix)" in out
