"""python -m bench.load_speed: the checkpoint-loading benchmark, which lives in bench/speed/checkpoint_load.py."""

from bench.speed.checkpoint_load import main

if __name__ == "__main__":
    main()
