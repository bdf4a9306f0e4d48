"""The tuned grid (bench/experiments/tuned.py): the lr rule, the committed choices, and the final grid's plan."""

import json
from dataclasses import asdict
from pathlib import Path

from amplify.train import TrainConfig
from bench import compare
from bench.experiments.recipe import LRS, fmt_lr
from bench.experiments.tuned import TUNED_LRS, chosen_lrs, tune_configs
from bench.grid.plan import plan, reuse_finished

REPO = Path(__file__).resolve().parents[1]
TUNING = REPO / "bench" / "results" / "minilm-tuning"


def test_the_rule_takes_the_best_dev_and_the_smaller_lr_of_ties():
    def rec(d, m, lr, dev):
        return TrainConfig(model="tiny", dataset=d, method=m, lr=lr), {"best_dev_acc": dev}

    records = [rec("a", "none", 5e-5, 0.80), rec("a", "none", 1e-4, 0.90), rec("a", "none", 2e-4, 0.90),
               rec("a", "amplify", 5e-5, 0.85), rec("a", "amplify", 1e-4, 0.70), rec("a", "amplify", 2e-4, 0.84),
               rec("b", "none", 5e-5, 0.99), rec("b", "none", 1e-4, 0.50)]  # b/none: one lr short, undecided
    assert chosen_lrs(records) == {("a", "none"): 1e-4, ("a", "amplify"): 5e-5}
    other_seed = (TrainConfig(model="tiny", dataset="a", method="none", lr=5e-5, seed=1), {"best_dev_acc": 0.99})
    assert chosen_lrs(records + [other_seed]) == chosen_lrs(records)  # the rule reads seed 0 only


def test_tuning_runs_whole_cells_in_order():
    _, args = compare.parse(["--preset", "minilm-tune"])
    _, spec, runs = compare.make_plan(args)
    assert len(runs) == 5 * 9 * 3 and spec.seeds == (0,)
    assert [r.cfg.lr for r in runs[:3]] == list(LRS) and len({(r.cfg.dataset, r.cfg.method) for r in runs[:3]}) == 1
    assert {(r.cfg.epochs, r.cfg.patience) for r in runs} == {(15, 3)}
    assert tune_configs(spec)[0].dataset == "trec-fine"


def committed_tuning_records():
    out = []
    for f in sorted(TUNING.glob("*.json")):
        r = json.loads(f.read_text())
        if r["status"] == "ok":
            out.append((TrainConfig(**r["config"]), r))
    return out


def test_every_tuned_lr_is_the_rules_choice_on_the_committed_tuning_runs():
    decided = chosen_lrs(committed_tuning_records())
    assert TUNED_LRS, "no cell decided yet"
    assert {cell: decided.get(cell) for cell in TUNED_LRS} == TUNED_LRS


def test_the_final_grid_runs_each_decided_cell_at_its_lr_and_reuses_the_tuning_run_as_seed_0():
    _, args = compare.parse(["--preset", "minilm-tuned"])
    assert args.results == "bench/results/minilm-tuned" and args.reuse == "bench/results/minilm-tuning"
    _, spec, runs = compare.make_plan(args)
    assert len(runs) == 5 * len(TUNED_LRS) and spec.seeds == (0, 1, 2, 3, 4)
    assert all(r.cfg.lr == TUNED_LRS[r.cfg.dataset, r.cfg.method] for r in runs)
    assert all((r.cfg.epochs, r.cfg.patience) == (15, 3) for r in runs)
    seed0 = [r for r in runs if r.cfg.seed == 0]
    assert all((TUNING / r.path.name).exists() for r in seed0), "a seed-0 run is not its tuning run"


def test_reuse_copies_finished_runs_only_and_never_replaces(tmp_path):
    configs = [TrainConfig(model="tiny", dataset="trec-coarse", method="none", seed=s) for s in range(4)]
    old, new = plan(configs, tmp_path / "old"), plan(configs, tmp_path / "new")
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    ok = {"status": "ok", "config": None, "best_dev_acc": 0.5}
    for run in old[:3]:
        run.path.write_text(json.dumps({**ok, "config": asdict(run.cfg)}))
    old[2].path.write_text(json.dumps({**ok, "status": "failed", "config": asdict(old[2].cfg)}))
    new[1].path.write_text("mine")
    copied = reuse_finished(new, tmp_path / "old")
    assert [r.cfg.seed for r in copied] == [0]
    assert json.loads(new[0].path.read_text()) == json.loads(old[0].path.read_text())
    assert new[1].path.read_text() == "mine" and not new[2].path.exists() and not new[3].path.exists()
    assert reuse_finished(new, tmp_path / "old") == []


