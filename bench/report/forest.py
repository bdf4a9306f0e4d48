"""
A forest plot of every method's accuracy difference from `none`, with its 95% interval over seeds, per dataset
and averaged over the datasets: the paper's Table 2 as effects and their uncertainty, in one picture.

    python -m bench.compare --preset minilm-table2 --experiment forest --report-only --out DIR
    -> the table printed, and DIR/forest.csv, DIR/forest.png (matplotlib, an optional extra)

Each interval is Welch's (bench/stats/over_seeds.welch_mean): on one dataset, the interval of
mean(method) - mean(none) over seeds; over several datasets, of the plain mean of the per-dataset differences,
every dataset counting alike. The "mean" rows are therefore the same numbers as `--claims`' accuracy lines
(AMPLIFY vs none) and the accuracy table's "mean" column minus none's. An interval that holds 0 says that these
seeds cannot tell the method from `none`; its ends say which effects they still allow. These intervals are over
seeds only; the paired tests over test examples (bootstrap, McNemar) are in the significance table.
"""

import math
import warnings
from pathlib import Path

import numpy as np

from amplify.results import write_text_atomic
from bench.report.plots import INSTALL, figure_class, save_png
from bench.report.render import Table, render, signed_pts
from bench.report.tables import group
from bench.stats.checks import DegenerateInputWarning
from bench.stats.over_seeds import welch_mean

MEAN = "mean"  # the column label of the average over datasets, as in the accuracy table


def _interval(pairs):
    """welch_mean in points, quietly: a cell with one seed has no interval (nan), which the table shows as –."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateInputWarning)
        r = welch_mean(pairs)
    return 100 * r.diff, 100 * r.low, 100 * r.high, r.p


def forest_records(records, methods, datasets, baseline="none"):
    """One record per (dataset, method) with both the method and the baseline, then one per method over every
    dataset where it has both (dataset = "mean"), in display order."""
    cells = group(records)
    accs = {key: [res["test_acc"] for _, res in runs] for key, runs in cells.items()}
    out = []
    for m in (m for m in methods if m != baseline):
        pairs = []
        for d in datasets:
            if (m, d) in accs and (baseline, d) in accs:
                pairs.append((d, accs[(m, d)], accs[(baseline, d)]))
                delta, low, high, p = _interval([pairs[-1][1:]])
                out.append({"dataset": d, "method": m, "delta_pts": delta, "ci_low_pts": low, "ci_high_pts": high,
                            "welch_p": p, "n_seeds": len(accs[(m, d)]), "n_seeds_baseline": len(accs[(baseline, d)]),
                            "n_datasets": 1})
        if len(pairs) > 1:
            delta, low, high, p = _interval([pair[1:] for pair in pairs])
            out.append({"dataset": MEAN, "method": m, "delta_pts": delta, "ci_low_pts": low, "ci_high_pts": high,
                        "welch_p": p, "n_seeds": min(len(pair[1]) for pair in pairs),
                        "n_seeds_baseline": min(len(pair[2]) for pair in pairs), "n_datasets": len(pairs)})
    order = {d: i for i, d in enumerate([*datasets, MEAN])}
    return sorted(out, key=lambda r: order[r["dataset"]])  # stable: methods keep their order within a dataset


def _ci(r):
    if math.isnan(r["ci_low_pts"]):
        return "–"
    return f"[{r['ci_low_pts']:+.2f}, {r['ci_high_pts']:+.2f}]"


def forest_table(recs, baseline="none"):
    rows = [[r["dataset"] if r["dataset"] != MEAN else f"mean of {r['n_datasets']}", r["method"],
             signed_pts(r["delta_pts"] / 100), _ci(r), f"{r['n_seeds']}/{r['n_seeds_baseline']}"] for r in recs]
    notes = [f"Δ: the method's mean test accuracy minus {baseline}'s, in points; 95% interval: Welch's, over seeds "
             f"(seeds: the method's / {baseline}'s; on a mean row, the fewest of any dataset).",
             "mean of K: the plain mean of the K datasets' differences (each dataset alike), with Welch's interval "
             "from every dataset's seed variance (bench/stats/over_seeds.welch_mean, as --claims uses).",
             "Intervals over seeds only, uncorrected for the number of intervals shown; the significance table has "
             "the paired tests over test examples and Holm's correction."]
    return Table("forest", f"Accuracy difference from {baseline}, with 95% intervals over seeds",
                 ["dataset", "method", "Δ pts", "95% interval (pts)", "seeds"], rows, recs, notes, align="llrrr")


def plot_forest(Figure, recs, methods, focus="amplify", baseline="none"):
    """One panel per dataset and one for the mean, sharing the x axis (points of accuracy)."""
    panels = list(dict.fromkeys(r["dataset"] for r in recs))
    shown = [m for m in methods if m != baseline and any(r["method"] == m for r in recs)]
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(1.4 + 3.2 * ncols, 0.9 + (0.35 * len(shown) + 0.9) * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)  # method names on the left only
    y = {m: len(shown) - 1 - i for i, m in enumerate(shown)}  # first method on top
    for ax, d in zip(axes.flat, panels, strict=False):
        for r in (r for r in recs if r["dataset"] == d):
            color = "C3" if r["method"] == focus else "0.25"
            lo, hi = r["ci_low_pts"], r["ci_high_pts"]
            xerr = None if math.isnan(lo) else np.array([[r["delta_pts"] - lo], [hi - r["delta_pts"]]])
            ax.errorbar(r["delta_pts"], y[r["method"]], xerr=xerr, fmt="o", color=color, capsize=3, markersize=5)
        ax.axvline(0.0, color="0.5", linewidth=0.8, linestyle="--")
        ax.set_yticks([y[m] for m in shown], shown)
        ax.set_ylim(-0.6, len(shown) - 0.4)
        ax.grid(axis="x", alpha=0.3)
        one = next(r for r in recs if r["dataset"] == d)
        seeds = f"{one['n_seeds_baseline']} seeds" if d != MEAN else f"{one['n_datasets']} datasets"
        ax.set_title(f"{d if d != MEAN else 'mean over datasets'} ({seeds})", fontsize=10)
    for i, ax in enumerate(axes.flat):
        row, col = divmod(i, ncols)
        if i >= len(panels):  # an empty slot in the last row: the panel above it carries the x axis
            ax.set_visible(False)
            axes[row - 1, col].xaxis.set_tick_params(labelbottom=True)
            axes[row - 1, col].set_xlabel(f"Δ test accuracy vs {baseline} (points)")
        elif row == nrows - 1:
            ax.set_xlabel(f"Δ test accuracy vs {baseline} (points)")
    fig.suptitle(f"Each method minus {baseline}: mean over seeds and Welch 95% interval ({focus} in red)",
                 fontsize=11)
    return fig


def forest(records, spec, opts):
    """The table, and (when opts.out_dir is set) forest.csv and forest.png; the notes say what was written."""
    recs = forest_records(records, list(spec.methods), list(spec.datasets))
    table = forest_table(recs)
    if not opts.out_dir or not recs:
        return [table]
    out = Path(opts.out_dir)
    written = [out / "forest.csv"]
    write_text_atomic(written[0], render(table, "csv"))  # its records; --out's write_tables names it alike
    Figure = figure_class()
    if Figure is None:
        table.notes.append(f"Wrote {written[0]}. matplotlib is not installed: no PNG; {INSTALL}.")
    else:
        written.append(out / "forest.png")
        save_png(plot_forest(Figure, recs, list(spec.methods)), written[-1])
        table.notes.append(f"Wrote {', '.join(map(str, written))}.")
    return [table]
