"""bench.compare's report from hand-written results, its command line, presets and output formats.

The fixture results are written by `write_fixture` below rather than stored as JSON files: a run's file
name holds a hash of the full TrainConfig, so stored files would turn into "other configurations" the
day TrainConfig gains a field. The numbers are chosen by hand so that every table cell can be checked.
"""

import csv
import io
import json
from dataclasses import asdict, replace

import numpy as np
import pytest
from scipy import stats as sps

from amplify.train import TrainConfig
from bench import compare, presets
from bench.experiments.recipe import LRS
from bench.experiments.tuned import TUNED_LRS
from bench.grid.plan import plan
from bench.report.render import render
from bench.report.significance import ensemble_predictions, family
from bench.stats.monte_carlo import ResamplePlan
from bench.stats.multiple_testing import holm
from bench.stats.over_examples import mcnemar, paired_bootstrap

N_TEST = 20
# per dataset, per method: the test accuracy of seeds 0, 1, 2 (multiples of 1/20) and the step time
ACCS = {
    "trec-coarse": {"none": [0.70, 0.75, 0.80], "tmix": [0.75, 0.75, 0.80], "amplify": [0.85, 0.80, 0.90]},
    "sst-2": {"none": [0.90, 0.90, 0.95], "tmix": [0.95, 0.95, 1.00], "amplify": [0.90, 0.85, 0.90]},
}
STEP_S = {"none": 0.100, "tmix": 0.120, "amplify": 0.110}
METHODS, DATASETS, SEEDS = ["none", "tmix", "amplify"], ["trec-coarse", "sst-2"], [0, 1, 2]
BASE = ["--model", "tiny", "--epochs", "1", "--methods", *METHODS, "--datasets", *DATASETS, "--seeds", "0", "1", "2"]


def predictions(acc, method, seed):
    """Labels are i % 2; the first round(acc * N) examples, rotated by a per-run offset, are right."""
    labels = np.arange(N_TEST) % 2
    right = np.zeros(N_TEST, bool)
    start = (3 * seed + 7 * METHODS.index(method)) % N_TEST
    right[(start + np.arange(round(acc * N_TEST))) % N_TEST] = True
    return np.where(right, labels, 1 - labels), labels


def result_for(cfg, status="ok"):
    acc = ACCS[cfg.dataset][cfg.method][cfg.seed]
    preds, labels = predictions(acc, cfg.method, cfg.seed)
    step = STEP_S[cfg.method] * (2 if cfg.dataset == "sst-2" else 1)
    res = {"schema": 1, "status": status, "error": None, "config": asdict(cfg), "device": "cpu", "dtype": "fp32",
           "test_acc": float(np.mean(preds == labels)), "best_epoch": 1, "test_predictions": preds.tolist(),
           "test_labels": labels.tolist(), "mean_step_s": step, "samples_per_s": cfg.batch_size / step,
           "train_time_s": 100 * step, "wall_time_s": 120 * step, "peak_memory_mb": 500.0 + cfg.seed,
           "env": {"git_commit": "abc", "torch_threads": 2}, "data": {"source": {"files": [{"sha256": "f"}]}}}
    if status == "failed":
        res.update(error="NonFiniteLoss: loss became nan near step 3\nmore detail", test_acc=None)
    return res


def write_fixture(results_dir, skip=(), fail=()):
    """Result files for the grid of BASE in results_dir; `skip` / `fail`: (dataset, method, seed) left out /
    recorded as failed."""
    _, args = compare.parse([*BASE, "--results", str(results_dir)])
    _, _, runs = compare.make_plan(args)
    for run in runs:
        cell = (run.cfg.dataset, run.cfg.method, run.cfg.seed)
        if cell in skip:
            continue
        run.path.parent.mkdir(parents=True, exist_ok=True)
        run.path.write_text(json.dumps(result_for(run.cfg, "failed" if cell in fail else "ok")))
    return runs


def report_md(tmp_path, capsys, *extra):
    code = compare.main([*BASE, "--results", str(tmp_path / "r"), "--report-only", *extra])
    return code, capsys.readouterr().out


