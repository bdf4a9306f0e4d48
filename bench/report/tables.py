"""
The benchmark's own tables, built from result files: accuracy, cost, the epoch budget, dev curves, failed
runs, and the notes on provenance a reader needs (bench/report/render.py draws them).

    tables = [accuracy_table(records, methods, datasets), cost_table(records, methods)]

A record is (cfg, result): a TrainConfig and its result dict (amplify/train.py), status "ok" only.

Accuracy (the paper's Table 2): test accuracy at the best-dev epoch, in percent, mean ± sample std
(ddof=1) over seeds, Δ vs `none` in points (the difference of the means), the best mean of each column
in bold (ties at the printed precision all bold). The "mean" column averages a method's dataset means
and is shown only for methods with a result on every dataset.

Cost: from train()'s timers, training steps only (evaluation excluded). Overhead vs `none` is computed
per dataset as the ratio of mean step times, then averaged over datasets geometrically; sequence
lengths differ between datasets, so pooling step times across datasets first would weight the slow ones.
"""


import math
from collections import Counter

import numpy as np

from amplify.results import TRAINING_CODE, training_code_groups
from bench.report.render import Table, bold, num, pct, seeds_per_cell, signed_pts
from bench.stats.over_seeds import mean_std

# -----------------------------------------------------------------------------
# grouping


def group(records, row=lambda c: c.method, column=lambda c: c.dataset):
    """{(row, column): [(cfg, result), ...]} in seed order."""
    out = {}
    for cfg, res in sorted(records, key=lambda r: r[0].seed):
        out.setdefault((row(cfg), column(cfg)), []).append((cfg, res))
    return out


# -----------------------------------------------------------------------------
# the tables


def accuracy_table(records, methods, datasets, baseline="none", row=lambda c: c.method,
                   column=lambda c: c.dataset):
    """Test accuracy, mean ± std over seeds, per method (rows) x dataset (columns), Δ vs `baseline`.

    `row` and `column` map a config to its row and column label (another experiment can put noise
    levels in the columns, say); `methods` and `datasets` are those labels in display order."""
    cells = group(records, row, column)
    stats = {}
    for key, runs in cells.items():
        accs = [res["test_acc"] for _, res in runs]
        m, s = mean_std(accs)
        stats[key] = {"n": len(accs), "mean": m, "std": s, "seeds": [c.seed for c, _ in runs], "accs": accs}
    complete = [m for m in methods if all((m, d) in stats for d in datasets)]
    show_mean = len(datasets) > 1 and bool(complete)
    cols = list(datasets) + (["mean"] if show_mean else [])
    for m in complete if show_mean else ():
        means = [stats[(m, d)]["mean"] for d in datasets]
        stats[(m, "mean")] = {"n": None, "mean": float(np.mean(means)), "std": math.nan, "seeds": [], "accs": []}

    best = {}
    for d in cols:
        shown = [round(100 * stats[(m, d)]["mean"], 2) for m in methods if (m, d) in stats]
        best[d] = max(shown) if shown else None
    rows, recs, ns = [], [], set()
    for m in methods:
        row_cells = [m]
        for d in cols:
            st = stats.get((m, d))
            if st is None:
                row_cells.append("–")
                continue
            text = pct(st["mean"]) + ("" if math.isnan(st["std"]) else f" ± {pct(st['std'])}")
            if round(100 * st["mean"], 2) == best[d]:
                text = bold(text)
            base = stats.get((baseline, d))
            delta = st["mean"] - base["mean"] if base is not None and m != baseline else math.nan
            if not math.isnan(delta):
                text += f" ({signed_pts(delta)})"
            if st["n"] is not None:
                ns.add(st["n"])
            row_cells.append(text)
            recs.append({"method": m, "dataset": d, "n_seeds": st["n"], "mean_acc": st["mean"], "std_acc": st["std"],
                         f"delta_vs_{baseline}": delta, "best": round(100 * st["mean"], 2) == best[d],
                         "seeds": " ".join(map(str, st["seeds"])), "accs": " ".join(f"{a:.6f}" for a in st["accs"])})
        rows.append(row_cells)
    notes = [f"Test accuracy (%) at the {best_dev(records)}, mean ± sample std over seeds; {seeds_per_cell(ns)}.",
             f"In parentheses: Δ vs {baseline} in points (difference of the means). Bold: best mean of the column."]
    if show_mean:
        notes.append("mean: the average of a method's dataset means (methods with every dataset only).")
    if 1 in ns or any(st["n"] == 1 for st in stats.values()):
        notes.append("A cell with one seed has no std.")
    if any(cfg.shots for cfg, _ in records):
        notes.append(majority_note(records, datasets, column))
    return Table("accuracy", "Test accuracy per method and dataset", ["method", *cols], rows, recs, notes)


