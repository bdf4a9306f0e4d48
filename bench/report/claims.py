"""
python -m bench.compare --claims: the paper's claims, one line each, checked against the stored results.

    python -m bench.compare --claims --results results/paper
    python -m bench.compare --claims --results results/reduced --sig-alpha 0.01 --format csv

The claims (Yang & Xiang 2024, as docs/method.md lists them), AMPLIFY against each other method found:
  1. accuracy    AMPLIFY beats no mixup (none)
  2. accuracy    AMPLIFY beats each baseline (embedmix, sentmix, tmix; manifold when it has runs)
  3. time        AMPLIFY's training step costs less than each baseline's (from the runs' own timers, or,
                 given --speed, from bench.speed's interleaved rounds instead: the measurement to trust on a
                 shared machine; one claim is tested once)
  4. robustness  with noisy training texts AMPLIFY loses less accuracy than none and each baseline
  5. stability   AMPLIFY's accuracy varies less across seeds than none's and each baseline's
  6. calibration AMPLIFY's test probabilities are better calibrated than none's and than label smoothing's
                 (`labelsmooth`, the control the paper never ran), by NLL, ECE and Brier score: the paper's
                 title claims label smoothing, and these measure it

Which runs. Every result file of the directory, whatever experiment wrote it, with status "ok" and a name
that matches its stored config (bench/grid/plan.py). Claims are about the methods as the paper defines them, so
only runs with every method option at its default count (α default, the same label permutation, and for
AMPLIFY n = 5 draws in every block); table1's, table6's and reference-bug's variants are left out. A "unit"
is one dataset under one setting, a setting being every other config field (model, recipe, limits, device
type): AMPLIFY and X are compared within a unit, never across. In a grid tuned per method (each method at one
lr of its own, minilm-tuned) the lr belongs to the method, not the setting. Claims 1, 2, 3, 5 and 6 use clean
runs; claim 4 compares each noisy run with the same seed's clean run of its unit. Claim 6 uses the runs that
stored their test probabilities (amplify.results.read_probs); older results have none and count as no runs.

The tests are over seeds, because a claim about a method is a claim about what another training run would
give; per-example tests (bootstrap, McNemar) speak to these trained models only and are in the tables.
Within a unit (Welch's t is the paper's test; its groups are tested over all units together, below):
  1, 2  the per-seed test accuracies. Effect: Δ = mean(AMPLIFY) - mean(X).
  3     the log of each run's mean step time. Effect: the ratio of geometric means, as a %.
        Runs of different methods may have met different machine loads, which this test cannot tell from the
        method. So --speed replaces these lines: a unit is then one bench.speed JSON (one batch shape or
        dataset, one machine), whose rounds step every variant seconds apart. Effect: AMPLIFY's total time
        over the rounds / X's, what a run pays (a median per round would not be: AMPLIFY's steps are of two
        kinds, a `none` step when its λ is 1 in float32, ~37% of them, and a mixing step). Test: the paired
        permutation test of that ratio, AMPLIFY's and X's times swapped within rounds (each round's batch and
        load are shared), 10,000 random swaps, two-sided (bench.stats.over_rounds.total_ratio_test). It speaks
        to that machine and those batches: rounds are repeated measurements, not independent runs.
  4     per seed, r = the mean over the unit's noisy settings of (noisy accuracy - clean accuracy), Welch's
        groups. Effect: mean r(AMPLIFY) - mean r(X), positive when AMPLIFY loses less.
  5     Brown-Forsythe (bench.stats.over_seeds.variance_ratio_test), signed by the difference it tests (the mean
        absolute deviations from the median). Effect: var(AMPLIFY) / var(X). It needs 3 seeds in
        one method, and even then has almost no power: this line will rarely be anything but "not enough".
  6     the per-seed NLL, ECE (15 bins) or Brier score (bench/stats/calibration.py), one line
        per metric. Effect: mean(AMPLIFY) - mean(X), negative when AMPLIFY is better calibrated. The paired
        bootstrap over examples is in the calibration significance table (bench/report/calibration.py).
Across units. The effect is the mean of the units' effects (geometric for ratios), every unit weighted alike,
over the units the test can use; a unit it cannot (one seed in a method; for 5, too few distinct deviations)
is printed as "+n untested" beside the datasets and is in neither the effect nor the p.
  1, 2, 3 (runs' timers), 4, 6: the per-seed values are Welch's groups, and one Welch t-test asks whether that
        mean of the units' differences is 0 (bench.stats.over_seeds.welch_mean: each unit's Welch standard
        error, Welch-Satterthwaite df over every group; for one unit it is Welch's test). The same t gives the
        effect's confidence interval (1 - α; step times: of the ratio), so the interval excludes no difference
        exactly when the unadjusted p < α. The interval says which effects the runs leave open, the paper's
        included: "not enough evidence" with an interval of [-1.0, +0.8] points rules out a gain of 2.
  3 (interleaved), 5: Stouffer's method on the units' signed two-sided p-values (z = ±Φ⁻¹(1 - p/2),
        Z = Σz / √k; bench.stats.multiple_testing.stouffer), every unit weighted equally; units are
        independent, so their z are. No interval.
Holm-Bonferroni over every line that has a p; the intervals are not adjusted for the many lines.

Verdict, at α (--sig-alpha): "supported" when the Holm-adjusted p ≤ α and both the combined test and the
measured effect point the way the paper claims; "contradicted" when p ≤ α and both point the other way;
otherwise "not enough evidence", with the reason when there is no test at all (no runs, one seed).
Not enough evidence is not evidence of no difference.

References: Yang & Xiang 2024, "AMPLIFY: Attention-based Mixup for Performance Improvement and Label
Smoothing in Transformer", PeerJ Computer Science (the claims); Stouffer, Suchman, DeVinney, Star &
Williams 1949, "The American Soldier", vol. 1, and Whitlock 2005, "Combining probability from independent
tests", J. Evolutionary Biology 18 (the z combination; unlike Fisher's method on two-sided p-values it keeps
the direction of each unit's effect, so opposite effects cancel); Welch 1947 and Satterthwaite 1946, "An
approximate distribution of estimates of variance components", Biometrics Bulletin 2 (the df); Holm 1979
and Brown & Forsythe 1974 as in bench/stats/.
"""