def table_rows(text, title):
    """The rows of one markdown table of the report, as lists of stripped cells."""
    block = text.split(f"### {title}")[1].split("\n\n")[1]
    return [[c.strip() for c in line.strip("|").split("|")] for line in block.splitlines()[2:]]


def test_accuracy_table_numbers(tmp_path, capsys):
    write_fixture(tmp_path / "r")
    code, out = report_md(tmp_path, capsys)
    assert code == 0 and "18 runs in" in out and "18 ok, 0 failed, 0 missing" in out
    rows = {r[0]: r[1:] for r in table_rows(out, "Test accuracy per method and dataset")}
    # trec-coarse: none 75 ± 5, tmix 76.67 ± 2.89, amplify 85 ± 5 (best); sst-2: tmix best
    assert rows["none"][0] == "75.00 ± 5.00"
    assert rows["tmix"][0] == "76.67 ± 2.89 (+1.67)"
    assert rows["amplify"][0] == "**85.00 ± 5.00** (+10.00)"
    assert rows["none"][1] == "91.67 ± 2.89"
    assert rows["tmix"][1] == "**96.67 ± 2.89** (+5.00)"
    assert rows["amplify"][1] == "88.33 ± 2.89 (-3.33)"
    # mean column: the average of the dataset means; amplify and tmix tie at the printed precision: both bold
    assert rows["none"][2] == "83.33"
    assert rows["amplify"][2] == "**86.67** (+3.33)" and rows["tmix"][2] == "**86.67** (+3.33)"
    assert "3 seed(s) per cell" in out


def test_significance_table_against_scipy(tmp_path, capsys):
    from bench.report.significance import significance_table

    runs = write_fixture(tmp_path / "r")
    records = [(r.cfg, json.loads(r.path.read_text())) for r in runs]
    table = significance_table(records, METHODS, DATASETS, alpha=0.05, resampling=ResamplePlan(2000, 0, 2000))
    assert family(METHODS) == [("tmix", "none"), ("amplify", "none"), ("amplify", "tmix")]
    assert len(table.records) == 6  # 3 comparisons x 2 datasets
    welch = []
    for rec in table.records:
        a, b = ACCS[rec["dataset"]][rec["method_a"]], ACCS[rec["dataset"]][rec["method_b"]]
        ref = sps.ttest_ind(a, b, equal_var=False)
        assert rec["welch_p"] == pytest.approx(ref.pvalue, rel=1e-9)
        assert rec["delta"] == pytest.approx(np.mean(a) - np.mean(b))
        welch.append(ref.pvalue)
        # the bootstrap on seed-averaged correctness, McNemar on the seed ensembles
        cor = {}
        ens = {}
        for m in (rec["method_a"], rec["method_b"]):
            pl = [predictions(acc, m, s) for s, acc in enumerate(ACCS[rec["dataset"]][m])]
            cor[m] = np.mean([p == lab for p, lab in pl], axis=0)
            ens[m] = ensemble_predictions([p for p, _ in pl]) == pl[0][1]
        boot = paired_bootstrap(cor[rec["method_a"]], cor[rec["method_b"]], n_resamples=2000, seed=0)
        assert rec["bootstrap_p"] == boot.p and rec["boot_ci_low"] == boot.ci_low
        assert rec["mcnemar_p"] == mcnemar(ens[rec["method_a"]], ens[rec["method_b"]]).p
    np.testing.assert_allclose([r["welch_p_holm"] for r in table.records], holm(welch))
    for rec, row in zip(table.records, table.rows, strict=True):
        sig = [t for t in ("welch", "bootstrap", "mcnemar") if rec[f"{t}_p_holm"] <= 0.05]
        assert rec["verdict"] == row[-1]
        assert (row[-1] == "not significant") == (not sig)
    assert "6 comparisons" in table.notes[0]


