"""
fewshot-budget: choose the few-label grids' step budget on `none`'s dev accuracy only (docs/fewshot.md).

    python -m bench.compare --preset minilm-fewshot-budget --jobs 2
    python -m bench.compare --preset minilm-fewshot-budget --report-only    # dev curves and the choice per K

For each K of BUDGETS, each dataset and method asked for (the preset: `none`, seed 0), one run per candidate
budget: K examples per class (data/fewshot.py), that many optimiser steps with the cosine schedule over them,
dev every budget / EVALS_PER_RUN steps, no early stopping. A run per budget, not one long run read at its
earlier points: the schedule's shape depends on the budget, so a long run's dev accuracy at step 200 is not
what a 200-step run reaches. The rule, per K: the budget with the highest mean best-dev accuracy over the
datasets (ties: the smaller budget). Test accuracy is never shown: the budget then serves every method of
the grids (presets minilm-fewshot-10 and -100, whose FEWSHOT_STEPS it replaces by hand).
"""

from dataclasses import replace

from bench.experiments.registry import Experiment, register
from bench.report.render import Table, bold

BUDGETS = {10: (100, 200, 400), 100: (200, 400, 800)}  # K -> candidate steps, around the presets' placeholders
EVALS_PER_RUN = 20  # dev every budget / 20 steps, as the grids (LM-BFF: 1,000 steps, dev every 100)


def budget_configs(spec):
    """K x dataset x method x budget x seed, in that order; patience = evaluations: no early stopping."""
    return [replace(spec.base, shots=k, dataset=d, method=m, step_budget=b, eval_every=b // EVALS_PER_RUN,
                    patience=EVALS_PER_RUN, seed=s)
            for k, budgets in BUDGETS.items() for d in spec.datasets for m in spec.methods for b in budgets
            for s in spec.seeds]


def choose(tidy, datasets):
    """{K: (budget, {budget: mean best dev})} for each K whose budgets have all been run on every dataset."""
    out = {}
    for k, budgets in BUDGETS.items():
        means = {}
        for b in budgets:
            best = [max((t["best_dev_acc"] for t in tidy if (t["shots"], t["steps"], t["dataset"]) == (k, b, d)),
                        default=None) for d in datasets]
            if None not in best:
                means[b] = sum(best) / len(best)
        if len(means) == len(budgets):
            top = max(means.values())
            out[k] = (min(b for b, m in means.items() if m == top), means)
    return out


def budget_tables(records, spec, opts):
    rows, tidy = [], []
    for cfg, res in sorted(records, key=lambda r: (r[0].shots, r[0].dataset, r[0].step_budget, r[0].seed)):
        tidy.append({"shots": cfg.shots, "dataset": cfg.dataset, "method": cfg.method, "seed": cfg.seed,
                     "steps": cfg.step_budget, "dev_curve": [e["dev_acc"] for e in res["epochs"]],
                     "best_dev_acc": res["best_dev_acc"], "best_step": res.get("best_step"),
                     "wall_min": res["wall_time_s"] / 60})
    choice = choose(tidy, spec.datasets)
    for t in tidy:
        peak = f"{100 * t['best_dev_acc']:.2f}"
        chosen = choice.get(t["shots"], (None,))[0] == t["steps"]
        rows.append([t["shots"], t["dataset"], t["method"], t["seed"], t["steps"],
                     " ".join(f"{100 * a:.1f}" for a in t["dev_curve"]), bold(peak) if chosen else peak,
                     t["best_step"], f"{t['wall_min']:.0f}"])
    notes = [f"Dev accuracy (%) after every budget/{EVALS_PER_RUN} steps, early stopping off; bold: the chosen "
             "budget of that K.", "Test accuracy is deliberately not shown: the budget is chosen on dev only.",
             "The rule, per K: the budget with the highest mean best-dev accuracy over the datasets (ties: the "
             "smaller)."]
    for k, budgets in BUDGETS.items():
        if k in choice:
            b, means = choice[k]
            notes.append(f"K = {k}: {b} steps (" + ", ".join(f"{x}: {100 * m:.2f}" for x, m in means.items()) + ").")
        else:
            notes.append(f"K = {k}: not yet known (not every budget of {budgets} has a run on every dataset).")
    return [Table("fewshot-budget", "Few-label budget calibration: dev accuracy per evaluation by step budget",
                  ["K", "dataset", "method", "seed", "steps", "dev per evaluation", "best dev", "at step", "min"],
                  rows, tidy, notes, align="rllrrlrrr")]


register(Experiment("fewshot-budget", "the few-label step budget: none at K = 10 and 100 with 3 budgets each, "
                    "whole dev curves (dev only)", budget_configs, budget_tables))
