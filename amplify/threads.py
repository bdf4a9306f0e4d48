"""
How many CPU threads one training process uses.

torch's default is one thread per core. That is right on an idle machine and wrong on a busy one: when
other processes hold the cores, OpenMP threads spin-wait for each other, and on this project's 2-core
machine a 2-thread run with another job beside it made 4.9x fewer steps per second than a 1-thread run.
Two 1-thread runs side by side also beat one 2-thread run on a grid's throughput (bench.compare --jobs).
So, unless told otherwise, a run takes the cores that look free when it starts.

Order of precedence: --threads, then $OMP_NUM_THREADS (what torch itself honours), then
min(usable cores / jobs, cores not busy by the 1-minute load average), at least 1.
"""

import os


def usable_cpus():
    """Cores this process may run on (the affinity mask, e.g. under taskset or a cgroup), else cpu_count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def pick_threads(requested=None, jobs=1):
    """The thread count for one of `jobs` runs side by side (see the module docstring)."""
    if requested is not None:
        if requested < 1:
            raise ValueError(f"--threads must be >= 1 (got {requested})")
        return requested
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    cpus = usable_cpus()
    busy = round(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0
    return max(1, min(cpus // max(jobs, 1), cpus - busy))
