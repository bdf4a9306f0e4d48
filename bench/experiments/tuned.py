"""
tune: every method gets its own learning rate, chosen on dev accuracy, with a budget long enough to converge.

    python -m bench.compare --preset minilm-tune --jobs 2            # the tuning runs (135 on MiniLM)
    python -m bench.compare --preset minilm-tune --report-only       # their dev accuracy and the choice

The protocol (docs/tuned-grid.md gives the reasons; test data never selects anything):
  budget     at most 15 epochs (the paper's), the cosine schedule over all 15, early stopping on dev
             accuracy with patience 3 (a run stops after 3 epochs without a strictly better dev accuracy);
             the reported epoch is the best-dev one.
  tuning     for every dataset x method, one run per lr in LRS = {5e-5, 1e-4, 2e-4} at seed 0.
  the rule   a cell's lr is the one whose run reached the highest best-dev accuracy; ties go to the smaller
             lr. The same rule for every method. Method hyper-parameters stay at their papers' values.
  final      the cell at its chosen lr, seeds 0-4 (preset minilm-tuned, experiment `tuned`). A run is a
             deterministic function of its config on CPU, so the final grid's seed 0 is the tuning run at the
             chosen lr, copied in from the tuning folder (the preset's `--reuse`) instead of trained again.

`chosen_lrs(records)` applies the rule to tuning results; the table shows every tuning run's dev curve.
TUNED_LRS holds the rule's choices, written in by hand as cells are decided (tests/test_tuned.py checks
each against the committed tuning results), so that the final grid is a fixed list of runs.
"""

import statistics
from dataclasses import replace

from bench.experiments.recipe import LRS, fmt_lr
from bench.experiments.registry import Experiment, register
from bench.experiments.table2 import table2_tables
from bench.report.render import Table, bold

# (dataset, method) -> lr, the rule's choice on bench/results/minilm-tuning; a cell not yet decided is absent.
TUNED_LRS = {
    ("trec-fine", "none"): 2e-4, ("trec-fine", "embedmix"): 1e-4, ("trec-fine", "sentmix"): 1e-4,
    ("trec-fine", "tmix"): 1e-4, ("trec-fine", "manifold"): 1e-4, ("trec-fine", "amplify"): 2e-4,
    ("trec-fine", "labelsmooth"): 1e-4, ("trec-fine", "ssmix"): 1e-4, ("trec-fine", "mixup-transformer"): 2e-4,
}


def tune_configs(spec):
    """dataset x method x lr x seed, in that order (the grid runs whole cells first)."""
    return [replace(spec.base, dataset=d, method=m, lr=lr, seed=s)
            for d in spec.datasets for m in spec.methods for lr in LRS for s in spec.seeds]


def chosen_lrs(records):
    """{(dataset, method): lr} by the rule above, for every cell whose every lr of LRS has a seed-0 result (runs
    of other seeds, if a tuning folder holds any, choose nothing)."""
    best = {}
    for cfg, res in records:
        if cfg.seed == 0:
            best.setdefault((cfg.dataset, cfg.method), {})[cfg.lr] = res["best_dev_acc"]
    return {cell: max(sorted(by_lr), key=lambda lr: by_lr[lr])  # max keeps the first of ties: the smaller lr
            for cell, by_lr in best.items() if set(LRS) <= set(by_lr)}


def tune_tables(records, spec, opts):
    choice = chosen_lrs(records)
    rows, tidy = [], []
    for d in spec.datasets:
        for m in spec.methods:
            runs = sorted((cfg.lr, cfg.seed, res) for cfg, res in records if (cfg.dataset, cfg.method) == (d, m))
            for lr, seed, res in runs:
                curve = [e["dev_acc"] for e in res["epochs"]]
                peak = f"{100 * res['best_dev_acc']:.2f}"
                rows.append([d, m, fmt_lr(lr), " ".join(f"{100 * a:.1f}" for a in curve),
                             bold(peak) if choice.get((d, m)) == lr else peak, res["best_epoch"], len(curve),
                             f"{res['wall_time_s'] / 60:.0f}"])
                tidy.append({"dataset": d, "method": m, "seed": seed, "lr": lr, "dev_curve": curve,
                             "best_dev_acc": res["best_dev_acc"], "best_epoch": res["best_epoch"],
                             "epochs_run": len(curve), "chosen": choice.get((d, m)) == lr,
                             "wall_min": res["wall_time_s"] / 60})
    cells = [(d, m) for d in spec.datasets for m in spec.methods]
    notes = [f"Dev accuracy (%) after each epoch; a run stops after {_patience(records)} without a better dev "
             "accuracy.",
             "Bold: the cell's chosen lr (the highest best-dev accuracy over the lrs; ties: the smaller lr).",
             "Test accuracy is deliberately not shown: the lr is chosen on dev only.",
             f"Cells decided: {len(choice)} of {len(cells)}" + (
                 "; " + ", ".join(f"{d}/{m} {fmt_lr(lr)}" for (d, m), lr in sorted(choice.items())) if choice
                 else "")]
    return [Table("tune", "Tuning: dev accuracy per epoch by learning rate, per dataset and method",
                  ["dataset", "method", "lr", "dev per epoch", "best dev", "best epoch", "epochs", "min"],
                  rows, tidy, notes, align="lllrlrrr")]


