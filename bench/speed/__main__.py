"""python -m bench.speed: bench/speed/train_step.py's benchmark (its docstring says what it measures)."""

from bench.speed.train_step import main

main()
