"""
A run's state after every dev evaluation (each epoch's end, or every `eval_every` steps), so that a killed run
resumes where it stopped, with the same numbers.

    RUN.ckpt.pt   beside the result JSON while the run trains; removed once the result is written

A fine-tuning run of the evidence grid takes 20-50 minutes on one CPU core. Without this file, a run
killed in its fifth epoch (a session that ends, a Slurm job preempted, Ctrl-C) starts again at epoch 1;
with it, the same command continues at epoch 5 and loses at most the epoch that was in flight.

"The same numbers" means bit for bit on CPU, at the same thread count (a different count splits float sums
differently, and the resumed run says so): the file holds everything the rest of the run reads.
    model, optimizer     the weights and AdamW's moments and step counts (amplify/optim.py)
    rng                  torch's global generator (dropout), the mixing draws' own numpy and torch
                         generators (amplify/methods.py), and the CUDA generator on a GPU
    loop                 optimiser steps so far, every evaluation's row, the loss of every step, the best-dev
                         row (and its test scores when test is measured every epoch), evaluations since it
    best_state           the best-dev evaluation's weights, kept in memory for the final test evaluation; not
                         stored when the best one is the one just finished (they are `model` then)
    log_rows             the per-step CSV's rows (amplify/logs.py)
The data order needs nothing: each epoch's batches come from (seed, epoch) alone (data/batching.py), so a
checkpoint taken inside an epoch (eval_every) resumes at the step after it, in the same epoch.
The learning rate needs nothing: the schedule is a function of the step number (amplify/optim.py).

A checkpoint is used only for the config it was written for (it is stored inside and compared, every field that
changes a number: not where the files are or how often the loop logs, and the device by type only);
any other config, or a file this code cannot read, starts the run over and says why. The file is written
atomically (a temporary file, then a rename), so a kill while writing leaves the previous epoch's.
Size: weights + two AdamW moments (+ the best epoch's weights): 260-350 MiB for MiniLM-L6, written in
0.4-0.7 s (measured here), against the 4-7 minutes of one of its epochs on a CPU core. A resumed run
records after which epochs it was resumed and each earlier process's environment (result["resumed"]); its
wall time and peak memory are over all its processes (the epoch lost to the kill is not counted), and
reading the checkpoint raised the peak by 21 MiB of 1343 on a MiniLM TREC-fine run (measured here).
"""

import glob
import json
import os
from pathlib import Path

import numpy as np
import torch

FORMAT = 1


def checkpoint_path(result_path):
    """results/x.json -> results/x.ckpt.pt"""
    p = Path(result_path)
    return p.with_name(p.stem + ".ckpt.pt")


def _rng_state(rng, gen, device):
    state = {"torch": torch.get_rng_state(), "mix_numpy": rng.bit_generator.state, "mix_torch": gen.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state, rng, gen, device):
    torch.set_rng_state(state["torch"])
    rng.bit_generator.state = state["mix_numpy"]
    gen.set_state(state["mix_torch"])
    if device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def _tensors(evaluation):
    """An evaluate() result with numpy arrays as tensors (a checkpoint holds tensors and Python values only)."""
    if evaluation is None:
        return None
    return {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in evaluation.items()}


def _arrays(evaluation):
    if evaluation is None:
        return None
    return {k: v.numpy() if isinstance(v, torch.Tensor) else v for k, v in evaluation.items()}


def _plain(values):
    """Python values as JSON has them (torch.__version__ is a str subclass that a safe load refuses)."""
    return json.loads(json.dumps(values))