def majority_note(records, datasets, column=lambda c: c.dataset):
    """The accuracy of always predicting the test set's most frequent class, per column: the floor a few-label
    model is read against (its training and dev draws are balanced, so it never sees the test set's prior)."""
    shares = {}
    for cfg, res in records:
        labels = res.get("test_labels")
        if labels and column(cfg) not in shares:
            shares[column(cfg)] = np.bincount(labels).max() / len(labels)
    text = ", ".join(f"{d} {pct(shares[d])}" for d in datasets if d in shares) or "no run stored its test labels"
    return f"Majority class (always predicting the test set's most frequent class): {text}."


def cost_table(records, methods, baseline="none"):
    """Per method: step time, throughput, peak memory, and step-time overhead vs `baseline`."""
    by_method = {}
    for cfg, res in records:
        by_method.setdefault(cfg.method, []).append((cfg, res))

    def step_by_dataset(m):
        out = {}
        for cfg, res in by_method.get(m, []):
            out.setdefault(cfg.dataset, []).append(res["mean_step_s"])
        return {d: float(np.mean(v)) for d, v in out.items()}

    base = step_by_dataset(baseline)
    rows, recs = [], []
    for m in methods:
        runs = by_method.get(m)
        if not runs:
            continue
        res = [r for _, r in runs]
        mine = step_by_dataset(m)
        shared = [d for d in mine if d in base and base[d] > 0]
        overhead = (math.exp(np.mean([math.log(mine[d] / base[d]) for d in shared])) - 1) if shared else math.nan
        rec = {"method": m, "runs": len(res), "datasets": len(mine),
               "ms_per_step": 1000 * float(np.mean([r["mean_step_s"] for r in res])),
               "samples_per_s": float(np.mean([r["samples_per_s"] for r in res])),
               "train_s_per_run": float(np.mean([r["train_time_s"] for r in res])),
               "wall_s_per_run": float(np.mean([r["wall_time_s"] for r in res])),
               "peak_memory_mb": float(np.max([r["peak_memory_mb"] for r in res])),
               f"step_overhead_vs_{baseline}": overhead}
        recs.append(rec)
        rows.append([m, str(rec["runs"]), num(rec["ms_per_step"], ".1f"), num(rec["samples_per_s"], ".1f"),
                     num(rec["train_s_per_run"], ".0f"), num(rec["wall_s_per_run"], ".0f"),
                     num(rec["peak_memory_mb"], ".0f"),
                     "–" if m == baseline else ("n/a" if math.isnan(overhead) else f"{100 * overhead:+.1f}%")])
    devices = sorted({f"{r['device']} ({r.get('dtype', '?')}, {r.get('env', {}).get('torch_threads', '?')} threads)"
                      for _, r in records})
    notes = [f"Means over a method's runs; training steps only (evaluation excluded). Device: {'; '.join(devices)}.",
             f"Overhead vs {baseline}: per-dataset ratio of mean step times, geometric mean over datasets.",
             "Peak memory: the largest over a method's runs; CUDA: torch.cuda.max_memory_allocated, CPU: the run "
             "process's peak RSS (model, data and Python included).",
             "Timings are as measured on a machine that may have been shared; compare them within one table only."]
    headers = ["method", "runs", "ms/step", "samples/s", "train s/run", "wall s/run", "peak MB",
               f"step time vs {baseline}"]
    return Table("cost", "Cost per method", headers, rows, recs, notes)


