"""
Result files: one JSON per run, written atomically, stamped with what produced it.

Atomic = write a temporary file in the same directory, fsync, then os.replace: a reader (or a grid
restarted after kill -9) sees either the old file or the complete new one, never half of one
(data/common.py's write_atomic, which bench's figures use too, through this module).

Per-example class probabilities (for NLL, ECE, Brier) are stored compactly as the log-softmax in
little-endian float16, base64, with the shape: 2 bytes per example per class (TREC-fine test, 500 x 50:
50 kB, 67 kB of base64), against ~20 bytes as JSON text. Why log-probabilities and why float16 is enough:
float16 keeps 11 significant bits, so a stored log p is within a relative 2^-12 (2.4e-4) of the float32
value and never underflows (a probability of 1e-30 is log p = -69, representable, where p itself would
round to 0 in float16 and make the NLL infinite). Near p = 1, log p is tiny and float16 resolves it
finely, so confident probabilities keep ~7 digits. `read_probs` renormalises (softmax of the stored
values), so rows sum to 1 exactly; the change is at most ~1e-3 relative.
"""

import base64
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from data.common import write_atomic  # bench writes its figures with it too

REPO = Path(__file__).resolve().parents[1]


def write_text_atomic(path, text):
    """A text file (UTF-8), written atomically (data/common.py's write_atomic)."""
    write_atomic(path, lambda f: f.write(text))


def write_json_atomic(path, obj):
    write_text_atomic(path, json.dumps(obj, indent=1, allow_nan=True) + "\n")


def check_writable(path):
    """Raise OSError naming `path` unless a result can be written there: its folder exists or can be made,
    is writable, and `path` itself is not a folder. Called before training, so that a finished run is not
    left with nowhere to go."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a file name")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise NotADirectoryError(f"{parent} is a file, not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".probe")
    os.close(fd)
    os.unlink(tmp)


def write_text_or_fallback(path, text):
    """write_text_atomic(path, text); if that fails (disk full, folder removed, permissions changed during a
    long run), the same text goes to the temporary directory instead (named like `path`), so finished work is
    never lost. Returns (the path written, None) or (the fallback path, the error that stopped the first write).
    Raises OSError only when the temporary directory cannot take it either."""
    try:
        write_text_atomic(path, text)
        return Path(path), None
    except OSError as e:
        path = Path(path)
        fd, fallback = tempfile.mkstemp(prefix=f"{path.stem}.", suffix=path.suffix)
        os.close(fd)
        write_text_atomic(fallback, text)
        return Path(fallback), e


def write_json_or_fallback(path, obj):
    """write_text_or_fallback for a result dict: (the path written, None) or (the fallback, the error)."""
    try:
        write_json_atomic(path, obj)
        return Path(path), None
    except OSError as e:
        fd, fallback = tempfile.mkstemp(prefix=f"{Path(path).stem}.", suffix=".json")
        os.close(fd)
        write_json_atomic(fallback, obj)
        return Path(fallback), e


def lost_write(path, error, written):
    """The line that tells the user where an output went when its own place failed (written None: nowhere)."""
    why = getattr(error, "strerror", None) or error
    if written is None:
        return f"could not write {path} ({why}), nor a copy in the temporary directory {tempfile.gettempdir()}"
    return f"could not write {path} ({why}); it is saved in {written}"


def read_json(path):
    """A result file, or None when it is missing or unreadable (a crash before os.replace leaves none)."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


PROBS_ENCODING = "log-softmax float16 little-endian base64"


def pack_log_probs(log_probs):
    """(N, C) log-probabilities -> a JSON-able dict {"encoding", "shape", "data"} (2 bytes per number)."""
    a = np.ascontiguousarray(np.asarray(log_probs, dtype=np.float32).astype("<f2"))
    if a.ndim != 2:
        raise ValueError(f"log_probs must be (N, C), got shape {a.shape}")
    return {"encoding": PROBS_ENCODING, "shape": list(a.shape), "data": base64.b64encode(a.tobytes()).decode("ascii")}


def read_probs(result, key="test_probs", log=False):
    """A run result's per-example class probabilities as an (N, C) float64 array in dataset order (rows sum
    to 1), or log-probabilities with log=True; None when the result has none (results written before
    they were stored, failed runs)."""
    packed = result.get(key) if isinstance(result, dict) else None
    if not packed:
        return None
    if packed.get("encoding") != PROBS_ENCODING:
        raise ValueError(f"{key}: unknown encoding {packed.get('encoding')!r}; expected {PROBS_ENCODING!r}")
    lp = np.frombuffer(base64.b64decode(packed["data"]), dtype="<f2").astype(np.float64).reshape(packed["shape"])
    lp = lp - np.logaddexp.reduce(lp, axis=1, keepdims=True)  # renormalise: float16 rounding drifts the sum
    return lp if log else np.exp(lp)


def git_commit():
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True, text=True,
            timeout=5,
        ).stdout.strip()
        return out + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


TRAINING_CODE = ("model", "amplify", "data", "run.py")  # what a run's numbers depend on (bench/ only reads them)


def training_code_groups(commits):
    """The commits (git ids) grouped by their training code (TRAINING_CODE): commits in one group have the same
    files, so their runs computed the same thing. Groups keep the commits' order. None when this cannot be told
    (no git, a commit this clone lacks, or a "-dirty" one)."""
    if any(c is None or str(c).endswith("-dirty") for c in commits):
        return None
    groups = []
    try:
        for c in map(str, commits):
            for group in groups:
                r = subprocess.run(["git", "diff", "--quiet", group[0], c, "--", *TRAINING_CODE], cwd=REPO,
                                   capture_output=True, timeout=10)
                if r.returncode not in (0, 1):
                    return None  # not a commit this clone has
                if r.returncode == 0:
                    group.append(c)
                    break
            else:
                groups.append([c])
    except (OSError, subprocess.SubprocessError):
        return None
    return groups


def environment():
    """Versions and machine, for the record of every run and benchmark."""
    import numpy
    import tokenizers
    import torch

    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "tokenizers": tokenizers.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "git_commit": git_commit(),
    }
    if torch.cuda.is_available():
        env["cuda"] = torch.version.cuda
        env["gpu"] = torch.cuda.get_device_name()
    return env
