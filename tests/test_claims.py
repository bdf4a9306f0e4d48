"""--claims (bench/report/claims.py) on result files written by hand: every verdict (supported, contradicted, not enough
evidence, no runs, no test possible), what is read and what is left out, and the combination of units."""

import itertools
import json
import math
from dataclasses import asdict

import numpy as np
import pytest
from scipy import stats as sps

from amplify.train import TrainConfig
from bench import compare
from bench.grid.plan import Run
from bench.report import claims
from bench.report.speed_files import speed_rounds
from bench.stats.multiple_testing import holm


def write(results, method, dataset, seed, acc, step_s=0.1, status="ok", **kw):
    cfg = TrainConfig(model="tiny", method=method, dataset=dataset, seed=seed, epochs=1, **kw)
    run = Run.of(cfg, results)
    run.path.parent.mkdir(parents=True, exist_ok=True)
    run.path.write_text(json.dumps({"status": status, "config": asdict(cfg), "device": "cpu", "test_acc": acc,
                                    "mean_step_s": step_s}))
    return run.path


JITTER = (-0.01, 0.0, 0.01)  # per seed: a spread, so that Welch has a variance to work with
# per method: clean accuracy, step time, accuracy lost under noise
METHOD = {"none": (0.80, 0.100, 0.20), "amplify": (0.90, 0.100, 0.05), "tmix": (0.96, 0.120, 0.05),
          "sentmix": (0.90, 0.080, 0.05)}


@pytest.fixture
def results(tmp_path):
    """3 datasets x 3 seeds: amplify beats none, tmix beats amplify, sentmix ties it; no embedmix at all.
    tmix is slower than amplify and sentmix faster. Noisy runs (delete 10%) for none and amplify on one dataset."""
    r = tmp_path / "r"
    for d in ("trec-coarse", "sst-2", "mrpc"):
        for m, (acc, step, _) in METHOD.items():
            for s, j in enumerate(JITTER):
                shift = j if m != "sentmix" else -j  # sentmix: the same mean as amplify
                write(r, m, d, s, acc + shift, step * (1 + j))
    for m in ("none", "amplify"):
        for s, j in enumerate(JITTER):
            write(r, m, "trec-coarse", s, METHOD[m][0] - METHOD[m][2] + 2 * j, noise="delete", noise_p=0.1)
    return r


def claim_rows(out):
    """{claim text: [every cell after it]} from the markdown claims table."""
    block = out.split("### The paper's claims, checked")[1].split("\n\n")[1]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in block.splitlines()[2:]]
    return {r[0]: r[1:] for r in rows}


def by_claim(out):
    """claim_rows without the interval column (interval_of reads it)."""
    return {claim: cells[:1] + cells[2:] for claim, cells in claim_rows(out).items()}


def interval_of(out, claim):
    return claim_rows(out)[claim][1]