import json
import math
import warnings
from pathlib import Path

import numpy as np

from amplify.results import read_json, read_probs
from bench.grid.plan import DEFAULTS, identity, is_spec, run_key
from bench.report.render import Table, num, pval, render_all, write_tables
from bench.report.speed_files import speed_rounds
from bench.stats.calibration import METRIC_NAMES, METRICS
from bench.stats.checks import DegenerateInputWarning
from bench.stats.monte_carlo import DEFAULT_PLAN, LEVEL, Exact, Stouffer, settle
from bench.stats.multiple_testing import stouffer
from bench.stats.over_rounds import total_ratio_test
from bench.stats.over_seeds import deviation_difference, variance_ratio_test, welch_mean

BASELINES = ("embedmix", "sentmix", "tmix", "manifold")
TABLE2_BASELINES = ("embedmix", "sentmix", "tmix")  # lines printed (as "no runs") even without results
NOT_SETTING = ("method", "seed", "dataset", "noise", "noise_p", "alpha", "label_perm", "n_draws", "amplify_layers",
               "mix_epochs", "ssmix_clean_loss", "label_smoothing", "method_options", "method_source")
CALIBRATION_AGAINST = ("none", "labelsmooth")  # claim 6: the lines printed, with or without runs


# -----------------------------------------------------------------------------
# reading the directory


def default_options(cfg):
    """The method as the paper defines it: no table1/table6/reference-bug variant."""
    if cfg.get("alpha") is not None or cfg.get("label_perm", "same") != "same":
        return False
    if cfg.get("mix_epochs") is not None or cfg.get("ssmix_clean_loss") or cfg.get("label_smoothing") is not None:
        return False
    return cfg["method"] != "amplify" or (cfg.get("n_draws") == 5 and cfg.get("amplify_layers") is None)


