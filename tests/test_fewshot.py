"""Few-label splits (data/fewshot.py) on the real datasets, the step budget of the training loop on the tiny
model, and the promise that neither changes the key of any run made before them."""

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

import amplify.checkpoint as ckpt
import amplify.train as T
import run
from amplify.optim import cosine_with_warmup, warmup_steps
from amplify.train import TrainConfig, train
from bench import compare
from bench.grid.plan import Run, run_key
from bench.presets import FEWSHOT_EVAL_EVERY, FEWSHOT_STEPS
from data import fewshot
from data.fewshot import few_shot
from data.load import load_dataset

REPO = Path(__file__).resolve().parents[1]


def tiny_cfg(data_dir, tmp_path, **kw):
    base = dict(model="tiny", dataset="trec-coarse", method="amplify", shots=10, step_budget=12, eval_every=5,
                epochs=1, patience=10, batch_size=16, max_length=32, lr=1e-3, eval_limit=100,
                data_dir=str(data_dir), cache_dir=str(tmp_path / "cache"))
    return TrainConfig(**{**base, **kw})


def one_line_error(capsys, call):
    with pytest.raises(SystemExit) as e:
        call()
    err = capsys.readouterr().err
    assert e.value.code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


# -----------------------------------------------------------------------------
# the draw


def test_the_draw_is_deterministic_and_each_seed_is_another_draw(data_dir):
    ds = load_dataset("trec-coarse", data_dir)
    a, rec_a = few_shot(ds, 10, 0)
    b, rec_b = few_shot(load_dataset("trec-coarse", data_dir), 10, 0)
    assert a.train == b.train and a.dev == b.dev and rec_a == rec_b
    # pinned: the rule does not move with a numpy or Python version (as the dev hold-out, data/common.py)
    assert rec_a["sha256"]["train"] == "15b3359f4a773c214bc70b32761ba79a99c8a9d3f7f71f9ebff260662731af4c"
    records = [few_shot(ds, 10, seed)[1] for seed in range(5)]
    for split in ("train", "dev"):
        assert len({r["sha256"][split] for r in records}) == 5
        assert len({tuple(r["indices"][split]) for r in records}) == 5


def test_the_rule_is_the_one_the_docstring_states(data_dir):
    ds = load_dataset("sst-5", data_dir)
    few, rec = few_shot(ds, 10, 3)
    for split in ("train", "dev"):
        examples = getattr(ds, split)
        want = []
        for c in range(ds.num_labels):
            idx = [i for i, e in enumerate(examples) if e.label == c]
            want += sorted(idx, key=lambda i: hashlib.sha256(f"fewshot:3:sst-5:{split}:{i}".encode()).digest())[:10]
        assert rec["indices"][split] == sorted(want)
        assert getattr(few, split) == [examples[i] for i in sorted(want)]  # the split's own order
        rows = [[i, examples[i].label, examples[i].text, examples[i].text_b] for i in sorted(want)]
        blob = json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode()
        assert rec["sha256"][split] == hashlib.sha256(blob).hexdigest()


def test_k_per_class_or_all_of_a_smaller_class(data_dir):
    ds = load_dataset("trec-fine", data_dir)
    for k in (10, 100):
        few, rec = few_shot(ds, k, 0)
        for split in ("train", "dev"):
            have, got = rec["available"][split], rec["counts"][split]
            assert got == [min(k, n) for n in have]
            assert len(getattr(few, split)) == sum(got)
        assert any(n < k for n in rec["available"]["train"]) and any(n > k for n in rec["available"]["train"])
    assert few.dev == ds.dev  # no class of TREC-fine's dev has more than 100 examples: K = 100 keeps all of dev
    few, rec = few_shot(load_dataset("sst-2", data_dir), 100, 1)
    assert rec["counts"]["train"] == [100, 100] and rec["counts"]["dev"] == [100, 100] and len(few.train) == 200


def test_draws_are_nested_in_k(data_dir):
    ds = load_dataset("mrpc", data_dir)
    small, large = (few_shot(ds, k, 4)[1] for k in (10, 100))
    for split in ("train", "dev"):
        assert set(small["indices"][split]) < set(large["indices"][split])