def test_every_verdict(results, capsys):
    assert compare.main(["--claims", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    rows = by_claim(out)
    assert "42 result files" in out and "42 runs used" in out
    assert f"setting 1: model=tiny, epochs=1, lr={TrainConfig().lr}, train_limit=None" in out  # defaults shown
    assert rows["AMPLIFY is more accurate than none"][0] == "Δ +10.00 pts"
    assert rows["AMPLIFY is more accurate than none"][-1] == "supported"
    assert rows["AMPLIFY is more accurate than none"][4:6] == ["3", "3"]  # seeds, datasets
    assert rows["AMPLIFY is more accurate than tmix"][-1] == "contradicted"
    assert rows["AMPLIFY is more accurate than sentmix"][-1] == "not enough evidence"
    assert rows["AMPLIFY is more accurate than embedmix"][-1] == (
        "not enough evidence (no runs: no unit with both amplify and embedmix)")
    assert "AMPLIFY is more accurate than manifold" not in rows  # listed only when it has runs
    assert rows["AMPLIFY's training step costs less than tmix's"][0] == "step time -16.7%"
    assert rows["AMPLIFY's training step costs less than tmix's"][-1] == "supported"
    assert rows["AMPLIFY's training step costs less than sentmix's"][-1] == "contradicted"
    robust = rows["AMPLIFY loses less accuracy to noisy training text than none"]
    assert robust[0] == "drop Δ +15.00 pts" and robust[4:6] == ["3", "1"]
    assert rows["AMPLIFY loses less accuracy to noisy training text than tmix"][-1].startswith(
        "not enough evidence (no runs: no unit with noisy-data runs")
    stab = rows["AMPLIFY's accuracy varies less across seeds than none's"]
    assert stab[0] == "variance ×1.00" and stab[-1] == "not enough evidence"  # equal spreads


def test_datasets_and_seeds_given_restrict_the_runs_read(results, capsys):
    """--datasets / --seeds, when given, are filters (the README's claims are over seeds 0-2 while seeds 3-4 land);
    without them every run is read (42 files: 36 clean and 6 noisy)."""
    args = ["--claims", "--results", str(results)]
    assert compare.main([*args, "--datasets", "sst-2", "mrpc", "--seeds", "0", "1"]) == 0
    out = capsys.readouterr().out
    assert "16 runs used" in out and "26 outside --datasets sst-2 mrpc and --seeds 0 1." in out
    rows = by_claim(out)
    assert rows["AMPLIFY is more accurate than none"][4:6] == ["2", "2"]  # seeds, datasets
    noisy = rows["AMPLIFY loses less accuracy to noisy training text than none"]
    assert noisy[-1].startswith("not enough evidence (no runs")  # the noisy runs were on trec-coarse
    assert compare.main([*args, "--preset", "minilm-budget"]) == 0  # a preset's datasets and seeds are no filter
    assert "42 runs used" in capsys.readouterr().out


def test_p_values_are_welch_of_the_mean_over_units_then_holm(results):
    units, _ = claims.load(results)
    line = claims.check(units, "accuracy", "amplify", "none")
    a = [METHOD["amplify"][0] + j for j in JITTER]
    b = [METHOD["none"][0] + j for j in JITTER]
    unit = sps.ttest_ind(a, b, equal_var=False)  # the same in all 3 datasets
    # the mean of 3 equal differences, its standard error 1/√3 of one unit's; df = (6v)² / (6 v²/2) = 12
    assert line["p"] == pytest.approx(2 * sps.t.sf(math.sqrt(3) * unit.statistic, 12))
    se_unit = (np.mean(a) - np.mean(b)) / unit.statistic
    half = sps.t.ppf(0.975, 12) * se_unit / math.sqrt(3)
    assert line["ci"] == pytest.approx((0.1 - half, 0.1 + half))
    assert line["units"] == 3 and line["datasets"] == 3 and line["settings"] == 1
    table = claims.claims_table(units, alpha=0.05)
    ps = np.array([r["p"] for r in table.records])
    tested = ~np.isnan(ps)
    assert tested.sum() == 9 and "the 9 lines with a p-value" in table.notes[0]  # no-run lines are not counted
    smallest = np.nanargmin(ps)
    assert table.records[smallest]["p_holm"] == pytest.approx(9 * ps[smallest])
    np.testing.assert_allclose([r["p_holm"] for r in table.records], holm(ps))


def test_the_interval_of_one_dataset_is_welchs_and_matches_the_p(tmp_path, capsys):
    """One unit: the accuracy line's p and interval are Welch's own (scipy); the interval excludes 0 exactly when
    p < α, both ways round; step times get the ratio's interval, the variance none."""
    accs = {"none": [0.80, 0.82, 0.79], "amplify": [0.83, 0.86, 0.84], "tmix": [0.80, 0.86, 0.83]}
    for m, values in accs.items():
        for s, acc in enumerate(values):
            write(tmp_path, m, "trec-coarse", s, acc, step_s=0.1 * (1 + s / 10) * (1.2 if m == "tmix" else 1))
    out = claims.claims_report(tmp_path)
    ref = sps.ttest_ind(accs["amplify"], accs["none"], equal_var=False)
    lo, hi = ref.confidence_interval(0.95)
    assert interval_of(out, "AMPLIFY is more accurate than none") == f"[{100 * lo:+.2f}, {100 * hi:+.2f}] pts"
    assert by_claim(out)["AMPLIFY is more accurate than none"][2] == f"{ref.pvalue:.3f}"
    assert lo > 0 and ref.pvalue < 0.05
    tmix = sps.ttest_ind(accs["amplify"], accs["tmix"], equal_var=False)
    lo, hi = tmix.confidence_interval(0.95)
    assert lo < 0 < hi and tmix.pvalue > 0.05
    assert interval_of(out, "AMPLIFY is more accurate than tmix") == f"[{100 * lo:+.2f}, {100 * hi:+.2f}] pts"
    logs = [[math.log(0.1 * (1 + s / 10) * f) for s in range(3)] for f in (1, 1.2)]
    lo, hi = np.exp(sps.ttest_ind(*logs, equal_var=False).confidence_interval(0.95)) - 1
    assert interval_of(out, "AMPLIFY's training step costs less than tmix's") == f"[{100 * lo:+.1f}%, {100 * hi:+.1f}%]"
    assert interval_of(out, "AMPLIFY's accuracy varies less across seeds than none's") == "–"


def test_one_seed_and_stability_with_few_seeds_say_why_there_is_no_test(tmp_path, capsys):
    for m, acc in (("none", 0.8), ("amplify", 0.9)):
        write(tmp_path, m, "trec-coarse", 0, acc)
    out = claims.claims_report(tmp_path)
    rows = by_claim(out)
    assert rows["AMPLIFY is more accurate than none"][0] == "Δ +10.00 pts"
    assert rows["AMPLIFY is more accurate than none"][-1] == (
        "not enough evidence (no test possible: the test needs at least 2 seeds per method in a unit)")
    for m, acc in (("none", 0.82), ("amplify", 0.91)):
        write(tmp_path, m, "trec-coarse", 1, acc)
    rows = by_claim(claims.claims_report(tmp_path))
    assert rows["AMPLIFY's accuracy varies less across seeds than none's"][-1] == (
        "not enough evidence (no test possible: the test needs at least 3 seeds in one method (with unequal "
        "deviations from the median) in a unit)")
    assert rows["AMPLIFY's accuracy varies less across seeds than none's"][0] == "variance ×0.25"


def test_a_unit_the_test_cannot_use_is_left_out_of_the_effect_and_counted_as_untested(tmp_path):
    """SST-2 has 3 seeds per method, AMPLIFY 1 point above none; MRPC has one AMPLIFY seed, 10 points below.
    Welch cannot use MRPC, so neither may the effect or the dataset count printed beside its p."""
    for s, j in enumerate(JITTER):
        write(tmp_path, "none", "sst-2", s, 0.80 + j)
        write(tmp_path, "amplify", "sst-2", s, 0.81 + j)
        write(tmp_path, "none", "mrpc", s, 0.80 + j)
    write(tmp_path, "amplify", "mrpc", 0, 0.70)
    rows = by_claim(claims.claims_report(tmp_path))
    effect, *_, seeds, where, verdict = rows["AMPLIFY is more accurate than none"]
    assert effect == "Δ +1.00 pts" and seeds == "3" and where == "1 (+1 untested)"
    units, _ = claims.load(tmp_path)
    rec = next(r for r in claims.claims_table(units, 0.05).records if r["kind"] == "accuracy" and r["b"] == "none")
    assert rec["datasets"] == 1 and rec["units"] == 1 and rec["units_untested"] == 1
    # no unit testable: the effect and counts then describe every unit, and the line says why there is no test
    for s in (1, 2):
        (tmp_path / next(p.name for p in tmp_path.glob(f"sst-2-amplify-*s{s}*.json"))).unlink()
    effect, *_, seeds, where, verdict = by_claim(claims.claims_report(tmp_path))["AMPLIFY is more accurate than none"]
    assert where == "2" and seeds == "1–3" and verdict.startswith("not enough evidence (no test possible")


def test_stability_can_be_supported_with_enough_seeds(tmp_path):
    rng = np.random.default_rng(0)
    for s in range(12):
        write(tmp_path, "none", "trec-coarse", s, 0.8 + rng.normal(0, 0.05))
        write(tmp_path, "amplify", "trec-coarse", s, 0.8 + rng.normal(0, 0.002))
    units, _ = claims.load(tmp_path)
    table = claims.claims_table(units, alpha=0.05)
    rec = next(r for r in table.records if r["kind"] == "stability" and r["b"] == "none")
    assert rec["verdict"] == "supported" and rec["effect"] < math.log(0.01)


def test_what_is_read_and_what_is_left_out(results, capsys):
    write(results, "amplify", "trec-coarse", 0, 0.5, n_draws=3)  # a table1 variant
    write(results, "tmix", "trec-coarse", 0, 0.5, label_perm="independent")  # a reference-bug variant
    write(results, "none", "trec-fine", 0, 0.5, status="failed")
    stale = write(results, "none", "sst-5", 0, 0.5)
    stale.rename(stale.with_name("sst-5-none-s0-000000000000.json"))
    (results / "notes.json").write_text("[1, 2]")
    units, counts = claims.load(results)
    assert counts == {"files": 47, "used": 42, "not ok": 1, "unreadable or stale": 2, "variants": 2,
                      "duplicates": 0, "not asked for": 0}
    assert len(units) == 3
    # a second setting (another lr) is a unit of its own, never compared across
    for m in ("none", "amplify"):
        for s, j in enumerate(JITTER):
            write(results, m, "trec-coarse", s, METHOD[m][0] + j, lr=1e-3)
    assert compare.main(["--claims", "--results", str(results), "--out", str(results.parent / "tables")]) == 0
    out = capsys.readouterr().out
    assert "setting 1: lr=" in out and "setting 2: lr=" in out
    assert by_claim(out)["AMPLIFY is more accurate than none"][5] == "3 (4 units in 2 settings)"
    assert (results.parent / "tables" / "claims.csv").is_file()


def test_claims_on_a_missing_directory_is_an_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        compare.main(["--claims", "--results", str(tmp_path / "nope")])
    assert e.value.code == 2 and "is not a directory" in capsys.readouterr().err


def test_claims_on_a_preset_that_only_reads_other_grids_names_them(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        compare.main(["--preset", "minilm-protocols", "--claims", "--results", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "bench/results/minilm-table2" in err and "--report-only" in err


def test_empty_directory_gives_no_runs_everywhere(tmp_path):
    out = claims.claims_report(tmp_path)
    rows = by_claim(out)
    assert rows and all(r[-1].startswith("not enough evidence (no runs") for r in rows.values())


def write_speed(path, ms, rounds=20, seed=0):
    """A bench.speed JSON: every variant's per-round step times, each round's load shared by all variants."""
    rng = np.random.default_rng(seed)
    load = rng.uniform(0.8, 1.6, rounds)  # the machine's drift: the same for every variant of a round
    variants = {v: {"times_ms": list(base * load * rng.normal(1, 0.01, rounds))} for v, base in ms.items()}
    path.write_text(json.dumps({"schema": 1, "benchmark": "speed", "variants": variants}))
    return path


def test_cost_from_interleaved_rounds(results, tmp_path, capsys):
    """The runs' timers say tmix is slower than amplify; bench.speed's rounds can say otherwise, and the
    machine's drift between rounds (up to 2x here) cancels in each round's ratio."""
    speed = tmp_path / "speed"
    speed.mkdir()
    write_speed(speed / "speed-a.json", {"hf": 900, "none": 500, "amplify": 520, "tmix": 600, "sentmix": 520})
    write_speed(speed / "speed-b.json", {"none": 300, "amplify": 310, "tmix": 360, "sentmix": 310}, seed=1)
    assert compare.main(["--claims", "--results", str(results), "--speed", str(speed)]) == 0
    out = capsys.readouterr().out
    assert "2 bench.speed benchmarks: speed-a, speed-b" in out
    rows = by_claim(out)
    tmix = rows["AMPLIFY's training step costs less than tmix's (interleaved)"]
    assert tmix[1] == "permutation over interleaved rounds" and tmix[4] == "rounds 20" and tmix[5] == "2 benchmarks"
    assert tmix[-1] == "supported" and tmix[0].startswith("step time -1")  # 520/600, 310/360: -13%, -14%
    assert rows["AMPLIFY's training step costs less than sentmix's (interleaved)"][-1] == "not enough evidence"
    assert not any(k.startswith("AMPLIFY's training step") and not k.endswith("(interleaved)") for k in rows)
    assert rows["AMPLIFY's training step costs less than embedmix's (interleaved)"][-1] == (
        "not enough evidence (no runs: no unit with a --speed benchmark that timed both amplify and embedmix)")
    variants = json.loads((speed / "speed-a.json").read_text())["variants"]
    units = speed_rounds([speed / "speed-a.json"])
    e, p, _ = claims.speed_unit(units["speed-a"], "amplify", "tmix")
    total = np.sum(variants["amplify"]["times_ms"]) / np.sum(variants["tmix"]["times_ms"])
    assert math.exp(e) == pytest.approx(total) and p < 1e-3
    table = out.split("### Step time vs none, interleaved (--speed)")[1]
    assert "speed-a" in table and "speed-b" in table and "| hf " not in table
    speed_rows = {r["method"]: r for r in claims.speed_table(speed_rounds([speed / "speed-a.json"])).records}
    assert speed_rows["tmix"]["step_time_vs_none"] == pytest.approx(1.2, rel=0.02) and "hf" not in speed_rows
    # without --speed: the runs' timers, no interleaved lines
    plain = by_claim(claims.claims_report(results))
    assert not any(k.endswith("(interleaved)") for k in plain)
    assert plain["AMPLIFY's training step costs less than tmix's"][1] == "Welch over seeds, log step time"


def test_interleaved_cost_is_the_total_a_run_pays_and_its_permutation_test_is_exact_on_few_rounds():
    """AMPLIFY's steps are of two kinds (a `none` step when λ is 1 in float32): here 4 of 10 rounds cost
    none's 100 ms and 6 cost 130, against a baseline at 120. The median per round says AMPLIFY is dearer
    (130 / 120); the total a run pays says cheaper (1180 / 1200). With 10 rounds the permutation test
    is exact (2^10 swaps, fewer than its 10,000 resamples): checked against every swap enumerated here."""
    rng = np.random.default_rng(0)
    base = rng.normal(120, 2, 10)
    amp = np.where(np.arange(10) < 4, rng.normal(100, 2, 10), rng.normal(130, 2, 10))
    times = {"none": list(rng.normal(100, 2, 10)), "amplify": list(amp), "tmix": list(base)}
    e, p, _ = claims.speed_unit(times, "amplify", "tmix")
    assert math.exp(e) == pytest.approx(amp.sum() / base.sum()) and math.exp(e) < 1 < np.median(amp / base)
    flips = np.array(list(itertools.product([False, True], repeat=10)))  # (1024, 10): swap round i or not
    a, b = np.where(flips, base, amp), np.where(flips, amp, base)
    stats = np.log(a.sum(1) / b.sum(1))
    assert p == pytest.approx(np.mean(np.abs(stats) >= abs(e) - 1e-12))
    row = {r["method"]: r for r in claims.speed_table({"x": times}).records}["amplify"]
    assert row["step_time_vs_none"] == pytest.approx(amp.sum() / np.sum(times["none"]))


def test_speed_files_that_cannot_be_read_are_errors(tmp_path, capsys):
    (tmp_path / "r").mkdir()
    (tmp_path / "x.json").write_text(json.dumps({"status": "ok"}))
    for bad, msg in ((tmp_path / "nope.json", "no such file"), (tmp_path / "x.json", "not a bench.speed result")):
        with pytest.raises(SystemExit) as e:
            compare.main(["--claims", "--results", str(tmp_path / "r"), "--speed", str(bad)])
        assert e.value.code == 2 and msg in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as e:
        compare.main(["--claims", "--results", str(tmp_path / "r"), "--speed", str(tmp_path / "empty")])
    assert e.value.code == 2 and "no speed-*.json in this folder" in capsys.readouterr().err
    for folder in ("a", "b"):  # two benchmarks of one name (the same benchmark on two commits, say)
        (tmp_path / folder).mkdir()
        write_speed(tmp_path / folder / "speed-x.json", {"none": 500, "amplify": 520})
    with pytest.raises(SystemExit) as e:
        compare.main(["--claims", "--results", str(tmp_path / "r"), "--speed", str(tmp_path / "a"),
                      str(tmp_path / "b")])
    assert e.value.code == 2 and "have the same name" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        compare.main(["--report-only", "--speed", str(tmp_path)])
    assert "--speed is read by --claims and by the figure4 experiments only" in capsys.readouterr().err



def test_the_variance_line_is_signed_the_way_brown_forsythe_points(tmp_path):
    """AMPLIFY's accuracies have the larger variance (one outlier) but the smaller mean deviation from their
    median, which is what Brown-Forsythe tests: the combined direction follows the deviations (AMPLIFY spreads
    less: the claimed way), the printed effect the variance (x2.25: the other way)."""
    for s, (x, y) in enumerate(zip([0.0] * 9 + [0.10], [-0.02] * 5 + [0.02] * 5, strict=True)):
        write(tmp_path, "amplify", "trec-coarse", s, 0.8 + x)
        write(tmp_path, "none", "trec-coarse", s, 0.8 + y)
    units, _ = claims.load(tmp_path)
    line = claims.check(units, "stability", "amplify", "none")
    assert math.exp(line["effect"]) == pytest.approx(2.25) and line["direction"] == 1.0
    line["p_holm"] = 0.0  # were it significant: the test and the effect disagree, so no verdict either way
    assert claims.verdict(line, 0.05) == (
        "not enough evidence (the combined test and the mean effect point different ways)")


def test_a_grid_tuned_per_method_is_one_unit_and_a_sweep_of_lrs_is_not(tmp_path):
    """Each method at one lr of its own (a tuned grid): AMPLIFY meets every method within the dataset, the
    setting saying lr "per method". A method at several lrs: the lrs stay settings, as before."""
    tuned = tmp_path / "tuned"
    for m, lr in (("none", 2e-4), ("amplify", 2e-4), ("tmix", 1e-4)):
        for s in range(3):
            write(tuned, m, "trec-coarse", s, METHOD[m][0] + JITTER[s], lr=lr)
    units, counts = claims.load(tuned)
    assert counts["used"] == 9 and len(units) == 1
    (setting, _), = units
    assert json.loads(setting)["lr"] == "per method"
    assert set(units[setting, "trec-coarse"][None]) == {"none", "amplify", "tmix"}

    sweep = tmp_path / "sweep"
    for m, lrs in (("none", (1e-4, 2e-4)), ("amplify", (2e-4,))):
        for lr in lrs:
            write(sweep, m, "trec-coarse", 0, 0.8, lr=lr)
    units, _ = claims.load(sweep)
    by_lr = {json.loads(setting)["lr"]: set(levels[None]) for (setting, _), levels in units.items()}
    assert by_lr == {1e-4: {"none"}, 2e-4: {"none", "amplify"}}
