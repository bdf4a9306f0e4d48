"""
Calibration tables: NLL, ECE (15 bins) and Brier score per method and dataset, from each run's stored test
class probabilities (amplify.results.read_probs), and which differences are real.

Runs written before probabilities were stored have none: their cells say n/a, and they are left out of the
tests (a cell counts the seeds that have probabilities).

The family and the tests mirror the accuracy significance table (significance.py): on every dataset,
every method vs `none` and `amplify` vs every other method (so amplify vs labelsmooth is in), each
comparison under two tests:
  - Welch's t over seeds, on the per-seed metric;
  - a paired bootstrap over test examples (bench/stats/calibration.py, paired_bootstrap_metric): a method's
    value on a resample is the mean over its seeds of the metric on those examples.
Holm over the family, separately for each (metric, test). McNemar has no analogue for a continuous score.
Lower is better for all three metrics; Δ = A − B, negative when A is better calibrated.
"""

import math

import numpy as np

from amplify.results import read_probs
from bench.report.render import Table, pval, pval_holm, pval_mc
from bench.report.significance import TEST_NAMES, _tested, borderline_note, family
from bench.report.tables import best_dev, group
from bench.stats.calibration import METRIC_NAMES, METRICS, calibration, paired_bootstrap_metric
from bench.stats.monte_carlo import DEFAULT_PLAN, settled
from bench.stats.multiple_testing import Comparison, compare_family
from bench.stats.over_seeds import mean_std, welch_t

CAL_TESTS = ("welch", "bootstrap")


def calibration_cell(runs):
    """One method on one dataset: the seeds with stored probabilities, their (N, C) arrays, the labels and
    each metric per seed. None when no run has probabilities."""
    seeds, probs, labels = [], [], None
    for cfg, res in runs:
        p = read_probs(res)
        if p is None:
            continue
        y = np.asarray(res["test_labels"])
        if labels is not None and not np.array_equal(labels, y):
            raise ValueError("the seeds of one method were tested on different examples (eval_limit changed?)")
        seeds.append(cfg.seed)
        probs.append(p)
        labels = y
    if not seeds:
        return None
    values = [calibration(p, labels) for p in probs]
    return {"seeds": seeds, "probs": np.stack(probs), "labels": labels, "n_runs": len(runs),
            "values": {m: [v[m] for v in values] for m in METRICS}}


def calibration_cells(groups):
    """{(method, dataset): cell or None} from group(records), and the cells that could not be read."""
    cells, problems = {}, []
    for (m, d), runs in groups.items():
        try:
            cells[(m, d)] = calibration_cell(runs)
        except ValueError as e:
            cells[(m, d)], _ = None, problems.append(f"{d}, {m}: calibration not computed: {e}")
    return cells, problems


def fmt_metric(metric, mean, std):
    """ECE in percent with 2 decimals, NLL and Brier with 4."""
    scale, fmt = (100, ".2f") if metric == "ece" else (1, ".4f")
    return f"{scale * mean:{fmt}}" + ("" if math.isnan(std) else f" ± {scale * std:{fmt}}")


def fmt_delta(metric, delta):
    return f"{100 * delta:+.2f} pts" if metric == "ece" else f"{delta:+.4f}"


def calibration_table(records, methods, datasets, baseline="none"):
    """Rows (dataset, method); columns NLL, ECE (%), Brier, mean ± std over the seeds with probabilities."""
    groups = group(records)
    cells, problems = calibration_cells(groups)
    rows, recs = [], []
    for d in datasets:
        for m in methods:
            if (m, d) not in cells:
                continue
            cell, base = cells[(m, d)], cells.get((baseline, d))
            row, rec = [d, m], {"dataset": d, "method": m}
            for metric in METRICS:
                if cell is None:
                    row.append("n/a")
                    rec.update({f"{metric}_mean": math.nan, f"{metric}_std": math.nan})
                    continue
                mean, std = mean_std(cell["values"][metric])
                text = fmt_metric(metric, mean, std)
                delta = math.nan
                if base is not None and m != baseline:
                    delta = mean - float(np.mean(base["values"][metric]))
                    text += f" ({fmt_delta(metric, delta).removesuffix(' pts')})"
                row.append(text)
                rec.update({f"{metric}_mean": mean, f"{metric}_std": std, f"{metric}_delta_vs_{baseline}": delta})
            rec["n_seeds"] = 0 if cell is None else len(cell["seeds"])
            rec["n_runs"] = len(groups[(m, d)])
            row.append(f"{rec['n_seeds']}/{rec['n_runs']}")
            rows.append(row)
            recs.append(rec)
    notes = [f"From each run's test class probabilities at the {best_dev(records)}; mean ± sample std over seeds. "
             "NLL: mean -log p(true class). ECE (%): 15 equal-width confidence bins, Σ (n_bin/N)·|accuracy − "
             "confidence|. Brier: mean Σ_c (p_c − onehot_c)², in [0, 2]. Lower is better for all three.",
             f"In parentheses: Δ vs {baseline} (ECE in points). seeds: runs with stored probabilities / runs; "
             "n/a: no run of the cell stored probabilities (results written before they were).", *problems]
    headers = ["dataset", "method", "NLL", "ECE %", "Brier", "seeds"]
    return Table("calibration", "Calibration per method and dataset", headers, rows, recs, notes,
                 align="llrrrr")