def test_dev_is_drawn_from_dev_and_test_is_the_full_official_split(data_dir):
    ds = load_dataset("mrpc", data_dir)  # GLUE's dev ids: dev pairs are not in train
    few, rec = few_shot(ds, 10, 2)
    assert few.dev == [ds.dev[i] for i in rec["indices"]["dev"]]
    assert few.train == [ds.train[i] for i in rec["indices"]["train"]]
    assert not {(e.text, e.text_b) for e in few.dev} & {(e.text, e.text_b) for e in ds.train}
    assert few.test == ds.test and len(few.test) == 1725 and rec["counts"]["test"] == rec["available"]["test"]
    assert few.label_names == ds.label_names and few.info == ds.info


def test_a_class_with_no_example_is_said_plainly(data_dir, capsys):
    _, rec = few_shot(load_dataset("trec-fine", data_dir), 10, 0)
    assert rec["empty"] == {"train": [], "dev": ["ENTY:currency", "ENTY:religion"]}
    assert rec["counts"]["dev"][load_dataset("trec-fine", data_dir).label_names.index("ENTY:currency")] == 0
    assert fewshot.main(["--shots", "10", "--datasets", "trec-fine", "--data-dir", str(data_dir)]) == 0
    out, err = capsys.readouterr()
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2 and "trec-fine dev has no example of class 'ENTY:currency'" in warnings[0]
    assert "ENTY:currency" in out and "sha256 train " + rec["sha256"]["train"] in out


