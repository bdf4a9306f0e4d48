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
  final      the cell at its chosen lr, seeds 0-4 (preset minilm-tuned). A run is a deterministic function
             of its config on CPU, so the final grid's seed 0 is the tuning run at the chosen lr.

`chosen_lrs(records)` applies the rule to tuning results; the table shows every tuning run's dev curve.
"""

from dataclasses import replace

from bench.experiments.recipe import LRS, fmt_lr
from bench.experiments.registry import Experiment, register
from bench.report.tables import Table, bold


def tune_configs(spec):
    """dataset x method x lr x seed, in that order (the grid runs whole cells first)."""
    return [replace(spec.base, dataset=d, method=m, lr=lr, seed=s)
            for d in spec.datasets for m in spec.methods for lr in LRS for s in spec.seeds]


def chosen_lrs(records):
    """{(dataset, method): lr} by the rule above, for every cell whose every lr of LRS has a result."""
    best = {}
    for cfg, res in records:
        cell = (cfg.dataset, cfg.method)
        best.setdefault(cell, {})[cfg.lr] = max(best.get(cell, {}).get(cfg.lr, -1.0), res["best_dev_acc"])
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
    notes = ["Dev accuracy (%) after each epoch; a run stops after 3 epochs without a better dev accuracy.",
             "Bold: the cell's chosen lr (the highest best-dev accuracy over the lrs; ties: the smaller lr).",
             "Test accuracy is deliberately not shown: the lr is chosen on dev only.",
             f"Cells decided: {len(choice)} of {len(cells)}" + (
                 "; " + ", ".join(f"{d}/{m} {fmt_lr(lr)}" for (d, m), lr in sorted(choice.items())) if choice
                 else "")]
    return [Table("tune", "Tuning: dev accuracy per epoch by learning rate, per dataset and method",
                  ["dataset", "method", "lr", "dev per epoch", "best dev", "best epoch", "epochs", "min"],
                  rows, tidy, notes, align="lllrlrrr")]


register(Experiment("tune", "each dataset x method at lr {5e-5, 1e-4, 2e-4}, <= 15 epochs with patience 3: "
                    "each method's own lr, chosen on dev", tune_configs, tune_tables))
