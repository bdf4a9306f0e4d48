"""
Running a grid of fine-tuning runs: which runs a grid holds and what each result file is called (plan.py),
and training a share of them, one child process per run, under locks and torchrun (runner.py).
May import amplify (TrainConfig, train, result files); nothing else from bench.
"""
