"""The readers on small files written here: every malformed-input case fails with file:line and what was
expected; BOM, CRLF, CSV quoting and escapes are handled. Real files: tests/test_data_load.py."""

import io
import re
import tarfile

import pytest

from data.common import DataFormatError, Example, read_lines
from data.readers import read_imdb, read_mrpc, read_mrpc_dev_ids, read_sst, read_trec, read_yelp

HEADER = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String"


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return p


def fails_at(path, line, *words):
    """pytest.raises for a DataFormatError naming `path:line` and containing `words`."""
    where = re.escape(f"{path}:{line}") if line is not None else re.escape(str(path))
    return pytest.raises(DataFormatError, match=where + r":.*" + ".*".join(re.escape(w) for w in words))


# --- line reading -----------------------------------------------------------------------------------


def test_read_lines_handles_bom_crlf_and_final_newline(tmp_path):
    p = write(tmp_path, "x.txt", b"\xef\xbb\xbfa\r\nb\r\nc")
    assert list(read_lines(p, "utf-8")) == [(1, "a"), (2, "b"), (3, "c")]
    p = write(tmp_path, "y.txt", b"a\nb\n")
    assert list(read_lines(p, "utf-8")) == [(1, "a"), (2, "b")]


def test_read_lines_does_not_split_on_unicode_line_breaks(tmp_path):
    # latin-1 0x85 is U+0085 (NEL): str.splitlines() would cut the question in two
    p = write(tmp_path, "t.label", b"DESC:def What is \x85 this ?\n")
    assert [q.text for q in read_trec(p)] == ["What is \x85 this ?"]


# --- TREC --------------------------------------------------------------------------------------------


def test_trec_parses_coarse_and_fine(tmp_path):
    p = write(tmp_path, "t.label", b"DESC:manner How did serfdom develop ?\nLOC:other Where is sister\xf0city ?\n")
    qs = read_trec(p)
    assert [(q.coarse, q.fine) for q in qs] == [("DESC", "DESC:manner"), ("LOC", "LOC:other")]
    assert qs[1].text == "Where is sister\u00f0city ?"  # latin-1, as the README documents


def test_trec_unknown_coarse_label(tmp_path):
    p = write(tmp_path, "t.label", "DESC:def ok ?\nFOO:bar What ?\n")
    with fails_at(p, 2, "unknown coarse label", "FOO"):
        read_trec(p)


def test_trec_missing_label(tmp_path):
    p = write(tmp_path, "t.label", "DESC:def ok ?\nWhat is this ?\n")
    with fails_at(p, 2, "expected `COARSE:fine question`"):
        read_trec(p)


def test_trec_empty_text(tmp_path):
    p = write(tmp_path, "t.label", "DESC:def ok ?\nHUM:ind \n")
    with fails_at(p, 2, "empty question"):
        read_trec(p)


def test_trec_blank_line_is_an_error_not_a_skip(tmp_path):
    p = write(tmp_path, "t.label", "DESC:def ok ?\n\nHUM:ind Who ?\n")
    with fails_at(p, 2, "expected"):
        read_trec(p)


# --- SST ---------------------------------------------------------------------------------------------


def test_sst_reads_labels_and_keeps_text(tmp_path):
    p = write(tmp_path, "stsa.fine.train", "4 a stirring , funny film\n0 caf\u00e9\u00a0noir\n")
    assert read_sst(p, 5) == [Example("a stirring , funny film", 4), Example("caf\u00e9\u00a0noir", 0)]


def test_sst_bom_and_crlf(tmp_path):
    p = write(tmp_path, "stsa.binary.dev", b"\xef\xbb\xbf1 good\r\n0 bad\r\n")
    assert read_sst(p, 2) == [Example("good", 1), Example("bad", 0)]


@pytest.mark.parametrize("line", ["2 out of range", "x not a number", "-1 negative"])
def test_sst_unknown_label(tmp_path, line):
    p = write(tmp_path, "stsa.binary.train", f"1 fine\n{line}\n")
    with fails_at(p, 2, "unknown label"):
        read_sst(p, 2)


def test_sst_empty_text(tmp_path):
    p = write(tmp_path, "stsa.binary.train", "1 fine\n0\n")
    with fails_at(p, 2, "empty sentence"):
        read_sst(p, 2)


def test_sst_undecodable_bytes(tmp_path):
    p = write(tmp_path, "stsa.binary.train", b"1 fine\n1 also fine\n0 caf\xe9\n")  # latin-1 in a UTF-8 file
    with fails_at(p, 3, "not valid utf-8"):
        read_sst(p, 2)


# --- MRPC --------------------------------------------------------------------------------------------


def test_mrpc_bom_crlf_and_unbalanced_quotes(tmp_path):
    body = f'{HEADER}\r\n1\t702876\t702977\tHe called "the witness, of\tReferring to him\r\n'
    p = write(tmp_path, "msr.txt", b"\xef\xbb\xbf" + body.encode())
    (pair,) = read_mrpc(p)
    assert (pair.quality, pair.id1, pair.id2) == (1, "702876", "702977")
    assert pair.text1 == 'He called "the witness, of' and pair.text2 == "Referring to him"


def test_mrpc_wrong_header(tmp_path):
    p = write(tmp_path, "msr.txt", "1\t1\t2\ta\tb\n")
    with fails_at(p, 1, "expected the header"):
        read_mrpc(p)


def test_mrpc_wrong_column_count(tmp_path):
    p = write(tmp_path, "msr.txt", f"{HEADER}\n1\t1\t2\ta\tb\n0\t3\t4\tonly four\n")
    with fails_at(p, 3, "expected 5 tab-separated columns", "got 4"):
        read_mrpc(p)


