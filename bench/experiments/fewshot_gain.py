"""
fewshot-gain: each method's accuracy gain over `none` at K = 10 and K = 100 labelled examples per class and
with the full training set, per dataset and averaged, with intervals: a table, and a picture of gain against
the number of labelled examples (bench/report/gain.py).

    python -m bench.compare --preset minilm-fewshot-gain --report-only
    -> the table, and bench/results/minilm-fewshot-gain/gain_vs_labels.{csv,png} (the PNG needs matplotlib)

It trains nothing of its own: its runs are those of minilm-fewshot-10, minilm-fewshot-100 and minilm-table2,
each with the recipe of its own preset, read in place from their folders (`--also-read`). The configs below are
rebuilt from those presets' options, so each has the key, and so the file, of the run that grid made.
"""

from bench.experiments.common import recipe_of
from bench.experiments.registry import Experiment, register
from bench.grid.plan import grid_configs
from bench.presets import PRESETS
from bench.report.gain import gain_table, write_gain_figure

SOURCES = ("minilm-fewshot-10", "minilm-fewshot-100", "minilm-table2")  # K = 10, K = 100, the full training set

def gain_configs(spec):
    return [cfg for name in SOURCES
            for cfg in grid_configs(recipe_of(spec.base, PRESETS[name]), spec.datasets, spec.methods, spec.seeds)]


def gain_tables(records, spec, opts):
    table = gain_table(records, spec.methods, spec.datasets)
    if opts.out_dir:
        table.notes += write_gain_figure(table, opts.out_dir)
    return [table]


register(Experiment("fewshot-gain", "each method's gain over none at K = 10, K = 100 and the full training set, "
                    "with paired intervals over seeds: a table and a picture (reads the three grids)",
                    gain_configs, gain_tables))
