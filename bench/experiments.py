"""
Named experiments: what a grid runs and which tables it prints. `python -m bench.compare --experiment NAME`.

An Experiment is two functions:
    configs(spec) -> list[TrainConfig]              the runs; each becomes one result file (bench/grid.py)
    tables(records, spec, opts) -> list[Table]      the report, from the runs that finished (bench/tables.py)
spec is the GridSpec the command line (and its --preset) asked for; an experiment may use its datasets,
methods and seeds as given or replace any of them (the paper's Table 1 sweeps n_draws instead of
methods, say). records are (cfg, result) pairs with status "ok"; failed and missing runs are reported
by bench.compare itself. Resume, sharding, torchrun and --report-only work for any experiment, because
they only see the list of configs.

"table2" is defined here; the paper's other experiments (table1, table4, table5, table6, figure4 and
reference-bug) are in bench/paper.py, imported at the bottom so that they register. To add one, write the
two functions and register them:

    register(Experiment("noise", "Tables 4-5: word deletion / swap at 5-20%", noise_configs, noise_tables))

The table builders take `row` and `column` functions, so "noise level in the columns" is a lambda away.
"""

from collections.abc import Callable
from dataclasses import dataclass

from amplify.train import TrainConfig
from bench.grid import grid_configs


@dataclass(frozen=True)
class GridSpec:
    base: TrainConfig  # every option of run.py, after --preset and explicit flags
    datasets: tuple
    methods: tuple
    seeds: tuple


@dataclass(frozen=True)
class ReportOptions:
    alpha: float = 0.05
    n_resamples: int = 10000  # paired bootstrap
    out_dir: str | None = None  # where an experiment writes files other than tables (figure4's CSVs and PNGs)
    figure_steps: int = 200  # figure4: the first iterations plotted


@dataclass(frozen=True)
class Experiment:
    name: str
    summary: str
    configs: Callable  # (GridSpec) -> list[TrainConfig]
    tables: Callable  # (records, GridSpec, ReportOptions) -> list[Table]


EXPERIMENTS = {}


def register(exp):
    if exp.name in EXPERIMENTS:
        raise ValueError(f"experiment {exp.name!r} is registered twice")
    EXPERIMENTS[exp.name] = exp
    return exp


# -----------------------------------------------------------------------------
# the paper's Table 2: accuracy per method and dataset, significance, cost


def table2_configs(spec):
    return grid_configs(spec.base, spec.datasets, spec.methods, spec.seeds)


def table2_tables(records, spec, opts):
    from bench.significance import significance_table
    from bench.tables import accuracy_table, cost_table

    return [accuracy_table(records, spec.methods, spec.datasets),
            significance_table(records, spec.methods, spec.datasets, alpha=opts.alpha, n_resamples=opts.n_resamples),
            cost_table(records, spec.methods)]


register(Experiment("table2", "datasets x methods x seeds: accuracy, significance and cost tables (paper Table 2)",
                    table2_configs, table2_tables))


import bench.paper  # noqa: E402,F401  (registers the paper's other experiments; it imports this module)
