"""Fault injection: every command meets bad options, empty, corrupt and garbage files, outputs it cannot
write (disk full and permissions, simulated by a monkeypatched OSError: the tests may run as root) and a
reader that goes away. Each case must end in a clear error (exit 2, one line that names the option or file,
no traceback), or be handled without losing anything; and no file outside the command's own outputs may
change. The runs train the tiny model on 48 examples (issue 48 lists the cases these come from)."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import amplify.results as results
import run
from amplify.export import MARKER

REPO = Path(__file__).resolve().parents[1]
TINY = ["--model", "tiny", "--epochs", "1", "--train-limit", "48", "--eval-limit", "32", "--batch-size", "16",
        "--max-length", "32", "--lr", "1e-3", "--quiet"]


# ---------------------------------------------------------------------------------------------------
# what every case checks


def tree(root):
    """{relative path: sha256} of every file under root: what "nothing changed" compares."""
    root = Path(root)
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def user(tmp_path, monkeypatch):
    """A user's folder (the working directory too), and a check at the end that only the outputs a case names
    (user.outputs, paths relative to it) appeared or changed in it."""
    home = tmp_path / "user"
    home.mkdir()
    (home / "notes.txt").write_text("my notes\n")
    monkeypatch.chdir(home)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # fallbacks land here, not in /tmp
    (tmp_path / "tmp").mkdir()

    class User:
        dir, tmp, outputs, before = home, tmp_path / "tmp", set(), tree(home)

        @classmethod
        def start(cls):
            """The case's own files are in place: from here on only its outputs may change."""
            cls.before = tree(home)

    yield User
    after = tree(home)
    changed = {k for k in set(User.before) | set(after) if User.before.get(k) != after.get(k)}
    foreign = {k for k in changed if not any(k == o or k.startswith(o.rstrip("/") + "/") for o in User.outputs)}
    assert not foreign, f"files outside the command's outputs changed: {foreign}"


@pytest.fixture(scope="module", autouse=True)
def shared_data_unchanged(data_dir):
    before = {str(p): p.stat().st_mtime_ns for p in data_dir.rglob("*") if p.is_file()}
    yield
    assert before == {str(p): p.stat().st_mtime_ns for p in data_dir.rglob("*") if p.is_file()}


def clear_error(err, code, *names):
    """Exit 2, no traceback, one line, naming each of `names`."""
    assert code == 2, f"exit status {code}, expected 2; stderr: {err}"
    assert "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, f"expected one line:\n{err}"
    for name in names:
        assert str(name) in err, f"{name!r} not named in: {err}"


def call(main, argv, capsys):
    """(exit status, stdout, stderr) of an in-process main(argv)."""
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def no_training(monkeypatch):
    monkeypatch.setattr("amplify.train.train", lambda *a, **k: pytest.fail("trained although an option is bad"))


def deny(monkeypatch, folder, errno=13, text="Permission denied"):
    """Make every new file or folder under `folder` fail with OSError(errno), as an unwritable or full disk
    would (root ignores permission bits, so they are simulated)."""
    folder = str(Path(folder).resolve())
    under = lambda p: p is not None and str(Path(p).resolve()).startswith(folder)
    real_mkstemp, real_mkdtemp, real_access = tempfile.mkstemp, tempfile.mkdtemp, os.access
    real_replace, real_mkdir = os.replace, Path.mkdir

    def mkstemp(*a, dir=None, **k):
        if under(dir):
            raise OSError(errno, text, dir)
        return real_mkstemp(*a, dir=dir, **k)

    def mkdtemp(*a, dir=None, **k):
        if under(dir):
            raise OSError(errno, text, dir)
        return real_mkdtemp(*a, dir=dir, **k)

    def mkdir(self, *a, **k):
        if under(self) and not self.exists():
            raise OSError(errno, text, str(self))
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(Path, "mkdir", mkdir)
    monkeypatch.setattr(os, "access", lambda p, mode, **k: False if under(p) else real_access(p, mode, **k))
    def replace(src, dst, **k):
        if under(dst):
            raise OSError(errno, text, str(dst))
        return real_replace(src, dst, **k)

    monkeypatch.setattr(os, "replace", replace)


