"""docs/performance.md's benchmark tables are the committed benchmark files' numbers.

A table the page builds from benchmark JSONs is marked by an HTML comment right above it, naming its file(s):

    <!-- from: bench/results/speed-train-step/speed-cpu-minilm-l6-b32-trec-fine.json -->

(several files: one per row, in the rows' order). Each cell is checked against the value the benchmark stored,
formatted as the page formats it: a re-measured file, or a number edited by hand, fails until they agree again.
A ratio may carry its per-round interquartile range in parentheses; when it does, that is checked too."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "performance.md"
MARK = re.compile(r"<!-- from: (?P<files>.*?) -->")
NAMES = {"HF + AdamW": "hf", "HF + fused AdamW": "hf-fused", "ours (`run.py`)": "ours"}


def marked_tables():
    """(files, header cells, rows of cells) of every marked table of the page."""
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    out = []
    for i, line in enumerate(lines):
        if m := MARK.search(line):
            j = i + 1
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            cells = [[c.strip() for c in row.strip().strip("|").split("|")] for row in lines[i + 1:j]]
            out.append((m["files"].split(), cells[0], cells[2:]))
    return out


def ratio(value, iqr=None):
    """What a ratio cell may say: the value, or the value and its IQR."""
    plain = f"{value:.3f}"
    return {plain} | ({f"{plain} ({iqr[0]:.3f}-{iqr[1]:.3f})"} if iqr else set())


def speed_cells(header, row):
    """The strings each column may hold for a bench.speed variant row (a set per column)."""
    by_column = {
        "ms/step": {f"{row['ms_median']:.0f}"},
        "vs HF": ratio(row["ratio_vs_hf"], row.get("ratio_vs_hf_iqr")),
        "vs HF (per step)": ratio(row["ratio_vs_hf"], row.get("ratio_vs_hf_iqr")),
        "vs HF + fused AdamW": ratio(row["ratio_vs_hf-fused"], row.get("ratio_vs_hf-fused_iqr")),
        "vs `none`": ratio(row["ratio_vs_none"], row.get("ratio_vs_none_iqr")),
        "MFU": {f"{100 * row['mfu']:.0f}%"} if row.get("mfu") is not None else {"n/a"},
        "epoch training time (s)": {f"{row['total_s']:.0f}"},
        "real tokens/s": {f"{row['real_tokens_per_s']:,.0f}"},
    }
    return [by_column[h] for h in header[1:]]


def whole_run_cells(header, way):
    by_column = {"wall s per run": {f"{way['wall_s_median']:.0f}"}, "training s": {f"{way['train_s_median']:.0f}"},
                 "real tokens/s (wall)": {f"{way['real_tokens_per_wall_s']:,.0f}"},
                 "wall time vs ours": {f"{way['wall_vs_ours']:.3f}"}}
    return [by_column[h] for h in header[1:]]


def throughput_cells(ways):
    """A grid-throughput row: its label columns are free text; then runs/h of each way, with the ratio to the
    first way after the first."""
    cells = [{f"{ways[0]['runs_per_hour']:.0f} runs/h"}]
    cells += [{f"{w['runs_per_hour']:.0f} runs/h ({w['vs_first']:.2f}×)"} for w in ways[1:]]
    return [None, *cells]  # "machine" is free text too


def expected(files, header, rows):
    """One list of allowed-strings sets per row (None: a free-text cell), from the named files."""
    data = [json.loads((ROOT / f).read_text()) for f in files]
    if len(data) > 1:  # one file a row
        assert len(data) == len(rows), f"{len(files)} files for {len(rows)} rows"
        return [throughput_cells(d["ways"]) for d in data]
    d = data[0]
    if d["benchmark"] == "speed":
        return [speed_cells(header, d["variants"][NAMES.get(r[0], r[0])]) for r in rows]
    if d["benchmark"] == "whole-run":
        ways = {w["way"]: w for w in d["ways"]}
        return [whole_run_cells(header, ways[NAMES.get(r[0], r[0])]) for r in rows]
    raise AssertionError(f"no reader for benchmark {d['benchmark']!r} ({files[0]})")


TABLES = marked_tables()


def test_the_page_marks_its_benchmark_tables():
    """Not vacuous: every table of the page's step, epoch, whole-run and grid benchmarks is marked."""
    assert len(TABLES) == 5
    assert all(rows for *_, rows in TABLES)


@pytest.mark.parametrize("files,header,rows", TABLES, ids=[" ".join(Path(f).stem for f in t[0]) for t in TABLES])
def test_each_cell_is_the_files_number(files, header, rows):
    for row, allowed in zip(rows, expected(files, header, rows), strict=True):
        for column, cell, ok in zip(header[1:], row[1:], allowed, strict=True):  # the first column names the row
            if ok is not None:
                assert cell in ok, f"{row[0]!r}, {column!r}: the page says {cell!r}, {files} say one of {sorted(ok)}"