def load(results_dir, datasets=None, seeds=None):
    """{(setting, dataset): {level: {method: {seed: result}}}} and counts of what was left out and why.
    level: None for clean data, else (noise kind, p). results_dir: a folder, or a list of folders read as one
    (their files in file-name order). datasets, seeds: read only these (None: every one)."""
    folders = [Path(results_dir)] if isinstance(results_dir, (str, Path)) else [Path(f) for f in results_dir]
    for folder in folders:
        if not folder.is_dir():
            others = [str(f) for f in folders if f != folder and f.is_dir()]  # a preset that only reads other grids
            raise ValueError(f"--claims reads stored results, but {folder} is not a directory; " + (
                f"this command reads {', '.join(others)}: pass one of them as --results, or use --report-only for "
                "its own tables" if others else "pass --results DIR (the directory a bench.compare run wrote into)"))
    paths = sorted((p for folder in folders for p in folder.glob("*.json")), key=lambda p: (p.name, str(p)))
    return build_units(((path.stem, read_json(path)) for path in paths), datasets, seeds)


def build_units(results, datasets=None, seeds=None):
    """load's units and counts from (file stem, result) pairs; a stem of None skips the check that the file's
    name matches its config (for results a grid already matched to their configs).

    A unit is one dataset in one setting. Where every method of a dataset and setting ran at one learning rate
    of its own, and they are not all the same (a grid tuned per method, bench/experiments/tuned.py), the lr
    is part of the method's recipe: those runs form one unit, whose setting says lr "per method"."""
    counts = {"files": 0, "used": 0, "not ok": 0, "unreadable or stale": 0, "variants": 0, "duplicates": 0,
              "not asked for": 0}
    kept = []
    for stem, res in results:
        counts["files"] += 1
        why = _left_out(stem, res, datasets, seeds)
        if why:
            counts[why] += 1
            continue
        cfg = res["config"]
        ident = identity(cfg, res.get("device"))
        rest = {k: v for k, v in ident.items() if k not in NOT_SETTING and k != "lr"}
        kept.append((json.dumps(rest, sort_keys=True), ident.get("lr", DEFAULTS["lr"]), cfg, res))
    own_lr = _per_method_lr(kept)
    units = {}
    for rest, lr, cfg, res in kept:
        setting = json.loads(rest)
        setting["lr"] = "per method" if (rest, cfg["dataset"]) in own_lr else lr
        if setting["lr"] == DEFAULTS["lr"]:
            del setting["lr"]  # as the run's identity has it: a field at its default is left out
        level = (cfg["noise"], float(cfg["noise_p"])) if cfg.get("noise") and cfg.get("noise_p", 0) > 0 else None
        key = (json.dumps(setting, sort_keys=True), cfg["dataset"])
        runs = units.setdefault(key, {}).setdefault(level, {}).setdefault(cfg["method"], {})
        if cfg["seed"] in runs:  # e.g. a baseline run with another n_draws: the same computation, counted once
            counts["duplicates"] += 1
            continue
        runs[cfg["seed"]] = res
        counts["used"] += 1
    return units, counts


def _left_out(stem, res, datasets, seeds):
    """Why build_units leaves a result out (a key of its counts), or None when it is used."""
    cfg = res.get("config") if isinstance(res, dict) else None
    try:
        ok_name = isinstance(cfg, dict) and (stem is None or stem.endswith(run_key(cfg, res.get("device"))))
    except (ValueError, TypeError):
        ok_name = False
    if not ok_name:
        return "unreadable or stale"
    if res.get("status") != "ok":
        return "not ok"
    if not default_options(cfg):
        return "variants"
    if not (datasets is None or cfg["dataset"] in datasets) or not (seeds is None or cfg["seed"] in seeds):
        return "not asked for"
    return None


def _per_method_lr(kept):
    """The (setting without lr, dataset) groups in which each method has one lr and the methods differ."""
    lrs = {}
    for rest, lr, cfg, _ in kept:
        lrs.setdefault((rest, cfg["dataset"]), {}).setdefault(cfg["method"], set()).add(lr)
    return {group for group, by_method in lrs.items()
            if all(len(v) == 1 for v in by_method.values()) and len(set().union(*by_method.values())) > 1}