def test_the_command_prints_each_draws_class_counts(data_dir, capsys):
    assert fewshot.main(["--shots", "10", "--seed", "0", "1", "--datasets", "trec-coarse", "--data-dir",
                         str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert out.count("trec-coarse, K = 10, seed") == 2 and "train 60, dev 59, test 500 (full)" in out
    assert "ABBR     10 of 77       9 of 9         9" in out  # ABBR has 9 dev examples: all kept
    assert "all      60 of 4906    59 of 546     500" in out
    with pytest.raises(SystemExit) as e:
        fewshot.main(["--help"])
    assert e.value.code == 0 and "--shots" in capsys.readouterr().out


# -----------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("k", ["0", "-3"])
def test_shots_below_one_fail_in_one_line_before_any_work(k, data_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("amplify.train.train", lambda *a, **kw: pytest.fail("trained although --shots < 1"))
    err = one_line_error(capsys, lambda: run.main(["--shots", k, "--model", "tiny", "--quiet"]))
    assert f"run.py: error: --shots must be an integer >= 1 (got {k})" in err
    monkeypatch.setattr(fewshot, "load_dataset", lambda *a, **kw: pytest.fail("read data although --shots < 1"))
    err = one_line_error(capsys, lambda: fewshot.main(["--shots", k]))
    assert "--shots must be an integer >= 1" in err
    err = one_line_error(capsys, lambda: compare.main(["--preset", "smoke", "--shots", k, "--dry-run",
                                                       "--results", str(tmp_path / "r")]))
    assert "--shots must be an integer >= 1" in err


def test_k_that_keeps_every_example_is_one_clear_error(data_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--model", "tiny", "--dataset", "trec-coarse", "--data-dir", str(data_dir), "--cache-dir",
            str(tmp_path / "c"), "--quiet"]
    err = one_line_error(capsys, lambda: run.main([*args, "--shots", "1125"]))  # ENTY, the largest class: 1125
    assert "--shots 1125 is the full training set of trec-coarse: its largest class has 1125 examples" in err
    assert not list(tmp_path.rglob("*.json"))
    err = one_line_error(capsys, lambda: fewshot.main(["--shots", "5000", "--datasets", "sst-5", "--data-dir",
                                                       str(data_dir)]))
    assert "--shots 5000 is the full training set of sst-5" in err
    err = one_line_error(capsys, lambda: run.main([*args, "--shots", "10", "--train-limit", "100"]))
    assert "--shots and --train-limit both choose the training examples" in err
    for flag in ("--step-budget", "--eval-every"):
        assert f"{flag} must be >= 1" in one_line_error(capsys, lambda f=flag: run.main([*args, f, "0"]))


# -----------------------------------------------------------------------------
# the run records what it trained on


def test_the_result_records_the_draw_and_every_method_sees_the_same_one(data_dir, tmp_path, capsys):
    def run_one(method, seed):
        out = tmp_path / f"{method}-{seed}.json"
        assert run.main(["--model", "tiny", "--method", method, "--seed", str(seed), "--shots", "10",
                         "--step-budget", "4", "--eval-every", "2", "--batch-size", "16", "--max-length", "32",
                         "--lr", "1e-3", "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c"),
                         "--out", str(out), "--quiet"]) == 0
        return json.loads(out.read_text())

    a, b, c = run_one("none", 0), run_one("amplify", 0), run_one("none", 1)
    _, want = few_shot(load_dataset("trec-coarse", data_dir), 10, 0)
    assert a["data"]["fewshot"] == want and a["config"]["shots"] == 10
    assert a["data"]["sizes"] == {"train": 60, "dev": 59, "test": 500}  # test: the full official split
    assert b["data"]["fewshot"] == a["data"]["fewshot"]  # paired: the split follows the seed, not the method
    assert c["data"]["fewshot"]["sha256"] != a["data"]["fewshot"]["sha256"]
    assert "at step" in capsys.readouterr().out  # the best evaluation is named by its step


def test_the_warning_reaches_a_training_run(data_dir, tmp_path, capsys):
    r = train(tiny_cfg(data_dir, tmp_path, dataset="trec-fine", step_budget=2, eval_every=None), progress=False)
    assert r["status"] == "ok" and r["data"]["fewshot"]["empty"]["dev"] == ["ENTY:currency", "ENTY:religion"]
    assert "warning: trec-fine dev has no example of class 'ENTY:religion'" in capsys.readouterr().err


# -----------------------------------------------------------------------------
# the step budget


def scripted_dev(monkeypatch, accs, start=0):
    """Dev accuracy from a script; test evaluated for real. Records a fingerprint of the weights of each call."""
    real, calls, weights = T.evaluate, [start], {"dev": [], "test": []}

    def evaluate(model, encoded, cfg, device, amp):
        result = real(model, encoded, cfg, device, amp)
        split = encoded.name.rsplit("/", 1)[-1]
        weights[split].append(sum(p.double().sum().item() for p in model.parameters()))
        if split == "dev":
            result["acc"], calls[0] = accs[calls[0]], calls[0] + 1
        return result

    monkeypatch.setattr(T, "evaluate", evaluate)
    return weights


def test_a_step_budget_evaluates_dev_at_its_points_and_tests_the_best_once(data_dir, tmp_path, monkeypatch):
    cfg = tiny_cfg(data_dir, tmp_path)  # 60 examples / 16 = 4 steps an epoch; 12 steps whatever epochs=1 says
    weights = scripted_dev(monkeypatch, [0.3, 0.8, 0.5])
    r = train(cfg, progress=False, steps_csv=tmp_path / "steps.csv")
    assert [(e["steps"], e["epoch"]) for e in r["epochs"]] == [(5, 2), (10, 3), (12, 3)]  # every 5, and the last
    assert r["steps"] == 12 and r["best_step"] == 10 and r["best_epoch"] == 3 and r["best_dev_acc"] == 0.8
    assert [e["test_acc"] for e in r["epochs"]] == [None, r["test_acc"], None]
    assert weights["test"] == [weights["dev"][1]] and weights["dev"][1] != weights["dev"][2]  # best weights, once
    rows = (tmp_path / "steps.csv").read_text().splitlines()[1:]
    lrs = [float(line.split(",")[3]) for line in rows]
    assert [int(line.split(",")[1]) for line in rows] == [1] * 4 + [2] * 4 + [3] * 4
    assert lrs == [cosine_with_warmup(s, 12, warmup_steps(12, 0.1), 1e-3) for s in range(12)]  # spans the budget
    assert r["epochs"][0]["train_loss"] == pytest.approx(np.mean(r["train_loss_steps"][:5]))


def test_patience_counts_evaluations_in_a_step_budget(data_dir, tmp_path, monkeypatch):
    scripted_dev(monkeypatch, [0.5, 0.6, 0.4, 0.55, 0.9])
    r = train(tiny_cfg(data_dir, tmp_path, step_budget=20, eval_every=2, patience=2), progress=False)
    assert [e["steps"] for e in r["epochs"]] == [2, 4, 6, 8] and r["best_step"] == 4 and r["steps"] == 8


def test_without_eval_every_a_step_budget_evaluates_each_epoch_and_the_last_step(data_dir, tmp_path):
    r = train(tiny_cfg(data_dir, tmp_path, step_budget=10, eval_every=None), progress=False)
    assert [e["steps"] for e in r["epochs"]] == [4, 8, 10] and r["steps"] == 10


def test_a_step_budget_run_resumes_from_an_evaluation_inside_an_epoch(data_dir, tmp_path, monkeypatch, capsys):
    class Killed(BaseException):
        pass

    cfg = tiny_cfg(data_dir, tmp_path, eval_limit=64, eval_every=3, step_budget=11)
    path = tmp_path / "r.ckpt.pt"
    whole = train(cfg, progress=False, steps_csv=tmp_path / "whole.csv")
    real = ckpt.save

    def save_then_die(p, **kw):
        assert real(p, **kw) is None
        if kw["loop"]["step"] == 6:  # epoch 2 has 4 steps: 5, 6, 7, 8
            raise Killed

    with monkeypatch.context() as m:
        m.setattr(ckpt, "save", save_then_die)
        with pytest.raises(Killed):
            train(cfg, progress=False, checkpoint=path, steps_csv=tmp_path / "killed.csv")
    assert ckpt.saved_at(path) == "step 6"
    resumed = train(cfg, progress=False, checkpoint=path, steps_csv=tmp_path / "resumed.csv")
    assert f"resuming {path} after step 6;" in capsys.readouterr().err
    clock = {"train_time_s", "mean_step_s", "samples_per_s", "wall_time_s", "peak_memory_mb", "env", "resumed"}
    same = lambda r: {**{k: v for k, v in r.items() if k not in clock},
                      "epochs": [{k: v for k, v in e.items() if k != "train_time_s"} for e in r["epochs"]]}
    assert same(resumed) == same(whole) and [e["steps"] for e in whole["epochs"]] == [3, 6, 9, 11]
    assert (tmp_path / "resumed.csv").read_text() == (tmp_path / "whole.csv").read_text()
    assert resumed["resumed"][0]["after_step"] == 6 and resumed["resumed"][0]["after_epoch"] == 1


# -----------------------------------------------------------------------------
# run keys and presets


def test_no_committed_run_changes_its_key():
    """Every result of the evidence grid still names its own file: the new fields sit at their defaults."""
    new = {"shots", "step_budget", "eval_every"}
    assert all(asdict(TrainConfig())[f] is None for f in new)
    files = sorted((REPO / "bench/results/minilm-table2").glob("*-s[0-9]-*.json"))
    assert len(files) >= 225
    for f in files:
        r = json.loads(f.read_text())
        assert not new & set(r["config"]), f.name
        key = f.stem.rsplit("-", 1)[1]
        assert run_key(r["config"], r["device"]) == key, f.name
        assert Run.of(TrainConfig(**r["config"]), f.parent).path == f, f.name
    assert run_key({**r["config"], "shots": 10}, r["device"]) != key


@pytest.mark.parametrize("k", [10, 100])
def test_the_fewshot_presets(k, tmp_path):
    _, args = compare.parse(["--preset", f"minilm-fewshot-{k}"])
    assert args.results == f"bench/results/minilm-fewshot-{k}"
    _, spec, runs = compare.make_plan(args)
    assert len(runs) == 5 * 9 * 5 and spec.seeds == (0, 1, 2, 3, 4)
    assert {(r.cfg.shots, r.cfg.step_budget, r.cfg.eval_every, r.cfg.lr, r.cfg.model) for r in runs} == {
        (k, FEWSHOT_STEPS[k], FEWSHOT_EVAL_EVERY[k], 1e-4, "minilm-l6")}
    assert all(r.cfg.patience >= FEWSHOT_STEPS[k] // FEWSHOT_EVAL_EVERY[k] for r in runs)  # no early stopping
    _, table2 = compare.parse(["--preset", "minilm-table2"])
    assert not {r.key for r in runs} & {r.key for r in compare.make_plan(table2)[2]}


def test_help_names_the_options(capsys):
    for main in (run.main, compare.main):
        with pytest.raises(SystemExit):
            main(["--help"])
        out = capsys.readouterr().out
        assert all(flag in out for flag in ("--shots", "--step-budget", "--eval-every")), main


def test_the_budget_calibration_runs_none_per_budget_and_chooses_on_dev_only():
    from amplify.train import TrainConfig as C
    from bench.experiments.fewshot_budget import BUDGETS, EVALS_PER_RUN, budget_configs, budget_tables
    from bench.experiments.registry import GridSpec, ReportOptions
    from bench.presets import FEWSHOT_EVALS
    from bench.report.render import render_all

    assert EVALS_PER_RUN == FEWSHOT_EVALS and all(FEWSHOT_STEPS[k] in BUDGETS[k] for k in FEWSHOT_STEPS)
    _, args = compare.parse(["--preset", "minilm-fewshot-budget"])
    _, spec, runs = compare.make_plan(args)
    assert len(runs) == 2 * 5 * 3 and {r.cfg.method for r in runs} == {"none"} and {r.cfg.seed for r in runs} == {0}
    assert all(r.cfg.eval_every * EVALS_PER_RUN == r.cfg.step_budget and r.cfg.patience == EVALS_PER_RUN
               and r.cfg.step_budget in BUDGETS[r.cfg.shots] for r in runs)
    spec = GridSpec(C(model="tiny"), ("a", "b"), ("none",), (0,))
    dev = {("a", 100): 0.5, ("a", 200): 0.7, ("a", 400): 0.6, ("b", 100): 0.6, ("b", 200): 0.5, ("b", 400): 0.7}
    records = [(cfg, {"epochs": [{"dev_acc": dev[cfg.dataset, cfg.step_budget]}], "wall_time_s": 60.0,
                      "best_dev_acc": dev[cfg.dataset, cfg.step_budget], "best_step": cfg.step_budget,
                      "test_acc": 0.123456})
               for cfg in budget_configs(spec) if cfg.shots == 10]
    (table,) = budget_tables(records, spec, ReportOptions())
    text = render_all([table], "markdown")
    assert "K = 10: 400 steps (100: 55.00, 200: 60.00, 400: 65.00)" in text and "K = 100: not yet known" in text
    assert "12.3" not in text  # test accuracy never shown


def test_the_presets_budgets_are_the_committed_calibrations_choice():
    from bench.experiments.fewshot_budget import BUDGETS, choose

    folder = REPO / "bench" / "results" / "minilm-fewshot-budget"
    tidy = []
    for f in sorted(folder.glob("*.json")):
        r = json.loads(f.read_text())
        c = r["config"]
        tidy.append({"shots": c["shots"], "steps": c["step_budget"], "dataset": c["dataset"],
                     "best_dev_acc": r["best_dev_acc"]})
    assert len(tidy) == sum(len(b) for b in BUDGETS.values()) * 5
    choice = choose(tidy, ("trec-fine", "mrpc", "sst-5", "sst-2", "trec-coarse"))
    assert {k: b for k, (b, _) in choice.items()} == FEWSHOT_STEPS


def test_the_docs_sizes_table_is_the_draws(data_dir):
    """docs/fewshot.md's sizes table: classes, train / dev sizes and steps per epoch (batch 32) at K = 10 and 100,
    and the test size, as few_shot draws them for seed 0 (and, as the page says, for another seed too)."""
    import math

    page = (Path(__file__).resolve().parents[1] / "docs" / "fewshot.md").read_text(encoding="utf-8")
    section = page[page.index("### Sizes"):]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines()[2:]
            if line.startswith("| ") and not line.startswith("| dataset")]
    names = {"TREC-fine": "trec-fine", "MRPC": "mrpc", "SST-5": "sst-5", "SST-2": "sst-2", "TREC-coarse": "trec-coarse"}
    assert [r[0] for r in rows] == list(names)
    for row in rows:
        ds = load_dataset(names[row[0]], data_dir)
        cells = [str(ds.num_labels)]
        for k in (10, 100):
            few, _ = few_shot(ds, k, 0)
            other, _ = few_shot(ds, k, 3)
            assert (len(few.train), len(few.dev)) == (len(other.train), len(other.dev))
            cells += [f"{len(few.train)} / {len(few.dev)}", str(math.ceil(len(few.train) / 32))]
        assert row[1:] == cells + [str(len(ds.test))], row[0]