def test_verdict_names_surviving_tests_and_direction(tmp_path):
    from bench.report.significance import significance_table

    cfg = TrainConfig(model="tiny", dataset="trec-coarse")
    labels = np.arange(200) % 2
    records = []
    for method, n_right in (("none", 100), ("amplify", 190)):  # a difference no test can miss
        for seed in range(3):
            preds = labels.copy()
            preds[n_right + seed:] = 1 - preds[n_right + seed:]
            records.append((replace(cfg, method=method, seed=seed),
                            {"test_acc": float(np.mean(preds == labels)), "test_predictions": preds.tolist(),
                             "test_labels": labels.tolist()}))
    t = significance_table(records, ["none", "amplify"], ["trec-coarse"], resampling=ResamplePlan(500, 0, 500))
    assert t.rows[0][-1] == "significant (Welch, bootstrap, McNemar): amplify better"
    assert "Surviving: trec-coarse: amplify vs none" in t.notes[3]


def test_one_seed_says_welch_is_not_available(tmp_path, capsys):
    write_fixture(tmp_path / "r")
    code = compare.main([*BASE[:-3], "0", "--results", str(tmp_path / "r"), "--report-only"])
    out = capsys.readouterr().out
    assert code == 0
    rows = table_rows(out, "Significance of the differences")
    assert all(r[3] == "n/a (1 seed)" and r[4] == "n/a" and r[9] == "n/a" for r in rows)
    summary = table_rows(out, "Summary: accuracy, significance vs none and calibration")
    assert all(r[5] == "n/a" for r in summary if r[1] != "none")  # Welch Holm p: the significance table's n/a
    assert "Welch's test and g are n/a where a method has one seed" in out
    assert "| none     | 75.00" not in out and "70.00" in out  # seed 0 only, no std


def test_summary_gathers_the_other_tables(tmp_path, capsys):
    """One line per dataset and method: the accuracy table's cell, the significance table's Holm p of the method vs
    none, the calibration table's means; nothing computed twice, nothing new."""
    write_fixture(tmp_path / "r")
    _, out = report_md(tmp_path, capsys)
    summary = {(r[0], r[1]): r[2:] for r in table_rows(out, "Summary: accuracy, significance vs none and calibration")}
    acc = {r[0]: r[1:] for r in table_rows(out, "Test accuracy per method and dataset")}
    sig = {(r[0], r[1]): r for r in table_rows(out, "Significance of the differences")}
    assert len(summary) == len(acc) * 2 and summary[("trec-coarse", "none")][3:6] == ["", "", ""]
    for (d, m), (text, seeds, delta, welch, boot, mc, nll, ece, brier) in summary.items():
        cell = acc[m][0 if d == "trec-coarse" else 1]
        assert cell.startswith(text) and seeds == "3"
        if m != "none":
            assert cell.endswith(f"({delta})")
            row = sig[(d, f"{m} vs none")]
            assert (row[2], row[4], row[6], row[8]) == (delta, welch, boot, mc)
        assert (nll, ece, brier) == ("n/a", "n/a", "n/a")  # the fixture stores no probabilities


def test_cost_table(tmp_path, capsys):
    write_fixture(tmp_path / "r")
    _, out = report_md(tmp_path, capsys)
    rows = {r[0]: r[1:] for r in table_rows(out, "Cost per method")}
    assert rows["none"][:2] == ["6", "150.0"]  # mean of 100 ms (trec) and 200 ms (sst-2)
    assert rows["none"][-1] == "–" and rows["tmix"][-1] == "+20.0%" and rows["amplify"][-1] == "+10.0%"
    assert rows["amplify"][5] == "502"  # the largest peak over the runs


