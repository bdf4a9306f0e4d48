"""python -m bench.speed: bench/speed/train_step.py's benchmark (its docstring says what it measures)."""

from amplify.cli import entry
from bench.speed.train_step import main

entry(main)