# -----------------------------------------------------------------------------
# tests


def _quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateInputWarning)  # nan is the answer, and the line says why
        return fn(*args)


def welch_groups(groups):
    """A unit of the kinds tested together by `welch_mean`: (mean(a) - mean(b), None: no test of its own, the
    two groups of per-seed values)."""
    return float(np.mean(groups[0]) - np.mean(groups[1])), None, groups


def accuracy_unit(clean, a, b):
    return welch_groups([[r["test_acc"] for _, r in sorted(clean[m].items())] for m in (a, b)])


def time_unit(clean, a, b):
    return welch_groups([[math.log(r["mean_step_s"]) for _, r in sorted(clean[m].items())] for m in (a, b)])


def speed_unit(times, a, b):
    """One bench.speed JSON: (log of a's total time over the rounds / b's, the paired permutation test's p at
    the default resampling, [a's rounds, b's rounds]); None when it did not time both. `check` runs the test
    again under the report's resampling plan, to settle it with the other lines."""
    if a not in times or b not in times:
        return None
    effect, p, _ = total_ratio_test(times[a], times[b])
    return effect, p, [times[a], times[b]]


def variance_unit(clean, a, b):
    accs = [[r["test_acc"] for _, r in sorted(clean[m].items())] for m in (a, b)]
    ratio, p = _quiet(variance_ratio_test, *accs)
    log_ratio = math.nan if math.isnan(ratio) else -math.inf if ratio == 0 else math.log(ratio)  # log(inf) = inf
    return log_ratio, p, accs


def robustness_unit(levels, a, b):
    """None when the unit has no noisy setting that both methods ran (with the clean runs of the same seeds)."""
    noisy = [lv for lv in levels if lv is not None and all(m in levels[lv] for m in (a, b))]
    if None not in levels or not noisy or not all(m in levels[None] for m in (a, b)):
        return None
    r = []
    for m in (a, b):
        seeds = [s for s in levels[None][m] if all(s in levels[lv][m] for lv in noisy)]
        r.append([np.mean([levels[lv][m][s]["test_acc"] - levels[None][m][s]["test_acc"] for lv in noisy])
                  for s in sorted(seeds)])
    if not all(r):
        return None
    return welch_groups(r)


def calibration_unit(metric):
    """Claim 6 for one metric: per-seed values from the runs with stored probabilities; None without any."""

    def unit(clean, a, b):
        values = []
        for m in (a, b):
            v = []
            for _, r in sorted(clean[m].items()):
                probs = read_probs(r)
                if probs is not None:
                    v.append(METRICS[metric](probs, np.asarray(r["test_labels"])))
            if not v:
                return None
            values.append(v)
        return welch_groups(values)

    return unit


# claim kind -> (unit function, which data, claimed direction of the effect, test name). A unit function gives
# (effect, the unit's own p or None, [per-seed or per-round groups]), or None when the unit has nothing for the claim.
KINDS = {
    "accuracy": (accuracy_unit, "clean", +1, "Welch over seeds"),
    "time": (time_unit, "clean", -1, "Welch over seeds, log step time"),
    "time-interleaved": (speed_unit, "speed", -1, "permutation over interleaved rounds"),
    "robustness": (robustness_unit, "levels", +1, "Welch over seeds, drop from clean"),
    "stability": (variance_unit, "clean", -1, "Brown–Forsythe over seeds"),
    **{f"calibration-{m}": (calibration_unit(m), "clean", -1, f"Welch over seeds, {METRIC_NAMES[m]}")
       for m in METRICS},
}


WELCH_KINDS = ("accuracy", "time", "robustness", *(f"calibration-{m}" for m in METRICS))  # tested by welch_mean


def unit_direction(kind, effect, groups):
    """The sign of what a unit's own test compares: Brown-Forsythe compares mean absolute deviations from the
    median, which can point the other way from the variance ratio shown as the effect; else the effect's."""
    if kind == "stability":
        return float(np.sign(deviation_difference(*groups)))
    return 0.0 if math.isnan(effect) else float(np.sign(effect))


