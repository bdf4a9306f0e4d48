"""Noise injection (data/noise.py): the documented definition, as properties."""

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data.common import Example
from data.noise import KINDS, PAPER_LEVELS, add_noise

words = st.lists(st.sampled_from(["a", "b", "c", "dog", "cat", "the", "é", "x1"]), min_size=1, max_size=30)
texts = words.map(" ".join)
examples = st.lists(st.builds(Example, texts, st.integers(0, 4), st.one_of(st.none(), texts)), max_size=20)


@given(examples, st.sampled_from(KINDS), st.integers(0, 2**31))
def test_p0_is_identity(exs, kind, seed):
    assert add_noise(exs, kind, 0.0, seed) == exs


@settings(max_examples=50)
@given(examples, st.sampled_from(KINDS), st.sampled_from(PAPER_LEVELS), st.integers(0, 1000))
def test_reproducible_labels_unchanged_and_input_untouched(exs, kind, p, seed):
    before = list(exs)
    a, b = add_noise(exs, kind, p, seed), add_noise(exs, kind, p, seed)
    assert a == b and exs == before and a is not exs
    assert [e.label for e in a] == [e.label for e in exs]
    assert [e.text_b is None for e in a] == [e.text_b is None for e in exs]


def is_subsequence(small, big):
    it = iter(big)
    return all(w in it for w in small)


@settings(max_examples=50)
@given(texts, st.floats(0.01, 1.0), st.integers(0, 1000))
def test_delete_keeps_an_ordered_nonempty_subsequence(text, p, seed):
    (out,) = add_noise([Example(text, 0)], "delete", p, seed)
    assert 1 <= len(out.text.split()) <= len(text.split())
    assert is_subsequence(out.text.split(), text.split())


@settings(max_examples=50)
@given(texts, st.sampled_from(["swap", "swap-adjacent"]), st.floats(0.01, 1.0), st.integers(0, 1000))
def test_swaps_permute_the_words(text, kind, p, seed):
    (out,) = add_noise([Example(text, 0)], kind, p, seed)
    assert Counter(out.text.split()) == Counter(text.split())


def test_rates_match_p():
    ex = [Example(" ".join(f"w{i}" for i in range(50)), 0)] * 400  # 20,000 words
    for p in PAPER_LEVELS:
        kept = sum(len(e.text.split()) for e in add_noise(ex, "delete", p, seed=1))
        assert abs((20000 - kept) / 20000 - p) < 0.01
        moved = sum(sum(a != b for a, b in zip(e.text.split(), ex[0].text.split(), strict=True))
                    for e in add_noise(ex, "swap", p, seed=1))
        assert 1.2 * p < moved / 20000 < 2.2 * p  # each swap moves two words (fewer if later swaps undo)


def test_untouched_text_keeps_its_exact_whitespace():
    ex = [Example("a  b\tc", 0)]
    assert add_noise(ex, "delete", 1e-9, 0)[0].text == "a  b\tc"
    assert add_noise(ex, "delete", 1.0, 0)[0].text in {"a", "b", "c"}  # never empty


def test_seeds_differ_and_pairs_get_noise_on_both_sides():
    ex = [Example("one two three four five six seven eight", 1, "nine ten eleven twelve thirteen fourteen")] * 20
    a, b = add_noise(ex, "swap", 0.2, 0), add_noise(ex, "swap", 0.2, 1)
    assert a != b
    assert any(e.text != ex[0].text for e in a) and any(e.text_b != ex[0].text_b for e in a)


def test_pinned_output():
    """The exact output for one input: if this changes, noisy-training results are not comparable."""
    ex = [Example("the quick brown fox jumps over the lazy dog", 0)]
    assert add_noise(ex, "delete", 0.2, 0)[0].text == ex[0].text  # no coin came up for seed 0
    assert add_noise(ex, "delete", 0.2, 2)[0].text == "the quick jumps over the lazy dog"
    assert add_noise(ex, "swap", 0.2, 1)[0].text == "the quick the fox jumps over brown lazy dog"
    assert add_noise(ex, "swap-adjacent", 0.2, 3)[0].text == "the quick brown fox jumps the lazy over dog"
    # the pins follow the documented rule: one random.Random(seed).random() coin per word, left to right
    import random

    words = ex[0].text.split()
    r = random.Random(2)
    coins = [r.random() for _ in words]  # delete: a word goes when its coin is below p
    assert " ".join(w for w, c in zip(words, coins, strict=True) if c >= 0.2) == "the quick jumps over the lazy dog"
    r, adj = random.Random(3), list(words)
    for i in range(len(adj) - 1):  # swap-adjacent: a coin for each i < n - 1, swapping words i and i + 1
        if r.random() < 0.2:
            adj[i], adj[i + 1] = adj[i + 1], adj[i]
    assert " ".join(adj) == "the quick brown fox jumps the lazy over dog"


@pytest.mark.parametrize("kind, p", [("shuffle", 0.1), ("delete", -0.1), ("swap", 1.5)])
def test_bad_arguments(kind, p):
    with pytest.raises(ValueError, match="data/noise.py"):
        add_noise([Example("a b", 0)], kind, p)
