"""
Accuracy gain over `none` against the number of labelled examples: the few-label grids (K = 10 and K = 100
examples per class) beside the full-data grid, per method and dataset, with 95% intervals.

    table = gain_table(records, methods, datasets)      # rows: method x size; columns: datasets, mean
    write_gain_figure(table, out_dir)                   # gain_vs_labels.png (+ .csv), one panel per column

A record's size is its config's `shots` (K), or the full training set when shots is None. The gain of a method
on a dataset at a size is mean over seeds of (its test accuracy - `none`'s), paired by seed: in the few-label
grids seed s is the same draw of training and dev examples for every method, and in every grid the same data
order, so the interval is the paired t interval over the seeds both have (`paired_mean`). The "mean" column
averages the datasets: per seed, the mean over datasets of the gain, then the paired interval over seeds (only
for seeds that every dataset has). The intervals are per cell, not corrected for the number of cells: read them
as the size of the uncertainty, and the significance tables of each grid (Holm) for verdicts.

The full-data runs follow their own grid's recipe (epochs, early stopping on the full dev set), not the
few-label budget: the column says what each regime gives, not what only the amount of data changes.
"""

import math
import warnings
from pathlib import Path

import numpy as np

from amplify.results import write_text_atomic
from bench.report.plots import INSTALL, figure_class, save_png
from bench.report.render import Table, render, seeds_per_cell, signed_pts
from bench.stats.checks import DegenerateInputWarning
from bench.stats.over_seeds import paired_mean

FULL = "full"


def size_label(cfg):
    return FULL if cfg.shots is None else str(cfg.shots)


def _size_order(label):
    return math.inf if label == FULL else int(label)


def accuracies(records):
    """{(size, dataset, method): {seed: test accuracy}}."""
    out = {}
    for cfg, res in records:
        out.setdefault((size_label(cfg), cfg.dataset, cfg.method), {})[cfg.seed] = res["test_acc"]
    return out


