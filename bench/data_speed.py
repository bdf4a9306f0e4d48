"""python -m bench.data_speed: the data-pipeline benchmark, which lives in bench/speed/data_pipeline.py."""

import runpy

if __name__ == "__main__":  # the module's own main guard: its exit status, a quiet closed pipe
    runpy.run_module("bench.speed.data_pipeline", run_name="__main__", alter_sys=True)