def check(units, kind, a, b, confidence=0.95, resampling=DEFAULT_PLAN):
    """One claim line (before Holm): the effect, its `confidence` interval, the combined p, and what it
    rests on; for a Stouffer line, line["member"] is the combination to settle (bench/stats/monte_carlo.py)."""
    fn, data, claimed, test = KINDS[kind]
    per_unit = []
    if data == "speed":
        units = {(name, name): times for name, times in units.items()}
    for (setting, dataset), levels in units.items():
        if data == "clean":
            clean = levels.get(None, {})
            if a not in clean or b not in clean:
                continue
            out = fn(clean, a, b)
        else:
            out = fn(levels, a, b)
        if out is not None:
            per_unit.append((setting, dataset, *out))
    line = {"kind": kind, "a": a, "b": b, "test": test, "units": len(per_unit), "p": math.nan, "direction": 0.0,
            "effect": math.nan, "ci": (math.nan, math.nan), "reason": ""}
    if not per_unit:
        what = {"robustness": "noisy-data runs (table4/5) of both",
                "time-interleaved": "a --speed benchmark that timed both"}.get(kind, "both")
        if kind.startswith("calibration"):
            what = "stored test probabilities of both"
        line["reason"] = f"no runs: no unit with {what} {a} and {b}"
        return line
    # A unit enters the test when its test is possible (Welch: 2 seeds per method; Stouffer: the unit's own p).
    # The effect and the counts printed describe the units the test used: all of them when none could be tested.
    if kind in WELCH_KINDS:
        tested = [u for u in per_unit if min(map(len, u[4])) >= 2]
    else:
        tested = [u for u in per_unit if not math.isnan(u[3])]
    shown = tested or per_unit
    effects = [e for _, _, e, _, _ in shown if math.isfinite(e)]  # a 0 or inf variance ratio: direction only
    line["effect"] = float(np.mean(effects)) if effects else math.nan
    line["units"] = len(shown)
    line["untested"] = len(per_unit) - len(tested) if tested else 0
    line["datasets"] = len({d for _, d, *_ in shown})
    line["settings"] = len({s for s, *_ in shown})
    sizes = [len(x) for *_, groups in shown for x in groups]
    line["seeds_min"], line["seeds_max"] = min(sizes), max(sizes)
    if not tested:
        need = {"stability": "3 seeds in one method (with unequal deviations from the median)",
                "time-interleaved": "2 rounds that differ"}.get(kind, "2 seeds per method")
        line["reason"] = f"no test possible: the test needs at least {need} in a unit"
        return line
    if kind in WELCH_KINDS:  # one test of the mean effect over the tested units, and its interval
        r = _quiet(welch_mean, [tuple(groups) for *_, groups in tested], confidence)
        line["effect"], line["p"], line["ci"] = r.diff, r.p, (r.low, r.high)
        line["direction"] = 0.0 if math.isnan(r.t) else float(claimed * np.sign(r.t))
    else:  # Stouffer over the units' own tests, each signed the way its test points
        directions = [claimed * unit_direction(kind, e, groups) for _, _, e, _, groups in tested]
        if kind == "time-interleaved":  # resampled: the report's plan, settled with the family later
            members = [total_ratio_test(*groups, resampling.start, resampling.seed).mc for *_, groups in tested]
        else:
            members = [Exact(p) for _, _, _, p, _ in tested]
        line["member"] = Stouffer(members, directions)
        line["p"], line["direction"] = stouffer([(m.interval()[0], d) for m, d in zip(members, directions,
                                                                                     strict=True)])
    return line


def verdict(line, alpha):
    if line["reason"]:
        return f"not enough evidence ({line['reason']})"
    if line.get("borderline"):
        return "borderline (the resampler's draw could decide it at the cap)"
    effect_dir = 0.0 if math.isnan(line["effect"]) else np.sign(line["effect"]) * KINDS[line["kind"]][2]
    if line["p_holm"] <= alpha and line["direction"] > 0 and effect_dir > 0:
        return "supported"
    if line["p_holm"] <= alpha and line["direction"] < 0 and effect_dir < 0:
        return "contradicted"
    if line["p_holm"] <= alpha:
        return "not enough evidence (the combined test and the mean effect point different ways)"
    return "not enough evidence"


