"""
Token ids for a list of examples, computed once and cached on disk, and a Batcher that pads each batch
only to its own longest sequence.

The cache
---------
encode(examples, tokenizer) tokenizes every example (with its tokenizer's truncation, 256 tokens by
default) and stores the result as one .npz file:

  ids       int32 (total_tokens,)  all token ids back to back
  offsets   int64 (n + 1,)         example i is ids[offsets[i] : offsets[i + 1]]
  type_ids  int8  (total_tokens,)  token type (segment) ids, aligned with ids
  labels    int64 (n,)
  key       str                    the cache key, recorded inside the file too

The key is sha256 of: the cache format version, the name ("sst-5/train"), a hash of the examples'
content (every label, text and text_b, so noise-injected texts get their own entry), the tokenizer's
fingerprint (its vocab hash) and its max_length. The file is written to a temporary name and then
os.replace()d, so a crash never leaves half a file under the real name, and two processes writing the
same entry at once both leave a complete file. If the folder is not writable: a warning, and no cache.
On load everything is checked (key inside the file, shapes, offsets increasing and ending at the number
of tokens, lengths within max_length, labels equal to the examples' labels); anything off, or a file
numpy cannot read, and the entry is rebuilt with a warning: a stale or corrupt cache is never trusted.
Default location: ~/.cache/amplify/tokens (or $XDG_CACHE_HOME/amplify/tokens).

Batches
-------
Batcher(enc).epoch(e) yields dicts of torch.long tensors: input_ids, attention_mask, token_type_ids
(B, T) with T the longest sequence in that batch, labels (B,), and index (B,), the position of each
example in the encoded list, for per-example predictions. The order depends only on (seed, e):
  shuffle=False, bucket=False   dataset order
  shuffle=True,  bucket=False   a permutation from numpy.random.default_rng([seed, e])
  shuffle=True,  bucket=True    that permutation, cut into buckets of bucket_batches * batch_size
                                examples, each sorted by length and cut into batches, and the batches
                                of the epoch shuffled: similar lengths share a batch (less padding,
                                faster), while which examples meet still changes every epoch
  shuffle=False, bucket=True    all examples sorted by length (stable): the fastest way to evaluate;
                                use batch["index"] to put predictions back in dataset order
drop_last drops the final batch if it is smaller than batch_size.
"""

import hashlib
import itertools
import os
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from data.common import user_cache_dir, write_atomic

CACHE_FORMAT = 1
CHUNK = 4096  # examples per call into the tokenizer (and per progress-bar step)


@dataclass
class Encoded:
    ids: np.ndarray
    offsets: np.ndarray
    type_ids: np.ndarray
    labels: np.ndarray
    key: str
    name: str
    max_length: int
    path: Path | None = None  # the cache file
    from_cache: bool = False

    def __len__(self):
        return len(self.labels)

    @property
    def lengths(self):
        """Token count of each example (with [CLS]/[SEP], after truncation)."""
        return np.diff(self.offsets)

    def __getitem__(self, i):
        """(ids, type_ids, label) of example i, unpadded."""
        s, e = self.offsets[i], self.offsets[i + 1]
        return self.ids[s:e], self.type_ids[s:e], int(self.labels[i])


def default_cache_dir():
    return user_cache_dir("tokens")


def encode(examples, tokenizer, cache_dir=None, name="examples"):
    """Token ids of `examples` (a list of Example) with `tokenizer` (anything with encode_batch,
    fingerprint, max_length and pad_id), from the cache when a valid entry exists."""
    examples = list(examples)
    pairs = [e.text_b is not None for e in examples]
    if any(pairs) and not all(pairs):
        raise ValueError(f"data/batching.py: {name}: some examples have a text_b and some do not; "
                         "encode single sentences and pairs separately")
    labels = np.fromiter((e.label for e in examples), dtype=np.int64, count=len(examples))
    key = cache_key(examples, tokenizer, name)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache_dir / f"{name.replace('/', '_').replace(os.sep, '_')}-{key[:24]}.npz"

    if path.exists():
        enc, problem = _load(path, key, labels, tokenizer.max_length)
        if enc is not None:
            enc.name = name
            return enc
        warnings.warn(f"data/batching.py: token cache {path} is unusable ({problem}); rebuilding it", stacklevel=2)

    enc = _tokenize(examples, tokenizer, labels, key, name, pair=bool(examples) and pairs[0])
    try:
        _save_atomic(path, enc)
        enc.path = path
    except OSError as e:  # a read-only or full disk costs speed, not the run
        warnings.warn(f"data/batching.py: could not write the token cache {path} ({e}); continuing without it "
                      "(pass cache_dir= a writable folder)", stacklevel=2)
    return enc


