"""The tuned grid (bench/experiments/tuned.py): the lr rule, the committed choices, and the final grid's plan."""

import json
from dataclasses import asdict
from pathlib import Path

from amplify.train import TrainConfig
from bench import compare
from bench.experiments.recipe import LRS
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