def test_budget_table_counts_runs_that_peaked_in_their_last_allowed_epoch():
    from dataclasses import replace

    from bench.report.tables import budget_table

    _, args = compare.parse([*BASE, "--results", "unused"])
    _, _, runs = compare.make_plan(args)
    best = {"none": [3, 2, 1], "tmix": [3, 3, 2], "amplify": [1, 1, 1]}  # per seed; budget 3 epochs
    records = []
    for run in runs:
        cfg = replace(run.cfg, epochs=3)
        res = result_for(cfg)
        res["best_epoch"] = best[cfg.method][cfg.seed] if cfg.dataset == "trec-coarse" else 3
        records.append((cfg, res))
    t = budget_table(records, METHODS, DATASETS)
    assert t.headers == ["method", *DATASETS, "all"]
    rows = {r[0]: r[1:] for r in t.rows}
    assert rows["none"] == ["1/3 · 2.0", "3/3 · 3.0", "4/6"]
    assert rows["tmix"] == ["2/3 · 2.7", "3/3 · 3.0", "5/6"]
    assert rows["amplify"] == ["0/3 · 1.0", "3/3 · 3.0", "3/6"]
    assert "epoch 3, the recipe's budget" in t.notes[0]
    one = budget_table([r for r in records if r[0].dataset == "trec-coarse"], METHODS, ["trec-coarse"])
    assert one.headers == ["method", "trec-coarse"] and one.rows[0] == ["none", "1/3 · 2.0"]


def test_dev_curve_table_averages_each_epoch_over_the_runs_that_trained_it():
    from bench.report.tables import dev_curve_table

    _, args = compare.parse([*BASE, "--results", "unused"])
    _, _, runs = compare.make_plan(args)
    curves = {0: [0.5, 0.7, 0.8], 1: [0.6, 0.8], 2: [0.4, 0.6, 0.9]}  # seed 1 stopped early, after epoch 2
    records = []
    for run in runs:
        res = result_for(run.cfg)
        if run.cfg.method != "tmix":  # tmix's results carry no per-epoch record: no row
            res["epochs"] = [{"epoch": e + 1, "dev_acc": acc} for e, acc in enumerate(curves[run.cfg.seed])]
        records.append((run.cfg, res))
    t = dev_curve_table(records, METHODS, DATASETS)
    assert t.headers == ["dataset", "method", "epoch 1", "epoch 2", "epoch 3"]
    assert [r[:2] for r in t.rows] == [[d, m] for d in DATASETS for m in METHODS if m != "tmix"]
    assert t.rows[0][2:] == ["50.00", "70.00", "85.00 (2)"]  # epoch 3: mean of seeds 0 and 2 only
    assert t.records[2] == {"dataset": DATASETS[0], "method": METHODS[0], "epoch": 3,
                            "mean_dev_acc": pytest.approx(85.0), "runs": 2}
    assert dev_curve_table([(cfg, result_for(cfg)) for cfg, _ in records], METHODS, DATASETS).rows == []


def test_failed_missing_and_stale_runs_are_reported(tmp_path, capsys):
    runs = write_fixture(tmp_path / "r", skip={("sst-2", "tmix", 2)}, fail={("trec-coarse", "amplify", 1)})
    stale = next(r for r in runs if r.label == "sst-2/none/s0")
    stored = json.loads(stale.path.read_text())
    stored["config"]["lr"] = 1.0  # a file whose contents are not the run its name says
    stale.path.write_text(json.dumps(stored))
    (tmp_path / "r" / "sst-2-none-s0-000000000000.json").write_text("{}")  # another config's file
    code, out = report_md(tmp_path, capsys)
    assert code == 1
    assert "18 runs in" in out and "15 ok, 1 failed, 1 missing, 1 stale" in out
    assert "sst-2/tmix/s2" in out and "sst-2/none/s0" in out and "1 other result file(s)" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("Finished per dataset: "))
    assert "sst-2 7 of 9" in line and "trec-coarse 8 of 9" in line and "complete" not in line
    rows = table_rows(out, "Failed runs (1)")
    assert rows[0][:4] == ["trec-coarse", "amplify", "1", "NonFiniteLoss: loss became nan near step 3"]
    acc = {r[0]: r[1:] for r in table_rows(out, "Test accuracy per method and dataset")}
    assert acc["amplify"][0] == "**87.50 ± 3.54** (+12.50)"  # seeds 0 and 2 only (0.85, 0.90) vs none's 75
    assert "the number of seeds differs between cells" in out
    # priced from the runs' own wall time (120 x step time): sst-2/tmix at its cell's 0.48 min, sst-2/none at 0.40
    assert "sst-2 0.4 (7 runs, 0.4-0.5)" in out and "trec-coarse 0.2 (8 runs, 0.2-0.2)" in out
    assert "Left: 2 runs; 2 of them on datasets with finished runs, about 0.0 CPU-hours." in out


