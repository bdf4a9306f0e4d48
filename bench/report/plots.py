"""
Figure 4 of the paper (training loss over the first iterations, and wall time, per method) and the idea of
its Figure 3 (a heatmap of method-vs-method p-values), from a table2 grid's result files.

    python -m bench.compare --experiment figure4 --preset reduced --figure-steps 200
    -> OUT/figure4_loss.csv      step, loss (mean over seeds) and cumulative training time per method
       OUT/figure4_pvalues.csv   every pair of methods on every dataset: Δ, the three tests, Holm
       OUT/figure4_loss.png      per dataset: loss vs iteration | cumulative training time vs iteration
       OUT/figure4_pvalues.png   per dataset: method x method, colour = Holm-adjusted bootstrap p
OUT is --out, else the results directory (with --out, bench.compare also writes the two printed tables there as
figure4-summary.csv and figure4-pairs.csv). The PNGs need matplotlib, an optional extra
(`pip install -r requirements-plots.txt`); without it the CSVs are written and the report says how to
get the PNGs. matplotlib is used through its object API (Figure + the Agg canvas), never pyplot, so
nothing depends on a display or on pyplot's global state.

What the curves are. train() stores the loss of every optimiser step (train_loss_steps); the curve of a
method is the mean over its seeds, step by step, over the first --figure-steps steps the runs share,
drawn faintly, with a trailing moving average on top (mixup losses jump with λ from step to step).
Wall time: train() times each epoch (training steps only, evaluation excluded), not each step, so the
cumulative time at step i is the time of the epochs before plus i's share of its epoch at that epoch's
mean step time: exact at epoch ends, linear in between. With --max-steps the cosine schedule is
compressed into those steps, so the curve is then not the start of a full-length run.
Those timers meet whatever else the machine ran. Given --speed (bench.speed JSONs of the same datasets'
real batches, every method timed in each round, seconds apart), the time panel also draws each method's
cumulative time at its interleaved median step time, with the rounds' interquartile range as a band: the
comparison to read on a shared machine.

The heatmap's family: every pair of methods on every dataset shown, Holm over all of them. The colour is
the paired bootstrap over test examples (seed-averaged correctness; it works with any number of seeds);
the CSV and the table also carry Welch over seeds and McNemar, as bench/report/significance.py computes them.
"""

import math
from itertools import combinations
from pathlib import Path

import numpy as np

from amplify.results import write_atomic, write_text_atomic
from bench.report.render import Table, num, pval, render, signed_pts
from bench.report.significance import TESTS, borderline_note, p_records, run_family
from bench.report.speed_files import interleaved_steps
from bench.report.tables import group

INSTALL = "pip install -r requirements-plots.txt (matplotlib) for the PNGs"


def figure_class():
    """matplotlib's Figure with the Agg canvas, or None when matplotlib is not installed."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


def save_png(fig, path):
    """The figure as a PNG, written atomically like every other file the bench writes (amplify.results)."""
    write_atomic(path, lambda f: fig.savefig(f, format="png", dpi=120), binary=True)


def _csv(records):
    """Tidy records as CSV, through the tables' own CSV writer (nan as an empty cell)."""
    return render(Table("data", "data", list(records[0]), [], records), "csv") if records else ""


# -----------------------------------------------------------------------------
# the curves


def cumulative_time(res):
    """Seconds of training at the end of each step (length = steps), from the per-epoch timers."""
    out, done, t = [], 0, 0.0
    for ep in res.get("epochs", []):
        n = ep["steps"] - done
        out += list(t + ep["train_time_s"] * np.arange(1, n + 1) / max(n, 1))
        done, t = ep["steps"], t + ep["train_time_s"]
    return np.array(out)