def save(path, *, config, epoch, model, optimizer, rng, gen, device, loop, best_state, log_rows):
    """Write the state after a dev evaluation; `epoch`: the epochs finished (loop["step"] says how far into the
    next one). `loop` is a dict of Python values (see train()); `best_state` is None when the best-dev evaluation
    is this one. Returns None, or why the file could not be written (a full disk must not end the run: it only
    loses what the checkpoint would have saved)."""
    path = Path(path)
    state = {
        "format": FORMAT, "config": config, "epoch": epoch,
        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "rng": _rng_state(rng, gen, device),
        "loop": {**_plain({k: v for k, v in loop.items() if k != "best_test"}),
                 "best_test": _tensors(loop["best_test"])},
        "best_state": best_state,
        "log_rows": [[float(x) for x in row] for row in log_rows],
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as e:  # torch.save reports a failed write as RuntimeError
        return f"could not write {path} after {position(state)} ({type(e).__name__}: {e}); training goes on"
    finally:
        tmp.unlink(missing_ok=True)
    return None


def device_type(device):
    """"auto" (or None) -> what this machine would use; "cuda:1" -> "cuda": cuda:0 and cuda:1 (torchrun ranks
    pick their own GPU) compute the same thing. Never checks that the device exists, so a report of GPU
    results can be made on a laptop (bench/grid/plan.py keys runs by it too)."""
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        return torch.device(device).type
    except RuntimeError as e:
        raise ValueError(f"--device {device!r} is not a device torch knows (use auto, cpu, cuda, cuda:1)") from e


def _computed(config, ignore):
    return {**{k: v for k, v in config.items() if k not in ignore}, "device": device_type(config.get("device"))}


def differences(config, other, ignore=()):
    """The fields (sorted) in which two configs (dicts) compute different numbers; [] for the same run."""
    want, have = _computed(config, ignore), _computed(other, ignore)
    return sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))


def load(path, config, ignore=()):
    """The saved state if `path` holds a checkpoint of this config, else (None, why not). ignore: config fields
    that change no number (where files are, how often to log); the device is compared by type."""
    path = Path(path)
    if not path.exists():
        return None, None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated by a full disk, another torch's format...: start over, say so
        return None, f"{path} cannot be read ({type(e).__name__}: {e}); starting over"
    if state.get("format") != FORMAT:
        return None, f"{path} has format {state.get('format')}, this code writes {FORMAT}; starting over"
    diff = differences(config, state["config"], ignore)
    if diff:
        return None, f"{path} is a checkpoint of another config (differs in {', '.join(diff)}); starting over"
    return state, None


def restore(state, model, optimizer, rng, gen, device):
    """Put the saved weights, optimiser and generators in place; returns (loop dict, best_state, log rows)."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    _set_rng_state(state["rng"], rng, gen, device)
    loop = {**state["loop"], "best_test": _arrays(state["loop"]["best_test"])}
    best_state = state["best_state"]
    if best_state is None:  # the best epoch was the last one saved: its weights are the model's
        best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    else:
        best_state = {k: v.to(device) for k, v in best_state.items()}
    rows = [(int(s), int(e), loss, lr, lam) for s, e, loss, lr, lam in state["log_rows"]]
    return loop, best_state, rows


def position(state):
    """Where a saved run stopped, in its own unit of evaluation: "epoch 3", or "step 40" with eval_every."""
    if state["config"].get("eval_every"):
        return f"step {state['loop']['step']}"
    return f"epoch {state['epoch']}"


def saved_at(path):
    """position() of the checkpoint at `path`, or None (no file, or unreadable); reads no tensor data."""
    try:
        return position(torch.load(path, map_location="cpu", weights_only=True, mmap=True))
    except Exception:
        return None


def epochs_done(path):
    """How many epochs the checkpoint at `path` holds (0 if none or unreadable); reads no tensor data."""
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True, mmap=True)["epoch"])
    except Exception:
        return 0


def discard(path):
    """Remove the checkpoint once the run's result is written (or the run is over for good), and the temporary
    file an earlier process of the run left if it was killed while writing one (`.NAME.PID.tmp`, see save)."""
    if path is not None:
        path = Path(path)
        path.unlink(missing_ok=True)
        for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
            tmp.unlink(missing_ok=True)
