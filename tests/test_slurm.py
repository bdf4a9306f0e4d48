"""--launcher slurm (bench/grid/slurm.py). Unit tests with a stand-in for submitit and squeue, then two tests
against the real one-node Slurm cluster that .ci/slurm-up.sh starts: the smoke grid lands every run exactly once,
and a scancel mid-way then a resubmission lose and duplicate nothing. Where AMPLIFY_TEST_SLURM=1 (.ci/run sets it
and starts the cluster) those two fail without a cluster; elsewhere they skip, saying how to run them."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import types
from collections import Counter

import pytest

from bench import compare
from bench.grid import slurm


def smoke(results, data_dir, cache, *extra):
    return ["--preset", "smoke", "--results", str(results), "--data-dir", str(data_dir), "--cache-dir", str(cache),
            "--quiet", "--launcher", "slurm", "--slurm-time", "10", "--slurm-poll", "1", *extra]


# -----------------------------------------------------------------------------
# no cluster needed


class FakeExecutor:
    made = []

    def __init__(self, folder, max_num_timeout=0):
        self.folder, self.params, self.calls = folder, {}, []
        FakeExecutor.made.append(self)

    def update_parameters(self, **kw):
        self.params.update(kw)

    def map_array(self, fn, *columns):
        self.calls.append((fn, columns))
        return [types.SimpleNamespace(job_id=f"{77 + len(FakeExecutor.made)}_{i}") for i in range(len(columns[0]))]


def test_submit_asks_for_the_resources_and_never_twice(tmp_path, data_dir, monkeypatch, capsys):
    FakeExecutor.made.clear()
    monkeypatch.setitem(sys.modules, "submitit", types.SimpleNamespace(SlurmExecutor=FakeExecutor))
    live = {}
    monkeypatch.setattr(slurm, "squeue_live", lambda jobs: {j: t for j, t in live.items() if j in jobs})
    args = smoke(tmp_path / "r", data_dir, tmp_path / "c", "--slurm-partition", "gpu", "--slurm-gpus", "1",
                 "--slurm-cpus", "8", "--slurm-mem", "32G", "--slurm-parallel", "8", "--save-models",
                 "--slurm-extra", "account=abc", "qos=high")
    assert compare.main(args) == 0
    out = capsys.readouterr().out
    (ex,) = FakeExecutor.made
    assert {k: ex.params[k] for k in ("partition", "gpus_per_node", "cpus_per_task", "mem", "array_parallelism",
                                      "time")} == {"partition": "gpu", "gpus_per_node": 1, "cpus_per_task": 8,
                                                   "mem": "32G", "array_parallelism": 8, "time": 10}
    assert ex.params["additional_parameters"] == {"account": "abc", "qos": "high"}
    fn, (cfgs, paths, retry, threads, save, tb, checkpoints) = ex.calls[0]
    assert fn is slurm.run_task and len(paths) == 4 and save == [True] * 4 and checkpoints == [True] * 4
    assert all(c["device"] == "cuda" for c in cfgs)  # --slurm-gpus: the runs' keys say cuda, whatever this host has
    assert "submitted Slurm job array 78 (4 tasks" in out and "squeue -j 78" in out
    assert re.search(r"tables when it is done:  python -m bench.compare .*--launcher slurm .*--report-only", out)
    # the same command again while the tasks are queued: nothing is submitted twice
    live["78"] = {0: "RUNNING", 1: "PENDING", 2: "PENDING", 3: "PENDING"}
    assert compare.main(args) == 0
    assert len(FakeExecutor.made) == 1 and "4 already queued or running, 0 submitted" in capsys.readouterr().err
    # two tasks were cancelled before they ran: only those two are submitted again
    live["78"] = {0: "RUNNING", 1: "RUNNING"}
    assert compare.main(args) == 0
    _, (_, again, *_) = FakeExecutor.made[1].calls[0]
    assert again == paths[2:]


def test_bad_slurm_options_are_one_line_errors(tmp_path, data_dir, capsys):
    with pytest.raises(SystemExit) as e:
        compare.main(smoke(tmp_path / "r", data_dir, tmp_path / "c", "--slurm-extra", "account"))
    assert e.value.code == 2 and "--slurm-extra expects KEY=VALUE" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        compare.main(smoke(tmp_path / "r", data_dir, tmp_path / "c", "--shard", "0/2"))
    assert e.value.code == 2 and "drop --shard" in capsys.readouterr().err


def test_submitit_missing_says_how_to_install(tmp_path, data_dir, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "submitit", None)
    monkeypatch.setattr(slurm, "squeue_live", lambda jobs: {})
    with pytest.raises(SystemExit) as e:
        compare.main(smoke(tmp_path / "r", data_dir, tmp_path / "c"))
    assert e.value.code == 2 and "pip install submitit" in capsys.readouterr().err


def test_a_task_that_starts_after_a_stop_file_trains_nothing(tmp_path):
    from dataclasses import asdict

    from amplify.train import TrainConfig

    (tmp_path / "STOP").touch()
    path = tmp_path / "run.json"
    assert slurm.run_task(asdict(TrainConfig(model="tiny")), str(path)) == "skipped (stop file)"
    assert not path.exists()


def test_wait_after_retry_failed_waits_for_a_new_attempt(tmp_path, monkeypatch):
    """--retry-failed --wait: a resubmitted run's old failure on disk is not its result; wait until a new attempt
    writes it, and name it as unfinished when its task leaves the queue without one."""
    from amplify.results import write_json_atomic
    from amplify.train import TrainConfig
    from bench.grid.plan import plan
    from bench.grid.runner import failure_record

    runs = plan([TrainConfig(model="tiny", seed=s) for s in range(2)], tmp_path)
    for run, attempt in zip(runs, ("old", "ok-one"), strict=True):
        res = failure_record(run.cfg, "NonFiniteLoss") if attempt == "old" else {
            **failure_record(run.cfg, ""), "status": "ok"}
        write_json_atomic(run.path, {**res, "grid": {"attempt": attempt}})
    retried = {runs[0].path.name: slurm.attempts(runs)[runs[0].path.name]}
    assert retried == {runs[0].path.name: "old"}

    polls = []

    def queue(results_dir):  # the task runs for two polls, then writes a new failure and leaves the queue
        polls.append(1)
        if len(polls) == 2:
            new = {**failure_record(runs[0].cfg, "NonFiniteLoss"), "grid": {"attempt": "new"}}
            write_json_atomic(runs[0].path, new)
        return {runs[0].path.name} if len(polls) <= 2 else set()

    monkeypatch.setattr(slurm, "queued_files", queue)
    assert slurm.wait(runs, tmp_path, poll_s=0, progress=False, retried=retried) == [] and len(polls) == 2
    polls.clear()
    monkeypatch.setattr(slurm, "queued_files", lambda d: (polls.append(1), set())[1])  # gone, no new attempt
    retried = {runs[0].path.name: "new"}
    assert slurm.wait(runs, tmp_path, poll_s=0, progress=False, retried=retried) == [runs[0]] and len(polls) == 1


def test_mounts_that_keep_locks_local_are_warned_about(tmp_path, monkeypatch):
    for fstype, opts, bad in [("nfs4", ["rw", "vers=4.2"], False), ("nfs", ["rw", "nolock"], True),
                              ("nfs", ["rw", "local_lock=all"], True), ("lustre", ["rw", "flock"], False),
                              ("lustre", ["rw", "localflock"], True), ("ext4", ["rw"], False)]:
        monkeypatch.setattr(slurm, "mount_of", lambda path, f=fstype, o=opts: ("/shared", f, o))
        assert (slurm.check_shared_locks(tmp_path) is not None) == bad, (fstype, opts)
    assert slurm.mount_of(tmp_path)[0].startswith("/")  # the real /proc/mounts parses


# -----------------------------------------------------------------------------
# the real one-node cluster (.ci/slurm-up.sh)


HOW = "start the one-node test cluster with .ci/slurm-up.sh (as root) and set AMPLIFY_TEST_SLURM=1 (.ci/run does both)"


def no_cluster(why):
    """Fail where the cluster tests are asked for (AMPLIFY_TEST_SLURM=1), skip with the reason elsewhere."""
    if os.environ.get("AMPLIFY_TEST_SLURM") == "1":
        pytest.fail(f"{why}: {HOW}")
    pytest.skip(f"{why}: {HOW}")


@pytest.fixture(scope="module")
def cluster():
    if shutil.which("sinfo") is None:
        no_cluster("no Slurm here")
    p = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    states = p.stdout.split()
    if p.returncode != 0 or not {"idle", "mixed", "allocated"} & set(states):
        no_cluster(f"Slurm is not up ({p.stderr.strip() or states})")


def finished_lines(results):
    """How many times each run finished training, from every task's log (a killed run never gets there)."""
    text = "".join(p.read_text() for p in (results / ".slurm").glob("*/*_log.err"))
    return Counter(re.findall(r"^(\S+): test acc ", text, flags=re.M))