CLAIM_TEXT = {
    "accuracy": "AMPLIFY is more accurate than {b}",
    "time": "AMPLIFY's training step costs less than {b}'s",
    "time-interleaved": "AMPLIFY's training step costs less than {b}'s (interleaved)",
    "robustness": "AMPLIFY loses less accuracy to noisy training text than {b}",
    "stability": "AMPLIFY's accuracy varies less across seeds than {b}'s",
    **{f"calibration-{m}": "AMPLIFY is better calibrated than {b} (" + METRIC_NAMES[m] + ")" for m in METRICS},
}


def effect_text(line):
    e, kind = line["effect"], line["kind"]
    if math.isnan(e):
        return "n/a"
    if kind == "accuracy":
        return f"Δ {100 * e:+.2f} pts"
    if kind == "robustness":
        return f"drop Δ {100 * e:+.2f} pts"
    if kind.startswith("time"):
        return f"step time {100 * (math.exp(e) - 1):+.1f}%"
    if kind == "calibration-ece":
        return f"ECE Δ {100 * e:+.2f} pts"
    if kind.startswith("calibration"):
        return f"{METRIC_NAMES[kind.split('-')[1]]} Δ {e:+.4f}"
    return f"variance ×{math.exp(e):.2f}"


def ci_text(line):
    """The effect's interval in the effect's own units; '–' where it has none."""
    lo, hi = line["ci"]
    kind = line["kind"]
    if math.isnan(lo):
        return "–"
    if kind.startswith("time"):
        return f"[{100 * (math.exp(lo) - 1):+.1f}%, {100 * (math.exp(hi) - 1):+.1f}%]"
    if kind in ("accuracy", "robustness", "calibration-ece"):
        return f"[{100 * lo:+.2f}, {100 * hi:+.2f}] pts"
    return f"[{lo:+.4f}, {hi:+.4f}]"


def claim_lines(units, methods_found, speed=None, confidence=0.95, resampling=DEFAULT_PLAN):
    bases = [m for m in BASELINES if m in methods_found or m in TABLE2_BASELINES]
    bases += sorted(m for m in methods_found if is_spec(m))  # methods of one's own: baselines like the others
    c = confidence
    lines = [check(units, "accuracy", "amplify", "none", c)]
    lines += [check(units, "accuracy", "amplify", b, c) for b in bases]
    if speed:  # the cost claim is tested once, by the measurement made for it, not also by the runs' timers
        lines += [check(speed, "time-interleaved", "amplify", b, c, resampling) for b in bases]
    else:
        lines += [check(units, "time", "amplify", b, c) for b in bases]
    lines += [check(units, "robustness", "amplify", b, c) for b in ("none", *bases)]
    lines += [check(units, "stability", "amplify", b, c) for b in ("none", *bases)]
    lines += [check(units, f"calibration-{m}", "amplify", b, c) for b in CALIBRATION_AGAINST for m in METRICS]
    return lines


