"""
protocols: the single recipe beside the tuned one, on the same datasets, methods and seeds.

    python -m bench.compare --preset minilm-protocols --report-only

single   minilm-table2: every method at lr 1e-4 (chosen on `none`'s dev accuracy), at most 6 epochs.
tuned    minilm-tuned: each dataset x method at its own lr (TUNED_LRS, chosen on dev), at most 15 epochs.
Both stop early on dev accuracy with patience 3. This experiment trains nothing: its configs are the two grids'
runs (each rebuilt from its preset's recipe, so each has the file that grid wrote), read in place
(`--also-read`). Three tables:

  accuracy  per dataset x method: the mean test accuracy under each recipe and the change, tuned - single, with
            its 95% paired t interval over the seeds both have (seed s fixes the data order and the head's
            initial weights in both grids). A cell not yet decided in TUNED_LRS has no tuned runs.
  claims    each line of --claims under each recipe: the measured effect, its interval and the verdict, each
            grid's claims computed on its own runs as `--claims` on that grid's folder computes them (its own
            Holm family), on the datasets both grids have runs of, side by side, and whether the verdicts agree.
  stopping  how the runs of each recipe stopped, per method (tuned.stopping_table).
"""

from dataclasses import replace

import numpy as np

from bench.experiments.common import recipe_of
from bench.experiments.recipe import fmt_lr
from bench.experiments.registry import Experiment, register
from bench.experiments.tuned import TUNED_LRS, stopping_table, tuned_configs
from bench.grid.plan import grid_configs, run_key
from bench.presets import PRESETS
from bench.report.claims import build_units, claims_table
from bench.report.gain import paired_interval, seed_means
from bench.report.render import Table, signed_pts
from bench.stats.over_seeds import mean_std

SINGLE, TUNED = "minilm-table2", "minilm-tuned"  # the presets whose grids are compared


def single_configs(spec):
    return grid_configs(recipe_of(spec.base, PRESETS[SINGLE]), spec.datasets, spec.methods, spec.seeds)


def protocol_configs(spec):
    return single_configs(spec) + tuned_configs(replace(spec, base=recipe_of(spec.base, PRESETS[TUNED])))


def split(records, spec):
    """(the single recipe's records, the tuned grid's), told apart by their run keys."""
    single = {run_key(cfg) for cfg in single_configs(spec)}
    return ([r for r in records if run_key(r[0]) in single], [r for r in records if run_key(r[0]) not in single])


def _mean_sd(accs):
    if not accs:
        return "–"
    m = mean_std(100 * np.asarray(accs))
    return f"{m.mean:.2f} ± {m.std:.2f} ({len(accs)})" if len(accs) > 1 else f"{m.mean:.2f} (1)"


def accuracy_table(single, tuned, spec):
    acc = {}
    for name, recs in (("single", single), ("tuned", tuned)):
        for cfg, res in recs:
            acc.setdefault((name, cfg.dataset, cfg.method), {})[cfg.seed] = res["test_acc"]
    rows, tidy = [], []

    def row(d, m, a, b, lr):
        r, seeds = paired_interval(a, b) if set(a) & set(b) else (None, [])
        change = "–" if not seeds else signed_pts(r.diff) + (
            f" [{100 * r.low:+.2f}, {100 * r.high:+.2f}]" if len(seeds) > 1 else "")
        rows.append([d, m, _mean_sd(list(b.values())), lr, _mean_sd(list(a.values())), change,
                     " ".join(map(str, seeds)) or "–"])
        tidy.append({"dataset": d, "method": m, "tuned_lr": lr, "single_acc": b, "tuned_acc": a,
                     "change": r.diff if seeds else None, "low": r.low if len(seeds) > 1 else None,
                     "high": r.high if len(seeds) > 1 else None, "paired_seeds": seeds})

    for d in spec.datasets:
        for m in spec.methods:
            a, b = acc.get(("tuned", d, m), {}), acc.get(("single", d, m), {})
            if a or b:
                lr = TUNED_LRS.get((d, m))
                row(d, m, a, b, "–" if lr is None else fmt_lr(lr))
    for m in spec.methods:  # per seed, the mean over the datasets that have both recipes' run of that seed
        ds = [d for d in spec.datasets if set(acc.get(("tuned", d, m), {})) & set(acc.get(("single", d, m), {}))]
        if len(ds) > 1:  # over one dataset the mean is that dataset's row
            a, b = seed_means([(acc["tuned", d, m], acc["single", d, m]) for d in ds])
            if a:
                row(f"mean of {len(ds)}", m, a, b, "")
    lr = PRESETS[SINGLE].options["lr"]
    notes = [f"Test accuracy (%) at the best-dev epoch, mean ± sample std (seeds). Single: every method at lr "
             f"{fmt_lr(lr)}, "
             f"<= {PRESETS[SINGLE].options['epochs']} epochs; tuned: the cell's own lr (chosen on dev), <= "
             f"{PRESETS[TUNED].options['epochs']} epochs; both with patience 3.",
             "Change: tuned - single in points over the seeds both have, with the 95% paired t interval (per cell, "
             "not corrected for the number of cells). A cell without tuned runs is not decided yet.",
             "Mean of k: per seed, the mean over the k >= 2 datasets where the method has both recipes' run of that "
             "seed (the seeds every one of them has), then the same paired interval over those seeds."]
    return Table("protocols-accuracy", "Accuracy under the single recipe and the tuned one",
                 ["dataset", "method", "single", "tuned lr", "tuned", "change (pts) [95% CI]", "paired seeds"],
                 rows, tidy, notes, align="llrlrll")


