"""
Reading `bench.speed` JSONs for a report. A bench.speed file times one step of every method per round, the
methods seconds apart, so the machine's load is shared within a round: the measurement to read for cost on a
shared machine. Two readers, one per use:

    speed_rounds(paths)       {file stem: {method: [ms per round]}}, the rounds paired across methods (--claims)
    interleaved_steps(paths)  {(dataset, method): median and quartiles of the step time} (figure4's time panel)

Paths are files, or folders of speed-*.json. A path that holds no bench.speed file, a file that is not one, and
two files that would answer the same question are errors, each naming the files.
"""

from pathlib import Path

import numpy as np

from amplify.results import read_json


def read_speed(paths):
    """[(file, its result)] for the given files and folders, each checked to be a bench.speed result."""
    files = []
    for path in map(Path, paths or ()):
        if path.is_dir():
            found = sorted(path.glob("speed-*.json"))
            if not found:
                raise ValueError(f"--speed {path}: no speed-*.json in this folder (bench.speed writes one per "
                                 "benchmark)")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise ValueError(f"--speed {path}: no such file or directory (bench.speed writes one JSON per benchmark)")
    out = []
    for f in files:
        res = read_json(f)
        if not isinstance(res, dict) or res.get("benchmark") != "speed" or not isinstance(res.get("variants"), dict):
            raise ValueError(f"--speed {f}: not a bench.speed result (no 'benchmark': 'speed' with 'variants')")
        out.append((f, res))
    return out


def speed_rounds(paths):
    """{file stem: {method: [ms per round]}}: one unit of the cost claim per benchmark file."""
    units, where = {}, {}
    for f, res in read_speed(paths):
        times = {v: r["times_ms"] for v, r in res["variants"].items() if r.get("times_ms")}
        if len({len(t) for t in times.values()}) > 1:
            raise ValueError(f"--speed {f}: variants have different numbers of rounds; rounds must pair up")
        if f.stem in units:
            raise ValueError(f"--speed: {where[f.stem]} and {f} have the same name, so they would count as one "
                             "benchmark; pass one of them")
        units[f.stem], where[f.stem] = times, f
    return units


def interleaved_steps(paths):
    """bench.speed JSONs -> {(dataset, method): {"ms", "q1", "q3" (ms per step over the rounds), "rounds", "file",
    "load"}}. A benchmark of synthetic shapes (no "data") times no dataset's batches and is left out."""
    out = {}
    for f, res in read_speed(paths):
        d = res.get("data")
        for m, v in res["variants"].items() if d else ():
            if not v.get("times_ms"):
                continue
            if (d, m) in out:
                raise ValueError(f"--speed: {out[d, m]['file']} and {f} both time {m} on {d}; pass one of them")
            q1, ms, q3 = np.percentile(np.asarray(v["times_ms"], float), [25, 50, 75])
            load = res.get("load_avg_1min") or {}
            out[d, m] = {"ms": float(ms), "q1": float(q1), "q3": float(q3), "file": str(f),
                         "load": (load.get("before"), load.get("after")), "rounds": len(v["times_ms"])}
    return out