def budget_table(records, methods, datasets):
    """Per method and dataset: how many runs had their best dev accuracy in the last epoch the recipe allows.

    Such a run's dev curve had not turned down when training stopped: a longer budget might have moved its
    test accuracy, so a method that often peaks at the budget is the one a short recipe may hold back.
    Descriptive: counts, no test."""
    cells = group(records)
    rows, recs = [], []
    for m in methods:
        row, total = [m], [0, 0]
        for d in datasets:
            runs = cells.get((m, d), [])
            if not runs:
                row.append("–")
                continue
            at_budget = sum(_best(cfg, res) == _limit(cfg) for cfg, res in runs)
            mean_best = float(np.mean([_best(cfg, res) for cfg, res in runs]))
            total = [total[0] + at_budget, total[1] + len(runs)]
            row.append(f"{at_budget}/{len(runs)} · {mean_best:.1f}")
            recs.append({"method": m, "dataset": d, "runs": len(runs), "best_at_last_epoch": at_budget,
                         "mean_best_epoch": mean_best, "epochs": max(_limit(cfg) for cfg, _ in runs)})
        if total[1]:
            rows.append(row + ([f"{total[0]}/{total[1]}"] if len(datasets) > 1 else []))
    budgets = sorted({_limit(cfg) for cfg, _ in records})
    title = "Runs whose best dev epoch was the last one allowed"
    if _stepped(records):  # a step budget: evaluations every few steps
        title = "Runs whose best dev evaluation was the last one (the step budget's end)"
        notes = [f"k/n · s: k of the n runs had their best dev accuracy at the last evaluation (step "
                 f"{' or '.join(map(str, budgets))}, the budget), and s is the mean best-dev step.",
                 "A run that peaks at the budget was still improving on dev when it stopped: more steps might have "
                 "changed its test accuracy. Descriptive counts; no test."]
    else:
        notes = [f"k/n · e: k of the n runs had their best dev accuracy in the last epoch allowed (epoch "
                 f"{' or '.join(map(str, budgets))}, the recipe's budget), and e is the mean best-dev epoch. Runs "
                 "that early stopping ended sooner count among the n, never among the k.",
                 "A run that peaks at the budget was still improving on dev when it stopped: more epochs might have "
                 "changed its test accuracy. Descriptive counts; no test."]
    return Table("budget", title,
                 ["method", *datasets, *(["all"] if len(datasets) > 1 else [])], rows, recs, notes)


def _stepped(records):
    """True when every run trained to a step budget, so that its dev evaluations are named by step, not epoch."""
    return bool(records) and all(cfg.step_budget for cfg, _ in records)


def best_dev(records):
    """What the tested weights are called in notes: the best-dev epoch, or under a step budget the best dev
    evaluation."""
    return "best dev evaluation" if _stepped(records) else "best-dev epoch"


def _limit(cfg):
    """The last dev evaluation a run may reach: its step budget, else its number of epochs."""
    return cfg.step_budget or cfg.epochs


def _best(cfg, res):
    """The best dev evaluation, in _limit's unit: its step under a step budget, else its epoch."""
    return res["best_step"] if cfg.step_budget else res["best_epoch"]


def dev_curve_table(records, methods, datasets):
    """Per dataset and method: dev accuracy after each epoch, mean over the runs that trained that epoch.

    The curve behind budget_table's counts: whether a method's dev accuracy was still climbing at the budget,
    or sat below `none`'s all along. A run that early stopping ended sooner is absent from the later epochs,
    whose cells then say how many runs they average. Descriptive; no test."""
    cells = group(records)
    budget = max((len(res.get("epochs") or ()) for _, res in records), default=0)
    rows, recs = [], []
    for d in datasets:
        for m in methods:
            curves = [res.get("epochs") or [] for _, res in cells.get((m, d), [])]
            if not any(curves):
                continue
            row = [d, m]
            for e in range(budget):
                dev = [curve[e]["dev_acc"] for curve in curves if len(curve) > e]
                if not dev:
                    row.append("")
                    continue
                mean = 100 * float(np.mean(dev))
                row.append(f"{mean:.2f}" + (f" ({len(dev)})" if len(dev) < len(curves) else ""))
                recs.append({"dataset": d, "method": m, "epoch": e + 1, "mean_dev_acc": mean, "runs": len(dev)})
            rows.append(row)
    title = "Dev accuracy per epoch, mean over seeds"
    notes = ["Dev accuracy % after each epoch, the mean over a cell's runs (seeds). (k): only k runs trained that "
             "epoch; early stopping had ended the others. Dev accuracy selects each run's epoch, so these curves "
             "are what the recipe saw; test accuracy never enters. Descriptive; no test."]
    headers = [f"epoch {e + 1}" for e in range(budget)]
    longest = max((res.get("epochs") or [] for _, res in records), key=len, default=[])
    if _stepped(records) and all("steps" in e for e in longest):  # a step budget: evaluations every few steps
        title = "Dev accuracy per evaluation, mean over seeds"
        headers = [f"step {e['steps']}" for e in longest]
        notes = ["Dev accuracy % at each evaluation (the step it came after), the mean over a cell's runs (seeds). "
                 "(k): only k runs reached that evaluation; early stopping had ended the others. Dev accuracy "
                 "selects each run's weights, so these curves are what the recipe saw; test accuracy never enters. "
                 "Descriptive; no test."]
    return Table("dev_curves", title, ["dataset", "method", *headers], rows, recs, notes, align="ll" + "r" * budget)