def results_of(results):
    return {p.name: json.loads(p.read_text()) for p in results.glob("*.json")}


def wait_gone(job, timeout=120):
    for _ in range(timeout):
        if not slurm.squeue_live([job]):
            return
        time.sleep(1)
    raise AssertionError(f"job {job} still in the queue after {timeout} s")


@pytest.mark.slow
def test_slurm_smoke_grid_lands_every_run_once(cluster, data_dir, tmp_path, capsys):
    results = tmp_path / "r"
    args = smoke(results, data_dir, tmp_path / "c", "--slurm-parallel", "2")
    assert compare.main([*args, "--wait"]) == 0
    out = capsys.readouterr().out
    job = re.search(r"submitted Slurm job array (\d+) \(4 tasks", out).group(1)
    assert "### Test accuracy per method and dataset" in out and "4 ok, 0 failed, 0 missing" in out
    got = results_of(results)
    wait_gone(job)  # a task logs its run's line after the result file appears
    assert len(got) == 4 and all(r["status"] == "ok" for r in got.values())
    assert sorted(r["grid"]["slurm_job"] for r in got.values()) == [f"{job}_{i}" for i in range(4)]
    assert set(finished_lines(results).values()) == {1} and len(finished_lines(results)) == 4
    assert all((results / n.replace(".json", ".steps.csv")).is_file() for n in got)
    assert compare.main(args) == 0  # again: everything is done, nothing is submitted
    assert "4 ok, 0 failed, 0 already queued or running, 0 submitted" in capsys.readouterr().err


