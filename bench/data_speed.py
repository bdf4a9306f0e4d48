"""python -m bench.data_speed: the data-pipeline benchmark, which lives in bench/speed/data_pipeline.py."""

from bench.speed.data_pipeline import main

if __name__ == "__main__":
    main()
