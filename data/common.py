"""
What every reader shares: the Example record, the two errors, where the data directory is, how lines
are read, file hashing, and the rule for carving a dev split out of train; how every file of the suite is
written atomically; and how every command of the suite parses its options in one-line errors and ends
(amplify/cli.py has the rest of what they share).

The data directory
------------------
Resolved in this order (first one set wins):
  1. the `data_dir` argument (`--data-dir` on the command line),
  2. the environment variable AMPLIFY_DATA_DIR,
  3. the user cache dir: $XDG_CACHE_HOME/amplify/data, i.e. ~/.cache/amplify/data by default.
Inside it the layout is one folder per source: trec/, sst/, mrpc/, imdb/, yelp/ (see data/sources.py).

The dev split when there is no official one (TREC, IMDB, Yelp-5; MRPC without its GLUE id list)
--------------------------------------------------------------------------------------------------
A stratified 10% hold-out of train, fixed once and for all: it does NOT depend on the training seed,
so seeds 0, 1, 2 of a grid are all selected on the same dev examples. For each class c with n_c train
examples, the round(0.10 * n_c) examples with the smallest sha256(f"{SPLIT_SEED}:{dataset}:{index}")
go to dev (index = position in the official train file; IMDB, which has one file per review, in its
(label, id) order); the rest stay in train, in file order.
Why a hash and not numpy's RNG: numpy does not promise that Generator streams stay the same across
versions, and a dev split that silently changes with `pip install -U numpy` would make old and new
results incomparable. sha256 will not change. A class with a single example (TREC-fine has none, but
a toy file might) keeps it in train, because round(0.1) = 0.

Reference: the datasets and their official formats are documented in ../shared/datasets/README.md.
"""

import argparse
import hashlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

SPLIT_SEED = 20240101  # fixed dev-split seed (see above); never the training seed
DEV_FRACTION = 0.10
ENV_VAR = "AMPLIFY_DATA_DIR"
DATA_DIR_HELP = "default: $AMPLIFY_DATA_DIR, else ~/.cache/amplify/data"  # every CLI says it the same way
UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class Example:
    """One classification example. text_b is the second sentence of a pair task (MRPC), else None."""

    text: str
    label: int
    text_b: str | None = None


class DataFormatError(ValueError):
    """A data file does not look like its documented format. The message starts with `file:line:`."""


class DataMissingError(FileNotFoundError):
    """A dataset's files are not in the data directory. The message says what to run to get them."""


# ---------------------------------------------------------------------------------------------------
# where the data lives


def user_cache_dir(*parts):
    """~/.cache/amplify/<parts> (or $XDG_CACHE_HOME/amplify/<parts>)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "amplify", *parts)


def resolve_data_dir(data_dir=None):
    """(directory, how it was chosen). The directory need not exist yet (download creates it)."""
    if data_dir is not None:
        return Path(data_dir).expanduser(), "the data_dir argument / --data-dir"
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser(), f"${ENV_VAR}"
    return user_cache_dir("data"), f"the user cache dir (--data-dir and ${ENV_VAR} not set)"


# ---------------------------------------------------------------------------------------------------
# reading


def read_lines(path, encoding):
    """Yield (line_number, line) for a text file, 1-based, without the line terminator.

    - a UTF-8 byte-order mark at the very start is dropped (MRPC has one);
    - CRLF and LF both end a line (MRPC is CRLF, the rest LF);
    - bytes that do not decode fail with file:line, never replaced by U+FFFD;
    - we split on "\\n" ourselves: str.splitlines() would also split on U+0085, U+2028, \\x0c ... and a
      latin-1 byte 0x85 inside a TREC question would silently become two lines.
    The newline that ends the last line does not produce an extra empty line.
    """
    raw = Path(path).read_bytes()
    if raw.startswith(UTF8_BOM):
        raw = raw[len(UTF8_BOM) :]
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataFormatError(
            f"{path}:{line}: byte {raw[e.start : e.start + 1]!r} is not valid {encoding}; "
            f"the file should be {encoding} (is it the official file, or was it re-encoded?)"
        ) from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the file ends with a newline
    for i, line in enumerate(lines, start=1):
        yield i, line[:-1] if line.endswith("\r") else line


def fail(path, line, message):
    """Raise a DataFormatError naming file:line. Readers call this; it never returns."""
    where = f"{path}:{line}" if line is not None else f"{path}"
    raise DataFormatError(f"{where}: {message}")


# ---------------------------------------------------------------------------------------------------
# hashing


def file_digest(path, algorithm="sha256", chunk=1 << 20):
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------------
# the dev split


def stratified_holdout(labels, dataset, fraction=DEV_FRACTION, seed=SPLIT_SEED):
    """(train_indices, dev_indices), both in increasing order. See the module docstring for the rule."""
    by_class = {}
    for i, y in enumerate(labels):
        by_class.setdefault(y, []).append(i)
    dev = []
    for y in sorted(by_class):
        idx = by_class[y]
        k = round(fraction * len(idx))  # Python rounds half to even: 0.5 -> 0, 1.5 -> 2
        ranked = sorted(idx, key=lambda i: hashlib.sha256(f"{seed}:{dataset}:{i}".encode()).digest())
        dev.extend(ranked[:k])
    dev_set = set(dev)
    train = [i for i in range(len(labels)) if i not in dev_set]
    return train, sorted(dev)


# ---------------------------------------------------------------------------------------------------
# writing a file atomically


def write_atomic(path, write, binary=False):
    """Write the file at `path` so that a reader, or a process restarted after kill -9, sees the old file or the
    whole new one, never half of one: `write(f)` fills a temporary file in the same folder (made if missing),
    which is fsynced, given the mode open() would give it (mkstemp makes it 0600), then os.replace()d onto
    `path`. On any error the temporary file is removed and the error raised. Result JSONs and CSVs
    (amplify/results.py), figures (bench/report/plots.py) and the token cache (data/batching.py) all call it;
    it lives here because data/ may import nothing of amplify/ or bench/, and both may import data/. The
    hand-written safetensors writer keeps its own (model/safetensors.py: model/ imports nothing outside it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask():
    mask = os.umask(0)  # reading the umask means setting it, briefly
    os.umask(mask)
    return mask


# ---------------------------------------------------------------------------------------------------
# the start and end of a command


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, whose errors are one line (its own prints the whole usage first, 20 lines for run.py)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (--help lists the options)\n")


def entry(main):
    """sys.exit(main()), except that a closed stdout (`python -m data.stats | head -1`) ends the command quietly,
    with the status a shell gives a process killed by SIGPIPE (141), as `cat` would. A main() that returns
    something other than an exit status (a benchmark's result dict) exits 0."""
    try:
        code = main()
        code = code if isinstance(code, int) else 0
        sys.stdout.flush()  # a reader gone before the last buffered line fails here, not at interpreter exit
    except BrokenPipeError:
        # Python would report the failed flush of stdout at exit: point stdout at /dev/null first
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 141
    sys.exit(code)
