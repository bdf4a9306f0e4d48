"""
Running a grid's share of runs: one child process per run, a lock per run, and torchrun's ranks.

Why a child process per run (multiprocessing "spawn"):
  - peak memory. On CPU, train() reports the process's peak RSS (getrusage), which only ever grows; in
    one long-lived process every run would report the largest run before it. A fresh process per run
    makes the cost table's memory column mean what it says.
  - a crash stays one failed run. A segfault, an out-of-memory kill or an exception in one run is
    written down as that run's failure (status "failed", the error) and the grid goes on.
  - nothing leaks between runs (RNG states, allocator caches, torch's global flags).
It costs a few seconds of imports per run. `in_process=True` (--in-process) skips it, for debugging.

Killing. Ctrl-C (SIGINT reaches the whole process group) stops the child, writes no result for the run
in flight and raises KeyboardInterrupt out of run_share: the grid stops cleanly and a restart resumes. A
child ended by SIGTERM (Slurm's scancel, a time limit or a preemption signal every process of the job) is
treated the same way: the run is missing, not failed, and a resubmission runs it again. A run in flight
loses only its current epoch: each finished epoch leaves a checkpoint beside the result (RUN.ckpt.pt,
amplify/checkpoint.py) and the restart continues from it, with the numbers an uninterrupted run gives.
To stop without losing the runs in flight, create a file named STOP in the results directory (`stop_file`):
no new run starts, the ones training finish and are written, and the grid ends; delete the file and run
the same command again to go on.
kill -9 of this process kills the child too (PR_SET_PDEATHSIG on Linux, a watchdog thread elsewhere), so
no orphan keeps training and writes a duplicate later. Either way the unfinished run has no result file
and continues from its checkpoint on restart; finished files are never touched again.

Locks. Before a run we take an exclusive, non-blocking flock on `.locks/<run file>.lock` in the results
directory and re-read the result: a second process working on the same grid (two shells by mistake, or
overlapping shards) skips the run instead of training it twice. The OS drops the lock when its holder
dies, even by kill -9, so there is nothing stale to clean up. flock is advisory. Across machines it holds
only on a filesystem that shares locks between nodes (NFSv4, Lustre with -o flock, ...: bench/grid/slurm.py
lists them and warns about mounts that keep locks local); elsewhere rely on --shard's disjoint shares.

torchrun. `dist_init()` joins the process group (gloo: it only carries barriers, so no GPU is needed
for it) when torchrun's RANK/WORLD_SIZE are set; with one process it does nothing. The timeout is long
(7 days) because a rank that finished its share waits at the final barrier for the slowest one.
"""

import datetime
import os
import socket
import sys
import tempfile
import threading
import time
import traceback
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from statistics import median

from tqdm.auto import tqdm

from amplify.results import environment, read_json, write_json_atomic, write_json_or_fallback

try:
    import fcntl
except ImportError:  # not POSIX: no locks, the disjoint shares still hold
    fcntl = None


# -----------------------------------------------------------------------------
# torchrun


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0


def dist_init(timeout=datetime.timedelta(days=7)):
    """Join torchrun's process group when there is one (WORLD_SIZE > 1); else rank 0 of 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    info = Dist(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))
    if world > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("gloo", timeout=timeout)
    return info


def barrier(info):
    if info.world > 1:
        import torch.distributed as dist

        dist.barrier()


def dist_close(info):
    if info.world > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def rank_device(device, info):
    """Under torchrun with GPUs, each rank trains on its own GPU (cuda:LOCAL_RANK); otherwise as asked.
    The run's key uses the device type only (bench/grid/plan.py), so this never changes which file a run has."""
    import torch

    if info.world > 1 and device in ("auto", "cuda") and torch.cuda.is_available():
        return f"cuda:{info.local_rank % torch.cuda.device_count()}"
    return device


# -----------------------------------------------------------------------------
# one run


def resumes_after(run):
    """Where a killed run of `run` stopped, by its checkpoint ("epoch 2", "step 40"); None: it starts anew."""
    from amplify.checkpoint import checkpoint_path, saved_at

    return saved_at(checkpoint_path(run.path))


