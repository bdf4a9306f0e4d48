"""The token cache (never trusts a stale or corrupt file) and the Batcher (shapes, padding, order)."""

import warnings

import numpy as np
import pytest
import torch

from data import load_dataset
from data.batching import Batcher, encode
from data.common import Example
from data.noise import add_noise


class CharTokenizer:
    """A stand-in with the duck-typed interface: one id per character (+100), [CLS]=1, [SEP]=2."""

    fingerprint = "chars-v1"
    pad_id = 0

    def __init__(self, max_length=16):
        self.max_length = max_length
        self.calls = 0

    def encode_batch(self, texts, pairs=None):
        self.calls += 1
        ids, types = [], []
        for i, t in enumerate(texts):
            a = [1] + [100 + ord(c) % 50 for c in t] + [2]
            b = [] if pairs is None else [100 + ord(c) % 50 for c in pairs[i]] + [2]
            x = (a + b)[: self.max_length]
            ids.append(x)
            types.append(([0] * len(a) + [1] * len(b))[: self.max_length])
        return ids, types


EXAMPLES = [Example("a" * n, n % 3) for n in (3, 1, 7, 20, 5, 2, 9, 4, 6, 8, 11, 10)]


def test_encode_and_cache_roundtrip(tmp_path):
    tok = CharTokenizer()
    enc = encode(EXAMPLES, tok, cache_dir=tmp_path, name="toy/train")
    assert len(enc) == 12 and not enc.from_cache and enc.path.parent == tmp_path
    assert enc.lengths.tolist() == [min(n + 2, 16) for n in (3, 1, 7, 20, 5, 2, 9, 4, 6, 8, 11, 10)]
    assert enc.labels.tolist() == [e.label for e in EXAMPLES]
    again = encode(EXAMPLES, tok, cache_dir=tmp_path, name="toy/train")
    assert again.from_cache and tok.calls == 1
    for a in ("ids", "offsets", "type_ids", "labels"):
        assert np.array_equal(getattr(enc, a), getattr(again, a))
    assert list(tmp_path.iterdir()) == [enc.path]  # no temporary files left behind


def test_key_covers_content_tokenizer_max_length_and_name(tmp_path):
    tok = CharTokenizer()
    base = encode(EXAMPLES, tok, cache_dir=tmp_path, name="toy/train").key
    noisy = add_noise([Example("one two three four", 0)] * 20, "delete", 0.5, seed=0)
    keys = {
        base,
        encode(noisy, tok, cache_dir=tmp_path, name="toy/train").key,
        encode(EXAMPLES[:-1], tok, cache_dir=tmp_path, name="toy/train").key,
        encode([Example(e.text, 0) for e in EXAMPLES], tok, cache_dir=tmp_path, name="toy/train").key,
        encode(EXAMPLES, CharTokenizer(max_length=8), cache_dir=tmp_path, name="toy/train").key,
        encode(EXAMPLES, tok, cache_dir=tmp_path, name="toy/dev").key,
    }
    other = CharTokenizer()
    other.fingerprint = "chars-v2"
    keys.add(encode(EXAMPLES, other, cache_dir=tmp_path, name="toy/train").key)
    assert len(keys) == 7


@pytest.mark.parametrize("damage", ["garbage", "truncate", "wrong_key", "bad_offsets", "wrong_labels"])
def test_stale_or_corrupt_cache_is_rebuilt(tmp_path, damage):
    tok = CharTokenizer()
    good = encode(EXAMPLES, tok, cache_dir=tmp_path, name="toy/train")
    path = good.path
    if damage == "garbage":
        path.write_bytes(b"not a zip file")
    elif damage == "truncate":
        path.write_bytes(path.read_bytes()[:200])
    else:
        with np.load(path) as z:
            arrays = dict(z)
        if damage == "wrong_key":
            arrays["key"] = np.array("0" * 64)
        elif damage == "bad_offsets":
            arrays["offsets"] = arrays["offsets"][::-1].copy()
        else:
            arrays["labels"] = arrays["labels"] + 1
        with open(path, "wb") as f:
            np.savez(f, **arrays)
    with pytest.warns(UserWarning, match="unusable.*rebuilding"):
        enc = encode(EXAMPLES, tok, cache_dir=tmp_path, name="toy/train")
    assert not enc.from_cache and tok.calls == 2
    assert np.array_equal(enc.ids, good.ids) and np.array_equal(enc.offsets, good.offsets)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert encode(EXAMPLES, tok, cache_dir=tmp_path, name="toy/train").from_cache  # rebuilt file is good