def disk_full(monkeypatch, module, name, when=lambda path: True):
    """module.name (a function writing to its first argument) raises "No space left on device" for the paths
    `when(path)` accepts, and writes the others."""
    real = getattr(module, name)

    def write(path, *a, **k):
        if when(Path(path)):
            raise OSError(28, "No space left on device", str(path))
        return real(path, *a, **k)

    monkeypatch.setattr(module, name, write)


def run_args(data_dir, user, out="r.json", *extra):
    return [*TINY, "--data-dir", str(data_dir), "--cache-dir", str(user.tmp / "cache"), "--out", str(out), *extra]


# ---------------------------------------------------------------------------------------------------
# run.py: options at and past their bounds, refused before any work, naming the option

BAD_OPTIONS = [
    (["--seed=-1"], "--seed"),
    (["--eval-limit", "0"], "--eval-limit"),
    (["--train-limit", "0"], "--train-limit"),
    (["--method", "tmix", "--mix-epochs", "99"], "--mix-epochs"),
    (["--method", "tmix", "--mix-epochs", "0"], "--mix-epochs"),
    (["--method", "none", "--mix-epochs", "1"], "--mix-epochs"),
    (["--amplify-layers", "13"], "--amplify-layers"),
    (["--amplify-layers", "0"], "--amplify-layers"),
    (["--max-length", "100000"], "--max-length"),
    (["--max-length", "0"], "--max-length"),
    (["--lr", "0"], "--lr"),
    (["--lr=-1e-3"], "--lr"),
    (["--batch-size", "0"], "--batch-size"),
    (["--epochs", "0"], "--epochs"),
    (["--patience", "0"], "--patience"),
    (["--warmup-ratio", "1.5"], "--warmup-ratio"),
    (["--weight-decay", "-1"], "--weight-decay"),
    (["--alpha", "0"], "--alpha"),
    (["--n-draws", "0"], "--n-draws"),
    (["--noise", "delete", "--noise-p", "1"], "--noise"),
    (["--max-steps", "0"], "--max-steps"),
    (["--step-budget", "0"], "--step-budget"),
    (["--eval-every", "0"], "--eval-every"),
    (["--shots", "0"], "--shots"),
    (["--method", "labelsmooth", "--label-smoothing", "1"], "--label-smoothing"),
    (["--ssmix-clean-loss"], "--ssmix-clean-loss"),
    (["--threads", "0"], "--threads"),
    (["--device", "nope"], "--device"),
]


