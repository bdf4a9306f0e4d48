"""A method of one's own (amplify/user_methods.py): loaded from a file or a module, every bad input a one-line
error before any training, keyed by its source so that an edit re-runs it, built-in keys unchanged."""

import textwrap
from dataclasses import replace

import pytest

import run as run_cli
from amplify.cli import config_from_args
from amplify.methods import METHODS, make_method
from amplify.protocol import MEMBERS, MixMethod, missing_members
from amplify.train import TrainConfig
from amplify.user_methods import MethodLoadError, label, load_class, source_hash
from bench.grid.plan import Run, identity, run_key

MINE = """
from amplify.methods import TMix


class Mine(TMix):
    name = "mine"

    def __init__(self, n_layers, scale=1.0, **kw):
        super().__init__(n_layers, **kw)
        self.scale = scale
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return f"{path}:{name.split('.')[0].title().replace('_', '')}"


def test_every_builtin_satisfies_the_protocol():
    for cls in METHODS.values():
        assert not missing_members(cls) and isinstance(cls(4), MixMethod), cls.name
    assert set(MEMBERS) == set(MixMethod.__annotations__) | {
        n for n in vars(MixMethod) if not n.startswith("_") and callable(vars(MixMethod)[n])}


def test_a_file_method_loads_builds_with_options_and_names_its_files(tmp_path):
    spec = write(tmp_path, "mine.py", MINE)
    cls = load_class(spec)
    method = make_method(spec, 6, alpha=0.4, method_options={"scale": 2.0})
    assert isinstance(method, cls) and method.scale == 2.0 and method.alpha == 0.4 and method.name == "mine"
    cfg = TrainConfig(method=spec, dataset="trec-coarse", model="tiny")
    assert label(spec) == "Mine" and Run.of(cfg, tmp_path).path.name.startswith("trec-coarse-Mine-s0-")
    with pytest.raises(ValueError, match="for a method of one's own"):
        TrainConfig(method="amplify", method_options={"scale": 2}).validate()


def test_a_module_method_loads(tmp_path, monkeypatch):
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "mix.py").write_text(textwrap.dedent(MINE))
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_class("mypkg.mix:Mine").name == "mine"
    assert len(source_hash("mypkg.mix:Mine")) == 64


def test_the_key_holds_the_source_and_options_and_builtin_keys_do_not_change(tmp_path):
    spec = write(tmp_path, "mine.py", MINE)
    cfg = TrainConfig(method=spec, model="tiny")
    before = run_key(cfg)
    assert run_key(replace(cfg, method_options={"scale": 2.0})) != before
    (tmp_path / "mine.py").write_text(textwrap.dedent(MINE) + "# an edit\n")
    assert run_key(cfg) != before  # editing the file re-runs the method
    # a built-in's key: no source field (the committed grids' keys are checked by tests/test_grid.py too)
    for name in METHODS:
        assert "method_source" not in identity(TrainConfig(method=name, model="tiny"))


BAD = {
    "missing": (None, "no file"),
    "raises": ("import numpy\nraise RuntimeError('boom in the user file')\n", "failed to load: RuntimeError"),
    "lacks": ("class Lacks:\n    name = 'lacks'\n    sites = ()\n    union = False\n", "lacks start_epoch"),
    "clash": ("from amplify.methods import Method\nclass Clash(Method):\n    name = 'amplify'\n",
              "a built-in method's name"),
    "noclass": ("class Other:\n    pass\n", "defines no class Noclass"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_before_training(tmp_path, case, capsys):
    text, message = BAD[case]
    spec = f"{tmp_path / 'nope.py'}:X" if text is None else write(tmp_path, f"{case}.py", text)
    with pytest.raises(MethodLoadError, match=message):
        load_class(spec)
    load_class.cache_clear()
    with pytest.raises(SystemExit) as e:
        run_cli.main(["--method", spec, "--model", "tiny"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "error: argument --method: method " in err.rstrip().splitlines()[-1]
    if case == "raises":  # the user's traceback first, ending at their line
        assert "boom in the user file" in err and "raises.py\", line 2" in err


def test_an_unknown_name_and_a_missing_module_are_named():
    with pytest.raises(MethodLoadError, match="no module named 'no_such_pkg'"):
        load_class("no_such_pkg.mix:Mine")
    from bench.compare import parse

    with pytest.raises(SystemExit) as e:
        parse(["--methods", "none", "amplifyy", "--report-only"])
    assert e.value.code == 2


def test_the_example_preset_is_minilm_table2s_recipe_on_trec(tmp_path):
    from bench.compare import make_plan, parse
    from bench.presets import BYOM_EXAMPLE, PRESETS

    ours, table2 = PRESETS["minilm-byom-example"], PRESETS["minilm-table2"]
    assert ours.datasets == ("trec-coarse", "trec-fine") and ours.seeds == (0, 1, 2, 3, 4)
    assert ours.methods == ("none", "amplify", BYOM_EXAMPLE)
    assert {k: v for k, v in ours.options.items() if k != "results"} == \
        {k: v for k, v in table2.options.items() if k not in ("results", "also_read")}
    assert ours.options["results"] == "bench/results/minilm-byom-example"
    _, args = parse(["--preset", "minilm-byom-example", "--results", str(tmp_path)])
    runs = make_plan(args)[2]
    assert len(runs) == 30 and sum(r.path.name.startswith("trec-fine-AMP-s") for r in runs) == 5


def test_method_options_reach_the_config():
    from bench.compare import parse

    _, args = parse(["--methods", "none", "examples/amp.py:AMP", "--method-option", "gamma=0.2", "note=x"])
    assert config_from_args(args).method_options == {"gamma": 0.2, "note": "x"}
