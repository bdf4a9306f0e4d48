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

The heap can also fragment instead of settling. On 256-token IMDB batches (each step's blocks ~3 GiB, of
many sizes) the freed chunks came out too scattered to serve the next step's blocks: the heap grew ~0.25
GiB per step, 0.7 GiB in use and 6.8 GiB free after 14 steps, and two runs side by side were killed for
memory at 12.7 GiB each. So `after_step()`, called by the training loop, watches the heap: once it is
more than GROWTH_LIMIT times its size after the first SETTLE_STEPS steps and more than MIN_HEAP, the run
gives its free pages back (malloc_trim) and turns glibc's mmap on again for the rest of the run, and the
run's record says from which step. Short-sentence runs grow too, less (SST-2's heap: 0.89 to 1.83 GiB in
87 steps), and MIN_HEAP leaves such heaps alone. On those IMDB steps glibc's default malloc was ~1.5x
slower than kept memory (page faults), and jemalloc preloaded with
MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 (and AMPLIFY_MALLOC=default) was as fast as kept memory
and stayed flat at 4.0 GiB: the way to run long sequences fast.

It leaves the allocator alone when glibc's own variables are set (MALLOC_MMAP_MAX_,
MALLOC_TRIM_THRESHOLD_: theirs to choose) or $AMPLIFY_MALLOC is "default", and does nothing where the C
library is not glibc (macOS, musl, Windows).
"""

import ctypes
import functools
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # mallopt parameters (glibc's malloc.h)
TRIM_THRESHOLD = 1 << 30  # bytes of free heap top kept rather than returned to the OS
DEFAULT_TRIM_THRESHOLD, DEFAULT_MMAP_MAX = 128 * 1024, 65536  # glibc's defaults, for the way back
SETTLE_STEPS = 3  # the heap's size after this many steps is its reference...
GROWTH_LIMIT = 2.0  # ...and beyond this many times it, the heap is fragmenting: back to glibc's default,
MIN_HEAP = 4 << 30  # once it also holds this many bytes (a small heap's growth endangers nothing)

_state = None  # what keep_freed_memory did in this process, once it ran
_steps, _reference = 0, None  # after_step's count and the heap size it compares with


class _MallInfo2(ctypes.Structure):  # glibc >= 2.33's struct mallinfo2 (malloc.h)
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                       "fsmblks", "uordblks", "fordblks", "keepcost")]


@functools.cache
def _glibc():
    """The C library, or None where there is no libc.so.6 (macOS, Windows). musl has one without mallopt."""
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def mallinfo():
    """glibc's malloc statistics (mallinfo2: .arena the heap's bytes, .hblkhd the mmapped blocks' bytes,
    .uordblks / .fordblks the heap's bytes in use / free), or None without mallinfo2 (glibc < 2.33)."""
    mallinfo2 = getattr(_glibc(), "mallinfo2", None)
    if mallinfo2 is None:
        return None
    mallinfo2.restype = _MallInfo2
    return mallinfo2()


def heap_bytes():
    """The bytes glibc's main heap holds, in use and free, or None without mallinfo2."""
    info = mallinfo()
    return None if info is None else info.arena


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
        libc = _glibc()
        try:
            ok = libc.mallopt(M_MMAP_MAX, 0) == 1 and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        except AttributeError:  # no glibc (None, or musl's libc.so with its own malloc)
            ok = False
        _state = "kept" if ok else "default (no glibc mallopt)"
    return _state


def after_step(heap=heap_bytes):
    """Called after every training step. While memory is kept, compare the heap with its size after the
    first SETTLE_STEPS steps; past GROWTH_LIMIT times that and MIN_HEAP, give the free pages back and let glibc mmap
    large blocks again (the module docstring says why). Returns what this process's malloc does now, for
    the run's record. `heap`: the heap-size reader (tests pass their own)."""
    global _state, _steps, _reference
    if _state != "kept":  # kept: glibc's mallopt worked, so _glibc() is there
        return _state
    _steps += 1
    size = heap()
    if size is None or _steps < SETTLE_STEPS:
        return _state
    if _reference is None:
        _reference = size
    elif size > max(GROWTH_LIMIT * _reference, MIN_HEAP):
        libc = _glibc()
        libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
        libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
        libc.malloc_trim(0)
        _state = (f"kept, then glibc's default from step {_steps} (the heap had grown from {_reference / 2**30:.2f} "
                  f"to {size / 2**30:.2f} GiB: fragmenting)")
    return _state