@pytest.mark.slow
def test_slurm_scancel_midway_then_resubmit_loses_and_duplicates_nothing(cluster, data_dir, tmp_path, capsys):
    results = tmp_path / "r"
    args = smoke(results, data_dir, tmp_path / "c")
    assert compare.main([*args, "--slurm-parallel", "1"]) == 0  # one task at a time: easy to stop mid-way
    job = re.search(r"submitted Slurm job array (\d+)", capsys.readouterr().out).group(1)
    for _ in range(300):  # until the first run is finished
        if any(r["status"] == "ok" for r in results_of(results).values()):
            break
        time.sleep(0.5)
    subprocess.run(["scancel", job], check=True)
    wait_gone(job)
    before = {n: r["grid"]["attempt"] for n, r in results_of(results).items() if r["status"] == "ok"}
    assert 1 <= len(before) < 4
    assert compare.main([*args, "--wait", "--slurm-parallel", "2"]) == 0
    captured = capsys.readouterr()
    assert f"{len(before)} ok, 0 failed, 0 already queued or running, {4 - len(before)} submitted" in captured.err
    assert "4 ok, 0 failed, 0 missing" in captured.out
    got = results_of(results)
    wait_gone(re.search(r"submitted Slurm job array (\d+)", captured.out).group(1))
    assert len(got) == 4 and all(r["status"] == "ok" for r in got.values())
    assert {n: got[n]["grid"]["attempt"] for n in before} == before  # finished runs were never touched again
    assert set(finished_lines(results).values()) == {1} and len(finished_lines(results)) == 4