def test_unwritable_cache_dir_warns_and_still_encodes(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    with pytest.warns(UserWarning, match="could not write the token cache"):
        enc = encode(EXAMPLES, CharTokenizer(), cache_dir=blocker / "tokens")
    assert len(enc) == 12 and enc.path is None


def test_mixed_pairs_and_singles_are_refused(tmp_path):
    with pytest.raises(ValueError, match="some examples have a text_b"):
        encode([Example("a", 0), Example("b", 0, "c")], CharTokenizer(), cache_dir=tmp_path)


def test_batch_contents(tmp_path):
    ex = [Example("ab", 1, "xyz"), Example("abc", 0, "x")]
    enc = encode(ex, CharTokenizer(), cache_dir=tmp_path, name="pairs")
    b = Batcher(enc, batch_size=2, shuffle=False, pad_id=-7)
    (batch,) = list(b.epoch(0))
    assert set(batch) == {"input_ids", "attention_mask", "token_type_ids", "labels", "index"}
    assert all(v.dtype == torch.long for v in batch.values())
    # [CLS] a b [SEP] x y z [SEP] is the longest (8): the batch is 8 wide, no more
    assert batch["input_ids"].tolist() == [[1, 147, 148, 2, 120, 121, 122, 2], [1, 147, 148, 149, 2, 120, 2, -7]]
    assert batch["attention_mask"].tolist() == [[1] * 8, [1] * 7 + [0]]
    assert batch["token_type_ids"].tolist() == [[0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1, 1, 0]]
    assert batch["labels"].tolist() == [1, 0] and batch["index"].tolist() == [0, 1]


def test_padding_and_mask(tmp_path):
    enc = encode(EXAMPLES, CharTokenizer(), cache_dir=tmp_path)
    batch = Batcher(enc, batch_size=12, shuffle=False, pad_id=0).collate([1, 3])  # lengths 3 and 16
    assert batch["input_ids"].shape == (2, 16)
    assert batch["attention_mask"].sum(1).tolist() == [3, 16]
    assert batch["input_ids"][0, 3:].eq(0).all() and batch["token_type_ids"][0, 3:].eq(0).all()


@pytest.mark.parametrize("shuffle, bucket, drop_last", [(False, False, False), (True, False, False),
                                                        (True, True, False), (False, True, False),
                                                        (True, True, True), (True, False, True)])
def test_every_example_once_per_epoch(tmp_path, shuffle, bucket, drop_last):
    enc = encode(EXAMPLES, CharTokenizer(), cache_dir=tmp_path)
    b = Batcher(enc, batch_size=5, shuffle=shuffle, seed=3, bucket=bucket, drop_last=drop_last, bucket_batches=2)
    batches = list(b.epoch(1))
    assert len(batches) == len(b) == (2 if drop_last else 3)
    seen = torch.cat([x["index"] for x in batches]).tolist()
    assert len(seen) == len(set(seen)) == (10 if drop_last else 12)
    for x in batches:  # labels travel with their index
        assert x["labels"].tolist() == [EXAMPLES[i].label for i in x["index"].tolist()]
    if not shuffle and not bucket:
        assert seen == list(range(12))
    if not shuffle and bucket:
        assert enc.lengths[seen].tolist() == sorted(enc.lengths.tolist())


def test_order_depends_only_on_seed_and_epoch(tmp_path):
    enc = encode(EXAMPLES, CharTokenizer(), cache_dir=tmp_path)
    order = lambda seed, e, **kw: [x.tolist() for x in Batcher(enc, 4, seed=seed, **kw).batches(e)]
    assert order(0, 0) == order(0, 0) and order(0, 1) == order(0, 1)
    assert order(0, 0) != order(0, 1) and order(0, 0) != order(1, 0)
    assert order(0, 2, bucket=True) == order(0, 2, bucket=True)


def test_buckets_reduce_padding(tmp_path):
    rng = np.random.default_rng(0)
    ex = [Example("a" * int(n), 0) for n in rng.integers(1, 200, size=2000)]
    enc = encode(ex, CharTokenizer(max_length=256), cache_dir=tmp_path)
    padded = lambda b: sum(x["input_ids"].numel() for x in b.epoch(0))
    assert padded(Batcher(enc, 32, bucket=True)) < 0.7 * padded(Batcher(enc, 32, bucket=False))


def test_real_tokenizer_on_mrpc_dev(data_dir, minilm_dir, tmp_path):
    from model.tokenizer import WordPieceTokenizer

    tok = WordPieceTokenizer.from_dir(minilm_dir, max_length=256)
    ds = load_dataset("mrpc", data_dir)
    enc = encode(ds.dev, tok, cache_dir=tmp_path, name="mrpc/dev")
    assert len(enc) == 408 and enc.lengths.max() <= 256
    ids, types = tok.encode_batch([ds.dev[5].text], [ds.dev[5].text_b])
    batch = Batcher(enc, 8, shuffle=False, pad_id=tok.pad_id).collate([5])
    assert batch["input_ids"][0].tolist() == ids[0] and batch["token_type_ids"][0].tolist() == types[0]
    assert encode(ds.dev, tok, cache_dir=tmp_path, name="mrpc/dev").from_cache
