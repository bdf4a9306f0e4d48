"""
`python -m bench.compare ... --launcher slurm`: a grid's pending runs as one Slurm job array, through submitit.

    python -m bench.compare --preset paper --results /shared/results/paper --launcher slurm \\
        --slurm-partition gpu --slurm-gpus 1 --slurm-cpus 8 --slurm-mem 32G --slurm-time 240 --slurm-parallel 8

One array task per pending run. Each task runs its run with the local machinery (run_share on a share of
one: the per-run lock, the state re-read under it, a child process that writes the result atomically), so a
task whose run is already done, or held by another live process, does nothing. submitit (optional: `pip
install submitit`) writes the sbatch script, pickles the task and keeps its logs in RESULTS/.slurm/JOBID_i_*.

Submitting twice. Every submission is written down in RESULTS/.slurm/jobs/JOBID.json (array index -> run
file). Submitting again asks squeue which of those tasks are still pending or running, and submits only the
runs that are neither finished nor queued: re-running the same command after a crash, a time limit or a
scancel resubmits exactly what is missing. Even if a run is queued twice (two people, two login nodes) the
lock and the state re-read keep it from being trained twice. A task stopped mid-run leaves its run's state
after the last finished epoch beside the result (RUN.ckpt.pt, amplify/checkpoint.py): the resubmitted task
continues from there, on any node, with the numbers an uninterrupted run gives. squeue only, never sacct:
it works on clusters without accounting.

Shared results directory. Jobs on different nodes write into one directory, so it must be on a filesystem
that all nodes see, with (1) rename within a directory atomic (every POSIX network filesystem: NFS, Lustre,
GPFS, BeeGFS) -- the result files are written to a temporary name and renamed; and (2) flock visible across
nodes: NFSv4, or NFSv3 with lockd, mounted without `nolock` / `local_lock=flock|all`; Lustre mounted with
`-o flock` (not `localflock`); GPFS as is; BeeGFS with tuneUseGlobalFileLocks. `check_shared_locks`
warns when the mount options say otherwise. A lock held by a node that dies is freed when the server's
lease expires (NFSv4: ~90 s), not at once.

Device. A run's key holds its device type (bench/grid/plan.py), and a login node often has no GPU, so the
launcher makes "auto" explicit before planning: cuda with --slurm-gpus, cpu without.
"""

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from amplify.results import write_json_atomic
from bench.grid.plan import Run, collect, run_key, to_do
from bench.grid.runner import attempt_of

LIVE_STATES = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED",
               "REQUEUE_HOLD", "REQUEUE_FED", "SIGNALING", "STAGE_OUT"}
SUBMITIT_MISSING = ("--launcher slurm needs the submitit package, which is not installed: pip install submitit "
                    "(it does not change torch)")


@dataclass
class SlurmOptions:
    """The array's resources, per run (one array task = one run)."""

    partition: str | None = None
    time_min: int = 60  # wall-time limit of one run, minutes
    cpus: int = 1  # CPUs per run; the run trains with this many threads
    gpus: int = 0  # GPUs per run
    mem: str | None = None  # e.g. "16G"; None = the partition's default
    parallel: int = 256  # array tasks running at once (%N in sbatch --array)
    extra: dict = field(default_factory=dict)  # any other sbatch option, e.g. {"account": "abc", "qos": "high"}
    job_name: str = "amplify-grid"


def parse_extra(items):
    """["account=abc", "qos=high"] -> {"account": "abc", "qos": "high"} (sbatch long options, without --)."""
    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key = key.strip().lstrip("-")
        if not sep or not key:
            raise ValueError(f"--slurm-extra expects KEY=VALUE (an sbatch option without --), got {item!r}")
        out[key] = value
    return out


def _submitit():
    try:
        import submitit
    except ImportError as e:
        raise ImportError(SUBMITIT_MISSING) from e
    return submitit


# -----------------------------------------------------------------------------
# what an array task runs (on the compute node)


