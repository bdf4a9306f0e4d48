"""CI runs the README's test command: `.ci/run` must end in the command the README gives for running the tests,
so a change to one that the other misses fails here, not on a fresh machine."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_test_command():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"Run the tests(?:(?!\n\n).)*\n\n```bash\n(?P<cmd>[^\n]+)\n```", text, re.DOTALL)
    assert block, "README.md: no ```bash block right after the paragraph starting 'Run the tests'"
    return block["cmd"]


def test_ci_runs_the_readmes_test_command():
    cmd = readme_test_command()
    assert "pytest" in cmd and "ruff check" in cmd
    lines = [ln for ln in (ROOT / ".ci/run").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    quiet_pip = lines[-1].replace("pip install -q ", "pip install ")  # CI's pip is quiet; the command is the same
    assert quiet_pip == cmd, f".ci/run's last command differs from the README's test command:\n{lines[-1]}\n{cmd}"