def paired_interval(gains_a, gains_b):
    """paired_mean of two {seed: value} on their shared seeds, without warnings for too few seeds."""
    seeds = sorted(set(gains_a) & set(gains_b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateInputWarning)
        r = paired_mean([gains_a[s] for s in seeds], [gains_b[s] for s in seeds])
    if len(seeds) == 1:  # no interval from one seed, but its difference is still the estimate
        r = r._replace(diff=float(gains_a[seeds[0]] - gains_b[seeds[0]]))
    return r, seeds


def seed_means(pairs):
    """[(a, b) of {seed: value}, one pair per dataset] -> (a, b) of {seed: mean over the datasets}, on the seeds
    that every a and b have: a mean over datasets that stays paired by seed."""
    shared = sorted(set.intersection(*(set(a) & set(b) for a, b in pairs)))
    return tuple({s: float(np.mean([pair[i][s] for pair in pairs])) for s in shared} for i in (0, 1))


def gain_cells(records, methods, datasets, baseline="none"):
    """Tidy records: one per method x size x column (datasets, then "mean"), with the gain and its interval."""
    acc = accuracies(records)
    sizes = sorted({k[0] for k in acc}, key=_size_order)
    cells = []
    for m in methods:
        if m == baseline:
            continue
        for size in sizes:
            per_dataset = {d: (acc.get((size, d, m)), acc.get((size, d, baseline))) for d in datasets}
            for d, (a, b) in per_dataset.items():
                if a and b:
                    r, seeds = paired_interval(a, b)
                    cells.append(_cell(m, size, d, r, seeds))
            if all(a and b for a, b in per_dataset.values()):
                r, seeds = paired_interval(*seed_means(list(per_dataset.values())))
                cells.append(_cell(m, size, "mean", r, seeds))
    return cells


def _cell(method, size, column, r, seeds):
    return {"method": method, "size": size, "column": column, "n_seeds": len(seeds),
            "seeds": " ".join(map(str, seeds)), "gain": r.diff, "low": r.low, "high": r.high, "p": r.p}


def _text(cell):
    if math.isnan(cell["low"]):
        return f"{signed_pts(cell['gain'])} (n={cell['n_seeds']})"
    return f"{signed_pts(cell['gain'])} [{signed_pts(cell['low'])}, {signed_pts(cell['high'])}]"


def gain_table(records, methods, datasets, baseline="none"):
    """Gain over `baseline` in points, per method and size (rows) x dataset and their mean (columns)."""
    cells = gain_cells(records, methods, datasets, baseline)
    columns = [c for c in (*datasets, "mean") if any(cell["column"] == c for cell in cells)]
    by = {(c["method"], c["size"], c["column"]): c for c in cells}
    keys = sorted({(c["method"], c["size"]) for c in cells},
                  key=lambda k: (list(methods).index(k[0]), _size_order(k[1])))
    rows = [[m, size if size == FULL else f"K = {size}",
             *(_text(by[m, size, col]) if (m, size, col) in by else "–" for col in columns)] for m, size in keys]
    notes = [f"Test accuracy gain over {baseline} in points: mean over seeds of the paired difference, [95% paired t "
             f"interval over seeds]; {seeds_per_cell(c['n_seeds'] for c in cells)}.",
             "labels: K examples per class in train and dev (the few-label grids), or the full training set.",
             "mean: per seed, the mean over datasets of the gain, then the interval over seeds.",
             "Intervals are per cell, not corrected for the number of cells; verdicts are in each grid's "
             "significance table (Holm)."]
    return Table("gain", f"Gain over {baseline} by number of labelled examples", ["method", "labels", *columns],
                 rows, cells, notes, align="ll" + "r" * len(columns))


# -----------------------------------------------------------------------------
# the picture


def write_gain_figure(table, out_dir):
    """OUT/gain_vs_labels.csv, and OUT/gain_vs_labels.png when matplotlib is installed: one panel per column of
    the table (each dataset, then the mean), x = labelled examples per class (10, 100, full), y = gain in points
    with its interval, one line per method. Returns the notes to print."""
    out = Path(out_dir)
    cells = table.records
    write_text_atomic(out / "gain_vs_labels.csv", render(table, "csv"))  # its records, as forest.csv is written
    notes = [f"wrote {out / 'gain_vs_labels.csv'}"]
    Figure = figure_class()
    if Figure is None:
        return notes + [f"no picture: {INSTALL}"]
    if not cells:
        return notes
    columns = list(dict.fromkeys(c["column"] for c in cells))
    sizes = sorted({c["size"] for c in cells}, key=_size_order)
    methods = list(dict.fromkeys(c["method"] for c in cells))
    n_cols = min(3, len(columns))
    n_rows = math.ceil(len(columns) / n_cols)
    fig = Figure(figsize=(4.2 * n_cols, 3.4 * n_rows), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    width = 0.6 / max(1, len(methods))
    for ax, col in zip(axes, columns, strict=False):  # the grid may have a spare panel
        for i, m in enumerate(methods):
            pts = [(sizes.index(c["size"]) + (i - (len(methods) - 1) / 2) * width, c) for c in cells
                   if c["method"] == m and c["column"] == col]
            if not pts:
                continue
            xs = [x for x, _ in pts]
            ys = [100 * c["gain"] for _, c in pts]
            err = [[100 * (c["gain"] - c["low"]) if not math.isnan(c["low"]) else 0 for _, c in pts],
                   [100 * (c["high"] - c["gain"]) if not math.isnan(c["high"]) else 0 for _, c in pts]]
            ax.errorbar(xs, ys, yerr=err, marker="o", ms=3, lw=1, capsize=2, label=m)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlim(-0.5, len(sizes) - 0.5)
        ax.set_xticks(range(len(sizes)), [s if s == FULL else f"K={s}" for s in sizes])
        ax.set_title(col)
        ax.set_ylabel("gain over none (points)")
    for ax in axes[len(columns):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7, ncol=2)
    save_png(fig, out / "gain_vs_labels.png")
    return notes + [f"wrote {out / 'gain_vs_labels.png'}"]
