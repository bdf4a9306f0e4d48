"""Every results folder's MANIFEST.md is what `python -m bench.manifest FOLDER --write` writes today."""

import json
from pathlib import Path

import pytest

from bench.manifest import benchmarks_of, main, manifest, preset_folders, runs_of

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = sorted(p.parent for p in (ROOT / "bench" / "results").glob("*/MANIFEST.md"))


def test_every_folder_of_runs_has_a_manifest():
    folders = {p.parent for p in (ROOT / "bench" / "results").glob("*/*.json")}
    with_runs = {f for f in folders if runs_of(f) or benchmarks_of(f)}
    assert with_runs and with_runs <= set(FOLDERS), sorted(str(p) for p in with_runs - set(FOLDERS))


def test_every_results_folder_has_a_manifest():
    """Runs, benchmarks, or figures and tables drawn from them: every folder with a file has its label."""
    folders = {p.parent for p in (ROOT / "bench" / "results").glob("*/*") if p.is_file() and p.name[0] != "."}
    assert folders <= set(FOLDERS), sorted(str(p) for p in folders - set(FOLDERS))


def test_a_figure_folder_names_its_files_and_commands(tmp_path):
    (tmp_path / "forest.png").write_bytes(b"\x89PNG")
    (tmp_path / ".gitignore").write_text("# what --out writes and the folder does not keep\ntables.*\n")
    (tmp_path / "tables.md").write_text("| a |\n")
    text = manifest(tmp_path, {"mine": str(tmp_path)})
    assert "- Figures and tables made from runs kept elsewhere: forest.png\n" in text
    assert "`python -m bench.compare --preset mine --report-only`" in text


@pytest.mark.parametrize("folder", FOLDERS, ids=[p.name for p in FOLDERS])
def test_manifest_is_generated(folder, monkeypatch):
    monkeypatch.chdir(ROOT)
    rel = folder.relative_to(ROOT)
    assert (folder / "MANIFEST.md").read_text(encoding="utf-8") == manifest(rel, preset_folders()), (
        f"{rel}/MANIFEST.md is stale: python -m bench.manifest {rel} --write")


def test_manifest_counts_what_it_reads(tmp_path, capsys):
    cfg = {"dataset": "trec-coarse", "method": "none", "seed": 0, "model": "tiny", "lr": 1e-3}
    for i, status in enumerate(("ok", "ok", "failed")):
        (tmp_path / f"r{i}.json").write_text(json.dumps({
            "config": {**cfg, "seed": i}, "status": status, "wall_time_s": 1800.0,
            "env": {"git_commit": "abc123def4567890", "platform": "Linux", "cpu_count": 2, "torch": "2.13.0",
                    "torch_threads": 1},
            "grid": {"host": "vm", "started_at": f"2026-12-0{i + 1}T00:00:00+00:00",
                     "finished_at": f"2026-12-0{i + 1}T00:30:00+00:00"}}))
    (tmp_path / "speed.json").write_text("{}")
    (tmp_path / "broken.json").write_text("{")
    text = manifest(tmp_path, {"mine": str(tmp_path), "other": "elsewhere"})
    assert "--preset mine`" in text and "other" not in text
    assert "- Runs: 3 (ok 2, failed 1)" in text and "- seed: 0 1, 1 1, 2 1" in text
    assert "abc123def456 3" in text and "1.5 hours" in text
    assert "first run started 2026-12-01T00:00:00+00:00, last finished 2026-12-03T00:30:00+00:00" in text
    assert main([str(tmp_path), "--write"]) == 0 and (tmp_path / "MANIFEST.md").read_text().startswith("# ")
    with pytest.raises(SystemExit) as e:
        main([str(tmp_path / "nope")])
    assert e.value.code == 2 and "is not a folder" in capsys.readouterr().err
