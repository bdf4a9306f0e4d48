"""
Hand-written readers for the official files of the paper's seven datasets (five sources).

Each reader returns a list of typed records, in file order, and never drops or repairs anything:
a line that does not fit the documented format raises DataFormatError with `file:line` and what was
expected (wrong column count, unknown label, empty text, undecodable bytes). No format used here
documents a skip, so nothing is skipped. BOM and CRLF are handled by common.read_lines.

  read_trec   `COARSE:fine question text`           latin-1   (train_5500.label, TREC_10.label)
  read_sst    `label sentence`                      UTF-8     (stsa.binary.*, stsa.fine.*)
  read_mrpc   Quality\\t#1 ID\\t#2 ID\\t#1 String\\t#2 String, with that header; UTF-8 (BOM), CRLF or LF
  read_mrpc_dev_ids   `#1 ID\\t#2 ID` per line (GLUE's mrpc_dev_ids.tsv)
  read_imdb   aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt, from the .tar.gz or an extracted tree
  read_yelp   CSV rows "class","text", no header, class 1..5; quotes doubled, newlines written as \\n

Texts are kept exactly as in the files (IMDB keeps its `<br />`; SST its lower-cased PTB tokens):
the tokenizer, not the reader, decides what a model sees.

Formats and counts: ../shared/datasets/README.md; Li & Roth (2002); Socher et al. (2013) and Kim (2014);
Dolan & Brockett (2005); Maas et al. (2011); Zhang, Zhao & LeCun (2015).
"""

import csv
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from data.common import UTF8_BOM, Example, fail, read_lines

TREC_COARSE = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")
MRPC_HEADER = ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]


@dataclass(frozen=True, slots=True)
class TrecQuestion:
    coarse: str  # e.g. "DESC"
    fine: str  # e.g. "DESC:manner" (the fine label keeps its coarse prefix: "other" exists under several)
    text: str


@dataclass(frozen=True, slots=True)
class MrpcPair:
    quality: int  # 1 = paraphrase
    id1: str
    id2: str
    text1: str
    text2: str


@dataclass(frozen=True, slots=True)
class ImdbReview:
    label: str  # "neg" or "pos" (the directory)
    id: int
    rating: int  # from the file name: neg 1..4, pos 7..10
    text: str


# ---------------------------------------------------------------------------------------------------


_TREC_LABEL = re.compile(r"([A-Z]+):(\S+)")


def read_trec(path):
    out = []
    for n, line in read_lines(path, "latin-1"):  # README: train has one 0xF0 byte; latin-1 decodes all
        label, _, text = line.partition(" ")
        m = _TREC_LABEL.fullmatch(label)
        if m is None:
            fail(path, n, f"expected `COARSE:fine question`, got {line[:60]!r}")
        if m.group(1) not in TREC_COARSE:
            fail(path, n, f"unknown coarse label {m.group(1)!r}; expected one of {', '.join(TREC_COARSE)}")
        if not text.strip():
            fail(path, n, f"empty question text after label {label!r}")
        out.append(TrecQuestion(m.group(1), label, text))
    return out


def read_sst(path, num_classes):
    """stsa.binary.* (num_classes=2) or stsa.fine.* (num_classes=5) -> list of Example."""
    out = []
    for n, line in read_lines(path, "utf-8"):
        label, _, text = line.partition(" ")
        if label not in {str(c) for c in range(num_classes)}:
            fail(path, n, f"unknown label {label!r}; expected `<label> <sentence>` with label 0..{num_classes - 1}")
        if not text.strip():
            fail(path, n, f"empty sentence after label {label!r}")
        out.append(Example(text, int(label)))
    return out


def read_mrpc(path):
    """msr_paraphrase_{train,test}.txt -> list of MrpcPair.

    Split on tabs by hand rather than with csv: the strings contain unbalanced `"` (csv.QUOTE_NONE in
    the README's words) and a tab never occurs inside a string.
    """
    lines = read_lines(path, "utf-8")
    first = next(lines, None)
    if first is None or first[1].split("\t") != MRPC_HEADER:
        got = "an empty file" if first is None else repr(first[1][:80])
        fail(path, 1, f"expected the header {chr(9).join(MRPC_HEADER)!r}, got {got}")
    out = []
    for n, line in lines:
        cols = line.split("\t")
        if len(cols) != 5:
            fail(path, n, f"expected 5 tab-separated columns (Quality, #1 ID, #2 ID, #1 String, #2 String), "
                          f"got {len(cols)}")
        quality, id1, id2, s1, s2 = cols
        if quality not in ("0", "1"):
            fail(path, n, f"unknown Quality {quality!r}; expected 0 or 1")
        if not (id1.isdigit() and id2.isdigit()):
            fail(path, n, f"expected numeric #1 ID and #2 ID, got {id1!r} and {id2!r}")
        if not s1.strip() or not s2.strip():
            fail(path, n, f"empty #{1 if not s1.strip() else 2} String")
        out.append(MrpcPair(int(quality), id1, id2, s1, s2))
    return out