def curves(records, methods, datasets, steps, speed=None):
    """{(dataset, method): {"loss", "time", "seeds", "jitter"}, and "step" (interleaved_steps' entry) when speed
    has the cell} over the first min(steps, shortest run) steps. loss and time: means over the runs (seeds);
    jitter: per run, the standard deviation of the loss's step-to-step change, then its mean over the runs."""
    cells = group(records)
    out = {}
    for d in datasets:
        for m in methods:
            runs = cells.get((m, d))
            if not runs:
                continue
            n = min([steps] + [min(len(r["train_loss_steps"]), len(cumulative_time(r))) for _, r in runs])
            if n < 1:
                continue
            losses = np.array([r["train_loss_steps"][:n] for _, r in runs], dtype=float)  # (seeds, n)
            time = np.mean([cumulative_time(r)[:n] for _, r in runs], axis=0)
            jitter = float(np.mean(np.std(np.diff(losses, axis=1), axis=1))) if n >= 3 else math.nan
            out[(d, m)] = {"loss": losses.mean(axis=0), "time": time, "seeds": len(runs), "jitter": jitter}
            if speed and (d, m) in speed:
                out[(d, m)]["step"] = speed[d, m]
    return out


def interleaved_time(c, key="ms"):
    """Cumulative seconds at each step at the cell's interleaved step time (key: "ms", "q1" or "q3")."""
    return c["step"][key] / 1000 * np.arange(1, len(c["loss"]) + 1)


def smooth(y, window):
    """Trailing moving average (the first points average what there is so far)."""
    c = np.cumsum(np.insert(np.asarray(y, float), 0, 0.0))
    i = np.arange(1, len(y) + 1)
    lo = np.maximum(0, i - window)
    return (c[i] - c[lo]) / (i - lo)


