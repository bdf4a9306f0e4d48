"""Our WordPiece tokenizer against transformers' slow, pure-Python BERT tokenizer on real sentences."""


import pytest

from data.load import load_dataset
from model.tokenizer import WordPieceTokenizer, read_vocab


def slow_reference(vocab_path):
    import transformers

    # transformers >= 5 renamed the pure-Python tokenizer; before that it was BertTokenizer itself.
    cls = getattr(transformers, "BertTokenizerLegacy", None)
    if cls is None:
        from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy as cls  # noqa: N813
    return cls(vocab_file=str(vocab_path), do_lower_case=True)


def real_sentences(data_dir):
    """Single texts from TREC, SST (latin-1 and UTF-8 with accents) and IMDB, and MRPC pairs."""
    trec = (data_dir / "trec" / "train_5500.label").read_text(encoding="latin-1").splitlines()
    singles = [line.split(" ", 1)[1] for line in trec[:200]] + [trec[65].split(" ", 1)[1]]  # line 66: 0xF0
    sst = (data_dir / "sst" / "stsa.fine.train").read_text(encoding="utf-8").splitlines()
    accented = [s.split(" ", 1)[1] for s in sst if any(ord(c) > 127 for c in s)]
    singles += [s.split(" ", 1)[1] for s in sst[:200]] + accented[:50]
    mrpc = (data_dir / "mrpc" / "msr_paraphrase_train.txt").read_text(encoding="utf-8-sig").splitlines()
    pairs = [tuple(row.split("\t")[3:5]) for row in mrpc[1:151]]
    # IMDB reviews as the reader gives them: long (truncated at 256), HTML line breaks, entities, the
    # odd non-Latin character; the longest review too.
    imdb = [ex.text for ex in load_dataset("imdb", data_dir).train]
    unusual = [t for t in imdb if any(ord(c) > 127 for c in t) or "&" in t]
    singles += imdb[:60] + unusual[:60] + [max(imdb, key=len)]
    return singles, pairs


@pytest.fixture(scope="module")
def toks(minilm_dir):
    return minilm_dir / "vocab.txt"


@pytest.mark.parametrize("max_length", [256, 12])
def test_matches_slow_bert_tokenizer(toks, data_dir, max_length):
    ours = WordPieceTokenizer(toks, max_length=max_length)
    ref = slow_reference(toks)
    singles, pairs = real_sentences(data_dir)
    assert len(singles) + len(pairs) >= 600
    ids, types = ours.encode_batch(singles)
    for text, i, t in zip(singles, ids, types, strict=True):
        r = ref(text, truncation=True, max_length=max_length, return_token_type_ids=True)
        assert i == r["input_ids"], text
        assert t == r["token_type_ids"], text
    ids, types = ours.encode_batch([a for a, _ in pairs], [b for _, b in pairs])
    for (a, b), i, t in zip(pairs, ids, types, strict=True):
        r = ref(a, b, truncation="longest_first", max_length=max_length, return_token_type_ids=True)
        assert i == r["input_ids"], (a, b)
        assert t == r["token_type_ids"], (a, b)
        assert len(i) <= max_length


def test_special_tokens_and_accents(toks):
    tok = WordPieceTokenizer(toks, max_length=8)
    ids, types = tok.encode("Café", "naïve résumé here and more words")
    assert ids[0] == tok.cls_id and ids[-1] == tok.sep_id and ids.count(tok.sep_id) == 2
    assert len(ids) == 8 and types[: ids.index(tok.sep_id) + 1] == [0] * (ids.index(tok.sep_id) + 1)
    assert tok.encode("Café")[0][1:-1] == [tok.vocab["cafe"]]  # accents stripped, as bert-base-uncased does


def test_fingerprint_tracks_vocab(toks, tmp_path):
    a = WordPieceTokenizer(toks)
    lines = toks.read_text(encoding="utf-8").splitlines()
    other = tmp_path / "vocab.txt"
    other.write_text("\n".join(lines[:999] + [lines[1000], lines[999]] + lines[1001:]) + "\n", encoding="utf-8")
    assert WordPieceTokenizer(other).fingerprint != a.fingerprint


def test_bad_vocab_names_the_file_and_line(tmp_path):
    p = tmp_path / "vocab.txt"
    p.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nhello\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"vocab.txt:6"):
        read_vocab(p)
    p.write_text("a\nb\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"no \[PAD\]"):
        read_vocab(p)


def test_truncate_pair_equals_the_one_at_a_time_loop():
    from model.tokenizer import truncate_pair

    for la in range(0, 14):
        for lb in range(0, 14):
            for budget in range(0, 20):
                a, b = la, lb
                while a + b > budget:
                    if a > b:
                        a -= 1
                    else:
                        b -= 1
                assert truncate_pair(la, lb, budget) == (a, b), (la, lb, budget)