@pytest.mark.parametrize("extra,name", BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_run_bad_option_fails_before_training(extra, name, data_dir, user, monkeypatch, capsys):
    no_training(monkeypatch)
    code, out, err = call(run.main, run_args(data_dir, user, "r.json", *extra), capsys)
    clear_error(err, code, name)
    assert not (user.dir / "r.json").exists()


ARGPARSE_ERRORS = [(["--seed", "abc"], "--seed"), (["--epochs", "1.5"], "--epochs"),
                   (["--amplify-layers", "x"], "--amplify-layers"), (["--dataset", "nope"], "--dataset"),
                   (["--method", "nope"], "--method")]


@pytest.mark.parametrize("extra,name", ARGPARSE_ERRORS, ids=[" ".join(a) for a, _ in ARGPARSE_ERRORS])
def test_run_unparsable_option(extra, name, data_dir, user, monkeypatch, capsys):
    no_training(monkeypatch)
    code, _, err = call(run.main, run_args(data_dir, user, "r.json", *extra), capsys)
    clear_error(err, code, name)


# ---------------------------------------------------------------------------------------------------
# run.py: where the result goes


@pytest.mark.parametrize("where", ["a folder", "under a file", "unwritable", "disk full"])
def test_run_unwritable_out_fails_before_training(where, data_dir, user, monkeypatch, capsys):
    no_training(monkeypatch)
    (user.dir / "locked").mkdir()
    out = {"a folder": user.dir, "under a file": user.dir / "notes.txt" / "r.json",
           "unwritable": user.dir / "locked" / "r.json", "disk full": user.dir / "locked" / "r.json"}[where]
    if where in ("unwritable", "disk full"):
        deny(monkeypatch, user.dir / "locked", *((28, "No space left on device") if where == "disk full" else ()))
    user.outputs = {"locked/r.json"}
    code, _, err = call(run.main, run_args(data_dir, user, out), capsys)
    clear_error(err, code, "--out", out)


def stored_result(path, **config):
    from dataclasses import asdict

    from amplify.train import TrainConfig

    path.write_text(json.dumps({"status": "ok", "config": {**asdict(TrainConfig()), **config}}))
    return path.read_text()


@pytest.mark.parametrize("held", ["another config's result", "a user's file", "a truncated result", "a JSON list"])
def test_run_never_replaces_what_another_config_or_the_user_wrote(held, data_dir, user, monkeypatch, capsys):
    no_training(monkeypatch)
    out = user.dir / "results" / "runs" / "trec-coarse-amplify-s0.json"  # the default --out
    out.parent.mkdir(parents=True)
    if held == "another config's result":
        stored_result(out, model="tiny", lr=5e-4)
    else:
        out.write_text({"a user's file": "mine\n", "a truncated result": '{"status": "ok", "con',
                        "a JSON list": "[1, 2]\n"}[held])
    user.start()
    argv = [a for a in run_args(data_dir, user) if a not in ("--out", "r.json")]
    code, _, err = call(run.main, argv, capsys)
    clear_error(err, code, out.relative_to(user.dir), "--overwrite")


def test_run_replaces_its_own_config_and_with_overwrite_another(data_dir, user, capsys):
    out = user.dir / "r.json"
    stored_result(out, model="tiny", lr=5e-4, train_limit=48, eval_limit=32, batch_size=16, max_length=32)
    user.start()
    user.outputs = {"r.json", "r.steps.csv"}
    code, _, err = call(run.main, run_args(data_dir, user, out, "--overwrite"), capsys)
    assert code == 0, err
    assert json.loads(out.read_text())["config"]["lr"] == 1e-3
    code, _, err = call(run.main, run_args(data_dir, user, out), capsys)  # the same config again: replaced
    assert code == 0 and "Traceback" not in err


# ---------------------------------------------------------------------------------------------------
# run.py: --save-model never deletes a folder it did not write, and says so before training


def weights_like(d):
    d.mkdir()
    for name in ("config.json", "vocab.txt", "model.safetensors", "README.md", "tokenizer.json", "modules.json",
                 "sentence_bert_config.json", "special_tokens_map.json", "tokenizer_config.json", "1_Pooling"):
        (d / name).write_text("{}\n" if name.endswith(".json") else "x\n")


@pytest.mark.parametrize("target", ["config.json and notes", "a weights folder", "a file", "a saved model with notes",
                                    "unwritable parent"])
def test_save_model_refuses_before_training(target, data_dir, user, monkeypatch, capsys):
    no_training(monkeypatch)
    d = user.dir / "m"
    if target == "config.json and notes":
        d.mkdir()
        (d / "config.json").write_text("{}")
        (d / "notes.txt").write_text("mine")
    elif target == "a weights folder":
        weights_like(d)
    elif target == "a file":
        d.write_text("mine")
    elif target == "a saved model with notes":
        d.mkdir()
        for name in ("config.json", "vocab.txt", "model.safetensors", "tokenizer_config.json", MARKER):
            (d / name).write_text("x")
        (d / "notes.txt").write_text("mine")
    else:
        (user.dir / "locked").mkdir()
        d = user.dir / "locked" / "m"
        deny(monkeypatch, user.dir / "locked")
    user.start()
    code, _, err = call(run.main, run_args(data_dir, user, "r.json", "--save-model", str(d)), capsys)
    clear_error(err, code, "--save-model", d)


def test_save_model_writes_a_new_folder_and_replaces_only_its_own(data_dir, user, capsys):
    d = user.dir / "m"
    d.mkdir()  # an empty folder is fine
    user.outputs = {"r.json", "r.steps.csv", *(f"m/{n}" for n in ("config.json", "vocab.txt", "model.safetensors",
                                                                  "tokenizer_config.json", MARKER))}
    for _ in range(2):  # the second time over its own saved model
        code, _, err = call(run.main, run_args(data_dir, user, "r.json", "--save-model", str(d)), capsys)
        assert code == 0, err
        assert (d / MARKER).is_file() and (d / "model.safetensors").stat().st_size > 1000


# ---------------------------------------------------------------------------------------------------
# run.py: an output that cannot be written at the end keeps the finished work elsewhere, and says where


def fallback_named(err, what):
    line = next(x for x in err.splitlines() if f"could not write {what}" in x)
    return Path(line.rsplit(" saved in ", 1)[1].strip())


def test_steps_csv_on_a_full_disk_goes_to_the_temporary_directory(data_dir, user, monkeypatch, capsys):
    disk_full(monkeypatch, results, "write_text_atomic", lambda p: p == user.dir / "r.steps.csv")
    user.outputs = {"r.json"}
    code, out, err = call(run.main, run_args(data_dir, user, user.dir / "r.json"), capsys)
    assert code == 0 and "Traceback" not in err
    assert json.loads((user.dir / "r.json").read_text())["status"] == "ok"
    saved = fallback_named(err, user.dir / "r.steps.csv")
    assert saved.parent == user.tmp and saved.read_text().startswith("step,epoch,loss,lr,lam\n")


def test_result_json_on_a_full_disk_goes_to_the_temporary_directory(data_dir, user, monkeypatch, capsys):
    disk_full(monkeypatch, results, "write_json_atomic", lambda p: p.parent == user.dir)
    user.outputs = {"r.steps.csv"}
    code, out, err = call(run.main, run_args(data_dir, user, user.dir / "r.json"), capsys)
    assert code == 1 and "Traceback" not in err
    saved = Path(err.rsplit("the result is saved in ", 1)[1].strip())
    assert saved.parent == user.tmp and json.loads(saved.read_text())["status"] == "ok"


def test_nowhere_to_write_the_steps_csv_still_writes_the_result(data_dir, user, monkeypatch, capsys):
    disk_full(monkeypatch, results, "write_text_atomic", lambda p: p.suffix == ".csv")
    user.outputs = {"r.json"}
    code, out, err = call(run.main, run_args(data_dir, user, user.dir / "r.json"), capsys)
    assert code == 0 and "Traceback" not in err and "nor a copy in the temporary directory" in err
    assert json.loads((user.dir / "r.json").read_text())["status"] == "ok"


def test_nowhere_to_write_the_result_is_one_clear_line(data_dir, user, monkeypatch, capsys):
    disk_full(monkeypatch, results, "write_json_atomic")
    user.outputs = {"r.steps.csv", "r.ckpt.pt"}
    code, out, err = call(run.main, run_args(data_dir, user, user.dir / "r.json"), capsys)
    clear_error(err, code, user.dir / "r.json", "No space left on device")


def test_saved_model_on_a_full_disk_goes_to_the_temporary_directory(data_dir, user, monkeypatch, capsys):
    import amplify.export as export

    real = export.save_file

    def save_file(tensors, path, **k):  # the model's weights: a disk full everywhere but the temporary directory
        if user.tmp not in Path(path).parents:
            raise OSError(28, "No space left on device", str(path))
        return real(tensors, path, **k)

    monkeypatch.setattr(export, "save_file", save_file)
    user.outputs = {"r.json", "r.steps.csv"}
    code, out, err = call(run.main, run_args(data_dir, user, "r.json", "--save-model", "m"), capsys)
    assert code == 0 and "Traceback" not in err
    saved = fallback_named(err, "m")
    assert user.tmp in saved.parents and (saved / "model.safetensors").is_file()
    assert json.loads((user.dir / "r.json").read_text())["saved_model"] == str(saved)
    assert not (user.dir / "m").exists()


# ---------------------------------------------------------------------------------------------------
# input files: empty, malformed, garbage, missing


def data_copy(tmp, data_dir, source, **files):
    """A copy of one source folder of the datasets, with some files replaced by the given bytes."""
    root = tmp / "data"
    shutil.copytree(data_dir / source, root / source)
    for path in (root / source, *(root / source).rglob("*")):  # the shared datasets are read-only: the copy is ours
        path.chmod(path.stat().st_mode | 0o200)
    for name, content in files.items():
        (root / source / name.replace("__", ".")).write_bytes(content)
    return root


BAD_FILES = [
    ("trec-coarse", "trec", "train_5500__label", b"", "train_5500.label"),
    ("trec-coarse", "trec", "TREC_10__label", b"", "TREC_10.label"),
    ("sst-2", "sst", "stsa__binary__train", b"", "stsa.binary.train"),
    ("sst-2", "sst", "stsa__binary__dev", b"", "stsa.binary.dev"),
    ("trec-coarse", "trec", "train_5500__label", b"DESC:manner How ?\nnot a label line\n", "train_5500.label:2"),
    ("trec-fine", "trec", "train_5500__label", bytes(range(256)) * 4, "train_5500.label:1"),
    ("sst-5", "sst", "stsa__fine__train", b"7 a sentence with label seven\n", "stsa.fine.train:1"),
    ("sst-2", "sst", "stsa__binary__test", b"1 fine\n0 \xff\xfe not utf-8\n", "stsa.binary.test:2"),
    ("sst-2", "sst", "stsa__binary__train", b"1\n", "stsa.binary.train:1"),
]


@pytest.mark.parametrize("dataset,source,name,content,named", BAD_FILES, ids=[f"{b[0]}-{b[4]}-{len(b[3])}B"
                                                                               for b in BAD_FILES])
def test_run_bad_data_file(dataset, source, name, content, named, data_dir, user, tmp_path, monkeypatch, capsys):
    root = data_copy(tmp_path, data_dir, source, **{name: content})
    monkeypatch.setattr("amplify.train.train_step", lambda *a, **k: pytest.fail("trained on a broken file"))
    before = tree(root)
    argv = [*run_args(root, user), "--dataset", dataset]
    code, _, err = call(run.main, argv, capsys)
    clear_error(err, code, named)
    assert tree(root) == before


def test_run_missing_dataset_names_the_folder_and_the_command(user, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = call(run.main, run_args(tmp_path / "empty", user), capsys)
    clear_error(err, code, tmp_path / "empty", "python -m data.download")


def broken_weights(tmp, kind, minilm_dir):
    d = tmp / "w"
    d.mkdir()
    for name in ("config.json", "vocab.txt"):
        shutil.copy(minilm_dir / name, d)
    if kind == "truncated":
        (d / "model.safetensors").write_bytes((minilm_dir / "model.safetensors").read_bytes()[:5000])
    elif kind == "garbage":
        (d / "model.safetensors").write_bytes(b"\x00" * 64)
    elif kind == "bad config":
        (d / "config.json").write_text("{not json")
        shutil.copy(minilm_dir / "model.safetensors", d)
    return d


@pytest.mark.parametrize("kind", ["truncated", "garbage", "missing", "bad config"])
def test_run_broken_weights(kind, data_dir, user, tmp_path, minilm_dir, monkeypatch, capsys):
    monkeypatch.setattr("amplify.train.train_step", lambda *a, **k: pytest.fail("trained on broken weights"))
    d = broken_weights(tmp_path, kind, minilm_dir)
    argv = [a if a != "tiny" else "minilm-l6" for a in run_args(data_dir, user)] + ["--weights", str(d)]
    code, _, err = call(run.main, argv, capsys)
    clear_error(err, code, d)


# ---------------------------------------------------------------------------------------------------
# bench.compare: the grid's options before the grid starts, and the report's paths and files


def compare(argv, capsys, monkeypatch=None):
    from bench import compare as cmp

    if monkeypatch is not None:
        monkeypatch.setattr("bench.grid.runner.run_share", lambda *a, **k: pytest.fail("the grid started"))
    return call(cmp.main, argv, capsys)


GRID = ["--model", "tiny", "--datasets", "trec-coarse", "--methods", "none", "amplify", "--seeds", "0", "1",
        "--epochs", "1", "--train-limit", "48", "--eval-limit", "32", "--max-length", "32", "--quiet"]


def grid_args(user, *extra):
    return [*GRID, "--results", str(user.dir / "grid"), *extra]


BAD_GRID = [(["--seeds", "-1"], "--seeds"), (["--eval-limit", "0"], "--eval-limit"),
            (["--amplify-layers", "13"], "--amplify-layers"), (["--max-length", "100000"], "--max-length"),
            (["--lr", "0"], "--lr"), (["--mix-epochs", "99"], "--mix-epochs"), (["--shard", "5/2"], "--shard"),
            (["--batch-size", "0"], "--batch-size")]


@pytest.mark.parametrize("mode", ["grid", "--report-only", "--dry-run"])
@pytest.mark.parametrize("extra,name", BAD_GRID, ids=[" ".join(a) for a, _ in BAD_GRID])
def test_compare_bad_option_before_the_grid(extra, name, mode, user, monkeypatch, capsys):
    argv = grid_args(user, *extra) + ([] if mode == "grid" else [mode])
    code, out, err = compare(argv, capsys, monkeypatch)
    clear_error(err, code, name)
    assert out == "" and not (user.dir / "grid").exists()


ARGPARSE_GRID = [(["--bootstrap", "0"], "--bootstrap"), (["--jobs", "0"], "--jobs"),
                 (["--sig-alpha", "1"], "--sig-alpha"), (["--first-seeds", "-1"], "--first-seeds"),
                 (["--resample-seed", "-1"], "--resample-seed"), (["--seeds", "x"], "--seeds")]


@pytest.mark.parametrize("extra,name", ARGPARSE_GRID, ids=[" ".join(a) for a, _ in ARGPARSE_GRID])
def test_compare_unparsable_option(extra, name, user, monkeypatch, capsys):
    code, _, err = compare(grid_args(user, *extra), capsys, monkeypatch)
    clear_error(err, code, name)


@pytest.mark.parametrize("mode", ["--report-only", "--claims", "--dry-run", "grid"])
def test_compare_results_naming_a_file(mode, user, monkeypatch, capsys):
    argv = [*GRID, "--results", str(user.dir / "notes.txt")] + ([] if mode == "grid" else [mode])
    code, out, err = compare(argv, capsys, monkeypatch)
    clear_error(err, code, "--results", user.dir / "notes.txt")


@pytest.mark.parametrize("mode", ["--report-only", "--claims"])
@pytest.mark.parametrize("where", ["a file", "under a file", "unwritable"])
def test_compare_report_out_unwritable(where, mode, user, monkeypatch, capsys):
    (user.dir / "locked").mkdir()
    out = {"a file": user.dir / "notes.txt", "under a file": user.dir / "notes.txt" / "tables",
           "unwritable": user.dir / "locked" / "tables"}[where]
    if where == "unwritable":
        deny(monkeypatch, user.dir / "locked")
    code, _, err = compare(grid_args(user, mode, "--out", str(out)), capsys, monkeypatch)
    clear_error(err, code, "--out", out)


def grid_paths(user):
    from bench import compare as cmp

    _, args = cmp.parse(grid_args(user))
    return [r.path for r in cmp.make_plan(args)[2]]


@pytest.mark.parametrize("content", ['{"status": "ok", "conf', "", "[1, 2]", '{"status": "ok", "config": 3}',
                                     "\x00\x01garbage"], ids=["truncated", "empty", "a list", "wrong schema",
                                                              "garbage"])
def test_compare_names_a_corrupt_result_file(content, user, monkeypatch, capsys):
    paths = grid_paths(user)
    paths[0].parent.mkdir(parents=True)
    paths[0].write_text(content)
    user.start()
    code, out, err = compare(grid_args(user, "--report-only"), capsys, monkeypatch)
    assert code == 1 and "Traceback" not in err
    assert "corrupt" in out and str(paths[0]) in out
    code, out, err = compare(grid_args(user, "--dry-run"), capsys, monkeypatch)
    assert code == 0 and any(line.startswith("corrupt") and str(paths[0]) in line for line in out.splitlines())


def test_compare_speed_path_missing(user, monkeypatch, capsys):
    (user.dir / "grid").mkdir()
    code, _, err = compare(grid_args(user, "--claims", "--speed", "nope.json"), capsys, monkeypatch)
    clear_error(err, code, "nope.json", "no such file")


# ---------------------------------------------------------------------------------------------------
# bench.speed


def speed(argv, capsys, monkeypatch):
    from bench.speed import train_step

    monkeypatch.setattr(train_step, "measure", lambda *a, **k: pytest.fail("timed although an option is bad"))
    return call(train_step.main, argv, capsys)


SPEED = ["--model", "tiny", "--random-init", "--no-hf", "--methods", "none", "--steps", "1", "--warmup", "0",
         "--optimizer-rounds", "0", "--threads", "1", "--batch-size", "4", "--seq-len", "16", "--quiet"]


@pytest.mark.parametrize("case", ["unknown --data", "--out a folder", "--out under a file", "--out unwritable",
                                  "empty --data-dir", "malformed data", "truncated --weights"])
def test_speed_fails_in_one_line_before_timing(case, data_dir, user, tmp_path, minilm_dir, monkeypatch, capsys):
    argv = [*SPEED, "--out", str(user.dir / "s.json")]
    named = {"unknown --data": "--data", "--out a folder": "--out", "--out under a file": "--out",
             "--out unwritable": "--out", "empty --data-dir": tmp_path / "empty", "malformed data": "train_5500.label",
             "truncated --weights": tmp_path / "w"}[case]
    if case == "unknown --data":
        argv += ["--data", "nope"]
    elif case == "--out a folder":
        argv += ["--out", str(user.dir)]
    elif case == "--out under a file":
        argv += ["--out", str(user.dir / "notes.txt" / "s.json")]
    elif case == "--out unwritable":
        (user.dir / "locked").mkdir()
        deny(monkeypatch, user.dir / "locked")
        argv += ["--out", str(user.dir / "locked" / "s.json")]
    elif case == "empty --data-dir":
        (tmp_path / "empty").mkdir()
        argv += ["--data", "trec-coarse", "--data-dir", str(tmp_path / "empty")]
    elif case == "malformed data":
        root = data_copy(tmp_path, data_dir, "trec", train_5500__label=b"garbage line\n")
        argv += ["--data", "trec-coarse", "--data-dir", str(root)]
    else:
        argv = [a if a != "tiny" else "minilm-l6" for a in argv if a != "--random-init"]
        argv += ["--weights", str(broken_weights(tmp_path, "truncated", minilm_dir))]
    code, _, err = speed(argv, capsys, monkeypatch)
    clear_error(err, code, named)


def test_speed_json_on_a_full_disk_goes_to_the_temporary_directory(user, monkeypatch, capsys):
    from bench.speed import train_step

    disk_full(monkeypatch, results, "write_json_atomic", lambda p: p.parent == user.dir)
    code, out, err = call(train_step.main, [*SPEED, "--out", str(user.dir / "s.json")], capsys)
    assert "Traceback" not in err and not (user.dir / "s.json").exists()
    saved = fallback_named(err, user.dir / "s.json")
    assert saved.parent == user.tmp and json.loads(saved.read_text())["benchmark"] == "speed"


# ---------------------------------------------------------------------------------------------------
# bench.attention


ATTENTION = ["the rabbit hopped", "the turtle crawled", "--model", "tiny", "--block", "1", "--methods", "none", "tmix"]


@pytest.mark.parametrize("extra,named", [
    (["--mix-layer", "99"], "--mix-layer"), (["--mix-layer", "-1"], "--mix-layer"), (["--block", "99"], "--block"),
    (["--out", "notes.txt"], "--out"), (["--out", "notes.txt/maps"], "--out"), (["--lam", "2"], "--lam"),
], ids=lambda x: x if isinstance(x, str) else " ".join(x))
def test_attention_bad_option(extra, named, user, capsys):
    from bench.attention.maps import main

    code, _, err = call(main, ATTENTION + extra, capsys)
    clear_error(err, code, named)


@pytest.mark.parametrize("texts", [["", "the turtle"], ["  ", "the turtle"], ["the rabbit", "--partner", ""]],
                         ids=["empty input", "blank input", "empty partner"])
def test_attention_empty_text(texts, user, capsys):
    from bench.attention.maps import main

    code, _, err = call(main, texts + ATTENTION[2:], capsys)
    clear_error(err, code, "empty")


def test_attention_unwritable_out(user, monkeypatch, capsys):
    from bench.attention.maps import main

    (user.dir / "locked").mkdir()
    deny(monkeypatch, user.dir / "locked")
    code, _, err = call(main, ATTENTION + ["--out", str(user.dir / "locked" / "maps")], capsys)
    clear_error(err, code, "--out", user.dir / "locked")


def test_attention_csv_on_a_full_disk_goes_to_the_temporary_directory(user, monkeypatch, capsys):
    from bench.attention.maps import main

    disk_full(monkeypatch, results, "write_text_atomic", lambda p: p.parent == user.dir / "maps")
    try:  # with the optional matplotlib the pictures are written too: only the CSV's write is made to fail here
        import matplotlib  # noqa: F401

        user.outputs = {f"maps/attention-block1{s}.png" for s in ("", "-none", "-tmix")}
    except ImportError:
        pass
    code, out, err = call(main, ATTENTION + ["--out", str(user.dir / "maps")], capsys)
    assert code == 0 and "Traceback" not in err
    saved = fallback_named(err, user.dir / "maps" / "attention-block1.csv")
    assert saved.parent == user.tmp and saved.read_text().startswith("method,head,")


# ---------------------------------------------------------------------------------------------------
# data.stats and data.download


@pytest.mark.parametrize("case", ["--max-length 0", "--max-length -5", "malformed trec", "malformed sst",
                                  "no vocab"])
def test_data_stats_fails_in_one_line(case, data_dir, user, tmp_path, capsys):
    from data.stats import main

    argv = ["--cache-dir", str(user.tmp / "cache"), "--data-dir", str(data_dir), "--datasets", "trec-coarse"]
    named = {"--max-length 0": "--max-length", "--max-length -5": "--max-length", "malformed trec": "TREC_10.label:1",
             "malformed sst": "stsa.binary.dev:1", "no vocab": "vocab.txt"}[case]
    if case.startswith("--max-length"):
        argv += case.split()
    elif case == "malformed trec":
        argv += ["--data-dir", str(data_copy(tmp_path, data_dir, "trec", TREC_10__label=b"what?\n"))]
    elif case == "malformed sst":
        argv += ["--data-dir", str(data_copy(tmp_path, data_dir, "sst", stsa__binary__dev=b"x y\n")),
                 "--datasets", "sst-2"]
    else:
        argv += ["--model-dir", str(tmp_path)]
    code, _, err = call(main, argv, capsys)
    clear_error(err, code, named)


def test_data_stats_empty_file(data_dir, user, tmp_path, capsys):
    from data.stats import main

    root = data_copy(tmp_path, data_dir, "trec", train_5500__label=b"")
    argv = ["--cache-dir", str(user.tmp / "cache"), "--data-dir", str(root), "--datasets", "trec-coarse"]
    code, out, err = call(main, argv, capsys)
    assert code in (0, 2) and "Traceback" not in err


def test_data_download_data_dir_naming_a_file(user, capsys):
    from data.download import main

    code, _, err = call(main, ["trec-coarse", "--data-dir", str(user.dir / "notes.txt")], capsys)
    clear_error(err, code, "--data-dir", user.dir / "notes.txt")


# ---------------------------------------------------------------------------------------------------
# a reader that goes away: `... | head -1` ends every report quietly


def closed_pipe(args, cwd, env_extra=None):
    """Run `python args` with its stdout a pipe whose reader has already gone; (status, stderr)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env_extra or {})}
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line: every write fails with EPIPE
    try:
        proc = subprocess.run([sys.executable, *args], stdout=write, stderr=subprocess.PIPE, cwd=cwd, env=env,
                              text=True, timeout=120)
    finally:
        os.close(write)
    return proc.returncode, proc.stderr


PIPED = [
    ["-m", "bench.compare", *GRID, "--results", "grid", "--report-only"],
    ["-m", "bench.compare", *GRID, "--results", "grid", "--report-only", "--format", "csv"],
    ["-m", "bench.compare", *GRID, "--results", "grid", "--dry-run"],
    ["-m", "bench.compare", "--results", "grid", "--claims"],
    ["-m", "data.stats", "--datasets", "trec-coarse", "--cache-dir", "cache"],
    ["-m", "amplify.check_method", "none"],
    ["-m", "bench.manifest", "grid"],
]


@pytest.mark.parametrize("args", PIPED, ids=[" ".join(a[1:2] + [x for x in a if x.startswith("--") and x in (
    "--report-only", "--format", "--dry-run", "--claims", "--datasets")]) for a in PIPED])
def test_a_closed_pipe_ends_quietly(args, data_dir, user):
    (user.dir / "grid").mkdir()
    user.outputs = {"cache/"}  # data.stats' token cache
    code, err = closed_pipe(args, user.dir, {"AMPLIFY_DATA_DIR": str(data_dir)})
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert code == 141, (code, err)  # the status of a process a closed pipe ends, as `cat` gets
