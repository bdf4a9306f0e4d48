"""The docs' results are the report's: every table README.md or a page of docs/ quotes from a bench.compare
command is that command's output, today, on the committed result files.

A quoted table is marked by an HTML comment right above it (invisible when rendered):

    <!-- quoted: python -m bench.compare --preset minilm-table2 --report-only --datasets mrpc ; table: TITLE -->

TITLE is the table's title as the command prints it after "### ".
The test runs the command in-process from the repository root and compares the table's lines (header, rule, rows)
with the page's, trailing spaces aside. A committed run that changes a quoted number fails it until the page
is updated; an edit by hand that drifts from the files fails it too.

`python -m tests.test_readme_results` rewrites every quoted table of every page from today's command output and
redraws every figure into its committed directory (the prose around them, which quotes numbers too, stays yours
to edit)."""

import contextlib
import functools
import io
import os
import re
import shlex
import sys
from pathlib import Path

import pytest

from bench import compare

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]  # the pages that may quote a table
MARK = re.compile(r"<!-- quoted: (?P<cmd>python -m bench\.compare .*?) ; table: (?P<title>.*?) -->")


def table_span(lines, start):
    """(begin, end): where the Markdown table (lines starting with '|') after line `start` lies in `lines`,
    blank lines before it skipped; begin == end when there is none."""
    begin = start + 1
    while begin < len(lines) and not lines[begin].strip():
        begin += 1
    end = begin
    while end < len(lines) and lines[end].lstrip().startswith("|"):
        end += 1
    return begin, end


def table_after(lines, start):
    """The Markdown table lines after line `start`, stripped."""
    begin, end = table_span(lines, start)
    return [line.strip() for line in lines[begin:end]]


def titled_table(out, title):
    """The table a command printed under "### TITLE" (its output lines), or None when it printed none."""
    heads = [i for i, line in enumerate(out) if line == f"### {title}"]
    return table_after(out, heads[0]) if heads else None


def quoted():
    """(page name, command, title, table) of every marked table of every page."""
    out = []
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        out += [(page.relative_to(ROOT).as_posix(), m["cmd"], m["title"], table_after(lines, i))
                for i, line in enumerate(lines) if (m := MARK.search(line))]
    return out


QUOTED = quoted()


def test_the_docs_quote_their_results_tables():
    """Not vacuous: the results page's tables are marked (summary per dataset, the speed tables)."""
    assert len(QUOTED) >= 3, [q[:3] for q in QUOTED]
    assert all(table for *_, table in QUOTED), "a marker with no Markdown table under it"


@pytest.mark.parametrize("page,cmd,title,table", QUOTED,
                         ids=[f"{p}|{c.split('--', 1)[1]}|{t}" for p, c, t, _ in QUOTED])
def test_quoted_table_is_the_commands_output(page, cmd, title, table, monkeypatch):
    monkeypatch.chdir(ROOT)
    printed = titled_table(quoted_output(cmd), title)
    assert printed is not None, f"`{cmd}` printed no table titled {title!r}"
    assert table == printed, (
        f"{page}'s table differs from `{cmd}`'s {title!r}: `python -m tests.test_readme_results` rewrites it")


# A figure a page shows is drawn by a bench.compare command into a committed directory:
#     <!-- figure: python -m bench.compare ... --out DIR ; data: NAME.csv -->
# The test runs the command with --out pointed at a temporary directory and compares the CSV the figure is drawn
# from with the committed one: a run that lands and changes the figure fails it until the figure is redrawn.
FIGURE = re.compile(r"<!-- figure: (?P<cmd>python -m bench\.compare .*?) ; data: (?P<data>\S+) -->")
FIGURES = [(page, *m.groups()) for page in PAGES for m in FIGURE.finditer(page.read_text(encoding="utf-8"))]


def test_the_docs_show_their_figures():
    assert FIGURES, "no <!-- figure: ... --> marker in README.md or docs/"


@pytest.mark.parametrize("page,cmd,data", FIGURES, ids=[f"{c.split('--', 1)[1]}|{d}" for _, c, d in FIGURES])
def test_figure_data_is_the_commands_output(page, cmd, data, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    args = shlex.split(cmd)[3:]
    out_dir = Path(args[args.index("--out") + 1])
    args[args.index("--out") + 1] = str(tmp_path)
    compare.main(args)
    capsys.readouterr()
    assert (tmp_path / data).read_text() == (ROOT / out_dir / data).read_text(), (
        f"{out_dir / data} is not what `{cmd}` draws from today's results: run it (or `python -m "
        f"tests.test_readme_results`) and commit the files")
    picture = os.path.relpath(ROOT / out_dir / data, page.parent)  # the link, relative to the page
    assert f"]({Path(picture).with_suffix('.png').as_posix()})" in page.read_text(encoding="utf-8")


def test_refresh_rewrites_a_quoted_table_and_nothing_else(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # refresh changes directory itself; this puts it back afterwards
    cmd = "python -m bench.compare --preset minilm-table2 --claims --speed bench/results/minilm-table2-speed"
    title = "Step time vs none, interleaved (--speed)"
    readme = tmp_path / "README.md"
    readme.write_text(f"Before.\n\n  <!-- quoted: {cmd} ; table: {title} -->\n  | stale |\n  |---|\n\nAfter.\n")
    refresh(readme)
    expected = titled_table(_output(cmd), title)
    assert len(expected) >= 3
    assert readme.read_text().splitlines() == ["Before.", "", f"  <!-- quoted: {cmd} ; table: {title} -->",
                                               *("  " + line for line in expected), "", "After."]
    written = readme.read_bytes()
    refresh(readme)
    assert readme.read_bytes() == written and not (tmp_path / "README.md.tmp").exists()


def _output(cmd):
    """What `cmd` prints, run in-process (exit status 1, an incomplete grid, is fine)."""
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            compare.main(shlex.split(cmd)[3:])
        except SystemExit:
            pass
    return out.getvalue().splitlines()


@functools.cache
def quoted_output(cmd):
    """_output, run once per command in a process: several quoted tables come from one command (the preset
    report feeds two). Not for figures, whose commands are run for the files they draw."""
    return _output(cmd)


def refresh(readme=ROOT / "README.md"):
    """Rewrite the page `readme`'s quoted tables with their commands' output now (written atomically); redraw its
    figures. Commands run from the repository root, as the tests run them."""
    os.chdir(ROOT)
    lines = readme.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        if not (m := MARK.search(lines[i])):
            i += 1
            continue
        new = titled_table(quoted_output(m["cmd"]), m["title"])
        if new is None:
            sys.exit(f"{readme}:{i + 1}: `{m['cmd']}` printed no table titled {m['title']!r}")
        if table_after(lines, i) != new:
            print(f"{readme}:{i + 1}: rewrote {m['title']!r}")
        begin, end = table_span(lines, i)
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        lines[begin:end] = [indent + line for line in new]
        i = begin + len(new)
    tmp = readme.with_name(readme.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, readme)
    for m in FIGURE.finditer(readme.read_text(encoding="utf-8")):
        _output(m["cmd"])
        print(f"redrew {m['data']}: {m['cmd']}")


if __name__ == "__main__":  # python -m tests.test_readme_results, from the repository root
    for page in PAGES:
        refresh(page)
