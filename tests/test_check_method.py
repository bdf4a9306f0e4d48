"""The contract check (amplify/check_method.py): every built-in method passes it, and methods that break a rule
fail the property that rule belongs to, saying why."""

import textwrap

import pytest

from amplify.check_method import assert_passes, check, main
from amplify.methods import METHODS


@pytest.mark.parametrize("name", list(METHODS))
def test_every_builtin_method_passes(name):
    assert_passes(name)


BROKEN = {
    # the baselines' released code: labels paired by a fresh permutation
    "same partner": """
        from amplify.methods import TMix
        class Broken(TMix):
            name = "broken"
            def __init__(self, n_layers, **kw):
                super().__init__(n_layers, **{**kw, "label_perm": "independent"})
    """,
    # λ drawn from a generator of its own, which no checkpoint saves, and a step counter
    "resume": """
        import numpy as np
        from amplify.methods import SentMix
        class Broken(SentMix):
            name = "broken"
            own = np.random.default_rng(0)
            def draw_lam(self, rng):
                return 0.5 + 0.5 * self.own.random()
    """,
    # mixes at λ = 1 all the same: the partner's share never reaches 0
    "lambda=1": """
        import torch
        from amplify.methods import SentMix
        class Broken(SentMix):
            name = "broken"
            def loss(self, logits, labels, plan):
                return super().loss(logits, labels, plan) + 0.1 * torch.nn.functional.cross_entropy(
                    logits, labels[plan.perm])
    """,
}


@pytest.mark.parametrize("prop", list(BROKEN))
def test_a_broken_method_fails_its_property(tmp_path, prop, capsys):
    path = tmp_path / f"broken_{prop.replace(' ', '_').replace('=', '')}.py"
    path.write_text(textwrap.dedent(BROKEN[prop]))
    verdicts = {v.prop: v for v in check(f"{path}:Broken")}
    assert not verdicts[prop].ok and verdicts[prop].why
    assert main([f"{path}:Broken"]) == 1
    out = capsys.readouterr().out
    assert f"FAIL  {prop}" in out and "properties fail" in out


def test_the_worked_example_passes_and_is_short():
    """examples/amp.py (AMP, Liu et al. 2021): the contract holds, in at most ~80 lines."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "amp.py"
    assert len(path.read_text().splitlines()) <= 80
    assert_passes(f"{path}:AMP", {"gamma": 0.5})


def test_a_constructor_that_raises_shows_its_traceback_then_one_line(tmp_path, capsys):
    path = tmp_path / "fussy.py"
    path.write_text(textwrap.dedent("""
        from amplify.methods import SentMix
        class Fussy(SentMix):
            name = "fussy"
            def __init__(self, n_layers, width=1, **kw):
                super().__init__(n_layers, **kw)
                raise KeyError("no table for this width")
    """))
    with pytest.raises(SystemExit) as e:
        main([f"{path}:Fussy", "--method-option", "width=3"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "Traceback" in err and "fussy.py" in err
    assert err.strip().splitlines()[-1] == (f"python -m amplify.check_method: error: method {path}:Fussy cannot be "
                                            "built: its constructor raised KeyError: 'no table for this width' "
                                            "(options given: {'width': 3})")
    with pytest.raises(SystemExit):  # an option the constructor does not take: the same, naming it
        main([f"{path}:Fussy", "--method-option", "depth=3"])
    assert "unexpected keyword argument 'depth'" in capsys.readouterr().err.strip().splitlines()[-1]
