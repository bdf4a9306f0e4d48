"""
Looking inside the network, without framework magic: what a method's mixing does to the attention.

    maps.py      python -m bench.attention: one block's attention probabilities for one input, one panel per
                 method (paper Figures 5-7), as PNGs (optional matplotlib) and CSV
    ttest.py     python -m bench.attention.ttest: per dataset, Welch p-values between methods' attention
                 outputs, block by block (paper Figure 3's analogue)

Runs forward passes on a backbone or saved model (model/, amplify/methods.py, data/); may import bench.stats and
bench.report.plots (the PNG helpers); no other room imports it.
"""
