"""python -m bench.load_speed: the checkpoint-loading benchmark, which lives in bench/speed/checkpoint_load.py."""

import runpy

if __name__ == "__main__":  # the module's own main guard: its exit status, a quiet closed pipe
    runpy.run_module("bench.speed.checkpoint_load", run_name="__main__", alter_sys=True)