def claims_table(units, alpha, speed=None, resampling=DEFAULT_PLAN):
    """speed: speed_rounds' {file: {variant: [ms per round]}}, for the interleaved cost lines (None: none).
    The resampled lines are settled with the whole family first (bench/stats/monte_carlo.py)."""
    found = {m for levels in units.values() for runs in levels.values() for m in runs}
    confidence = 1 - alpha
    lines = claim_lines(units, found, speed, confidence, resampling)
    members = [ln.pop("member", None) or Exact(ln["p"]) for ln in lines]
    adjusted = settle(members, alpha, resampling.cap)
    rows, recs = [], []
    for ln, m, (q, q_lo, q_hi) in zip(lines, members, adjusted, strict=True):
        ln["p"], ln["p_lo"], ln["p_hi"] = m.interval()
        ln["p_holm"], ln["borderline"] = float(q), bool(q_lo <= alpha < q_hi)
        v = verdict(ln, alpha)
        unit = "rounds " if ln["kind"] == "time-interleaved" else ""
        seeds = "–" if "seeds_min" not in ln else unit + (
            str(ln["seeds_min"]) if ln["seeds_min"] == ln["seeds_max"] else f"{ln['seeds_min']}–{ln['seeds_max']}")
        where = "–" if "datasets" not in ln else str(ln["datasets"]) + (
            f" ({ln['units']} units in {ln['settings']} settings)" if ln["settings"] > 1 else "")
        if ln["kind"] == "time-interleaved" and "datasets" in ln:
            where = f"{ln['units']} benchmark" + "s" * (ln["units"] > 1)
        if ln.get("untested"):
            where += f" (+{ln['untested']} untested)"
        text = CLAIM_TEXT[ln["kind"]].format(b=ln["b"])
        rows.append([text, effect_text(ln), ci_text(ln), ln["test"], p_text(ln), pval(ln["p_holm"]), seeds, where, v])
        recs.append({"claim": text, "kind": ln["kind"], "a": ln["a"], "b": ln["b"], "effect": ln["effect"],
                     "effect_text": effect_text(ln), "ci_text": ci_text(ln), "ci_low": ln["ci"][0],
                     "ci_high": ln["ci"][1],
                     "confidence": confidence, "test": ln["test"], "p": ln["p"], "p_low": ln["p_lo"],
                     "p_high": ln["p_hi"], "p_holm": ln["p_holm"], "borderline": ln["borderline"],
                     "resample_seed": resampling.seed,
                     "seeds_min": ln.get("seeds_min"), "seeds_max": ln.get("seeds_max"),
                     "datasets": ln.get("datasets"), "units": ln["units"], "units_untested": ln.get("untested", 0),
                     "alpha": alpha, "verdict": v})
    k = int(np.sum(~np.isnan(adjusted[:, 0])))
    notes = [f"Family: the {k} lines with a p-value, Holm–Bonferroni over all {k}. p: for a mean Δ or step time "
             "from the runs, one Welch t-test of the mean over units (one dataset in one setting) of the units' "
             "differences; for the interleaved step times and the variance, Stouffer's combination of a two-sided "
             "test per unit. Seeds: per method and unit. Effect, seeds and datasets: of the units in the test; '+n "
             "untested': units (a dataset in a setting) where the test is impossible (one seed in a method; for the "
             "variance, too few distinct deviations), left out of the effect and the test.",
             "Effects: accuracy Δ = AMPLIFY − X in points, mean over units; step time: AMPLIFY / X − 1 (geometric); "
             "drop Δ: AMPLIFY's change from clean minus X's (positive: AMPLIFY loses less); variance: "
             "var(AMPLIFY) / var(X) over seeds (geometric mean over units); NLL / ECE (points) / Brier Δ = "
             "AMPLIFY − X (negative: AMPLIFY better calibrated), from runs with stored test probabilities.",
             f"{confidence:.0%} CI: the effect's interval from the same Welch test (so it excludes no difference "
             "exactly when the unadjusted p < α), not adjusted for the many lines: effects outside it, the paper's "
             "included, are unlikely at that confidence. –: lines tested otherwise.",
             f"Verdict at α={alpha}: supported / contradicted only when the Holm-adjusted p ≤ α and the test and "
             "the effect both point the claimed / the opposite way; otherwise not enough evidence, which is not "
             "evidence of no difference. Seed-level tests with 2-3 seeds have little power, Brown–Forsythe least.",
             "Step time lines: without --speed, from the runs' own timers, whose runs may have met different machine "
             "loads (a shared machine, other jobs) that the test cannot tell from the method; with --speed, "
             "\"(interleaved)\" instead: from bench.speed JSONs, each round stepping every method seconds apart, so "
             "load hits all alike; they speak to that machine and those batches. Their permutation tests resample: "
             f"{resampling.describe()}; [low–high]: the {LEVEL:.1%} Monte Carlo interval of a resampled line's p, "
             "and a line whose Holm-adjusted interval still holds α at the cap is borderline, no verdict."]
    return Table("claims", "The paper's claims, checked",
                 ["claim", "measured effect", f"{confidence:.0%} CI", "test", "p", "p Holm", "seeds", "datasets",
                  f"verdict (α={alpha})"], rows, recs, notes, align="llllrrrrl")