def read_mrpc_dev_ids(path):
    """GLUE's mrpc_dev_ids.tsv -> list of (id1, id2); no header."""
    out = []
    for n, line in read_lines(path, "utf-8"):
        cols = line.split("\t")
        if len(cols) != 2 or not all(c.isdigit() for c in cols):
            fail(path, n, f"expected `#1 ID<TAB>#2 ID` (two numbers), got {line[:60]!r}")
        out.append((cols[0], cols[1]))
    return out


# ---------------------------------------------------------------------------------------------------

_IMDB_MEMBER = re.compile(r"(?:.*/)?aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt")
_IMDB_RATINGS = {"neg": range(1, 5), "pos": range(7, 11)}


def _imdb_review(where, split_label_id_rating, raw):
    split, label, rid, rating = split_label_id_rating
    if int(rating) not in _IMDB_RATINGS[label]:
        fail(where, None, f"rating {rating} in the file name does not fit {label}/ (neg is 1-4, pos is 7-10)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        fail(where, line, "bytes are not valid UTF-8 (the official reviews are UTF-8)")
    if not text.strip():
        fail(where, None, "empty review")
    return split, ImdbReview(label, int(rid), int(rating), text)


def read_imdb(path):
    """aclImdb_v1.tar.gz (or the shared repack, or an extracted `aclImdb` folder) -> {"train": [...],
    "test": [...]}, each sorted by (label, id): neg 0..12499 then pos 0..12499.

    The tarball is streamed member by member (about 2 s for 50,000 reviews) and nothing is written to
    disk, so there is no extraction to make safe. Members outside {train,test}/{pos,neg}/ (README,
    vocab, urls_*, train/unsup/) are not labelled reviews and are not read.
    """
    path = Path(path)
    out = {"train": [], "test": []}
    if path.is_dir():
        root = path if path.name == "aclImdb" else path / "aclImdb"
        for f in sorted(root.glob("*/*/*.txt")):
            m = _IMDB_MEMBER.fullmatch(f.relative_to(root.parent).as_posix())
            if m:
                split, review = _imdb_review(f, m.groups(), f.read_bytes())
                out[split].append(review)
    else:
        with tarfile.open(path, "r:gz") as tf:
            for member in tf:
                m = _IMDB_MEMBER.fullmatch(member.name)
                if m is None:
                    continue
                if not member.isfile():
                    fail(f"{path}[{member.name}]", None, "expected a regular file (is the archive damaged?)")
                raw = tf.extractfile(member).read()
                split, review = _imdb_review(f"{path}[{member.name}]", m.groups(), raw)
                out[split].append(review)
    for split, reviews in out.items():
        reviews.sort(key=lambda r: (r.label, r.id))
        seen = set()
        for r in reviews:
            if (r.label, r.id) in seen:
                fail(path, None, f"two {split}/{r.label} reviews with id {r.id}")
            seen.add((r.label, r.id))
    return out


# ---------------------------------------------------------------------------------------------------


def read_yelp(path):
    """yelp_review_full_csv/{train,test}.csv -> list of Example with label = class - 1 (0..4).

    Quoting is standard CSV (doubled `""` inside quotes), which the csv module undoes. Newlines inside a
    review were written as the two characters backslash-n; we turn them back into "\\n" (the tokenizer
    treats it as a space). A literal backslash before an `n` in a review is indistinguishable from that
    escape; the original preprocessing did the same.
    """
    out = []
    reader = csv.reader(_utf8_lines(path), strict=True)
    try:
        for row in reader:
            n = reader.line_num  # physical line where this row ends
            if len(row) != 2:
                fail(path, n, f'expected 2 CSV columns "class","text", got {len(row)}')
            cls, text = row
            if cls not in ("1", "2", "3", "4", "5"):
                fail(path, n, f"unknown class {cls!r}; expected 1..5")
            text = text.replace("\\n", "\n")
            if not text.strip():
                fail(path, n, "empty review text")
            out.append(Example(text, int(cls) - 1))
    except csv.Error as e:
        fail(path, reader.line_num, f'bad CSV ({e}); expected "class","text" with quotes doubled inside')
    return out


def _utf8_lines(path):
    """Lines of a (large) UTF-8 file, decoded one at a time so that a bad byte is reported at its line;
    csv.reader stitches quoted fields that span lines back together."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            if n == 1 and raw.startswith(UTF8_BOM):
                raw = raw[len(UTF8_BOM) :]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                fail(path, n, "bytes are not valid UTF-8 (the official CSVs are UTF-8)")
