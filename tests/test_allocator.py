"""amplify/allocator.py: freed memory is reused instead of faulted in again, a run computes the same numbers
either way, and the user's own malloc settings win. Each case runs in a fresh process (the setting is
process-wide and cannot be undone by the library)."""

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc: Linux only")

# MiniLM training steps on one small batch: what keep_freed_memory said, then the page faults of each step.
STEPS = """
import contextlib, resource, torch
from amplify.allocator import keep_freed_memory
from amplify.methods import make_method
from amplify.optim import AdamW, param_groups
from bench.speed.train_step import Feed, build_ours, make_our_step, random_batch
torch.set_num_threads(1)
state = keep_freed_memory() if {keep} else "not called"
model, _ = build_ours("minilm-l6")
feed = Feed([random_batch(model.config, 8, 16, 2)], torch.device("cpu"))
step = make_our_step(model.train(), make_method("none", 6), AdamW(param_groups(model, 0.01), lr=1e-5), feed, 0,
                     torch.device("cpu"), contextlib.nullcontext)
faults = []
for _ in range(6):
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    step()
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
print(state, *faults)
"""
EMBEDDING_GRAD_PAGES = 30522 * 384 * 4 // os.sysconf("SC_PAGE_SIZE")  # MiniLM's word-embedding gradient


def python(code, **env):
    """Run `code` in a fresh interpreter with no MALLOC_* variables but those in `env`; its stdout words."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "AMPLIFY_MALLOC"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                         env={**clean, "PYTHONPATH": str(REPO), **env})
    return out.stdout.split()


def test_freed_memory_is_reused_not_faulted_in_again(minilm_dir):
    kept, usual = python(STEPS.format(keep=True)), python(STEPS.format(keep=False))
    assert kept[0] == "kept"
    # glibc as usual mmaps the 47 MB gradient afresh in every step and the kernel faults in every page of it;
    # kept, the steps after the first ones find it (and everything else) in memory they already touched
    assert min(map(int, usual[-3:])) > EMBEDDING_GRAD_PAGES, usual
    assert max(map(int, kept[-3:])) < EMBEDDING_GRAD_PAGES // 10, kept


@pytest.mark.parametrize("env, said", [({"AMPLIFY_MALLOC": "default"}, "$AMPLIFY_MALLOC"),
                                       ({"MALLOC_MMAP_MAX_": "65536"}, "MALLOC_*")])
def test_the_users_own_setting_wins(env, said):
    out = python("from amplify.allocator import keep_freed_memory as k; print(k())", **env)
    assert out[0] == "default" and said in " ".join(out)  # mallopt never called


def test_a_run_computes_the_same_numbers_either_way(tmp_path, data_dir, minilm_dir):
    """MiniLM (its 47 MB word-embedding gradient is the block that moves into the heap), 3 AMPLIFY steps:
    every logged number equal, not close. Memory read before it is written would differ here."""
    results = {}
    for mode in ("kept", "default"):
        out = tmp_path / f"{mode}.json"
        subprocess.run(
            [sys.executable, "run.py", "--method", "amplify", "--dataset", "trec-fine", "--model", "minilm-l6",
             "--epochs", "1", "--max-steps", "3", "--train-limit", "48", "--eval-limit", "32", "--batch-size", "16",
             "--threads", "1", "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "cache"),
             "--out", str(out), "--quiet"],
            cwd=REPO, check=True, capture_output=True,
            env={**os.environ, "AMPLIFY_MALLOC": "" if mode == "kept" else "default"})
        results[mode] = json.loads(out.read_text())
    kept, default = results["kept"], results["default"]
    assert kept["env"]["malloc"] == "kept" and default["env"]["malloc"].startswith("default")
    for key in ("train_loss_steps", "test_probs", "test_predictions", "best_dev_acc", "test_acc"):
        assert kept[key] == default[key], key
    untimed = [[{k: v for k, v in e.items() if not k.endswith("_s")} for e in r["epochs"]] for r in results.values()]
    assert untimed[0] == untimed[1]
