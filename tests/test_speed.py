"""bench.speed end to end on the tiny model: the JSON it writes, with and without the HF reference.

No timing is asserted (a shared 2-core machine makes any bound flaky); only that every number that
should be a positive finite measurement is one.
"""

import json
import math
import sys

import pytest
import torch

from bench.speed import train_step as speed
from bench.speed.mfu import lookup_peak_tflops
from bench.speed.timing import Variant, summarize

KEYS = {"schema", "benchmark", "command", "device", "device_name", "dtype", "threads", "model", "batch_size",
        "seq_len", "pad_frac", "methods", "steps", "warmup", "flops_per_token", "peak_tflops", "hf", "wall_s",
        "variants", "env"}
ROW_KEYS = {"ms_median", "ms_q1", "ms_q3", "ms_iqr", "times_ms", "tokens_per_s", "samples_per_s", "peak_mem_mb",
            "resident_mb", "ratio_vs_hf", "ratio_vs_none", "ratio_vs_none_iqr", "ratio_of_medians_vs_none",
            "cpu_ratio_vs_none", "mfu", "last_loss", "cpu_ms_median", "total_s", "real_tokens_per_s", "tflops"}


@pytest.fixture
def one_thread():
    """run() sets torch's thread count for the whole process: put it back for the other tests."""
    before = torch.get_num_threads()
    yield "1"
    torch.set_num_threads(before)


def run_speed(tmp_path, threads, *extra):
    out = tmp_path / "speed.json"
    args = ["--model", "tiny", "--batch-size", "4", "--seq-len", "16", "--steps", "2", "--warmup", "1",
            "--methods", "none,amplify", "--threads", threads, "--quiet", "--out", str(out), *extra]
    result = speed.main(args)
    on_disk = json.loads(out.read_text())
    assert on_disk["variants"].keys() == result["variants"].keys()
    return on_disk


def positive(x):
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def check_rows(res, names):
    assert KEYS <= res.keys()
    assert list(res["variants"]) == names
    assert res["device"] == "cpu" and res["dtype"] == "fp32" and res["threads"] == 1
    assert res["env"]["torch"] == torch.__version__ and "git_commit" in res["env"]
    assert positive(res["flops_per_token"]) and res["model"]["n_params"] > 0
    for name, row in res["variants"].items():
        assert ROW_KEYS <= row.keys(), name
        assert len(row["times_ms"]) == res["steps"] == row["steps"]
        for k in ("ms_median", "tokens_per_s", "samples_per_s", "resident_mb", "cpu_ms_median"):
            assert positive(row[k]), (name, k, row[k])
        assert row["ms_q1"] <= row["ms_median"] <= row["ms_q3"]
        assert row["peak_mem_mb"] is None or positive(row["peak_mem_mb"])
        assert math.isfinite(row["last_loss"])
        assert 0 < row["mfu"] < 1.5  # CPU: against the GEMM peak measured on the model's shapes
        assert row["mfu_iqr"][0] <= row["mfu"] <= row["mfu_iqr"][1]
    assert res["variants"]["none"]["ratio_vs_none"] == 1.0
    assert positive(res["variants"]["amplify"]["ratio_vs_none"])
    assert positive(res["variants"]["amplify"]["ratio_of_medians_vs_none"])
    return res


def test_speed_with_hf_reference(tmp_path, one_thread):
    res = check_rows(run_speed(tmp_path, one_thread), ["hf", "hf-fused", "none", "amplify"])
    assert res["hf"]["included"] and res["hf"]["parity_max_abs_diff"] < 1e-5  # the same weights
    assert res["variants"]["hf"]["ratio_vs_hf"] == 1.0 and res["variants"]["hf-fused"]["ratio_vs_hf-fused"] == 1.0
    assert positive(res["peak_tflops"]) and res["peak_source"].startswith("measured in every round")
    assert len(res["peak_tflops_rounds"]) == res["steps"] and all(positive(p) for p in res["peak_tflops_rounds"])
    opt = res["optimizer"]
    assert all(positive(v) for v in opt["ms_median"].values()) and positive(opt["ours_vs_fused"])
    assert positive(res["variants"]["amplify"]["ratio_vs_hf"])
    assert res["env"]["transformers"]