def claims_side_by_side(single, tuned, opts):
    both = sorted({cfg.dataset for cfg, _ in single} & {cfg.dataset for cfg, _ in tuned})
    found = [claims_table(build_units((None, res) for cfg, res in recs if cfg.dataset in both)[0], opts.alpha,
                          resampling=opts.resampling) for recs in (single, tuned)]
    by_claim = [{r["claim"]: r for r in t.records} for t in found]
    rows, tidy = [], []
    for claim in by_claim[0]:
        a, b = by_claim[0][claim], by_claim[1].get(claim)
        if b is None:
            continue
        tested = not (np.isnan(a["p"]) or np.isnan(b["p"]))
        same = _verdict(a) == _verdict(b) if tested else None
        rows.append([claim, _effect(a), _verdict(a), _effect(b), _verdict(b),
                     {True: "yes", False: "no"}.get(same, "–")])
        tidy.append({"claim": claim, "single": a, "tuned": b, "same_verdict": same})
    notes = [f"Datasets: those with runs under both recipes ({', '.join(both) or 'none yet'}). "
             "Each recipe's claims as `python -m bench.compare --claims` computes them on that grid alone (its own "
             f"Holm family, over seeds, at α = {opts.alpha}); the robustness lines need noisy runs, which neither "
             "grid has. Effect [interval]: as in the claims table (the 1 - α Welch interval where there is one).",
             "No test: too few runs or seeds for one (the claims table of that grid says which). Same: whether the "
             "two verdicts agree, where both were tested. Not enough evidence is not evidence of no difference; a "
             "verdict that changes from one recipe to the other is a finding that depends on the recipe."]
    return Table("protocols-claims", "The paper's claims under the single recipe and the tuned one",
                 ["claim", "single: effect", "single: verdict", "tuned: effect", "tuned: verdict", "same"],
                 rows, tidy, notes, align="llllll")


def _verdict(line):
    """The verdict without its reason; "no test" where there was none (the claims table says why)."""
    return line["verdict"].split(" (")[0] + (" (no test)" if np.isnan(line["p"]) else "")


def _effect(line):
    return line["effect_text"] + ("" if line["ci_text"] == "–" else " " + line["ci_text"])


def protocol_tables(records, spec, opts):
    single, tuned = split(records, spec)
    stops = []
    for name, recs in (("single", single), ("tuned", tuned)):
        t = stopping_table(recs, spec.methods)
        t.name, t.title = f"stopping-{name}", f"{t.title}: {name} recipe"
        stops.append(t)
    return [accuracy_table(single, tuned, spec), claims_side_by_side(single, tuned, opts), *stops]


register(Experiment("protocols", "the single recipe (minilm-table2) beside the tuned one (minilm-tuned): accuracy "
                    "change per cell with paired intervals, each claim's verdict under both, early stopping "
                    "(reads both grids)", protocol_configs, protocol_tables))