def start_label(run, state):
    """How a run starts: new, continued from a killed run's checkpoint, or re-run after a failure."""
    if state != "missing":
        return f"re-run: {state}"
    done = resumes_after(run)
    return f"resumes after {done}" if done else "new"


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def failure_record(cfg, error, tb=None):
    """What a failed run leaves behind when train() could not write its own result."""
    from bench.grid.plan import device_type

    return {"schema": 1, "status": "failed", "error": error, "traceback": tb, "config": asdict(cfg),
            "device": device_type(cfg.device), "env": environment()}


def _train_and_write(cfg, path, grid, progress, save_model=None, tensorboard=None, checkpoints=True):
    """The body of a run, in the child (or in this process with in_process): train, stamp, write."""
    from amplify.checkpoint import checkpoint_path, discard
    from amplify.logs import steps_csv_path
    from amplify.train import train

    checkpoint = checkpoint_path(path) if checkpoints else None  # a killed run continues after its last epoch
    try:
        result = train(cfg, out=None, progress=progress, save_model=save_model, steps_csv=steps_csv_path(path),
                       tensorboard=tensorboard, checkpoint=checkpoint)
    except KeyboardInterrupt:
        raise
    except Exception as e:  # a bad dataset, a missing model, CUDA out of memory...: this run failed, not the grid
        result = failure_record(cfg, f"{type(e).__name__}: {e}", traceback.format_exc())
    result["grid"] = {**grid, "finished_at": _now()}
    written, error = write_json_or_fallback(path, result)
    if error is not None:  # the run is not lost: say where it is (the grid then records the run as failed)
        print(f"could not write {path} ({error}); the finished result is saved in {written}", file=sys.stderr)
        result = {**result, "saved_to": str(written)}  # in memory only: what `execute` reports
    discard(checkpoint)
    return result


def attempt_of(result):
    """The attempt id a result file was written by (None for anything else): tells this attempt's file apart."""
    return result.get("grid", {}).get("attempt") if isinstance(result, dict) else None


def _saved_elsewhere(run, attempt):
    """Where write_json_or_fallback put this attempt's result when run.path would not take it, or None."""
    for f in Path(tempfile.gettempdir()).glob(f"{run.path.stem}.*.json"):
        res = read_json(f)
        if attempt_of(res) == attempt:
            return f
    return None


def _unwritten(run, cfg, grid, saved):
    """A run that finished but whose result file could not be written: recorded as failed, with where it is."""
    result = failure_record(cfg, f"the run finished, but its result could not be written to {run.path}; it is "
                                 f"saved in {saved}: move it there once the directory takes files again")
    result["grid"] = {**grid, "finished_at": _now()}
    try:
        write_json_atomic(run.path, result)
    except OSError as e:  # the results directory takes no file at all: every further run would be lost
        raise SystemExit(f"cannot write to {run.path.parent} ({e}); the grid stops. The finished result of "
                         f"{run.label} is saved in {saved}; move it there once the directory takes files again") from e
    return result


def _die_with_parent(parent_pid):
    """Make sure a child never outlives the grid process (kill -9 of the parent must not leave it training)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: SIGKILL us when the parent dies
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)

    def watch():  # the portable fallback
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _child(cfg_dict, path, grid, progress, parent_pid, threads=None, save_model=None, tensorboard=None,
           checkpoints=True):
    _die_with_parent(parent_pid)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    from amplify.train import TrainConfig

    try:
        _train_and_write(TrainConfig(**cfg_dict), path, grid, progress, save_model, tensorboard, checkpoints)
    except KeyboardInterrupt:
        sys.exit(130)  # no result written: on restart the run continues from its checkpoint (if any)


def _exit_reason(code):
    if code < 0:
        import signal

        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory?)" if name == "SIGKILL" else ""
        return f"the training process was killed by {name}{hint}"
    return f"the training process exited with code {code} without writing a result"


def model_dir(run):
    """Where --save-models puts a run's fine-tuned classifier: RESULTS/models/<result file name without .json>/."""
    return run.path.parent / "models" / run.path.stem