def test_time_left_names_datasets_it_cannot_price(tmp_path, capsys):
    write_fixture(tmp_path / "r", skip={("sst-2", m, s) for m in METHODS for s in SEEDS} | {("trec-coarse", "tmix", 0)})
    _, out = report_md(tmp_path, capsys)
    assert "Minutes per run, median (range) of the runs' own wall time: trec-coarse 0.2 (8 runs, 0.2-0.2)." in out
    assert "Left: 10 runs; 1 of them on datasets with finished runs, about 0.0 CPU-hours; 9 on datasets with no " \
           "finished run yet (sst-2): not priced." in out
    assert "sst-2 0 of 9" in out and "trec-coarse 8 of 9" in out
    write_fixture(tmp_path / "r", skip={("sst-2", m, s) for m in METHODS for s in SEEDS})
    _, out = report_md(tmp_path, capsys)
    assert "trec-coarse 9 of 9 (complete)" in out


def test_formats_and_out_files(tmp_path, capsys):
    write_fixture(tmp_path / "r")
    code, tex = report_md(tmp_path, capsys, "--format", "latex", "--out", str(tmp_path / "tables"))
    assert code == 0
    assert r"\toprule" in tex and r"\textbf{85.00 $\pm$ 5.00} (+10.00)" in tex
    assert "\x02" not in tex and "\x03" not in tex and r"$\Delta$ pts" in tex
    files = sorted(p.name for p in (tmp_path / "tables").iterdir())
    assert files == ["accuracy.csv", "budget.csv", "calibration-significance.csv", "calibration.csv", "cost.csv",
                     "significance.csv", "summary.csv", "tables.md", "tables.tex"]
    acc = list(csv.DictReader(io.StringIO((tmp_path / "tables" / "accuracy.csv").read_text())))
    row = next(r for r in acc if r["method"] == "amplify" and r["dataset"] == "trec-coarse")
    assert float(row["mean_acc"]) == pytest.approx(0.85) and row["best"] == "True" and row["n_seeds"] == "3"
    assert float(row["delta_vs_none"]) == pytest.approx(0.10) and row["seeds"] == "0 1 2"
    assert "**85.00 ± 5.00**" in (tmp_path / "tables" / "tables.md").read_text()
    code, out = report_md(tmp_path, capsys, "--format", "csv")
    assert out.count("# Test accuracy per method and dataset") == 1 and "method,dataset,n_seeds" in out


def test_render_rejects_unknown_format():
    from bench.report.render import Table

    with pytest.raises(ValueError, match="markdown, latex, csv"):
        render(Table("x", "x", ["a"], [["1"]]), "html")


def test_ensemble_vote_ties_go_to_the_lowest_seed():
    preds = [[0, 1, 2, 1], [1, 1, 0, 2], [2, 0, 0, 2]]
    # ex 0: 0/1/2 all tied -> seed 0 says 0; ex 1: 1 wins; ex 2: 0 wins; ex 3: 2 wins
    assert ensemble_predictions(preds).tolist() == [0, 1, 0, 2]
    assert ensemble_predictions([[3, 1], [1, 3]]).tolist() == [3, 1]  # two seeds disagree: seed 0


# -----------------------------------------------------------------------------
# the command line


def test_explicit_flags_beat_the_preset():
    _, args = compare.parse(["--preset", "quick", "--epochs", "1", "--datasets", "sst-5"])
    assert args.epochs == 1 and args.lr == 1e-4 and args.model == "minilm-l6" and args.train_limit == 1000
    assert args.datasets == ["sst-5"] and args.methods == ["none", "amplify"] and args.seeds == [0, 1]
    assert args.results == "results/quick"
    _, args = compare.parse(["--preset", "quick", "--lr", "2e-5"])  # a flag equal to the default still wins
    assert args.lr == 2e-5
    _, args = compare.parse([])
    assert args.datasets == list(presets.TABLE2_DATASETS) and args.methods == list(presets.TABLE2_METHODS)
    assert args.seeds == [0, 1, 2] and args.results == "results/grid" and args.epochs == 15


