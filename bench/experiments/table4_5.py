"""
table4 and table5: every method on training texts with random word deletion (paper Table 4) or random word
swaps (paper Table 5) at 5-20%.

    python -m bench.compare --experiment table4 --preset reduced   # MiniLM, TREC-coarse, 2 seeds, 1 epoch: CPU

Reference rows: `none` at the same noise level (does mixup help on noisy data?), plus amplify vs each baseline.
The 0% column is the clean reference (table2's runs) and is shown, not tested; how much each method loses
to the noise is the robustness table, and whether AMPLIFY loses less is --claims'.

Reference: Yang & Xiang 2024, "AMPLIFY: Attention-based Mixup for Performance Improvement and Label Smoothing
in Transformer", PeerJ Computer Science (arXiv 2309.12689), Tables 4 and 5.
"""

import math
from dataclasses import replace

from bench.experiments.common import relabel, versus_table
from bench.experiments.registry import Experiment, register
from bench.grid.plan import grid_configs
from bench.report.render import Table, pct, signed_pts
from bench.report.significance import family
from bench.report.tables import accuracy_table
from bench.stats.over_seeds import mean_std

NOISE_LEVELS = (0.0, 0.05, 0.10, 0.15, 0.20)  # data/noise.py PAPER_LEVELS, plus the clean reference
NOISE_WORDS = {"delete": "deletion", "swap": "swaps"}


def drop_mean_column(table):
    """accuracy_table adds a "mean" column when it has several columns; averaging over noise levels (the clean
    one included) is not a number the paper reports, so the noise tables leave it out."""
    if table.headers[-1] != "mean":
        return table
    table.headers.pop()
    for row in table.rows:
        row.pop()
    table.records = [r for r in table.records if r.get("dataset") != "mean"]
    table.notes = [n for n in table.notes if not n.startswith("mean:")]
    return table


def level_name(noise, p):
    return f"{round(100 * p)}%" if noise and p > 0 else "0% (clean)"


def level_label(cfg):
    return level_name(cfg.noise, cfg.noise_p)


def noise_configs(kind):
    def configs(spec):
        out = []
        for d in spec.datasets:
            for p in NOISE_LEVELS:  # p = 0 is table2's configuration exactly (noise None), so the run is shared
                base = replace(spec.base, noise=kind if p > 0 else None, noise_p=p)
                out += grid_configs(base, (d,), spec.methods, spec.seeds)
        return out

    return configs


def robustness_table(records, methods, datasets, levels, name, kind):
    """Per method and level: accuracy with noise minus without, per seed (the same seed's clean run), then
    mean ± std over seeds. Descriptive; --claims tests whether AMPLIFY loses less."""
    acc = {(c.dataset, c.method, level_label(c), c.seed): r["test_acc"] for c, r in records}
    rows, recs = [], []
    for d in datasets:
        for m in methods:
            cells = [d, m]
            for lv in levels[1:]:
                seeds = [s for (dd, mm, ll, s) in acc if (dd, mm, ll) == (d, m, lv) and (d, m, levels[0], s) in acc]
                diffs = [acc[(d, m, lv, s)] - acc[(d, m, levels[0], s)] for s in sorted(seeds)]
                if not diffs:
                    cells.append("–")
                    continue
                mean, std = mean_std(diffs)
                cells.append(signed_pts(mean) + ("" if math.isnan(std) else f" ± {pct(std)}") + f" ({len(diffs)})")
                recs.append({"dataset": d, "method": m, "noise": kind, "level": lv, "n_seeds": len(diffs),
                             "mean_change": mean, "std_change": std})
            if any(c != "–" for c in cells[2:]):
                rows.append(cells)
    notes = [f"Test accuracy with word {NOISE_WORDS[kind]} minus the same seed's clean run, in points: mean ± std "
             "over seeds (number of seeds). Negative: the noise hurt. Descriptive only; `--claims` tests whether "
             "AMPLIFY loses less than the others."]
    return Table(name, f"Robustness: change from the clean accuracy with random word {NOISE_WORDS[kind]}",
                 ["dataset", "method", *levels[1:]],
                 rows, recs, notes, align="ll" + "r" * (len(levels) - 1))


def noise_tables(kind, number):
    def tables(records, spec, opts):
        levels = [level_name(kind, p) for p in NOISE_LEVELS]
        out = []
        for d in spec.datasets:
            mine = [(c, r) for c, r in records if c.dataset == d]
            if mine:
                out.append(drop_mean_column(relabel(
                    accuracy_table(mine, spec.methods, levels, column=level_label), f"table{number}-{d}",
                    f"Table {number}: test accuracy on {d} with random word {NOISE_WORDS[kind]} in the "
                    "training texts (rows: method; columns: share of words affected)")))
        setting = lambda c: f"{c.dataset} {level_label(c)}"
        noisy = [f"{d} {lv}" for d in spec.datasets for lv in levels[1:]]
        out.append(versus_table(records, family(spec.methods), noisy, lambda c: c.method, setting,
                                name=f"table{number}-significance", where="setting",
                                title=f"Table {number}: each method vs none and amplify vs each baseline, per noise "
                                      "level", alpha=opts.alpha, resampling=opts.resampling))
        out.append(robustness_table(records, spec.methods, spec.datasets, levels, f"table{number}-robustness", kind))
        return out

    return tables


register(Experiment("table4", "every method with random word deletion at 0/5/10/15/20% of training words "
                    "(paper Table 4)", noise_configs("delete"), noise_tables("delete", 4)))
register(Experiment("table5", "every method with random word swaps at 0/5/10/15/20% (paper Table 5)",
                    noise_configs("swap"), noise_tables("swap", 5)))