def tuned_configs(spec):
    """Each decided cell of spec's datasets x methods at its TUNED_LRS lr, seed by seed; undecided cells are
    left out (the report says which)."""
    return [replace(spec.base, dataset=d, method=m, lr=TUNED_LRS[d, m], seed=s)
            for d in spec.datasets for m in spec.methods if (d, m) in TUNED_LRS for s in spec.seeds]


def _patience(records):
    """The runs' early-stopping patience in words: "3 epochs", or each value when runs differ."""
    values = sorted({cfg.patience for cfg, _ in records})
    if not values:
        return "its patience in epochs"
    return " or ".join(map(str, values)) + f" epoch{'s' if values != [1] else ''}"


def _median_range(values):
    return f"{statistics.median(values):g} ({min(values)}–{max(values)})"


def stopping_table(records, methods):
    """Per method: how many runs early stopping ended before the budget, at which epoch, and how many were still
    improving when the budget ended (best dev at the last of all the budget's epochs)."""
    rows, tidy = [], []
    for m in methods:
        runs = [(cfg, res) for cfg, res in records if cfg.method == m]
        if not runs:
            continue
        ran = [len(res["epochs"]) for _, res in runs]
        early = [n for (cfg, _), n in zip(runs, ran, strict=True) if n < cfg.epochs]
        best = [res["best_epoch"] for _, res in runs]
        at_end = sum(n == cfg.epochs and res["best_epoch"] == n for (cfg, res), n in zip(runs, ran, strict=True))
        rows.append([m, len(runs), f"{len(early)} ({100 * len(early) / len(runs):.0f}%)",
                     _median_range(early) if early else "–", _median_range(best), at_end])
        tidy.append({"method": m, "runs": len(runs), "stopped_early": len(early), "stop_epochs": early,
                     "best_epochs": best, "best_at_budget_end": at_end})
    notes = [f"A run stops after {_patience(records)} without a strictly better dev accuracy; epochs: after how many "
             "it stopped, median (range) over the runs that stopped early. Best epoch: the one whose model is tested.",
             "Still improving at the end: runs that trained every epoch of the budget and whose best dev accuracy "
             "was at the last one; a longer budget might have helped them."]
    return Table("stopping", "Early stopping per method: how long the runs trained",
                 ["method", "runs", "stopped early", "stopped after (epochs)", "best epoch",
                  "still improving at the end"],
                 rows, tidy, notes, align="lrrrrr")


def lr_table(spec):
    """The chosen lr of each method (rows) on each dataset (columns); – where the cell is not decided yet."""
    rows = [[m, *(fmt_lr(TUNED_LRS[d, m]) if (d, m) in TUNED_LRS else "–" for d in spec.datasets)]
            for m in spec.methods]
    tidy = [{"dataset": d, "method": m, "lr": TUNED_LRS.get((d, m))} for m in spec.methods for d in spec.datasets]
    notes = [f"Each cell's lr: the one of {', '.join(map(fmt_lr, LRS))} whose seed-0 run reached the highest "
             "best-dev accuracy (ties: the smaller). Every tuning run's dev curve: python -m bench.compare --preset "
             "minilm-tune --report-only."]
    return Table("lrs", "Tuned learning rates", ["method", *spec.datasets], rows, tidy, notes,
                 align="l" + "r" * len(spec.datasets))


def tuned_tables(records, spec, opts):
    """table2's tables of the tuned runs, with a note of each cell's lr and the cells not yet decided, the lrs
    as a table, and how the runs stopped."""
    tables = table2_tables(records, spec, opts) + [lr_table(spec), stopping_table(records, spec.methods)]
    undecided = [f"{d}/{m}" for d in spec.datasets for m in spec.methods if (d, m) not in TUNED_LRS]
    note = "Each cell at its own lr, chosen on dev by the tuning runs (bench/experiments/tuned.py): " + ", ".join(
        f"{d}/{m} {fmt_lr(TUNED_LRS[d, m])}" for d in spec.datasets for m in spec.methods if (d, m) in TUNED_LRS)
    if undecided:
        note += f". Not yet decided, so not in the grid: {', '.join(undecided)}"
    tables[0].notes.append(note + ".")
    return tables


register(Experiment("tune", "each dataset x method at lr {5e-5, 1e-4, 2e-4}, <= 15 epochs with patience 3: "
                    "each method's own lr, chosen on dev", tune_configs, tune_tables))
register(Experiment("tuned", "each dataset x method at its tuned lr (TUNED_LRS), <= 15 epochs with patience 3: "
                    "table2's tables", tuned_configs, tuned_tables))