def loss_table(cv, steps, speed=None):
    """speed: the --speed paths given, if any (to say when none of them timed these cells)."""
    rows, recs = [], []
    for (d, m), c in cv.items():
        n = len(c["loss"])
        k = max(1, n // 10)
        rec = {"dataset": d, "method": m, "seeds": c["seeds"], "steps": n,
               "loss_first_10pct": float(c["loss"][:k].mean()), "loss_last_10pct": float(c["loss"][-k:].mean()),
               "loss_step_change_std": c["jitter"],
               "train_s_at_last_step": float(c["time"][-1]),
               "ms_per_step": 1000 * float(c["time"][-1]) / n,
               **({f"interleaved_ms_{q}": c["step"][q] for q in ("ms", "q1", "q3")} if "step" in c else {})}
        recs.append(rec)
        rows.append([d, m, str(c["seeds"]), str(n), num(rec["loss_first_10pct"], ".3f"),
                     num(rec["loss_last_10pct"], ".3f"), num(rec["loss_step_change_std"], ".3f"),
                     num(rec["train_s_at_last_step"], ".1f"),
                     num(rec["ms_per_step"], ".0f"),
                     f"{c['step']['ms']:.0f} ({c['step']['q1']:.0f}–{c['step']['q3']:.0f})" if "step" in c else "–"])
    notes = [f"Loss: mean over seeds of each step's training loss (the mixed loss for mixup methods), over the first "
             f"{steps} steps or fewer when the runs are shorter; first/last 10%: its mean over the first and last "
             "tenth of those steps. Mixup losses are not comparable in level with none's (the targets are mixed); "
             "compare shapes.",
             "Step-to-step sd: per run, the standard deviation of the change in training loss from one step to the "
             "next over those steps, then its mean over seeds; lower is steadier. For a mixup method it includes "
             "the spread that λ and the partner's label add to the loss: how steady the signal the optimiser sees "
             "is, not how steady the model's fit of the clean data is.",
             "Training time: cumulative, from per-epoch timers (exact at epoch ends, linear in between), training "
             "steps only; measured as the machine was loaded at the time, so compare within one table only."]
    notes.append(interleaved_note(cv, speed))
    return Table("figure4-summary", "Figure 4: training loss over the first iterations, and training time",
                 ["dataset", "method", "seeds", "steps", "loss, first 10%", "loss, last 10%", "step-to-step sd",
                  "train s", "ms/step", "ms/step, interleaved"], rows, recs, notes, align="llrrrrrrrr")


def interleaved_note(cv, speed):
    """Where the interleaved step times came from, and under what load; or why the column is empty."""
    files = {c["step"]["file"]: c["step"] for c in cv.values() if "step" in c}
    if files:
        return ("ms/step, interleaved: the median (interquartile range) over bench.speed's rounds, which time every "
                "method seconds apart on the dataset's real batches: " + "; ".join(
                    f"{f} ({s['rounds']} rounds, 1-minute load average {num(s['load'][0], '.1f')} before, "
                    f"{num(s['load'][1], '.1f')} after)" for f, s in files.items()) + ".")
    if speed:
        return f"ms/step, interleaved: none of {', '.join(map(str, speed))} times these datasets' batches."
    return "ms/step, interleaved: no bench.speed measurement given (--speed)."


def loss_csv(cv):
    recs = [{"dataset": d, "method": m, "step": i + 1, "loss": float(c["loss"][i]), "cumulative_train_s":
             float(c["time"][i]), "cumulative_train_s_interleaved": float(interleaved_time(c)[i]) if "step" in c
             else float("nan"), "seeds": c["seeds"]} for (d, m), c in cv.items() for i in range(len(c["loss"]))]
    return _csv(recs)


def plot_loss(Figure, cv, methods, datasets):
    from matplotlib.ticker import MaxNLocator

    ds = [d for d in datasets if any((d, m) in cv for m in methods)]
    fig = Figure(figsize=(11, 3.6 * len(ds)), layout="constrained")
    axes = fig.subplots(len(ds), 2, squeeze=False)
    for (ax_loss, ax_time), d in zip(axes, ds, strict=True):
        for i, m in enumerate(methods):
            c = cv.get((d, m))
            if c is None:
                continue
            x = np.arange(1, len(c["loss"]) + 1)
            color = f"C{i}"
            ax_loss.plot(x, c["loss"], color=color, alpha=0.25, linewidth=0.8)
            ax_loss.plot(x, smooth(c["loss"], max(1, len(x) // 20)), color=color, linewidth=1.8,
                         label=f"{m} ({c['seeds']} seed{'s' if c['seeds'] > 1 else ''})")
            if "step" in c:  # the interleaved measurement, with its rounds' interquartile range; the timers dashed
                ax_time.fill_between(x, interleaved_time(c, "q1"), interleaved_time(c, "q3"), color=color, alpha=0.2)
                ax_time.plot(x, interleaved_time(c), color=color, linewidth=1.8,
                             label=f"{m} (bench.speed, interleaved; band: IQR)")
                ax_time.plot(x, c["time"], color=color, linewidth=1.0, linestyle="--", label=f"{m} (run timers)")
            else:
                ax_time.plot(x, c["time"], color=color, linewidth=1.8, label=m)
        ax_loss.set(xlabel="training iteration (optimiser step)", ylabel="training loss (mean over seeds)",
                    title=f"{d}: training loss")
        ax_time.set(xlabel="training iteration (optimiser step)", ylabel="cumulative training time (s)",
                    title=f"{d}: training time, training steps only")
        for ax in (ax_loss, ax_time):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_loss.legend(fontsize=8)
        ax_time.legend(fontsize=8)
        ax_loss.grid(alpha=0.3)
        ax_time.grid(alpha=0.3)
    fig.suptitle("Training loss and training time per method (faint: per step; bold: moving average)")
    return fig


# -----------------------------------------------------------------------------
# the p-value heatmap


def pvalue_pairs(records, methods, datasets, alpha, resampling):
    """Every pair of methods on every dataset, the three tests each, Holm over the figure per test."""
    cells = group(records)
    wanted = [(a, b, d) for d in datasets for a, b in combinations([m for m in methods if (m, d) in cells], 2)]
    found, adjusted, problems = run_family(cells, wanted, alpha, resampling)
    recs = []
    for i, (_, ex) in enumerate(found):
        c = {t: adjusted[t][i] for t in TESTS}
        recs.append({"dataset": c["welch"].dataset, "a": c["welch"].method_a, "b": c["welch"].method_b,
                     "delta": ex["delta"], "n_seeds_a": ex["n_seeds_a"], "n_seeds_b": ex["n_seeds_b"],
                     **p_records(c, alpha, resampling)})
    return recs, problems, adjusted


def pvalue_table(recs, problems, alpha, resampling, adjusted):
    rows = [[r["dataset"], f"{r['a']} vs {r['b']}", signed_pts(r["delta"]), pval(r["welch_p_holm"]),
             pval(r["bootstrap_p_holm"]) + (" (borderline)" if r["bootstrap_borderline"] else ""),
             pval(r["mcnemar_p_holm"])] for r in recs]
    notes = [f"Every pair of methods on every dataset: {len(recs)} comparisons, Holm over all of them separately for "
             f"each test (α={alpha}). Δ: A − B in points. The heatmap's colour is the bootstrap column "
             "(paired resamples of test examples, seed-averaged correctness).", borderline_note(adjusted, resampling),
             *problems]
    return Table("figure4-pairs", "Figure 3 idea: Holm-adjusted p-values of every method against every other",
                 ["dataset", "A vs B", "Δ pts", "Welch Holm", "boot Holm", "McNemar Holm"], rows, recs, notes,
                 align="llrrrr")


def plot_pvalues(Figure, recs, methods, datasets, alpha):
    from matplotlib.colors import LogNorm

    ds = [d for d in datasets if any(r["dataset"] == d for r in recs)]
    k = len(methods)
    fig = Figure(figsize=(1.0 + 4.6 * len(ds), 1.2 + 0.75 * k), layout="constrained")
    axes = fig.subplots(1, len(ds), squeeze=False)[0]
    norm = LogNorm(vmin=1e-4, vmax=1.0)
    image = None
    for ax, d in zip(axes, ds, strict=True):
        grid = np.full((k, k), np.nan)
        text = {}
        for r in (r for r in recs if r["dataset"] == d):
            i, j = methods.index(r["a"]), methods.index(r["b"])
            p = r["bootstrap_p_holm"]
            for x, y, sign in ((i, j, 1), (j, i, -1)):  # symmetric; Δ is row minus column
                grid[x, y] = max(p, 1e-4)
                text[(x, y)] = f"{pval(p)}\n{signed_pts(sign * r['delta'] + 0.0)}"  # + 0.0: no "-0.00"
        image = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", norm=norm)
        for (x, y), t in text.items():
            ax.text(y, x, t, ha="center", va="center", fontsize=7,
                    color="white" if grid[x, y] < 0.01 else "black",
                    fontweight="bold" if grid[x, y] <= alpha else "normal")
        ax.set_xticks(range(k), methods, rotation=30, ha="right")
        ax.set_yticks(range(k), methods)
        ax.set(xlabel="method B (column)", ylabel="method A (row)", title=f"{d}: Holm-adjusted bootstrap p")
    if image is not None:
        fig.colorbar(image, ax=list(axes), label="Holm-adjusted p (paired bootstrap; log scale)")
    fig.suptitle(f"Method vs method on test accuracy\ncell: Holm-adjusted p, and Δ = row − column in points "
                 f"(bold: p ≤ {alpha})", fontsize=10)
    return fig


# -----------------------------------------------------------------------------
# the experiment's report


def figure4(records, spec, opts):
    """The tables, and (when opts.out_dir is set) the CSV and PNG files; the notes say what was written."""
    methods, datasets, steps = list(spec.methods), list(spec.datasets), opts.figure_steps
    cv = curves(records, methods, datasets, steps, interleaved_steps(opts.speed) if opts.speed else None)
    recs, problems, adjusted = pvalue_pairs(records, methods, datasets, opts.alpha, opts.resampling)
    tables = [loss_table(cv, steps, opts.speed), pvalue_table(recs, problems, opts.alpha, opts.resampling, adjusted)]
    if not opts.out_dir:
        return tables
    out = Path(opts.out_dir)
    written = [out / "figure4_loss.csv", out / "figure4_pvalues.csv"]
    write_text_atomic(written[0], loss_csv(cv))
    write_text_atomic(written[1], _csv(recs))
    Figure = figure_class()
    if Figure is None:
        note = f"Wrote {', '.join(map(str, written))}. matplotlib is not installed: no PNGs; {INSTALL}."
    else:
        pngs = []
        if cv:
            pngs.append(out / "figure4_loss.png")
            save_png(plot_loss(Figure, cv, methods, datasets), pngs[-1])
        if recs:
            pngs.append(out / "figure4_pvalues.png")
            save_png(plot_pvalues(Figure, recs, methods, datasets, opts.alpha), pngs[-1])
        note = f"Wrote {', '.join(map(str, written + pngs))}."
    tables[0].notes.append(note)
    return tables