def cache_key(examples, tokenizer, name):
    content = hashlib.sha256()
    for i in range(0, len(examples), CHUNK):  # repr() of a str is unambiguous: quotes and escapes
        content.update("".join(repr((e.label, e.text, e.text_b)) for e in examples[i : i + CHUNK]).encode())
    parts = [f"format={CACHE_FORMAT}", f"name={name}", f"n={len(examples)}", f"content={content.hexdigest()}",
             f"tokenizer={tokenizer.fingerprint}", f"max_length={tokenizer.max_length}"]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _tokenize(examples, tokenizer, labels, key, name, pair):
    all_ids, all_types = [], []
    big = len(examples) >= 20_000  # a bar only where tokenizing takes seconds (IMDB, Yelp)
    for i in tqdm(range(0, len(examples), CHUNK), desc=f"tokenizing {name}", unit="chunk",
                  disable=None if big else True):
        chunk = examples[i : i + CHUNK]
        ids, types = tokenizer.encode_batch([e.text for e in chunk], [e.text_b for e in chunk] if pair else None)
        all_ids.extend(ids)
        all_types.extend(types)
    lengths = np.fromiter((len(x) for x in all_ids), dtype=np.int64, count=len(all_ids))
    offsets = np.zeros(len(all_ids) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    flat_ids = np.fromiter(itertools.chain.from_iterable(all_ids), dtype=np.int32, count=total)
    flat_types = np.fromiter(itertools.chain.from_iterable(all_types), dtype=np.int8, count=total)
    return Encoded(flat_ids, offsets, flat_types, labels, key, name, tokenizer.max_length)


def _save_atomic(path, enc):
    def write(f):  # a file object, so numpy does not append ".npz" to the name
        np.savez(f, ids=enc.ids, offsets=enc.offsets, type_ids=enc.type_ids, labels=enc.labels,
                 key=np.array(enc.key), max_length=np.array(enc.max_length))

    write_atomic(path, write, binary=True)


def _load(path, key, labels, max_length):
    """(Encoded, None) if the file at `path` is a valid entry for `key`, else (None, what is wrong)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("ids", "offsets", "type_ids", "labels", "key", "max_length")}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        return None, f"unreadable: {type(e).__name__}: {e}"
    ids, offsets, types, stored_labels = arrays["ids"], arrays["offsets"], arrays["type_ids"], arrays["labels"]
    n = len(labels)
    checks = [
        (str(arrays["key"]) == key, "the key recorded inside does not match"),
        (int(arrays["max_length"]) == max_length, "different max_length"),
        (ids.dtype == np.int32 and types.dtype == np.int8 and offsets.dtype == np.int64, "wrong dtypes"),
        (ids.ndim == types.ndim == offsets.ndim == stored_labels.ndim == 1, "wrong shapes"),
        (offsets.shape == (n + 1,) and stored_labels.shape == (n,), "wrong number of examples"),
        (n == 0 or (offsets[0] == 0 and offsets[-1] == len(ids) == len(types)), "offsets do not span the ids"),
        (n == 0 or bool(np.all(np.diff(offsets) >= 1)), "offsets not increasing"),
        (n == 0 or int(np.diff(offsets).max()) <= max_length, f"a sequence longer than max_length={max_length}"),
        (np.array_equal(stored_labels, labels), "labels differ from the examples'"),
    ]
    for ok, problem in checks:
        if not ok:
            return None, problem
    return Encoded(ids, offsets, types, stored_labels, key, "", max_length, path=path, from_cache=True), None


# ---------------------------------------------------------------------------------------------------


class Batcher:
    def __init__(self, enc, batch_size=32, shuffle=True, seed=0, bucket=False, pad_id=0, drop_last=False,
                 bucket_batches=50):
        if batch_size < 1:
            raise ValueError(f"data/batching.py: batch_size must be >= 1, got {batch_size}")
        self.enc, self.batch_size, self.shuffle, self.seed = enc, batch_size, shuffle, seed
        self.bucket, self.pad_id, self.drop_last, self.bucket_batches = bucket, pad_id, drop_last, bucket_batches
        self._lengths = enc.lengths
        self._starts = enc.offsets[:-1]

    def __len__(self):
        n, b = len(self.enc), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def batches(self, e=0):
        """The list of index arrays, one per batch, of epoch e (see the module docstring)."""
        n, b = len(self.enc), self.batch_size
        rng = np.random.default_rng([self.seed, e])
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        if self.bucket and not self.shuffle:
            order = np.argsort(self._lengths, kind="stable")
        if self.bucket and self.shuffle:
            size = b * self.bucket_batches
            batches = []
            for s in range(0, n, size):
                chunk = order[s : s + size]
                chunk = chunk[np.argsort(self._lengths[chunk], kind="stable")]
                batches.extend(chunk[i : i + b] for i in range(0, len(chunk), b))
            batches = [batches[i] for i in rng.permutation(len(batches))]
        else:
            batches = [order[i : i + b] for i in range(0, n, b)]
        if self.drop_last:
            batches = [x for x in batches if len(x) == b]
        return batches

    def epoch(self, e=0):
        for idx in self.batches(e):
            yield self.collate(idx)

    def collate(self, idx):
        """Pad the examples at positions `idx` to the longest of them."""
        idx = np.asarray(idx, dtype=np.int64)
        lengths = self._lengths[idx]
        T = int(lengths.max())
        cols = np.arange(T)
        mask = cols[None, :] < lengths[:, None]  # (B, T) True on real tokens
        # where each token sits in the flat arrays; padded slots point at a valid dummy position (0)
        pos = np.where(mask, self._starts[idx][:, None] + cols[None, :], 0)
        input_ids = np.where(mask, self.enc.ids[pos], self.pad_id).astype(np.int64)
        type_ids = np.where(mask, self.enc.type_ids[pos], 0).astype(np.int64)
        return {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(mask.astype(np.int64)),
            "token_type_ids": torch.from_numpy(type_ids),
            "labels": torch.from_numpy(self.enc.labels[idx]),
            "index": torch.from_numpy(idx),
        }