def test_mrpc_unknown_quality(tmp_path):
    p = write(tmp_path, "msr.txt", f"{HEADER}\n2\t1\t2\ta\tb\n")
    with fails_at(p, 2, "unknown Quality"):
        read_mrpc(p)


def test_mrpc_empty_string(tmp_path):
    p = write(tmp_path, "msr.txt", f"{HEADER}\n1\t1\t2\ta\t \n")
    with fails_at(p, 2, "empty #2 String"):
        read_mrpc(p)


def test_mrpc_dev_ids(tmp_path):
    p = write(tmp_path, "ids.tsv", "1606495\t1606619\n3444633\t3444733\n")
    assert read_mrpc_dev_ids(p) == [("1606495", "1606619"), ("3444633", "3444733")]
    p = write(tmp_path, "bad.tsv", "1606495\t1606619\n3444633\n")
    with fails_at(p, 2, "expected `#1 ID<TAB>#2 ID`"):
        read_mrpc_dev_ids(p)


# --- IMDB --------------------------------------------------------------------------------------------


def imdb_tar(tmp_path, files, name="aclImdb_v1.tar.gz"):
    p = tmp_path / name
    with tarfile.open(p, "w:gz") as tf:
        for member, data in files.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return p


def test_imdb_from_tarball_and_from_folder(tmp_path):
    files = {
        "aclImdb/README": b"readme",
        "aclImdb/train/pos/10_9.txt": b"Great.<br />Really.",
        "aclImdb/train/pos/2_7.txt": b"Good",
        "aclImdb/train/neg/0_1.txt": b"Bad \xc3\xa9",
        "aclImdb/train/unsup/0_0.txt": b"unlabelled, not read",
        "aclImdb/train/urls_pos.txt": b"http://",
        "aclImdb/test/neg/0_4.txt": b"Meh",
    }
    from_tar = read_imdb(imdb_tar(tmp_path, files))
    for member, data in files.items():
        (tmp_path / "x" / member).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "x" / member).write_bytes(data)
    from_dir = read_imdb(tmp_path / "x" / "aclImdb")
    assert from_tar == from_dir
    train = from_tar["train"]
    assert [(r.label, r.id, r.rating) for r in train] == [("neg", 0, 1), ("pos", 2, 7), ("pos", 10, 9)]
    assert train[0].text == "Bad \u00e9" and train[2].text == "Great.<br />Really."  # kept as in the file
    assert [r.text for r in from_tar["test"]] == ["Meh"]


def test_imdb_rating_must_fit_the_folder(tmp_path):
    p = imdb_tar(tmp_path, {"aclImdb/train/neg/3_8.txt": b"text"})
    with pytest.raises(DataFormatError, match=r"3_8\.txt.*rating 8.*neg"):
        read_imdb(p)


def test_imdb_empty_and_undecodable_reviews(tmp_path):
    p = imdb_tar(tmp_path, {"aclImdb/test/pos/1_10.txt": b"  "}, "a.tar.gz")
    with pytest.raises(DataFormatError, match=r"1_10\.txt.*empty review"):
        read_imdb(p)
    p = imdb_tar(tmp_path, {"aclImdb/test/pos/1_10.txt": b"ok\nbad \xff"}, "b.tar.gz")
    with pytest.raises(DataFormatError, match=r"1_10\.txt\]:2: .*not valid UTF-8"):
        read_imdb(p)


# --- Yelp --------------------------------------------------------------------------------------------


def test_yelp_csv_quotes_and_newline_escapes(tmp_path):
    p = write(tmp_path, "train.csv", '"5","He said ""wow"".\\nBest, ever."\n"1","Awful"\n"3","multi\nline"\n')
    assert read_yelp(p) == [
        Example('He said "wow".\nBest, ever.', 4),
        Example("Awful", 0),
        Example("multi\nline", 2),  # a real newline inside quotes is legal CSV too
    ]


def test_yelp_bom_and_crlf(tmp_path):
    p = write(tmp_path, "test.csv", b'\xef\xbb\xbf"2","ok"\r\n"4","fine"\r\n')
    assert read_yelp(p) == [Example("ok", 1), Example("fine", 3)]


def test_yelp_unknown_class(tmp_path):
    p = write(tmp_path, "train.csv", '"5","ok"\n"6","too many stars"\n')
    with fails_at(p, 2, "unknown class", "'6'"):
        read_yelp(p)


def test_yelp_wrong_column_count(tmp_path):
    p = write(tmp_path, "train.csv", '"5","ok"\n"4","title","text"\n')
    with fails_at(p, 2, 'expected 2 CSV columns "class","text"', "got 3"):
        read_yelp(p)


def test_yelp_empty_text(tmp_path):
    p = write(tmp_path, "train.csv", '"5","ok"\n"4",""\n')
    with fails_at(p, 2, "empty review"):
        read_yelp(p)


def test_yelp_undecodable_bytes(tmp_path):
    p = write(tmp_path, "train.csv", b'"5","ok"\n"4","fine"\n"3","caf\xe9"\n')
    with fails_at(p, 3, "not valid UTF-8"):
        read_yelp(p)


def test_yelp_unterminated_quote(tmp_path):
    p = write(tmp_path, "train.csv", '"5","ok"\n"4","never closed\n')
    with pytest.raises(DataFormatError, match=re.escape(str(p)) + r":\d+: bad CSV"):
        read_yelp(p)
