"""
Which differences in the accuracy table are real: three tests per comparison, Holm over the family.

The family (fixed before looking at any number, and printed under the table): on every dataset,
  - each method vs `none`            (does mixup help at all?), and
  - `amplify` vs each other method   (does AMPLIFY beat the baselines?; vs none is already counted),
for the methods and datasets of the grid that have results. With the paper's grid that is
4 + 3 = 7 comparisons x 7 datasets = 49.

Each comparison gets three tests, because there are two sources of randomness (bench/stats/):
  - Welch's t over seeds (per-seed test accuracies): what the paper reports. Needs >= 2 seeds a side.
  - a paired bootstrap over test examples: per-example correctness averaged over a method's seeds
    (bench.stats.over_examples.pool_seeds); 10,000 resamples to start, and more for any comparison whose
    Holm verdict the draw could still change (bench/stats/monte_carlo.py: settle). Its p carries a Monte
    Carlo standard error (±), and a comparison still undecided at the cap is "borderline", not a verdict.
  - McNemar's test over test examples, on the seed ensembles: per example, a method's prediction is
    the plurality vote of its seeds; tied classes go to the one the lowest seed predicted (with 2
    seeds that disagree, seed 0's). McNemar assumes two fixed classifiers on paired examples; an
    ensemble is one such classifier, while concatenating seeds would count each example k times.
    Its direction can differ from Δ (a mean over seeds) when seeds disagree a lot.
Holm–Bonferroni is applied over the whole family, separately for each test: the three answer different
questions (another seed? another test set?), so they are three families of claims, not one. The verdict
column names the tests whose Holm-adjusted p is <= alpha; we do not combine them into one "yes".
Effect size: Hedges' g over seeds (A - B, pooled SD, small-sample corrected).
"""

import math
import warnings
from dataclasses import dataclass

import numpy as np

from bench.report.render import Table, pval, pval_holm, pval_mc, signed_pts
from bench.report.tables import group
from bench.stats.checks import DegenerateInputWarning
from bench.stats.monte_carlo import DEFAULT_PLAN, LEVEL, settled
from bench.stats.multiple_testing import Comparison, compare_family
from bench.stats.over_examples import mcnemar, paired_bootstrap, pool_seeds
from bench.stats.over_seeds import hedges_g, mean_diff, welch_t

TESTS = ("welch", "bootstrap", "mcnemar")
TEST_NAMES = {"welch": "Welch", "bootstrap": "bootstrap", "mcnemar": "McNemar"}


def family(methods, baseline="none", focus="amplify"):
    """The (A, B) pairs compared on every dataset, in display order."""
    pairs = [(m, baseline) for m in methods if m != baseline] if baseline in methods else []
    if focus in methods:
        pairs += [(focus, m) for m in methods if m not in (baseline, focus)]
    return pairs


def ensemble_predictions(preds):
    """Plurality vote per example over seeds; ties go to the class the lowest seed predicted.

    preds: (n_seeds, n_examples) ints, rows in seed order."""
    preds = np.asarray(preds)
    n = preds.shape[1]
    votes = np.zeros((int(preds.max()) + 1, n), dtype=np.int64)  # (n_classes, n_examples)
    for row in preds:
        votes[row, np.arange(n)] += 1
    tied = votes == votes.max(axis=0)
    out = np.full(n, -1, dtype=np.int64)
    for row in preds:  # seed order: the first seed whose class is among the tied ones decides
        take = (out < 0) & tied[row, np.arange(n)]
        out[take] = row[take]
    return out


def _tested(fn, *args, **kw):
    """Call a test and keep the reason of any DegenerateInputWarning it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DegenerateInputWarning)
        value = fn(*args, **kw)
    reasons = [str(w.message) for w in caught if issubclass(w.category, DegenerateInputWarning)]
    return value, "; ".join(reasons)


@dataclass
class Side:
    """One method on one dataset: its seeds' accuracies, predictions and the (shared) labels."""

    accs: list
    preds: np.ndarray  # (n_seeds, n_examples)
    labels: np.ndarray

    @classmethod
    def of(cls, runs):
        labels = [tuple(res["test_labels"]) for _, res in runs]
        if len(set(labels)) != 1:
            raise ValueError("the seeds of one method were tested on different examples (eval_limit changed?)")
        return cls([res["test_acc"] for _, res in runs], np.array([res["test_predictions"] for _, res in runs]),
                   np.array(labels[0]))