def test_also_read_finds_finished_runs_in_place_and_never_points_a_run_to_train_into_them(tmp_path):
    """plan(..., read): a run's own file first, then the first read folder holding it finished; failed, stale or
    missing there leaves the run in results_dir, so training never writes into a folder that is only read."""
    configs = [TrainConfig(model="tiny", dataset="trec-coarse", method="none", seed=s) for s in range(5)]
    a, b, mine = (plan(configs, tmp_path / name) for name in ("a", "b", "mine"))
    for folder in ("a", "b", "mine"):
        (tmp_path / folder).mkdir()
    ok = {"status": "ok", "best_dev_acc": 0.5}
    a[0].path.write_text(json.dumps({**ok, "config": asdict(a[0].cfg)}))  # seed 0: in a and b, a first
    b[0].path.write_text(json.dumps({**ok, "config": asdict(b[0].cfg)}))
    a[1].path.write_text(json.dumps({**ok, "status": "failed", "config": asdict(a[1].cfg)}))  # failed in a
    b[1].path.write_text(json.dumps({**ok, "config": asdict(b[1].cfg)}))  # ... finished in b
    a[2].path.write_text(json.dumps({**ok, "config": asdict(configs[3])}))  # stale: another run's config
    mine[3].path.write_text(json.dumps({**ok, "config": asdict(mine[3].cfg)}))
    a[3].path.write_text(json.dumps({**ok, "config": asdict(a[3].cfg)}))  # its own file wins
    runs = plan(configs, tmp_path / "mine", read=(tmp_path / "a", tmp_path / "b"))
    assert [r.path.parent.name for r in runs] == ["a", "b", "mine", "mine", "mine"]
    assert [r.state()[0] for r in runs] == ["ok", "ok", "missing", "ok", "missing"]


def test_paper_tuned_plan_reads_the_tuned_reference_runs_and_adds_14_variants_per_seed(capsys):
    """Issue 51's grid: each decided dataset's six reference cells have the tuned grid's keys (seed 0 is found in
    the committed tuning folder), and 14 variants per dataset and seed run at their method's tuned lr."""
    from collections import Counter

    from bench.compare import main
    from bench.experiments.paper_tuned import NEEDED, decided, label, paper_tuned_configs, variant
    from bench.experiments.registry import GridSpec

    main(["--preset", "minilm-paper-tuned", "--seeds", "0", "--dry-run"])
    lines = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith(("ok ", "missing "))]
    datasets = [d for d in ("trec-fine", "mrpc") if all((d, m) in TUNED_LRS for m in NEEDED)]
    assert datasets and len(lines) == 20 * len(datasets)
    folder = lambda w: next(Path(x) for x in w if x.endswith(".json")).parent.name  # a line may end in a note
    read = [w for w in lines if w[0] == "ok" and folder(w) in ("minilm-tuned", "minilm-tuning")]
    assert len(read) == 6 * len(datasets)  # the six reference cells at seed 0: the tuning runs, or their copies
    assert all(folder(w) == "minilm-paper-tuned" for w in lines if w not in read)

    spec = GridSpec(TrainConfig(model="minilm-l6", epochs=15, patience=3), ("trec-fine", "mrpc"), (), (0, 1))
    configs = paper_tuned_configs(spec)
    assert decided(spec) == datasets and len(configs) == 20 * 2 * len(datasets)
    assert all(cfg.lr == TUNED_LRS[cfg.dataset, cfg.method] for cfg in configs)
    kinds = Counter(variant(cfg) for cfg in configs)
    assert kinds == {"": 12 * len(datasets), "released": 8 * len(datasets), "mean": 4 * len(datasets),
                     "n": 10 * len(datasets), "block": 6 * len(datasets)}
    assert {label(c) for c in configs if variant(c) == "mean"} == {"none (mean pool)", "amplify (mean pool)"}


def test_paper_tuned_report_has_every_part_and_the_papers_own_comparison():
    """The report on made-up runs of every variant: the eight tables, and the head table compares mean-pooled
    AMPLIFY with each released-pairing baseline beside the described comparison."""
    import numpy as np

    from bench.experiments.paper_tuned import BASELINES, paper_tuned_configs, paper_tuned_tables
    from bench.experiments.registry import GridSpec, ReportOptions

    # yelp-5: a dataset the tuned grid never decides, which the report names instead of leaving out silently
    spec = GridSpec(TrainConfig(model="minilm-l6", epochs=15, patience=3), ("trec-fine", "yelp-5"), (), (0, 1))
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 60).tolist()
    records = []
    for cfg in paper_tuned_configs(spec):
        pred = [y if rng.random() < 0.8 else (y + 1) % 5 for y in labels]
        records.append((cfg, {"status": "ok", "test_acc": float(np.mean(np.equal(pred, labels))), "best_epoch": 3,
                              "test_predictions": pred, "test_labels": labels, "epochs": []}))
    tables = paper_tuned_tables(records, spec, ReportOptions(n_resamples=200, resample_cap=200))
    assert [t.name for t in tables] == ["reference-bug", "reference-bug-significance", "head", "head-significance",
                                        "table1", "table1-significance", "table6", "table6-significance"]
    pairs = {row[1] for row in tables[3].rows}
    assert {f"amplify (mean pool) vs {m} (released pairing)" for m in BASELINES} <= pairs
    assert {f"amplify vs {m}" for m in BASELINES} | {"none (mean pool) vs none"} <= pairs
    assert all(row[3] == "2" for t in tables[1::2] for row in t.rows)  # every comparison found both seeds
    assert all("Not in this report: yelp-5, where TUNED_LRS has not yet decided" in t.notes[-1] for t in tables)


def test_the_tuned_report_tables_each_cells_lr():
    from bench.experiments.registry import GridSpec
    from bench.experiments.tuned import lr_table

    spec = GridSpec(TrainConfig(model="tiny"), ("trec-fine", "mrpc"), ("none", "amplify"), (0,))
    table = lr_table(spec)
    assert {(r["dataset"], r["method"]): r["lr"] for r in table.records} == {
        (d, m): TUNED_LRS.get((d, m)) for d in spec.datasets for m in spec.methods}
    assert table.rows[0][:2] == ["none", fmt_lr(TUNED_LRS["trec-fine", "none"])]