def test_speed_without_hf(tmp_path, one_thread, monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # `import transformers` now raises ImportError
    res = check_rows(run_speed(tmp_path, one_thread, "--pad-frac", "0.25"), ["none", "amplify"])
    assert not res["hf"]["included"] and res["hf"]["note"] == "transformers not installed"
    assert all(row["ratio_vs_hf"] is None for row in res["variants"].values())
    assert res["real_tokens_frac"] == 0.75 and res["padding_free"]
    padded = check_rows(run_speed(tmp_path, one_thread, "--pad-frac", "0.25", "--padded"), ["none", "amplify"])
    assert not padded["padding_free"]  # every position computed: what a padded implementation pays


def test_mfu_sets_each_round_against_its_own_peak():
    # Round 1: 1 TFLOP in 1 s against a 1 TFLOP/s peak (MFU 1.0); round 2: 4 TFLOP in 2 s against 4 TFLOP/s
    # (0.5). Per round, median 0.75; one peak for both (their median, 2.5) would say 0.6.
    v = Variant("none", None, None, None, times=[1.0, 2.0], cpu_times=[1.0, 2.0])
    v.loss = torch.tensor(0.0)
    work = [{"samples": 1, "tokens": 1, "real_tokens": 1, "flops": f} for f in (1e12, 4e12)]
    assert summarize([v], work, [1.0, 4.0])["none"]["mfu"] == pytest.approx(0.75)
    assert summarize([v], work, 2.5)["none"]["mfu"] == pytest.approx(0.6)
    assert summarize([v], work, None)["none"]["mfu"] is None


def test_peak_lookup_and_args():
    assert lookup_peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert lookup_peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert lookup_peak_tflops("NVIDIA H200") == 989.0
    assert lookup_peak_tflops("NVIDIA A100-SXM4-40GB") == 312.0
    assert lookup_peak_tflops("NVIDIA GeForce RTX 4090") is None
    with pytest.raises(SystemExit):
        speed.parse_args(["--methods", "none,cutmix"])


def test_speed_on_a_real_epoch(tmp_path, one_thread, data_dir):
    # one epoch of real, unbucketed TREC batches (each padded to its own longest), every batch once
    res = run_speed(tmp_path, one_thread, "--data", "trec-coarse", "--data-dir", str(data_dir), "--epoch",
                    "--batch-size", "1024", "--warmup", "0", "--optimizer-rounds", "0", "--no-hf")
    assert res["epoch"] and res["steps"] == res["batches"] == 5  # ceil(4,906 / 1024): the train split
    assert 0.2 < res["real_tokens_frac"] < 0.9 and res["optimizer"] is None
    for row in res["variants"].values():
        assert len(row["times_ms"]) == 5 and row["total_s"] == pytest.approx(sum(row["times_ms"]) / 1e3)
        assert positive(row["real_tokens_per_s"]) and row["real_tokens_per_s"] < row["tokens_per_s"] * 1.5


def test_help_describes_every_option(capsys):
    with pytest.raises(SystemExit):
        speed.parse_args(["--help"])
    out = capsys.readouterr().out
    assert "--no-progress" not in out and "--quiet" in out and out.count("(default: None)") == 0
    for line in out.split("  --")[1:]:
        assert len(line.split()) > 2, line  # an option name alone: no help text


def test_grid_throughput_runs_every_way(tmp_path, data_dir, monkeypatch, capsys):
    """bench.speed.grid_throughput on the smoke preset: every way runs the whole grid, in every round."""
    from amplify.results import REPO
    from bench.speed import grid_throughput

    monkeypatch.setenv("AMPLIFY_DATA_DIR", str(data_dir))
    out = tmp_path / "gt.json"
    res = grid_throughput.main(["--preset", "smoke", "--dataset", "trec-coarse", "--methods", "none", "amplify",
                                "--seeds", "0", "--train-limit", "32", "--eval-limit", "16", "--rounds", "1",
                                "--ways", "2x1", "1x1", "--baseline", str(REPO), "--out", str(out)])
    assert json.loads(out.read_text())["ways"] == res["ways"]
    assert [w["way"] for w in res["ways"]] == ["2x1", "1x1", "baseline"] and res["n_runs"] == 2
    for w in res["ways"]:
        assert len(w["wall_s"]) == 1 and positive(w["runs_per_hour"]) and positive(w["vs_first"])
    assert "throughput vs 2x1" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        grid_throughput.parse_args(["--ways", "2by1"])


def test_whole_run_times_ours_and_hugging_face_runs(tmp_path, data_dir, capsys):
    """bench.speed.whole_run: run.py and the HF loop as child processes on real MiniLM weights and TREC, every
    way in every round, on the same real training tokens."""
    from bench.speed import whole_run

    out = tmp_path / "wr.json"
    res = whole_run.main(["--dataset", "trec-coarse", "--data-dir", str(data_dir), "--train-limit", "64",
                          "--eval-limit", "32", "--rounds", "1", "--ways", "ours", "hf-fused", "--out", str(out)])
    assert json.loads(out.read_text())["ways"] == res["ways"]
    assert [w["way"] for w in res["ways"]] == ["ours", "hf-fused"] and res["batches_per_epoch"] == 2
    assert 64 * 5 < res["train_real_tokens_per_epoch"] < 64 * 40  # TREC questions: 5-40 tokens
    for w in res["ways"]:
        assert len(w["wall_s"]) == 1 and w["wall_s"][0] > w["train_s"][0] > 0
        assert positive(w["real_tokens_per_wall_s"]) and 0 <= w["test_acc"][0] <= 1
    assert res["ways"][0]["wall_vs_ours"] == 1.0 and positive(res["ways"][1]["wall_vs_ours"])
    assert "wall vs ours" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        whole_run.parse_args(["--ways", "theirs"])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc: Linux only")
def test_allocator_bench_steps_both_settings_in_lockstep(tmp_path, capsys):
    """bench.speed.allocator: two spawned processes, one per malloc setting, one timed step each per round."""
    from bench.speed import allocator

    out = tmp_path / "alloc.json"
    res = allocator.main(["--model", "tiny", "--batch-size", "4", "--seq-len", "16", "--rounds", "3", "--warmup",
                          "1", "--quiet", "--out", str(out)])
    assert json.loads(out.read_text())["rows"] == {k: [list(r) for r in v] for k, v in res["rows"].items()}
    assert res["malloc"]["usual"] == "glibc's defaults" and res["malloc"]["kept"]
    for mode in ("usual", "kept"):
        assert len(res["rows"][mode]) == 3 and positive(res[mode]["ms_median"]) and positive(res["peak_rss_mb"][mode])
        assert all(r[2] >= 0 for r in res["rows"][mode])  # page faults
    assert positive(res["ratio"]) and res["ratio_iqr"][0] <= res["ratio"] <= res["ratio_iqr"][1]
    assert "kept / usual" in capsys.readouterr().out


def test_target_line_gives_the_total_a_run_pays_beside_the_median():
    """AMPLIFY's steps are of two kinds (λ = 1 steps are none's), so its median per-round ratio is not its cost."""
    rows = {"none": {"ratio_vs_none": 1.0, "ratio_vs_none_iqr": [1.0, 1.0], "total_s": 10.0},
            "amplify": {"ratio_vs_none": 1.2, "ratio_vs_none_iqr": [1.0, 1.25], "total_s": 11.0}}
    (line,) = speed.target_lines(rows)
    assert line == ("costliest method vs none: amplify 1.200x (per-round IQR 1.000-1.250), total over the rounds "
                    "1.100x  target <= 1.05")
