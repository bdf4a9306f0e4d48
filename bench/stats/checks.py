"""
The conventions shared by every function of bench.stats, and the input checks that enforce them:
  - inputs are array-likes of finite numbers; an empty input, a nan or an inf raises ValueError (no data
    or a nan accuracy is a pipeline bug, not a statistical edge case).
  - a test that is undefined on its input (too few values, zero variance) returns nan where the answer
    is undefined and emits a `DegenerateInputWarning` saying why. The table code can record the reason
    with `warnings.catch_warnings(record=True)`. The one exception: two groups that are identical
    constants get "no difference" (p = 1.0), because nan there would hide a clear non-result and a
    small p would be a lie.
  - results are NamedTuples, so `t, p, df = welch_t(a, b)` unpacks and `.p` reads by name.
"""

import warnings

import numpy as np


class DegenerateInputWarning(RuntimeWarning):
    """A test was asked a question its input cannot answer (too few values, zero variance)."""


def _degenerate(reason):
    warnings.warn(reason, DegenerateInputWarning, stacklevel=3)


def _as_1d(x, name):
    """Validate one sample: a non-empty 1-D array of finite floats."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: no values to test (did a run fail?)")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains nan or inf: {arr}")
    return arr


def _var(x):
    """Sample variance (ddof=1), exactly 0.0 when all values are equal.

    np.var([0.8, 0.8, 0.8], ddof=1) is 1.2e-32, not 0: the mean rounds to 0.8000000000000002. A
    zero-variance check on that number would miss identical seeds and hand welch_t a t of 1e15.
    """
    return 0.0 if np.ptp(x) == 0 else float(np.var(x, ddof=1))


def _same_constant(a, b):
    """Both groups constant (var 0), and the same constant; compared on values, not rounded means."""
    return a[0] == b[0]
