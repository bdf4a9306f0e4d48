"""
The benchmark harness, in rooms by concern. Imports flow one way, and nothing outside bench/ imports it:

    compare.py      python -m bench.compare: the grid's command line (--report-only, --claims)
      -> presets.py     its named grids (--preset): the paper's recipe, the CPU grids, the MiniLM evidence grids
      -> experiments/   the paper's experiments by name (table2, table1, table4/5, table6, figure4, reference-bug)
      -> report/        tables, significance tables, figures and --claims, from stored results
      -> grid/          the runs of a grid and their result files (plan.py); training them (runner.py)
      -> stats/         pure statistics on arrays (a leaf: numpy and scipy only)
    manifest.py     python -m bench.manifest: a results folder's MANIFEST.md, from its result files
    speed/          separate speed benchmarks (python -m bench.speed, bench.load_speed, bench.data_speed)
    attention/      looking inside: attention maps per method (python -m bench.attention) and t-tests between
                    methods' attention outputs (python -m bench.attention.ttest), the paper's Figures 3, 5-7

compare.py may import every room but speed/ and attention/; presets.py imports nothing; manifest.py imports
presets.py; experiments/ imports
report/, grid/plan.py and stats/; report/ imports stats/ and grid/plan.py; grid/ and stats/ import no other room;
speed/ imports none; attention/ imports stats/ and report/plots.py (the PNG helpers), and no room imports it.
load_speed.py and data_speed.py are the old commands' names, kept as shims into speed/.
"""
