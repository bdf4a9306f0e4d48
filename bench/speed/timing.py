"""
Interleaved timing of training steps, for bench.speed (train_step.py): what a round is, what each step
records, and the numbers the table and the JSON report. train_step.py's docstring says why it is measured
this way (round-robin rounds, medians of per-round ratios, CPU time beside wall time, memory on CPU from
the profiler's allocation records).

    variants = [Variant("none", step, model, optimizer), ...]
    measure(variants, steps=30, warmup=3, device=device)   # fills each variant's times / cpu_times / peaks
    measure(variants, ..., probe=GemmPeak(...).peak)       # ... and returns the probe's value in each round
    rows = summarize(variants, work, peak_tflops)          # {name: medians, IQRs, ratios vs hf / none, MFU}
"""

import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm


@dataclass
class Variant:
    name: str
    step: object  # () -> loss tensor
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    times: list = field(default_factory=list)  # wall seconds, timed rounds only
    cpu_times: list = field(default_factory=list)  # process CPU seconds, same steps
    peaks: list = field(default_factory=list)  # MiB above resident: every step on CUDA, one profiled on CPU
    loss: object = None
    resident_mb: float = 0.0  # weights + gradients + optimiser state, filled in after the timed rounds


def tensor_mb(model, optimizer):
    n = sum(p.numel() * p.element_size() * 2 for p in model.parameters())  # weights + grads
    for s in optimizer.state.values():
        n += sum(t.numel() * t.element_size() for t in s.values() if torch.is_tensor(t))
    return n / 2**20


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_step(v, device):
    """Run one step of `v`; returns (wall seconds, CPU seconds of the process, peak MiB above resident
    or None). The CPU time counts every thread's work (OpenMP spin-waiting included) but not the time
    spent waiting for a core: on a shared machine it is the steadier of the two, on CUDA it is only
    the host's share and we do not report it."""
    peak = None
    sync(device)
    if device.type == "cuda":
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
    c0, t0 = time.process_time(), time.perf_counter()
    v.loss = v.step()
    sync(device)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    if device.type == "cuda":
        peak = (torch.cuda.max_memory_allocated(device) - base) / 2**20
    return dt, dc, peak


class _QuietStderr:
    """Silence C-level stderr (fd 2): this torch build's profiler prints two log lines per use.
    Python exceptions still propagate; only C++ log output inside the block is lost."""

    def __enter__(self):
        sys.stderr.flush()
        self.saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)

    def __exit__(self, *exc):
        os.dup2(self.saved, 2)
        os.close(self.saved)


def cpu_step_peak_mb(step):
    """Peak tensor memory of one (untimed) step above what was live before it, from the profiler's
    allocation records; None when this torch's profiler does not expose them."""
    from torch.profiler import ProfilerActivity, profile

    try:
        with _QuietStderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            step()
        records = sorted(
            (e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"
        )
    except (AttributeError, RuntimeError):  # a private API: degrade to "n/a", never fail the benchmark
        return None
    live = peak = 0
    for _, nbytes in records:
        live += nbytes
        peak = max(peak, live)
    return peak / 2**20


def measure(variants, steps, warmup, device, progress=True, feed=None, probe=None):
    """`warmup` + `steps` interleaved rounds; fills each variant's `times` (and `peaks` on CUDA).
    With a `feed` of several batches, timed round i uses batch i (warm-up rounds: the first ones).
    A `probe` (e.g. the GEMM peak) is called at the start of every timed round. Returns the batch index
    of every timed round (with a feed) and the probe's value in every timed round ([] without a probe)."""
    n, used, probed = len(variants), [], []
    for r in tqdm(range(warmup + steps), desc="rounds", disable=not progress, leave=False):
        if feed is not None:
            feed.set(r - warmup if r >= warmup else r)
            if r >= warmup:
                used.append(feed.index)
        if r >= warmup and probe is not None:
            probed.append(probe())
        for v in variants[r % n:] + variants[: r % n]:  # rotate the order every round
            dt, dc, peak = timed_step(v, device)
            if r >= warmup:
                v.times.append(dt)
                v.cpu_times.append(dc)
                if peak is not None:
                    v.peaks.append(peak)
    return used, probed


def quartiles(x):
    q1, med, q3 = np.percentile(np.asarray(x, dtype=float), [25, 50, 75])
    return float(q1), float(med), float(q3)


def ratios(times, ref_times, key):
    """Step time relative to a reference variant's, three ways: `key` = the median of the per-round
    ratios (each round pairs steps taken seconds apart, so drift between rounds cancels: the headline),
    `key`_iqr = their quartiles, and the ratio of the two medians."""
    if ref_times is None:
        return {key: None, f"{key}_iqr": None, key.replace("ratio_", "ratio_of_medians_"): None}
    q1, med, q3 = quartiles([a / b for a, b in zip(times, ref_times, strict=True)])
    return {key: med, f"{key}_iqr": [q1, q3],
            key.replace("ratio_", "ratio_of_medians_"): quartiles(times)[1] / quartiles(ref_times)[1]}


def summarize(variants, work, peak_tflops, cpu_time=False):
    """`work`: per timed round, {"samples", "tokens" (B·T positions), "real_tokens", "flops"}.
    `peak_tflops`: one peak for every round, one per timed round (measured beside the steps: MFU is
    then the median of per-round ratios, like the step ratios), or None (no MFU)."""
    by_name = {v.name: v for v in variants}
    rows = {}
    per = {k: np.array([w[k] for w in work], dtype=float) for k in ("samples", "tokens", "real_tokens", "flops")}
    peak = None if peak_tflops is None else np.broadcast_to(np.asarray(peak_tflops, dtype=float) * 1e12, len(work))
    for v in variants:
        q1, med, q3 = quartiles(v.times)
        t = np.asarray(v.times)
        flop_rate = float(np.median(per["flops"] / t))  # FLOP/s of the model's useful work (real tokens)
        row = {
            "ms_median": med * 1e3, "ms_q1": q1 * 1e3, "ms_q3": q3 * 1e3, "ms_iqr": (q3 - q1) * 1e3,
            "ms_min": min(v.times) * 1e3, "steps": len(v.times), "times_ms": [t * 1e3 for t in v.times],
            "total_s": float(t.sum()),  # with --epoch: the epoch's training time
            "tokens_per_s": float(np.median(per["tokens"] / t)), "samples_per_s": float(np.median(per["samples"] / t)),
            "real_tokens_per_s": float(per["real_tokens"].sum() / t.sum()),
            "peak_mem_mb": max(v.peaks) if v.peaks else None, "resident_mb": v.resident_mb,
            "last_loss": float(v.loss), "tflops": flop_rate / 1e12,
            "mfu": None, "mfu_iqr": None,
        }
        if peak is not None:  # per-round MFU: the round's useful FLOP/s over the round's peak
            q1, row["mfu"], q3 = quartiles(per["flops"] / t / peak)
            row["mfu_iqr"] = [q1, q3]
        if cpu_time:
            row["cpu_ms_median"] = quartiles(v.cpu_times)[1] * 1e3
            row["cpu_times_ms"] = [t * 1e3 for t in v.cpu_times]
        for ref in ("hf", "hf-fused", "none"):
            r = by_name.get(ref)
            row.update(ratios(v.times, r and r.times, f"ratio_vs_{ref}"))
            if cpu_time:
                row.update(ratios(v.cpu_times, r and r.cpu_times, f"cpu_ratio_vs_{ref}"))
        rows[v.name] = row
    return rows
