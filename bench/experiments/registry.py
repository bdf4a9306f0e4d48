"""
The experiment registry: what a grid runs and which tables it prints, by name. `python -m bench.compare
--experiment NAME` looks the name up in EXPERIMENTS, which the experiment modules of this package fill when
bench.experiments imports them. This module imports none of them back.

An Experiment is two functions:
    configs(spec) -> list[TrainConfig]              the runs; each becomes one result file (bench/grid/plan.py)
    tables(records, spec, opts) -> list[Table]      the report, from the runs that finished (bench/report/)
spec is the GridSpec the command line (and its --preset) asked for; an experiment may use its datasets,
methods and seeds as given or replace any of them (the paper's Table 1 sweeps n_draws instead of
methods, say). records are (cfg, result) pairs with status "ok"; failed and missing runs are reported
by bench.compare itself. Resume, sharding, torchrun and --report-only work for any experiment, because
they only see the list of configs.

To add one, write the two functions in a new module of bench/experiments/, register them at its bottom,

    register(Experiment("noise", "Tables 4-5: word deletion / swap at 5-20%", noise_configs, noise_tables))

and import the module in bench/experiments/__init__.py. The table builders take `row` and `column`
functions, so "noise level in the columns" is a lambda away.
"""

from collections.abc import Callable
from dataclasses import dataclass

from amplify.train import TrainConfig
from bench.stats.monte_carlo import CAP, START, ResamplePlan


@dataclass(frozen=True)
class GridSpec:
    base: TrainConfig  # every option of run.py, after --preset and explicit flags
    datasets: tuple
    methods: tuple
    seeds: tuple


@dataclass(frozen=True)
class ReportOptions:
    alpha: float = 0.05
    n_resamples: int = START  # resamples every bootstrap starts with
    resample_seed: int = 0  # the resampler's seed, recorded in every table that resamples
    resample_cap: int = CAP  # the most resamples a test gets while its Holm verdict depends on the draw
    out_dir: str | None = None  # where an experiment writes files other than tables (figure4's CSVs and PNGs)
    figure_steps: int = 200  # figure4: the first iterations plotted
    speed: tuple | None = None  # figure4: bench.speed JSONs (files or folders) whose interleaved step times it draws

    @property
    def resampling(self):
        return ResamplePlan(self.n_resamples, self.resample_seed, self.resample_cap)


@dataclass(frozen=True)
class Experiment:
    name: str
    summary: str
    configs: Callable  # (GridSpec) -> list[TrainConfig]
    tables: Callable  # (records, GridSpec, ReportOptions) -> list[Table]
    reads_speed: bool = False  # its report reads --speed (bench.speed JSONs), as --claims does


EXPERIMENTS = {}


def register(exp):
    if exp.name in EXPERIMENTS:
        raise ValueError(f"experiment {exp.name!r} is registered twice")
    EXPERIMENTS[exp.name] = exp
    return exp