def run_task(cfg_dict, path, retry_failed=False, threads=None, save_models=False, tensorboard=None,
             checkpoints=True):
    """One array task: the run of `path` through run_share (lock, state re-read, child process).
    Returns its outcome: "ok", "failed", "skipped (done)", "skipped (busy)", "skipped (stop file)" (a STOP
    file in the results directory: tasks that start after it train nothing) or "stopped" (cancelled)."""
    from amplify.train import TrainConfig
    from bench.grid.runner import Dist, grid_stamp, run_share

    cfg = TrainConfig(**cfg_dict)
    run = Run(cfg, run_key(cfg), Path(path))
    grid = {**grid_stamp(Dist(), (0, 1)), "launcher": "slurm",
            "slurm_job": f"{os.environ.get('SLURM_ARRAY_JOB_ID', '?')}_{os.environ.get('SLURM_ARRAY_TASK_ID', '?')}"}
    threads = threads or int(os.environ.get("SLURM_CPUS_PER_TASK", "0")) or None
    try:
        outcome = run_share([run], grid, retry_failed=retry_failed, progress=False, jobs=1, threads=threads,
                            save_models=save_models, tensorboard=tensorboard, stop_file=run.path.parent / "STOP",
                            checkpoints=checkpoints, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    except KeyboardInterrupt:  # scancel, the time limit: the run has no file and is resubmitted next time
        again = "continues from its last finished epoch" if checkpoints else "runs it again"
        print(f"{run.label}: stopped by a signal; no result written, a resubmission {again}", file=sys.stderr)
        return "stopped"
    return outcome[run.path.name]


# -----------------------------------------------------------------------------
# the ledger of submissions, and squeue


def slurm_dir(results_dir):
    return Path(results_dir).resolve() / ".slurm"


def squeue_live(job_ids):
    """{job id: {array index: state}} of the tasks squeue still lists as pending or running.
    A job squeue no longer knows has none. Raises RuntimeError if squeue itself fails."""
    live = {}
    for job in job_ids:
        p = subprocess.run(["squeue", "-h", "-r", "-j", str(job), "-o", "%i|%T"], capture_output=True, text=True)
        if p.returncode != 0:
            if "Invalid job id" in p.stderr:
                continue  # finished long ago: purged from the controller
            raise RuntimeError(f"squeue -j {job} failed: {p.stderr.strip() or p.returncode}")
        for line in p.stdout.split():
            task, _, state = line.partition("|")
            job_id, _, index = task.partition("_")
            if state in LIVE_STATES and index.isdigit():
                live.setdefault(job_id, {})[int(index)] = state
    return live


def ledger(results_dir):
    """{job id: {array index: run file name}} of every submission made into this results directory."""
    out = {}
    for f in sorted((slurm_dir(results_dir) / "jobs").glob("*.json")):
        try:
            d = json.loads(f.read_text())
            out[str(d["job"])] = {int(i): name for i, name in d["runs"].items()}
        except (OSError, ValueError, KeyError):
            continue
    return out


def queued_files(results_dir):
    """{run file name: "JOB_i STATE"} of runs that have a live array task in some submission."""
    jobs = ledger(results_dir)
    live = squeue_live(jobs)
    return {jobs[job][i]: f"{job}_{i} {state}" for job, tasks in live.items() for i, state in tasks.items()
            if i in jobs.get(job, {})}


# -----------------------------------------------------------------------------
# the filesystem check


def mount_of(path):
    """(mount point, fs type, options) of the mount holding `path`, from /proc/mounts (Linux), or None."""
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    path, best = str(Path(path).resolve()), None
    for line in lines:
        parts = line.split()
        if len(parts) < 4:
            continue
        mnt = parts[1].replace("\\040", " ")
        if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and (best is None or len(mnt) > len(best[0])):
            best = (mnt, parts[2], parts[3].split(","))
    return best


def check_shared_locks(path):
    """A warning (str) when the results directory's mount keeps locks local to each node, else None."""
    m = mount_of(path)
    if m is None:
        return None
    mnt, fstype, opts = m
    local = [o for o in opts if o in ("nolock", "local_lock=flock", "local_lock=all", "localflock")]
    if fstype == "lustre" and "flock" not in opts:
        local.append("no -o flock")
    if local:
        return (f"warning: {path} is on {fstype} mounted at {mnt} with {', '.join(local)}: file locks are local to "
                "each node, so two tasks on different nodes could train one run twice (the result stays one "
                "file). Prefer a results directory whose mount shares locks (bench/grid/slurm.py).")
    return None


# -----------------------------------------------------------------------------
# submitting and waiting


def submit(runs, opts, retry_failed=False, save_models=False, tensorboard=None, threads=None, checkpoints=True,
           log=print):
    """Submit the runs of the grid that are not finished and not already queued; returns (job id or None,
    the submitted runs, {run file: live task} of those already queued)."""
    results = runs[0].path.parent.resolve()
    queued = queued_files(results)
    pending = [run for run, _ in to_do(runs, retry_failed) if run.path.name not in queued]
    if not pending:
        return None, [], queued
    submitit = _submitit()
    folder = slurm_dir(results)
    (folder / "jobs").mkdir(parents=True, exist_ok=True)
    ex = submitit.SlurmExecutor(folder=folder / "%j", max_num_timeout=0)
    repo = Path(__file__).resolve().parents[2]
    params = dict(job_name=opts.job_name, time=opts.time_min, cpus_per_task=opts.cpus, nodes=1, ntasks_per_node=1,
                  array_parallelism=opts.parallel, stderr_to_stdout=False,
                  setup=[f"export PYTHONPATH={shlex.quote(str(repo))}${{PYTHONPATH:+:$PYTHONPATH}}",
                         f"export OMP_NUM_THREADS={threads or opts.cpus}"],
                  additional_parameters=dict(opts.extra))
    if opts.partition:
        params["partition"] = opts.partition
    if opts.gpus:
        params["gpus_per_node"] = opts.gpus
    if opts.mem:
        params["mem"] = opts.mem
    ex.update_parameters(**params)
    abs_runs = [Run(r.cfg, r.key, r.path.resolve()) for r in pending]
    n, tb = len(abs_runs), tensorboard and str(Path(tensorboard).resolve())
    jobs = ex.map_array(run_task, [asdict(r.cfg) for r in abs_runs], [str(r.path) for r in abs_runs],
                        [retry_failed] * n, [threads] * n, [save_models] * n, [tb] * n, [checkpoints] * n)
    job_id = jobs[0].job_id.split("_")[0]
    write_json_atomic(folder / "jobs" / f"{job_id}.json",
                      {"job": job_id, "submitted_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                       "runs": {str(i): r.path.name for i, r in enumerate(abs_runs)}})
    return job_id, abs_runs, queued


def attempts(runs):
    """{file name: the attempt id stored in its result} for the runs that have one (bench/grid/runner.py)."""
    got = collect(runs)
    return {run.path.name: attempt_of(res) for run, res in got["ok"] + got["failed"]}


def wait(runs, results_dir, poll_s=10.0, progress=True, log=print, retried=None):
    """Poll until every run of `runs` is finished or has no live array task; a progress bar of finished runs.
    retried: {file name: attempt id} of failed runs resubmitted by --retry-failed (`attempts` before the
    submission); such a run is finished only once a new attempt has written it. Returns the runs left
    unfinished (cancelled, timed out, crashed nodes)."""
    from tqdm.auto import tqdm

    names, retried = {r.path.name for r in runs}, retried or {}

    def old_failures(got):  # retried runs whose stored failure is still the one from before the submission
        return [r for r, res in got["failed"]
                if r.path.name in retried and attempt_of(res) == retried[r.path.name]]

    bar = tqdm(total=len(runs), desc="slurm", unit="run", disable=None if progress else True, dynamic_ncols=True)
    try:
        while True:
            got = collect(runs)
            done = len(got["ok"]) + len(got["failed"]) - len(old_failures(got))
            bar.n = done
            bar.set_postfix(ok=len(got["ok"]), failed=len(got["failed"]))
            bar.refresh()
            if done == len(runs):
                return []
            try:
                live = {f for f in queued_files(results_dir) if f in names}
            except RuntimeError as e:  # the controller is busy: ask again at the next poll
                log(f"slurm: {e}; retrying")
                live = names
            if not live:  # a task may have written its result just before leaving the queue: read once more
                got = collect(runs)
                return got["missing"] + got["stale"] + old_failures(got)
            time.sleep(poll_s)
    finally:
        bar.close()
