"""
How the report's tables look: the Table type, the cell formatters (percentages, signed points, p-values), and
the three renderings, printed with tabulate and written atomically.

    print(render_all(tables, "markdown"))          # or "latex" (booktabs, for the paper) or "csv"
    write_tables(tables, "results/quick/tables")   # tables.md, tables.tex, one CSV per table

Every Table has two views: `rows`, formatted for people (percentages with 2 decimals, "91.20 ± 0.35",
the best of a column in bold), and `records`, raw numbers in a tidy long format for spreadsheets,
which is what CSV gets. Markdown uses tabulate's "github" format and LaTeX "latex_booktabs"; bold and
the few Greek letters are put in after tabulate escapes the cells, so the .tex compiles as is (it needs
\\usepackage{booktabs}).

This module knows nothing of runs or statistics: every table module of bench/report imports it, never the
other way round.
"""

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

from amplify.results import write_text_atomic

FORMATS = ("markdown", "latex", "csv")
_B0, _B1 = "\x02", "\x03"  # bold markers; survive tabulate's LaTeX escaping, replaced afterwards
_LATEX_SYMBOLS = {"±": r"$\pm$", "Δ": r"$\Delta$", "α": r"$\alpha$", "≥": r"$\geq$", "≤": r"$\leq$",
                  "×": r"$\times$", "–": "--", "−": "$-$"}


@dataclass
class Table:
    name: str  # file-name slug: accuracy, significance, cost, failures
    title: str
    headers: list
    rows: list  # formatted strings, bold as bold(text)
    records: list = field(default_factory=list)  # tidy dicts of raw numbers (the CSV view)
    notes: list = field(default_factory=list)  # caption lines: what the numbers are, what to make of them
    align: str | None = None  # one letter per column, "l" or "r"; default: first left, the rest right

    def colalign(self):
        align = self.align or "l" + "r" * (len(self.headers) - 1)
        return tuple({"l": "left", "r": "right"}[a] for a in align)


def bold(text):
    return f"{_B0}{text}{_B1}"


def pct(x, digits=2):
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f}"


def signed_pts(x, digits=2):
    return "n/a" if x is None or math.isnan(x) else f"{100 * x:+.{digits}f}"


def pval(p):
    """p-values as people read them: 3 significant digits, small ones in scientific notation."""
    if p is None or math.isnan(p):
        return "n/a"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.3f}"


def pval_mc(c):
    """A resampled p with its Monte Carlo standard error, "0.0421±0.0006"; an exact p as pval. c: a Comparison."""
    if not c.n_resamples or math.isnan(c.p):
        return pval(c.p)
    se = math.sqrt(c.p * (1 - c.p) / c.n_resamples)
    if se == 0:
        return pval(c.p)
    return f"{pval(c.p)}±{se:.0e}" if se < 1e-3 else f"{pval(c.p)}±{se:.4f}"


def pval_holm(c):
    """A Holm-adjusted p, marked "(borderline)" when its Monte Carlo interval holds α. c: a Comparison."""
    return pval(c.p_holm) + (" (borderline)" if c.borderline else "")


def seeds_per_cell(counts):
    """A table note's count of seeds: "3 seed(s) per cell", or the counts when cells differ (the CSV has each)."""
    counts = sorted(set(counts)) or [0]
    if len(counts) == 1:
        return f"{counts[0]} seed(s) per cell"
    return f"the number of seeds differs between cells ({', '.join(map(str, counts))}; see the CSV)"


def num(x, fmt=".2f"):
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


# -----------------------------------------------------------------------------
# rendering


def _latex_escape(text):
    out = text
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"),
                 ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("~", r"\textasciitilde{}"), ("^", r"\^{}")):
        out = out.replace(a, b)
    return out


def _latex_symbols(text):
    for a, b in _LATEX_SYMBOLS.items():
        text = text.replace(a, b)
    return text.replace(_B0, r"\textbf{").replace(_B1, "}")


def render(table, fmt="markdown"):
    if fmt == "csv":
        return _csv(table)
    if fmt == "markdown":
        rows = [[str(c).replace(_B0, "**").replace(_B1, "**") for c in r] for r in table.rows]
        body = tabulate(rows, headers=table.headers, tablefmt="github", disable_numparse=True,
                        colalign=table.colalign())
        notes = "\n".join(f"- {n}" for n in table.notes)
        return f"### {table.title}\n\n{body}\n" + (f"\n{notes}\n" if notes else "")
    if fmt == "latex":
        body = tabulate(table.rows, headers=table.headers, tablefmt="latex_booktabs", disable_numparse=True,
                        colalign=table.colalign())
        notes = " ".join(_latex_escape(n) for n in table.notes)
        lines = [r"\begin{table}[t]", r"\centering", r"\small", rf"\caption{{{_latex_escape(table.title)}}}",
                 rf"\label{{tab:{table.name}}}", body]
        if notes:
            lines.append(rf"\par\smallskip\parbox{{\linewidth}}{{\footnotesize {notes}}}")
        lines.append(r"\end{table}")
        return _latex_symbols("\n".join(lines)) + "\n"
    raise ValueError(f"unknown table format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _csv(table):
    buf = io.StringIO()
    records = table.records or [dict(zip(table.headers, r, strict=True)) for r in table.rows]
    if not records:
        return ""
    fields = list(records[0])
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for rec in records:
        writer.writerow({k: ("" if v is None or (isinstance(v, float) and math.isnan(v)) else v)
                         for k, v in rec.items()})
    return buf.getvalue()


def render_all(tables, fmt="markdown"):
    if fmt == "csv":  # several CSV tables in one stream: a comment line names each
        return "\n".join(f"# {t.title}\n{_csv(t)}" for t in tables)
    return "\n".join(render(t, fmt) for t in tables)


def write_tables(tables, out_dir, preamble=()):
    """tables.md, tables.tex, and <name>.csv per table; returns the paths written. preamble: status lines
    put above the tables (as comments in the .tex)."""
    out_dir = Path(out_dir)
    paths = [out_dir / "tables.md", out_dir / "tables.tex"]
    md_head = "".join(f"{line}\n" for line in preamble) + ("\n" if preamble else "")
    tex_head = "".join(f"% {line}\n" for line in preamble) + ("\n" if preamble else "")
    write_text_atomic(paths[0], md_head + render_all(tables, "markdown"))
    write_text_atomic(paths[1], tex_head + render_all(tables, "latex"))
    for t in tables:
        paths.append(out_dir / f"{t.name}.csv")
        write_text_atomic(paths[-1], _csv(t))
    return paths
