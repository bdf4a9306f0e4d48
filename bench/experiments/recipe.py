"""
recipe: choose a backbone's learning rate and number of epochs for `none`, on dev accuracy only.

    python -m bench.compare --experiment recipe --preset minilm-recipe --jobs 2

The paper's recipe (lr 2e-5, <= 15 epochs, patience 5) is for bert-base on a GPU; a smaller backbone on a
CPU needs its own. This grid trains the method(s) asked for (the preset: `none`, seed 0) at each lr of
LRS with early stopping off (patience = epochs), so every run records its whole dev curve. The table shows,
per dataset and lr, the dev accuracy after each epoch and the best one. Test accuracy is not shown: the
test split never selects anything, and a recipe chosen with it would leak into every claim. Every method
of the main grid then uses the chosen recipe, as the paper did (bench/compare.py, preset minilm-table2).
"""

from dataclasses import replace

from bench.experiments.registry import Experiment, register
from bench.report.tables import Table, bold

LRS = (5e-5, 1e-4, 2e-4)


def recipe_configs(spec):
    base = replace(spec.base, patience=spec.base.epochs)  # no early stopping: whole dev curves
    return [replace(base, dataset=d, method=m, lr=lr, seed=s)
            for d in spec.datasets for m in spec.methods for lr in LRS for s in spec.seeds]


def recipe_tables(records, spec, opts):
    rows, tidy = [], []
    for d in spec.datasets:
        runs = sorted((cfg.lr, cfg.method, cfg.seed, res) for cfg, res in records if cfg.dataset == d)
        best = max((res["best_dev_acc"] for *_, res in runs), default=None)
        for lr, method, seed, res in runs:
            curve = [e["dev_acc"] for e in res["epochs"]]
            peak = f"{100 * res['best_dev_acc']:.2f}"
            rows.append([d, method, seed, f"{lr:g}", " ".join(f"{100 * a:.1f}" for a in curve),
                         bold(peak) if res["best_dev_acc"] == best else peak, res["best_epoch"],
                         f"{res['wall_time_s'] / 60:.0f}"])
            tidy.append({"dataset": d, "method": method, "seed": seed, "lr": lr, "dev_curve": curve,
                         "best_dev_acc": res["best_dev_acc"], "best_epoch": res["best_epoch"],
                         "wall_min": res["wall_time_s"] / 60})
    notes = ["Dev accuracy (%) after each epoch, early stopping off; bold: the best lr of the dataset.",
             "Test accuracy is deliberately not shown: the recipe is chosen on dev only.",
             "min: the run's wall time (runs made on different code or machine load are not comparable)."]
    return [Table("recipe", "Recipe calibration: dev accuracy per epoch by learning rate",
                  ["dataset", "method", "seed", "lr", "dev per epoch", "best dev", "epoch", "min"], rows, tidy,
                  notes, align="llrlrrrr")]


register(Experiment("recipe", "the lr sweep {5e-5, 1e-4, 2e-4} with whole dev curves that picks a backbone's "
                    "recipe (dev only)", recipe_configs, recipe_tables))