def compare_calibration(a, b, metric, names, resampling=DEFAULT_PLAN):
    ma, mb, d = names
    if not np.array_equal(a["labels"], b["labels"]):
        raise ValueError(f"{d}: {ma} and {mb} were tested on different examples; they cannot be paired")
    va, vb = a["values"][metric], b["values"][metric]
    (t, p, _df), note_w = _tested(welch_t, va, vb)
    boot, note_b = _tested(paired_bootstrap_metric, metric, a["probs"], b["probs"], a["labels"],
                           n_resamples=resampling.start, seed=resampling.seed)
    tests = {"welch": Comparison(ma, mb, d, f"welch-{metric}", t, p, effect=float(np.mean(va) - np.mean(vb)),
                                 n=min(len(va), len(vb)), note=note_w),
             "bootstrap": Comparison(ma, mb, d, f"bootstrap-{metric}", boot.delta, boot.p, effect=boot.delta,
                                     n=len(a["labels"]), note=note_b, mc=boot.mc)}
    extras = {"metric": metric, "delta": float(np.mean(va) - np.mean(vb)), "n_seeds_a": len(va),
              "n_seeds_b": len(vb), "boot_delta": boot.delta, "boot_ci_low": boot.ci_low,
              "boot_ci_high": boot.ci_high}
    return tests, extras


def calibration_significance_table(records, methods, datasets, alpha=0.05, resampling=DEFAULT_PLAN, baseline="none",
                                   focus="amplify"):
    cells, problems = calibration_cells(group(records))
    found = []
    for d in datasets:
        for a, b in family(methods, baseline, focus):
            ca, cb = cells.get((a, d)), cells.get((b, d))
            if ca is None or cb is None:
                continue
            for metric in METRICS:
                try:
                    found.append(compare_calibration(ca, cb, metric, (a, b, d), resampling))
                except ValueError as e:
                    problems.append(f"{d}, {a} vs {b}: not tested: {e}")
                    break
    adjusted = {}
    for metric in METRICS:
        idx = [i for i, (_, ex) in enumerate(found) if ex["metric"] == metric]
        for t in CAL_TESTS:
            members = settled([found[i][0][t] for i in idx], alpha, resampling.cap)
            for i, c in zip(idx, compare_family(members, alpha), strict=True):
                adjusted[(i, t)] = c
    rows, recs, survivors = [], [], []
    for i, (_, ex) in enumerate(found):
        c = {t: adjusted[(i, t)] for t in CAL_TESTS}
        w = c["welch"]
        sig = [t for t in CAL_TESTS if c[t].significant]
        name = METRIC_NAMES[ex["metric"]]
        if not sig:
            verdict = "borderline (bootstrap)" if c["bootstrap"].borderline else "not significant"
        else:
            better = {w.method_a if c[t].effect < 0 else w.method_b for t in sig}
            who = f"{better.pop()} lower" if len(better) == 1 else "directions disagree"
            verdict = f"significant ({', '.join(TEST_NAMES[t] for t in sig)}): {who}"
            survivors.append(f"{w.dataset} {name}: {w.method_a} vs {w.method_b} ({who})")
        welch_p = "n/a (1 seed)" if min(ex["n_seeds_a"], ex["n_seeds_b"]) < 2 else pval(w.p)
        rows.append([w.dataset, f"{w.method_a} vs {w.method_b}", name, fmt_delta(ex["metric"], ex["delta"]), welch_p,
                     pval(w.p_holm), pval_mc(c["bootstrap"]), pval_holm(c["bootstrap"]), verdict])
        b = c["bootstrap"]
        recs.append({"dataset": w.dataset, "method_a": w.method_a, "method_b": w.method_b, **ex,
                     **{f"{t}_p": c[t].p for t in CAL_TESTS}, **{f"{t}_p_holm": c[t].p_holm for t in CAL_TESTS},
                     **{f"{t}_significant": c[t].significant for t in CAL_TESTS},
                     "bootstrap_p_low": b.p_lo, "bootstrap_p_high": b.p_hi, "bootstrap_resamples": b.n_resamples,
                     "bootstrap_p_holm_low": b.p_holm_lo, "bootstrap_p_holm_high": b.p_holm_hi,
                     "bootstrap_borderline": b.borderline, "resample_seed": resampling.seed, "alpha": alpha,
                     "verdict": verdict, "notes": "; ".join(c[t].note for t in CAL_TESTS if c[t].note)})
    k = len(found) // len(METRICS) if found else 0
    notes = [f"Family: on each dataset, every method vs {baseline} and {focus} vs every other method: {k} "
             f"comparisons per metric; Holm–Bonferroni over the {k}, separately for each metric and test. "
             "Δ = A − B (mean over seeds; ECE in points): negative when A is better calibrated.",
             "Welch: t-test over per-seed values (needs ≥ 2 seeds with probabilities per method; a comparison "
             "without a Welch p is not in Welch's Holm family). Bootstrap: paired "
             "over test examples, each method's metric averaged over its seeds.",
             f"Verdict at α={alpha}: the tests whose Holm-adjusted p ≤ α, and which method has the lower value. "
             "ECE measures calibration alone; NLL and Brier are proper scores that also reward accuracy.",
             f"Result: {len(survivors)} of {len(found)} metric comparisons significant at α={alpha} after Holm."
             + (f" Surviving: {'; '.join(survivors)}." if survivors else "")
             + ("" if found else " No pair of cells has stored test probabilities (results written before "
                                 "they were stored): nothing to test."),
             borderline_note({t: [adjusted[(i, t)] for i in range(len(found))] for t in CAL_TESTS}, resampling)]
    notes += problems
    headers = ["dataset", "A vs B", "metric", "Δ", "Welch p", "Welch Holm", "boot p", "boot Holm",
               f"verdict (α={alpha}, Holm)"]
    return Table("calibration-significance", "Significance of the calibration differences", headers, rows, recs,
                 notes, align="lllrrrrrl")