@pytest.mark.parametrize("name", sorted(presets.PRESETS))
def test_every_preset_makes_a_valid_grid(name, tmp_path):
    _, args = compare.parse(["--preset", name, "--results", str(tmp_path)])
    _, spec, runs = compare.make_plan(args)
    p = presets.PRESETS[name]
    cells = {(r.cfg.dataset, r.cfg.method, r.cfg.seed) for r in runs}
    tuned = p.options.get("experiment") in ("tuned", "tuned-figure4")
    decided = TUNED_LRS if tuned else None  # the tuned grid and views of it: decided cells only
    methods = p.methods
    if p.options.get("experiment") == "paper-tuned":  # its six methods, on the datasets where all six are decided
        from bench.experiments.paper_tuned import NEEDED

        methods = NEEDED
        decided = {(d, m) for d in p.datasets for m in NEEDED if all((d, n) in TUNED_LRS for n in NEEDED)}
    assert cells == {(d, m, s) for d in p.datasets for m in methods for s in p.seeds
                     if decided is None or (d, m) in decided}
    per_cell = {"tune": len(LRS)}.get(p.options.get("experiment"), 1)  # the tuning runs sweep the lr
    if p.options.get("experiment") in (None, "tune", "tuned"):  # fewshot-budget varies the budget per cell
        assert len(runs) == len(cells) * per_cell
    assert all(getattr(spec.base, k) == v for k, v in p.options.items()
               if k not in ("results", "first_seeds", "experiment", "reuse", "also_read"))


def test_minilm_table2_preset_is_issue_13s_grid(tmp_path):
    _, args = compare.parse(["--preset", "minilm-table2"])
    assert args.results == "bench/results/minilm-table2" and args.first_seeds == 3
    _, args = compare.parse(["--preset", "minilm-table2", "--results", str(tmp_path)])  # the flag wins
    _, spec, runs = compare.make_plan(args)
    assert len(runs) == 5 * 9 * 5 and {"manifold", "labelsmooth", "ssmix", "mixup-transformer"} <= set(spec.methods)
    assert {r.cfg.seed for r in runs[:5 * 9 * 3]} == {0, 1, 2} and runs[0].cfg.dataset == "trec-fine"


def test_minilm_table2_imdb_preset_is_a_labelled_subset(tmp_path, capsys):
    _, args = compare.parse(["--preset", "minilm-table2-imdb", "--results", str(tmp_path / "r")])
    _, _, runs = compare.make_plan(args)
    assert len(runs) == 9 * 5 and {(r.cfg.dataset, r.cfg.train_limit, r.cfg.eval_limit) for r in runs} == {
        ("imdb", 2000, 1000)}
    run = runs[0]
    run.path.parent.mkdir(parents=True)
    res = {"schema": 1, "status": "ok", "error": None, "config": asdict(run.cfg), "device": "cpu", "dtype": "fp32",
           "test_acc": 0.8, "best_epoch": 1, "test_predictions": [1, 0], "test_labels": [1, 1], "mean_step_s": 1.0,
           "samples_per_s": 32.0, "train_time_s": 10.0, "wall_time_s": 12.0, "peak_memory_mb": 500.0,
           "env": {"git_commit": "abc"}, "data": {"source": {"files": [{"sha256": "f"}]}}}
    run.path.write_text(json.dumps(res))
    assert compare.main(["--preset", "minilm-table2-imdb", "--results", str(tmp_path / "r"), "--report-only"]) == 1
    out = capsys.readouterr().out
    label = "imdb here is a subset: at most 2,000 training examples and 1,000 dev and 1,000 test examples"
    tables = out.split("\n### ")[1:]
    assert f"note: {label}" in out.split("\n### ")[0]  # at the top, once
    assert tables and all(label in t for t in tables)  # and under every table