def failures_table(failed):
    """failed: [(run, result)] from bench.grid.plan.collect. One row per failed run, with the error's first line."""
    rows, recs = [], []
    for run, res in failed:
        error = (res.get("error") or "no error recorded").strip().splitlines()[0]
        short = error if len(error) <= 110 else error[:107] + "..."
        rows.append([run.cfg.dataset, run.cfg.method, str(run.cfg.seed), short, run.path.name])
        recs.append({"dataset": run.cfg.dataset, "method": run.cfg.method, "seed": run.cfg.seed, "error": error,
                     "file": run.path.name})
    notes = ["Failed runs are skipped on resume; re-run them with --retry-failed once the cause is fixed. "
             "The full traceback is in the file."]
    return Table("failures", f"Failed runs ({len(rows)})", ["dataset", "method", "seed", "error", "file"], rows,
                 recs, notes, align="llrll")


def subset_notes(records):
    """One line per dataset trained or tested on a subset (train_limit / eval_limit). compare.report puts
    them under every table too, so a table copied alone still says so."""
    notes, limits = [], {}
    for cfg, _ in records:
        limits.setdefault(cfg.dataset, set()).add((cfg.train_limit, cfg.eval_limit))
    for d, sizes in sorted(limits.items()):
        for train, ev in sorted(sizes, key=str):
            if train is not None or ev is not None:
                parts = ([f"{train:,} training examples"] if train is not None else []) + (
                    [f"{ev:,} dev and {ev:,} test examples"] if ev is not None else [])
                notes.append(f"{d} here is a subset: at most {' and '.join(parts)} (a fixed random subset, the "
                             "same for every seed), not the full dataset")
    return notes


def _code_note(commits):
    """Which of the commits share their training code, as a sentence (empty when git cannot tell)."""
    groups = training_code_groups(commits)
    if groups is None:
        return ""
    code = " The training code (" + ", ".join(TRAINING_CODE) + ") is "
    if len(groups) == 1:
        return code + "the same at all of them."
    versions = "; ".join(f"({i}) " + ", ".join(c[:12] for c in g) for i, g in enumerate(groups, 1))
    return code + f"not the same at all of them: it has {len(groups)} versions, at {versions}."


def provenance_notes(records):
    """Warnings a reader of the tables needs: results from several code versions, one dataset read from
    different files, or a dataset trained or tested on a subset (train_limit / eval_limit)."""
    notes = [f"note: {n}" for n in subset_notes(records)]
    runs = Counter(str((res.get("env") or {}).get("git_commit")) for _, res in records)
    if len(runs) > 1:
        commits = sorted(runs)
        listed = ", ".join(f"{c} ({runs[c]} run{'s' * (runs[c] > 1)})" for c in commits)
        notes.append(f"warning: these results come from {len(commits)} code versions: {listed}; a changed training "
                     f"loop does not change a run's key (bench/grid/plan.py).{_code_note(commits)}")
    files = {}
    for cfg, res in records:
        src = ((res.get("data") or {}).get("source") or {}).get("files") or []
        files.setdefault(cfg.dataset, set()).add(tuple(sorted(str(f.get("sha256")) for f in src)))
    for d, versions in sorted(files.items()):
        if len(versions) > 1:
            notes.append(f"warning: the runs on {d} read {len(versions)} different versions of its data files")
    return notes
