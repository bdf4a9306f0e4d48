"""
BERT's uncased WordPiece tokenizer, assembled from the `tokenizers` library's parts.

We build it from the checkpoint's `vocab.txt` the way BERT's original tokenizer works:
  1. normalise: clean control characters, space out CJK characters, lower-case, strip accents
  2. pre-tokenise: split on whitespace and punctuation
  3. WordPiece: greedy longest-match-first sub-words ("playing" -> "play", "##ing")
  4. truncate and add [CLS] A [SEP] (+ B [SEP]), with token_type_ids 0 for A and 1 for B
Truncation is "longest first": for a pair, one token at a time comes off the end of the longer side,
the second side on a tie. We do steps 4 by hand because the `tokenizers` library breaks ties the
other way, and the reference (BERT's own, slow tokenizer) is what published numbers were made with.

tests/test_tokenizer.py proves this equal to transformers.BertTokenizer (the slow, pure-Python
reference) on real sentences from every dataset.
"""

import hashlib
from pathlib import Path

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers


def read_vocab(path):
    """vocab.txt: one token per line, the line number is the id."""
    path = Path(path)
    tokens = path.read_text(encoding="utf-8").split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()  # trailing newline
    vocab = {}
    for i, tok in enumerate(tokens):
        if tok in vocab:
            raise ValueError(f"{path}:{i + 1}: token {tok!r} already appears on line {vocab[tok] + 1}")
        vocab[tok] = i
    for special in ("[PAD]", "[UNK]", "[CLS]", "[SEP]"):
        if special not in vocab:
            raise ValueError(f"{path}: vocabulary has no {special} token; is this a BERT vocab.txt?")
    return vocab


def truncate_pair(la, lb, budget):
    """Lengths after BERT's longest-first truncation of a pair to `budget` tokens.

    Equal to removing one token at a time from the longer side (from the second on a tie).
    """
    excess = la + lb - budget
    if excess <= 0:
        return la, lb
    cut = min(excess, abs(la - lb))  # first shorten the longer side down to the other's length
    if la > lb:
        la -= cut
    else:
        lb -= cut
    excess -= cut
    return la - excess // 2, lb - (excess + 1) // 2  # then alternate, the second side first


class WordPieceTokenizer:
    def __init__(self, vocab_path, max_length=256, lowercase=True):
        self.vocab_path = Path(vocab_path)
        self.vocab = read_vocab(self.vocab_path)
        self.max_length = max_length
        self.pad_id = self.vocab["[PAD]"]
        self.cls_id = self.vocab["[CLS]"]
        self.sep_id = self.vocab["[SEP]"]
        # what a cache of token ids must be keyed on: the vocab's bytes and how we use it
        digest = hashlib.sha256(self.vocab_path.read_bytes()).hexdigest()[:16]
        # bump the version when the way we tokenize changes, so that old token caches are rebuilt
        self.fingerprint = f"wordpiece-v2-{digest}-lower{int(lowercase)}"

        tok = Tokenizer(models.WordPiece(vocab=self.vocab, unk_token="[UNK]", max_input_chars_per_word=100))
        # strip_accents=None means "follow lowercase", as in BERT
        tok.normalizer = normalizers.BertNormalizer(
            clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lowercase
        )
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        self._tok = tok

    @classmethod
    def from_dir(cls, model_dir, **kw):
        return cls(Path(model_dir) / "vocab.txt", **kw)

    def encode_batch(self, texts, pairs=None):
        """Token ids and type ids for a list of texts (and optional second texts), unpadded.

        Returns two lists of lists of ints: input_ids, token_type_ids.
        """
        cls, sep = self.cls_id, self.sep_id
        a = [e.ids for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]
        if pairs is None:
            ids = [[cls, *x[: self.max_length - 2], sep] for x in a]
            return ids, [[0] * len(x) for x in ids]
        if len(pairs) != len(a):
            raise ValueError(f"encode_batch: {len(a)} texts but {len(pairs)} second texts")
        b = [e.ids for e in self._tok.encode_batch(list(pairs), add_special_tokens=False)]
        ids, types = [], []
        for x, y in zip(a, b, strict=True):
            la, lb = truncate_pair(len(x), len(y), self.max_length - 3)
            ids.append([cls, *x[:la], sep, *y[:lb], sep])
            types.append([0] * (la + 2) + [1] * (lb + 1))
        return ids, types

    def encode(self, text, pair=None):
        ids, types = self.encode_batch([text], None if pair is None else [pair])
        return ids[0], types[0]

    def decode(self, ids):
        return self._tok.decode(ids)

    def __len__(self):
        return len(self.vocab)
