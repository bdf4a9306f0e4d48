"""docs/adding-a-method.md, run: its files written and its commands executed in order, on the tiny model, in a
temporary folder; then an edit of the method's file makes the grid re-run it and only it. About a minute on a
free core (six tiny training runs, each in its own process); several on a loaded machine."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "adding-a-method.md"


def blocks(text):
    """(language, body) of every fenced block, in order."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"```(\w*)\n(.*?)```", text, re.S)]


def command(line):
    argv = shlex.split(line)
    assert argv[0] == "python", line
    argv[0] = sys.executable
    if argv[1] == "run.py":
        argv[1] = str(REPO / "run.py")
    return argv


def test_the_tutorial_runs(tmp_path, data_dir):
    env = {**os.environ, "PYTHONPATH": str(REPO), "AMPLIFY_DATA_DIR": str(data_dir), "OMP_NUM_THREADS": "1"}
    ran = []
    for lang, body in blocks(DOC.read_text()):
        if lang == "python":
            name = body.splitlines()[0].removeprefix("# ").strip()
            (tmp_path / name).write_text(body)
        elif lang == "bash":
            for line in filter(None, map(str.strip, body.splitlines())):
                done = subprocess.run(command(line), cwd=tmp_path, env=env, capture_output=True, text=True,
                                      timeout=600)
                assert done.returncode == 0, (line, done.stdout[-2000:], done.stderr[-2000:])
                ran.append((line, done.stdout))
    assert len(ran) == 5
    assert "every property holds" in ran[0][1]
    assert "midmix" in (tmp_path / "results" / "my-mix" / "one.json").read_text()
    assert "my_mix.py:MidMix" in ran[2][1] and "6 ok" in ran[2][1]  # the grid's tables name the method
    assert "AMPLIFY is more accurate than my_mix.py:MidMix" in ran[4][1]
    # section 5: an edit re-runs the method, and only it
    with open(tmp_path / "my_mix.py", "a") as f:
        f.write("# an edit\n")
    grid = command(ran[2][0].removesuffix(" --quiet") + " --dry-run")
    out = subprocess.run(grid, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300).stdout
    states = {f"{m.group(1)} {m.group(2)}" for m in re.finditer(r"^(\w+) .*?trec-coarse/(\S+)/s\d", out, re.M)}
    assert states == {"ok none", "ok amplify", "missing my_mix.py:MidMix"}, out


def test_the_amp_step_the_page_quotes(tmp_path, data_dir):
    """The size of AMP's step that the page quotes is what its command prints (MiniLM, 50 steps, ~1 minute)."""
    text = DOC.read_text()
    m = re.search(r"^    (python run\.py --method examples/amp_step\.py:AMPStep .*)\n    (AMP's step .*)$", text, re.M)
    assert m, "docs/adding-a-method.md: no amp_step command followed by its output"
    env = {**os.environ, "AMPLIFY_DATA_DIR": str(data_dir)}
    line = m.group(1).replace("/tmp/amp-step.json", str(tmp_path / "amp-step.json"))
    done = subprocess.run(command(line), cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert m.group(2) in done.stderr.splitlines(), (m.group(2), done.stderr[-500:])