def compare_pair(a, b, names, resampling=DEFAULT_PLAN):
    """The three tests for A vs B on one dataset. names = (method_a, method_b, dataset). Returns
    ({test: Comparison}, extras) with extras the numbers the table and CSV add (Δ, g, CI, b/c...)."""
    ma, mb, d = names
    if a.labels.shape != b.labels.shape or not np.array_equal(a.labels, b.labels):
        raise ValueError(f"{d}: {ma} and {mb} were tested on different examples; they cannot be paired "
                         "(were they run with different --eval-limit?)")
    (t, p, df), note_w = _tested(welch_t, a.accs, b.accs)
    g, note_g = _tested(hedges_g, a.accs, b.accs)
    ca, cb = pool_seeds(a.preds == a.labels), pool_seeds(b.preds == b.labels)
    boot, note_b = _tested(paired_bootstrap, ca, cb, n_resamples=resampling.start, seed=resampling.seed)
    ea, eb = ensemble_predictions(a.preds) == a.labels, ensemble_predictions(b.preds) == b.labels
    mc, note_m = _tested(mcnemar, ea.astype(float), eb.astype(float))
    rows = {
        "welch": Comparison(ma, mb, d, "welch", t, p, effect=g, n=min(len(a.accs), len(b.accs)),
                            note="; ".join(x for x in (note_w, note_g) if x)),
        "bootstrap": Comparison(ma, mb, d, "bootstrap", boot.delta, boot.p, effect=boot.delta, n=ca.size,
                                note=note_b, mc=boot.mc),
        "mcnemar": Comparison(ma, mb, d, "mcnemar", mc.statistic, mc.p, effect=float(ea.mean() - eb.mean()),
                              n=int(mc.b + mc.c), note=note_m),
    }
    extras = {"delta": mean_diff(a.accs, b.accs), "hedges_g": g, "welch_t": t, "welch_df": df,
              "n_seeds_a": len(a.accs), "n_seeds_b": len(b.accs), "n_examples": int(ca.size),
              "boot_ci_low": boot.ci_low, "boot_ci_high": boot.ci_high, "mcnemar_b": mc.b, "mcnemar_c": mc.c,
              "ensemble_delta": float(ea.mean() - eb.mean())}
    return rows, extras


def run_family(cells, wanted, alpha, resampling=DEFAULT_PLAN):
    """The three tests for each (A, B, column) of `wanted` whose two cells exist, then Holm over the family,
    separately per test (the bootstrap's p's settled first). Returns (found: [(tests, extras)], adjusted:
    {test: [Comparison]}, problems)."""
    found, problems = [], []
    for a, b, col in wanted:
        if (a, col) not in cells or (b, col) not in cells:
            continue
        try:
            found.append(compare_pair(Side.of(cells[(a, col)]), Side.of(cells[(b, col)]), (a, b, col), resampling))
        except ValueError as e:
            problems.append(f"{col}, {a} vs {b}: not tested: {e}")
    adjusted = {t: compare_family(settled([tests[t] for tests, _ in found], alpha, resampling.cap), alpha)
                for t in TESTS}
    return found, adjusted, problems


def p_records(c, alpha, resampling):
    """The CSV/JSON fields of one comparison's tests: p, Holm p, significance, and for the bootstrap its Monte
    Carlo interval, resamples and borderline flag."""
    b = c["bootstrap"]
    return {**{f"{t}_p": c[t].p for t in TESTS}, **{f"{t}_p_holm": c[t].p_holm for t in TESTS},
            **{f"{t}_significant": c[t].significant for t in TESTS},
            "bootstrap_p_low": b.p_lo, "bootstrap_p_high": b.p_hi, "bootstrap_resamples": b.n_resamples,
            "bootstrap_p_holm_low": b.p_holm_lo, "bootstrap_p_holm_high": b.p_holm_hi,
            "bootstrap_borderline": b.borderline, "resample_seed": resampling.seed, "alpha": alpha}


def borderline_note(adjusted, resampling):
    """The note every table with a resampled test carries."""
    n = sum(c.borderline for rows in adjusted.values() for c in rows)
    most = max((c.n_resamples for rows in adjusted.values() for c in rows), default=0)
    return (f"Resampling: {resampling.describe()}; the most any comparison here needed: {most:,}. ± is the "
            f"Monte Carlo standard error of p. Borderline: the Holm-adjusted p's {LEVEL:.1%} Monte Carlo interval "
            f"still holds α at the cap, so the draw could decide it: no verdict either way ({n} here).")