def execute(run, grid, device=None, progress=True, in_process=False, threads=None, save_model=False,
            tensorboard=None, checkpoints=True):
    """Train one run and write its result file (and its steps CSV beside it); returns the result. Raises
    KeyboardInterrupt on Ctrl-C. save_model: also write the run's best-dev classifier to model_dir(run)
    (amplify/export.py). tensorboard: a directory; the run logs into its subdirectory named like its file.
    checkpoints: keep the run's state after each epoch beside its file, to continue it after a kill."""
    save_model = str(model_dir(run)) if save_model else None
    tensorboard = str(Path(tensorboard) / run.path.stem) if tensorboard else None
    cfg = replace(run.cfg, device=device) if device else run.cfg
    grid = {**grid, "key": run.key, "attempt": uuid.uuid4().hex, "started_at": _now()}
    if in_process:
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(threads or before)  # as the child would; this process's own count comes back after
        try:
            result = _train_and_write(cfg, run.path, grid, progress, save_model, tensorboard, checkpoints)
        finally:
            torch.set_num_threads(before)
        return _unwritten(run, cfg, grid, result["saved_to"]) if "saved_to" in result else result
    import multiprocessing

    proc = multiprocessing.get_context("spawn").Process(
        target=_child, args=(asdict(cfg), str(run.path), grid, progress, os.getpid(), threads, save_model,
                                tensorboard, checkpoints),
        name=f"run {run.label}")
    proc.start()
    try:
        proc.join()
    except KeyboardInterrupt:
        proc.join(timeout=30)  # Ctrl-C reached the child too; give it a moment to unwind
        if proc.is_alive():
            proc.terminate()
            proc.join()
        raise
    result = read_json(run.path)
    if attempt_of(result) == grid["attempt"]:
        return result  # written by this attempt: the run finished, even if a signal came as the child exited
    if proc.exitcode in (130, -2, -15):  # SIGINT or SIGTERM (scancel, a time limit, kill): stopped, not failed
        raise KeyboardInterrupt
    saved = _saved_elsewhere(run, grid["attempt"])
    if saved is not None:  # it finished, but the results directory would not take the file
        return _unwritten(run, cfg, grid, saved)
    # not written by this attempt: the child crashed, was killed (SIGKILL: out of memory?) or exited early
    result = failure_record(cfg, _exit_reason(proc.exitcode))
    result["grid"] = {**grid, "finished_at": _now()}
    write_json_atomic(run.path, result)
    return result


# -----------------------------------------------------------------------------
# a share of runs


def set_aside(run):
    """Move a stale file (a result whose stored config is not the run's: hand-edited, or keyed by an older
    TrainConfig) to RESULTS/.stale/ before the run writes its own; returns where it went."""
    aside = run.path.parent / ".stale" / f"{run.path.stem}.{time.strftime('%Y%m%dT%H%M%S')}.json"
    aside.parent.mkdir(exist_ok=True)
    os.replace(run.path, aside)
    return aside


@contextmanager
def run_lock(run):
    """Yields True when this process holds the run's lock, False when another live process does."""
    if fcntl is None:
        yield True
        return
    locks = run.path.parent / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{run.path.name}.lock", "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True  # closing the file releases the lock (and so does dying)


def time_left(pending, seconds, jobs=1):
    """Seconds until the runs of `pending` are done, `jobs` at a time, or None with nothing to go on. `seconds`:
    {(dataset, method): [seconds of finished runs]}. Each run is priced at the median of its cell, else of its
    dataset, else of every finished run: a grid whose datasets cost 7 and 26 minutes a run is priced by both."""
    every = [t for ts in seconds.values() for t in ts]
    if not every:
        return None
    by_dataset = {}
    for (dataset, _), ts in seconds.items():
        by_dataset.setdefault(dataset, []).extend(ts)
    total = sum(median(seconds.get((r.cfg.dataset, r.cfg.method)) or by_dataset.get(r.cfg.dataset) or every)
                for r in pending)
    return total / max(1, jobs)