def speed_table(speed):
    """The evidence behind the interleaved lines: each method's total time over the rounds / none's."""
    names = list(speed)
    methods = [m for m in ("none", *BASELINES, "amplify") if any(m in t for t in speed.values())]
    methods += sorted({m for t in speed.values() for m in t} - set(methods) - {"hf", "hf-fused"})
    rows, recs = [], []
    for m in methods:
        row = [m]
        for n in names:
            t = speed[n]
            r = float(np.sum(t[m]) / np.sum(t["none"])) if m in t and "none" in t else math.nan
            row.append(num(r, ".3f"))
            recs.append({"method": m, "benchmark": n, "step_time_vs_none": r, "rounds": len(t.get(m, []))})
        rows.append(row)
    notes = ["The method's step times summed over the rounds / none's (bench.speed's 'total s'): what a run pays. "
             "bench.speed's 'ratio vs none' is the median per round, which differs where a method's steps are of "
             "two kinds (AMPLIFY's λ = 1 steps are none's). n/a: the benchmark did not time that method."]
    return Table("speed", "Step time vs none, interleaved (--speed)", ["method", *names], rows, recs, notes)


def settings_lines(units):
    settings = sorted({s for s, _ in units})
    dicts = [json.loads(s) for s in settings]
    varying = sorted(k for k in dicts[0] if len({json.dumps(d.get(k)) for d in dicts}) > 1) if dicts else []
    shown = varying or ["model", "epochs", "lr", "train_limit", "eval_limit", "max_steps", "device"]
    out = []
    for i, d in enumerate(dicts, 1):
        ds = sorted({dd for s, dd in units if s == settings[i - 1]})
        # a run's identity leaves out fields at their defaults: show the default there, not None
        out.append(f"setting {i}: " + ", ".join(f"{k}={d.get(k, DEFAULTS.get(k))}" for k in shown)
                   + f"; datasets: {', '.join(ds)}")
    return out


def p_text(line):
    """p, with its Monte Carlo interval when it was resampled."""
    if math.isnan(line["p"]) or line["p_lo"] == line["p_hi"]:
        return pval(line["p"])
    return f"{pval(line['p'])} [{pval(line['p_lo'])}–{pval(line['p_hi'])}]"


def claims_report(results_dir, alpha=0.05, fmt="markdown", out=None, speed=None, datasets=None, seeds=None,
                  resampling=DEFAULT_PLAN, also=None):
    """The printed report: what was read, then the claims table. Writes claims.csv etc. to `out` if given.
    speed: bench.speed JSONs (files or directories) for the interleaved cost lines. datasets, seeds: only the
    runs of these (bench.compare's --datasets / --seeds, when given); None: every run. also: other folders
    read with results_dir (bench.compare's --also-read: minilm-table2's claims read the noise tables' runs)."""
    folders = [results_dir, *(also or ())]
    units, counts = load(folders, datasets, seeds)
    asked = " and ".join(f"--{k} {' '.join(map(str, v))}" for k, v in (("datasets", datasets), ("seeds", seeds))
                         if v is not None)
    speed_units = speed_rounds(speed)
    where = " and ".join(map(str, folders))
    status = [f"{counts['files']} result files in {where}: {counts['used']} runs used; left out: "
              f"{counts['variants']} method variants (table1/table6/reference-bug), {counts['not ok']} failed, "
              f"{counts['unreadable or stale']} unreadable or stale, {counts['duplicates']} duplicates"
              + (f", {counts['not asked for']} outside {asked}." if asked else "."),
              *settings_lines(units)]
    if speed is not None:
        status.append(f"interleaved step times (--speed): {len(speed_units)} bench.speed benchmarks"
                      + (": " + ", ".join(speed_units) if speed_units else ""))
    tables = [claims_table(units, alpha, speed_units, resampling)] + ([speed_table(speed_units)] if speed_units else [])
    if out:
        write_tables(tables, out, preamble=status)
    prefix = {"markdown": "", "latex": "% ", "csv": "# "}[fmt]
    return "\n".join(prefix + s for s in status) + "\n\n" + render_all(tables, fmt)
