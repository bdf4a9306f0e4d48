"""
Running a grid of fine-tuning runs: which runs a grid holds and what each result file is called (plan.py),
training a share of them, one child process per run, under locks and torchrun (runner.py), and submitting
them to Slurm as one job array whose tasks run that same machinery (slurm.py, `--launcher slurm`).
May import amplify (TrainConfig, train, result files); nothing else from bench.
"""
