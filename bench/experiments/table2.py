"""
table2, the default experiment: a summary (bench/report/summary.py: one line per dataset and method, gathered
from the tables after it), the paper's Table 2 (accuracy per method and dataset over seeds), its significance
table (bench/report/significance.py), the calibration tables (NLL, ECE, Brier and their significance,
bench/report/calibration.py), the cost table, how many runs peaked in their last allowed epoch and the mean dev
accuracy per epoch (bench/report/tables.py).
"""

from bench.experiments.registry import Experiment, register
from bench.grid.plan import grid_configs
from bench.report.calibration import calibration_significance_table, calibration_table
from bench.report.significance import significance_table
from bench.report.summary import summary_table
from bench.report.tables import accuracy_table, best_dev, budget_table, cost_table, dev_curve_table


def table2_configs(spec):
    return grid_configs(spec.base, spec.datasets, spec.methods, spec.seeds)


def table2_tables(records, spec, opts):
    accuracy = accuracy_table(records, spec.methods, spec.datasets)
    significance = significance_table(records, spec.methods, spec.datasets, alpha=opts.alpha,
                                      resampling=opts.resampling)
    calibration = calibration_table(records, spec.methods, spec.datasets)
    curves = dev_curve_table(records, spec.methods, spec.datasets)  # no rows from results without epochs
    return [summary_table(accuracy, significance, calibration, best=best_dev(records)), accuracy, significance,
            calibration,
            calibration_significance_table(records, spec.methods, spec.datasets, alpha=opts.alpha,
                                           resampling=opts.resampling),
            cost_table(records, spec.methods), budget_table(records, spec.methods, spec.datasets),
            *([curves] if curves.rows else [])]


register(Experiment("table2", "datasets x methods x seeds: accuracy, significance, calibration and cost tables "
                              "(paper Table 2)",
                    table2_configs, table2_tables))
