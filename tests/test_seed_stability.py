"""No verdict on the committed 225-run grid depends on the resampler's seed (bench/stats/monte_carlo.py): with
--resample-seed 0, 1 and 2, the claims (with the interleaved speed benchmarks) and the accuracy significance
table of all five datasets (one Holm family of 75) give the same verdicts, none borderline, and each resampled p
agrees with the others within its Monte Carlo error (their 99.9% intervals overlap). The calibration tables were
checked the same way by hand (docs/statistics.md); at minutes a seed they are left out of the suite."""

import os
from pathlib import Path

import pytest

from bench import compare
from bench.experiments.registry import ReportOptions
from bench.grid.plan import collect
from bench.report.claims import claims_table, load
from bench.report.significance import significance_table
from bench.report.speed_files import speed_rounds

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (0, 1, 2)


def plan(seed):
    return ReportOptions(resample_seed=seed).resampling


def agree(ps):
    """Do the seeds' p's agree within their Monte Carlo error: do their 99.9% intervals, (p, low, high) each,
    share a point? Each holds p∞ (the p of infinitely many resamples) with probability 99.9%."""
    return max(lo for _, lo, _ in ps) <= min(hi for _, _, hi in ps)


@pytest.fixture(scope="module")
def claims_by_seed():
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        units, _ = load(["bench/results/minilm-table2", "bench/results/minilm-noise"])  # as --preset minilm-table2
        speed = speed_rounds(["bench/results/minilm-table2-speed"])
        return {s: claims_table(units, 0.05, speed, plan(s)).records for s in SEEDS}
    finally:
        os.chdir(cwd)


def test_the_claims_verdicts_do_not_depend_on_the_resampler_seed(claims_by_seed):
    verdicts = {s: [(r["claim"], r["verdict"], r["borderline"]) for r in recs] for s, recs in claims_by_seed.items()}
    assert len(verdicts[0]) == 25
    assert verdicts[0] == verdicts[1] == verdicts[2]
    assert not any(b for _, _, b in verdicts[0])
    resampled = [i for i, r in enumerate(claims_by_seed[0]) if r["p_low"] != r["p_high"]]
    assert len(resampled) == 4  # the interleaved step-time lines vs the four baselines (Stouffer over 4 tests)
    for i in resampled:
        triples = [(recs[i]["p"], recs[i]["p_low"], recs[i]["p_high"]) for recs in claims_by_seed.values()]
        assert agree(triples), (claims_by_seed[0][i]["claim"], triples)


@pytest.fixture(scope="module")
def significance_by_seed():
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        _, args = compare.parse(["--preset", "minilm-table2", "--report-only"])
        _, spec, runs = compare.make_plan(args)
        records = [(run.cfg, res) for run, res in collect(runs)["ok"]]
        assert len(records) == 225
        return {s: significance_table(records, spec.methods, spec.datasets, resampling=plan(s)).records
                for s in SEEDS}
    finally:
        os.chdir(cwd)


def test_the_accuracy_verdicts_do_not_depend_on_the_resampler_seed(significance_by_seed):
    def key(r):
        return r["dataset"], r["method_a"], r["method_b"]

    verdicts = {s: [(key(r), r["verdict"]) for r in recs] for s, recs in significance_by_seed.items()}
    assert len(verdicts[0]) == 75
    assert verdicts[0] == verdicts[1] == verdicts[2]
    assert not any("borderline" in v for _, v in verdicts[0])
    assert sum("significant (" in v for _, v in verdicts[0]) >= 1  # not vacuous: some verdicts are significant
    for i, r in enumerate(significance_by_seed[0]):
        triples = [(recs[i]["bootstrap_p"], recs[i]["bootstrap_p_low"], recs[i]["bootstrap_p_high"])
                   for recs in significance_by_seed.values()]
        assert agree(triples), (key(r), triples)
