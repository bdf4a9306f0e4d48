"""
What the suite's command lines share, so that a user never meets a traceback or loses work:

    fail(prog, message)      exit 2 with one line, "prog: error: message" (argparse's own form)
    entry(main)              runs a command's main(); a reader that went away (`... | head -1`) ends it quietly
    ArgumentParser           argparse's, with one-line errors
    check_out_dir(option, d) an output folder that can be made and written, checked before any work
    check_out_file(option, f) likewise for an output file

`entry` and `ArgumentParser` live in data/common.py, so that data's own commands (data.stats, data.download)
share them.
"""

import sys
from pathlib import Path

from amplify.results import check_writable
from data.common import ArgumentParser, entry  # noqa: F401 (data's commands use them too; data imports nothing here)


def fail(prog, message):
    """End the command: one line on stderr naming what was wrong and what to do, exit status 2."""
    print(f"{prog}: error: {' '.join(str(message).split())}", file=sys.stderr)
    raise SystemExit(2)


def check_out_dir(prog, option, path):
    """Fail (exit 2) unless `path` is a folder that exists or can be made, and takes files."""
    path = Path(path)
    try:
        if path.exists() and not path.is_dir():
            raise NotADirectoryError(f"{path} is a file, not a folder")
        check_writable(path / ".write-probe")
    except OSError as e:
        fail(prog, f"{option} {path}: cannot write there ({e.strerror or e}); choose another {option}")


def check_out_file(prog, option, path):
    """Fail (exit 2) unless a file can be written at `path` (its folder exists or can be made; not a folder)."""
    try:
        check_writable(path)
    except OSError as e:
        fail(prog, f"{option} {path}: cannot write there ({e.strerror or e}); choose another {option}")