def run_share(share, grid, retry_failed=False, device=None, progress=True, in_process=False, log=None, jobs=1,
              threads=None, save_models=False, tensorboard=None, stop_file=None, checkpoints=True,
              finished=()):
    """Run each of `share` (a list of Run) unless it is done or busy elsewhere, `jobs` at a time (each in its
    own child process with `threads` CPU threads), and none once `stop_file` exists. Returns {result file name:
    status}, status one of "ok", "failed", "skipped (done)", "skipped (busy)", "skipped (stop file)" (by file
    name: runs that differ in lr or noise share a label).

    Why jobs: on a CPU, two 1-thread runs side by side do more runs per hour than one 2-thread run (OpenMP
    threads lose time waiting for each other on short sequences). The per-run locks keep jobs apart.

    finished: [(TrainConfig, wall seconds)] of the grid's runs done before: with this share's own finished runs
    they price the ETA printed after each run (time_left)."""
    log = log or (lambda msg: tqdm.write(msg, file=sys.stderr))  # stdout is for the tables
    prefix = f"[rank {grid['rank']}] " if grid.get("world_size", 1) > 1 else ""
    jobs = 1 if in_process else max(1, jobs)
    outcome, t_start = {}, time.perf_counter()
    took_ok = {}  # (dataset, method): seconds of whole runs that finished ok
    for cfg, wall in finished:
        took_ok.setdefault((cfg.dataset, cfg.method), []).append(wall)
    bar = tqdm(total=len(share), desc="grid", unit="run", disable=None if progress else True, dynamic_ncols=True)

    def one(i, run):
        if stop_file is not None and stop_file.exists():
            if "skipped (stop file)" not in outcome.values():
                log(f"{prefix}{stop_file} exists: no new run starts; the runs in flight finish")
            outcome[run.path.name] = "skipped (stop file)"
            return
        with run_lock(run) as mine:
            if not mine:
                outcome[run.path.name] = "skipped (busy)"
                log(f"{prefix}{run.label}: another process is running it; skipped")
                return
            state, _ = run.state()  # again, under the lock: someone may have finished it meanwhile
            if state == "ok" or (state == "failed" and not retry_failed):
                outcome[run.path.name] = "skipped (done)"
                return
            how = start_label(run, state)
            if state == "stale":  # another config's result under this name: kept, never overwritten
                aside = set_aside(run)
                log(f"{prefix}{run.label}: {run.path.name} holds a result whose stored config is not this run's; "
                    f"moved to {aside}")
            log(f"{prefix}[{i}/{len(share)}] {run.label} ({how})")
            t0 = time.perf_counter()
            result = execute(run, grid, device=device, progress=progress and jobs == 1, in_process=in_process,
                             threads=threads, save_model=save_models, tensorboard=tensorboard, checkpoints=checkpoints)
        outcome[run.path.name] = result["status"]
        took = time.perf_counter() - t0
        if result["status"] == "ok" and not how.startswith("resumes"):  # a failure or a part-run prices nothing
            took_ok.setdefault((run.cfg.dataset, run.cfg.method), []).append(took)
        left = [r for r in share if r.path.name not in outcome]  # not finished yet, the ones in flight included
        eta = f"; {len(left)} left" if left else ""
        if left and (seconds := time_left(left, took_ok, jobs)) is not None:
            eta += f", about {seconds / 60:.0f} min"
        if result["status"] == "ok":
            log(f"{prefix}{run.label}: test acc {result['test_acc']:.4f} (epoch {result['best_epoch']}), "
                f"{took:.0f}s -> {run.path.name}{eta}")
        else:
            log(f"{prefix}{run.label}: FAILED: {result['error']} -> {run.path.name}{eta}")

    try:
        if jobs == 1:
            for i, run in enumerate(share, start=1):
                bar.set_description(f"grid {run.label}")
                one(i, run)
                bar.update()
        else:
            from concurrent.futures import ThreadPoolExecutor, as_completed

            with ThreadPoolExecutor(jobs) as pool:
                futures = [pool.submit(one, i, run) for i, run in enumerate(share, start=1)]
                try:
                    for f in as_completed(futures):
                        f.result()  # re-raises a run's KeyboardInterrupt (Ctrl-C reached its child)
                        bar.update()
                except BaseException:
                    for f in futures:
                        f.cancel()  # runs not started yet never start; the ones in flight are ending too
                    raise
    finally:
        bar.close()
    if any(v in ("ok", "failed") for v in outcome.values()):
        log(f"{prefix}grid share done in {(time.perf_counter() - t_start) / 60:.1f} min")
    return outcome


def grid_stamp(info, shard):
    """What every result file records about where in the grid machinery it ran."""
    return {"rank": info.rank, "world_size": info.world, "shard": f"{shard[0]}/{shard[1]}",
            "host": socket.gethostname(), "pid": os.getpid()}
