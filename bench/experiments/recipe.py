"""
recipe: choose a backbone's learning rate and number of epochs for `none`, on dev accuracy only.

    python -m bench.compare --preset minilm-recipe --jobs 2          # into bench/results/minilm-table2-calibration
    python -m bench.compare --preset minilm-recipe --report-only     # the table and the rule's choice

The paper's recipe (lr 2e-5, <= 15 epochs, patience 5) is for bert-base on a GPU; a smaller backbone on a
CPU needs its own. This grid trains the method(s) asked for (the preset: `none`, seed 0) at each lr of
LRS with early stopping off (patience = epochs), so every run records its whole dev curve. The table shows,
per dataset and lr, the dev accuracy after each epoch and the best one. Test accuracy is not shown: the
test split never selects anything, and a recipe chosen with it would leak into every claim. Every method
of the main grid then uses the chosen recipe, as the paper did (bench/presets.py, preset minilm-table2).
"""

from dataclasses import replace

from bench.experiments.registry import Experiment, register
from bench.report.render import Table, bold

LRS = (5e-5, 1e-4, 2e-4)


def fmt_lr(lr):
    """5e-05 -> '5e-5', 0.0001 -> '1e-4'."""
    mantissa, exp = f"{lr:.0e}".split("e")
    return f"{mantissa}e{int(exp)}"


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
            rows.append([d, method, seed, fmt_lr(lr), " ".join(f"{100 * a:.1f}" for a in curve),
                         bold(peak) if res["best_dev_acc"] == best else peak, res["best_epoch"],
                         f"{res['wall_time_s'] / 60:.0f}"])
            tidy.append({"dataset": d, "method": method, "seed": seed, "lr": lr, "dev_curve": curve,
                         "best_dev_acc": res["best_dev_acc"], "best_epoch": res["best_epoch"],
                         "wall_min": res["wall_time_s"] / 60})
    notes = ["Dev accuracy (%) after each epoch, early stopping off; bold: the best lr of the dataset.",
             "Test accuracy is deliberately not shown: the recipe is chosen on dev only.",
             "min: the run's wall time (runs made on different code or machine load are not comparable).",
             *choice_notes(tidy, spec.datasets)]
    return [Table("recipe", "Recipe calibration: dev accuracy per epoch by learning rate",
                  ["dataset", "method", "seed", "lr", "dev per epoch", "best dev", "epoch", "min"], rows, tidy,
                  notes, align="llrlrrrr")]


def choose(tidy, datasets):
    """The rule for one lr for every dataset: the highest mean best-dev accuracy over the datasets, among the
    lrs run on all of them (ties: the smaller lr). (lr, {lr: mean}), or (None, {}) before that is known."""
    means = {}
    for lr in sorted({t["lr"] for t in tidy}):
        best = [max((t["best_dev_acc"] for t in tidy if t["lr"] == lr and t["dataset"] == d), default=None)
                for d in datasets]
        if None not in best:
            means[lr] = sum(best) / len(best)
    if not means:
        return None, {}
    top = max(means.values())
    return min(lr for lr, m in means.items() if m == top), means


def choice_notes(tidy, datasets):
    lr, means = choose(tidy, datasets)
    if lr is None:
        return ["One lr for all: not yet known (no lr has been run on every dataset)."]
    per = {d: max((t for t in tidy if t["dataset"] == d), key=lambda t: (t["best_dev_acc"], -t["lr"]))
           for d in datasets if any(t["dataset"] == d for t in tidy)}
    epochs = {d: t["best_epoch"] for d in datasets for t in tidy if t["dataset"] == d and t["lr"] == lr}
    return ["One lr for all, by the rule: the highest mean best-dev accuracy over the datasets (ties: the smaller "
            f"lr): {fmt_lr(lr)} (" + ", ".join(f"{fmt_lr(x)}: {100 * m:.2f}" for x, m in means.items()) + ").",
            "Best lr per dataset: " + ", ".join(f"{d} {fmt_lr(t['lr'])}" for d, t in per.items()) + f"; best epoch at "
            f"{fmt_lr(lr)}: " + ", ".join(f"{d} {e}" for d, e in epochs.items()) + "."]


register(Experiment("recipe", "the lr sweep {5e-5, 1e-4, 2e-4} with whole dev curves that picks a backbone's "
                    "recipe (dev only)", recipe_configs, recipe_tables))
