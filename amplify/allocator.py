"""
Keep freed memory for the next training step instead of handing it back to the OS (Linux, glibc).

A training step allocates and frees the same tensors every time. glibc's malloc serves every block
above its mmap threshold (a threshold it never raises past 32 MiB) with a fresh mmap and unmaps it on
free, so the largest tensors are new memory in every step, and the kernel faults in and zeroes their
pages again. MiniLM's word-embedding gradient (30522 x 384 floats, 47 MB) is one: `torch.zeros` of it
takes 17 ms in fresh memory here and 2 ms in reused memory. Steps on real batches got 3.9-4.6% shorter
on TREC-fine, 1.3-2.9% on SST-2 and SST-5, 1.3-2.0% on MRPC (`python -m bench.speed.allocator`: both
settings side by side, two measurements; README, Performance).

`keep_freed_memory()` turns glibc's mmap off and raises its trim threshold to 1 GiB, so freed blocks
stay in the heap and the next step reuses them. A process then keeps the memory of its largest step
until it ends, which it reaches at its peak anyway (peak resident memory moved by -73 to +60 MiB of
1.0-2.1 GiB in those measurements; the heap settles within a few hundred steps). What a run computes
does not change, only where its memory comes from (tests/test_allocator.py runs the same training both
ways and compares every number).
jemalloc or tcmalloc preloaded (LD_PRELOAD, as PyTorch's CPU tuning guide suggests) do the same for any
program.

It leaves the allocator alone when glibc's own variables are set (MALLOC_MMAP_MAX_,
MALLOC_TRIM_THRESHOLD_: theirs to choose) or $AMPLIFY_MALLOC is "default", and does nothing where the C
library is not glibc (macOS, musl, Windows).
"""

import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # mallopt parameters (glibc's malloc.h)
TRIM_THRESHOLD = 1 << 30  # bytes of free heap top kept rather than returned to the OS

_state = None  # what keep_freed_memory did in this process, once it ran


def keep_freed_memory():
    """Configure this process's malloc (see the module docstring), once. Returns what it did, for the
    record of a run: "kept" or "default (<why>)"."""
    global _state
    if _state is not None:
        return _state
    if os.environ.get("AMPLIFY_MALLOC", "") == "default":
        _state = "default ($AMPLIFY_MALLOC)"
    elif "MALLOC_MMAP_MAX_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        _state = "default (the environment's MALLOC_* settings)"
    elif not sys.platform.startswith("linux"):
        _state = f"default (not Linux: {sys.platform})"
    else:
        try:
            libc = ctypes.CDLL("libc.so.6")
            ok = libc.mallopt(M_MMAP_MAX, 0) == 1 and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        except (OSError, AttributeError):  # no glibc (musl has libc.so, and its own malloc)
            ok = False
        _state = "kept" if ok else "default (no glibc mallopt)"
    return _state