def verdict_of(c, extras):
    """(verdict in words, who is better or None, the tests that survive Holm) for one comparison. The direction
    each surviving test points to: Δ over seeds, or McNemar's seed ensembles. A borderline test is named."""
    w = c["welch"]
    sig = [t for t in TESTS if c[t].significant]
    edge = [TEST_NAMES[t] for t in TESTS if c[t].borderline]
    if not sig:
        return f"borderline ({', '.join(edge)})" if edge else "not significant", None, sig
    better = {w.method_a if (c[t].effect if t == "mcnemar" else extras["delta"]) > 0 else w.method_b for t in sig}
    who = f"{better.pop()} better" if len(better) == 1 else "directions disagree"
    text = f"significant ({', '.join(TEST_NAMES[t] for t in sig)}): {who}"
    return text + (f"; borderline ({', '.join(edge)})" if edge else ""), who, sig


def significance_table(records, methods, datasets, alpha=0.05, resampling=DEFAULT_PLAN, baseline="none",
                       focus="amplify"):
    """Every comparison of the family with its three tests, Holm-adjusted, and a verdict in words."""
    cells = group(records)
    wanted = [(ma, mb, d) for d in datasets for ma, mb in family(methods, baseline, focus)]
    found, adjusted, problems = run_family(cells, wanted, alpha, resampling)

    rows, recs, survivors = [], [], []
    for i, (_, extras) in enumerate(found):
        c = {t: adjusted[t][i] for t in TESTS}
        w = c["welch"]
        verdict, who, sig = verdict_of(c, extras)
        if sig:
            which = ", ".join(TEST_NAMES[t] for t in sig)
            survivors.append(f"{w.dataset}: {w.method_a} vs {w.method_b} ({who}; {which})")
        welch_p = "n/a (1 seed)" if min(extras["n_seeds_a"], extras["n_seeds_b"]) < 2 else pval(w.p)
        rows.append([w.dataset, f"{w.method_a} vs {w.method_b}", signed_pts(extras["delta"]),
                     welch_p, pval(w.p_holm), pval_mc(c["bootstrap"]), pval_holm(c["bootstrap"]),
                     pval(c["mcnemar"].p), pval(c["mcnemar"].p_holm),
                     "n/a" if math.isnan(extras["hedges_g"]) else f"{extras['hedges_g']:+.2f}", verdict])
        recs.append({"dataset": w.dataset, "method_a": w.method_a, "method_b": w.method_b, **extras,
                     **p_records(c, alpha, resampling), "verdict": verdict,
                     "notes": "; ".join(c[t].note for t in TESTS if c[t].note)})

    k = len(found)
    counts = ", ".join(f"{sum(adjusted[t][i].significant for i in range(k))} by {TEST_NAMES[t]}" for t in TESTS)
    notes = [
        f"Family: on each dataset, every method vs {baseline} and {focus} vs every other method: {k} comparisons; "
        f"Holm–Bonferroni over all {k}, separately for each test. Δ: A − B in accuracy points (mean over seeds).",
        "Welch: t-test over per-seed accuracies (the paper's test; needs ≥ 2 seeds per method). "
        "Bootstrap: paired over test examples, correctness averaged over seeds. "
        "McNemar: on the seed ensembles (plurality vote per example). g: Hedges' g over seeds.",
        f"Verdict at α={alpha}: the tests whose Holm-adjusted p ≤ α. Welch speaks to another training seed, "
        "bootstrap and McNemar to another test set for these trained models. With few seeds Welch has "
        "little power: not significant means not shown, not equal.",
        f"Result: {counts} of {k} comparisons significant at α={alpha} after Holm."
        + (f" Surviving: {'; '.join(survivors)}." if survivors else " No difference survives."),
        borderline_note(adjusted, resampling),
    ]
    if any(min(e["n_seeds_a"], e["n_seeds_b"]) < 2 for _, e in found):
        notes.append("Welch's test and g are n/a where a method has one seed: a variance needs two. Those "
                     "comparisons are not in Welch's Holm family, which then has fewer members.")
    notes += problems
    headers = ["dataset", "A vs B", "Δ pts", "Welch p", "Welch Holm", "boot p", "boot Holm", "McNemar p",
               "McNemar Holm", "g", f"verdict (α={alpha}, Holm)"]
    return Table("significance", "Significance of the differences", headers, rows, recs, notes, align="llrrrrrrrrl")