def test_quick_preset_is_the_acceptance_grid():
    p = presets.PRESETS["quick"]
    assert p.datasets == ("trec-coarse", "sst-2") and p.methods == ("none", "amplify") and len(p.seeds) == 2
    assert p.options["model"] == "minilm-l6" and p.options["epochs"] <= 2


def test_bad_arguments_exit_2_with_a_message(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        compare.main(["--preset", "smoke", "--shard", "4/4", "--results", str(tmp_path)])
    assert e.value.code == 2 and "0 <= i < N" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        compare.main(["--preset", "smoke", "--lr", "-1", "--results", str(tmp_path)])
    assert e.value.code == 2 and "--lr must be > 0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        compare.main(["--preset", "smoke", "--sig-alpha", "1.5"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        compare.main(["--preset", "smoke", "--threads", "0", "--results", str(tmp_path)])
    assert e.value.code == 2 and "--threads must be >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        compare.main(["--datasets", "nope"])


def test_help_lists_presets_and_experiments(capsys):
    with pytest.raises(SystemExit) as e:
        compare.main(["--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and "quick" in out and "table2" in out and "torchrun" in out and "--noise" in out


def test_duplicate_cells_are_refused(tmp_path):
    cfg = TrainConfig(model="tiny")
    with pytest.raises(ValueError, match="same run twice"):
        plan([cfg, replace(cfg, data_dir="/elsewhere")], tmp_path)


def test_dry_run_lists_states(tmp_path, capsys):
    write_fixture(tmp_path / "r", skip={("sst-2", "tmix", 2)})
    assert compare.main([*BASE, "--results", str(tmp_path / "r"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "18 runs; 1 to run" in out and out.count("missing  run ") == 1


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_results_that_cannot_hold_files_fail_in_one_line(where, tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    results = tmp_path / "f" if where == "a file" else tmp_path / "f" / "sub"
    with pytest.raises(SystemExit) as e:
        compare.main(["--preset", "smoke", "--results", str(results), "--quiet"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and f"--results {results} cannot hold result files" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_first_seeds_runs_a_wave_of_seeds_before_the_rest(tmp_path):
    argv = ["--preset", "smoke", "--datasets", "trec-coarse", "trec-fine", "--seeds", "0", "1", "2",
            "--results", str(tmp_path)]
    _, args = compare.parse(argv)
    _, _, plain = compare.make_plan(args)
    _, args = compare.parse(argv + ["--first-seeds", "2"])
    _, _, waved = compare.make_plan(args)
    label = [(r.cfg.dataset, r.cfg.method, r.cfg.seed) for r in waved]
    assert sorted(label) == sorted((r.cfg.dataset, r.cfg.method, r.cfg.seed) for r in plain)
    assert [s for *_, s in label] == [0, 1] * 4 + [2] * 4  # seeds 0-1 of every cell, then seed 2
    assert label[:4] == [("trec-coarse", "none", 0), ("trec-coarse", "none", 1), ("trec-coarse", "amplify", 0),
                         ("trec-coarse", "amplify", 1)]
    with pytest.raises(SystemExit):
        compare.parse(argv + ["--first-seeds", "-1"])


def test_training_code_groups_across_commits():
    """The report's code-version warning groups the commits by their training code."""
    import subprocess

    from amplify.results import REPO, training_code_groups
    from bench.report.tables import _code_note

    git = lambda *a: subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "HEAD")
    assert training_code_groups([head, head]) == [[head, head]]
    assert training_code_groups([head, "0" * 40]) is None and training_code_groups([head + "-dirty", head]) is None
    assert _code_note([head, head]).endswith("is the same at all of them.") and _code_note([head, "0" * 40]) == ""
    last = git("log", "-n", "1", "--format=%H", "--", "model")  # the newest commit that changed model/
    before = git("rev-parse", "--verify", "--quiet", last + "~1")
    if not before:  # a shallow clone has no parent
        assert training_code_groups([last, last + "~1"]) is None
        return
    assert training_code_groups([last, before, last]) == [[last, last], [before]]
    assert _code_note([last, before]).endswith(f"it has 2 versions, at (1) {last[:12]}; (2) {before[:12]}.")
