"""load_dataset on the real files in the shared datasets folder: the exact official counts and label sets
(../shared/datasets/README.md), the splits, the data-dir rule, the missing-data message."""

import ast
import json
from collections import Counter
from pathlib import Path

import pytest

import data.load
from data import DATASETS, DataFormatError, DataMissingError, Example, load_dataset
from data.common import resolve_data_dir, stratified_holdout
from data.readers import read_imdb, read_mrpc, read_sst, read_trec
from data.sources import IMDB_CANDIDATES

REPO = Path(__file__).resolve().parents[1]


# --- the readers on the real files: official counts ---------------------------------------------------


def test_trec_official_counts(data_dir):
    train, test = read_trec(data_dir / "trec/train_5500.label"), read_trec(data_dir / "trec/TREC_10.label")
    assert (len(train), len(test)) == (5452, 500)
    assert Counter(q.coarse for q in train) == {"ABBR": 86, "DESC": 1162, "ENTY": 1250, "HUM": 1223,
                                                 "LOC": 835, "NUM": 896}
    assert Counter(q.coarse for q in test) == {"ABBR": 9, "DESC": 138, "ENTY": 94, "HUM": 65, "LOC": 81, "NUM": 113}
    assert len({q.fine for q in train}) == 50 and len({q.fine for q in test}) == 42
    assert "sister\u00f0city" in train[65].text  # line 66: the file's one non-ASCII byte, read as latin-1


@pytest.mark.parametrize("kind, k, counts", [
    ("binary", 2, {"train": [3310, 3610], "dev": [428, 444], "test": [912, 909]}),
    ("fine", 5, {"train": [1092, 2218, 1624, 2322, 1288], "dev": [139, 289, 229, 279, 165],
                 "test": [279, 633, 389, 510, 399]}),
])
def test_sst_official_counts(data_dir, kind, k, counts):
    for split, want in counts.items():
        c = Counter(e.label for e in read_sst(data_dir / f"sst/stsa.{kind}.{split}", k))
        assert [c[i] for i in range(k)] == want, split


def test_mrpc_official_counts(data_dir):
    train, test = (read_mrpc(data_dir / f"mrpc/msr_paraphrase_{s}.txt") for s in ("train", "test"))
    assert (len(train), len(test)) == (4076, 1725)
    assert Counter(p.quality for p in train) == {1: 2753, 0: 1323}
    assert Counter(p.quality for p in test) == {1: 1147, 0: 578}
    assert len({(p.id1, p.id2) for p in train}) == 4076
    assert train[0].text1.startswith("Amrozi accused his brother, whom he called \"the witness\"")


@pytest.fixture(scope="module")
def imdb_reviews(data_dir):
    path = next(data_dir / c for c in IMDB_CANDIDATES if (data_dir / c).exists())  # what load_dataset picks
    return path, read_imdb(path)  # the one slow read (~2 s), shared by the IMDB tests


@pytest.fixture(scope="module")
def imdb(data_dir, imdb_reviews):
    """load_dataset("imdb") on the real folder, handed the reviews read above instead of reading them again."""
    path, reviews = imdb_reviews
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(data.load.readers, "read_imdb", lambda p: reviews if p == path else pytest.fail(str(p)))
        data.load._LAST.clear()
        ds = load_dataset("imdb", data_dir)
        data.load._LAST.clear()
    return ds


def test_imdb_official_counts(imdb):
    assert imdb.label_names == ["neg", "pos"]
    assert (len(imdb.train) + len(imdb.dev), len(imdb.test)) == (25000, 25000)
    assert Counter(e.label for e in imdb.test) == {0: 12500, 1: 12500}
    assert len({e.text for e in imdb.train + imdb.dev}) == 24904 and len({e.text for e in imdb.test}) == 24801
    assert imdb.info["files"][0]["known_as"] is not None  # the shared repack or the official tarball


def test_imdb_ratings_and_well_known_first_files(imdb_reviews):
    _, reviews = imdb_reviews
    assert Counter(r.rating for r in reviews["train"]) == {1: 5100, 2: 2284, 3: 2420, 4: 2696, 7: 2496,
                                                           8: 3009, 9: 2263, 10: 4732}
    assert Counter(r.rating for r in reviews["test"]) == {1: 5022, 2: 2302, 3: 2541, 4: 2635, 7: 2307,
                                                          8: 2850, 9: 2344, 10: 4999}
    assert [r.id for r in reviews["train"][:3]] == [0, 1, 2] and reviews["train"][-1].id == 12499
    first_pos = next(r for r in reviews["train"] if r.label == "pos" and r.id == 0)
    assert first_pos.text.startswith("Bromwell High is a cartoon comedy") and first_pos.rating == 9
    assert reviews["test"][0].text.startswith("Once again Mr. Costner")


# --- load_dataset ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, sizes, labels", [
    ("trec-coarse", (4906, 546, 500), 6),
    ("trec-fine", (4906, 546, 500), 50),
    ("sst-2", (6920, 872, 1821), 2),
    ("sst-5", (8544, 1101, 2210), 5),
    ("mrpc", (3668, 408, 1725), 2),
])
def test_split_sizes_and_labels(data_dir, name, sizes, labels):
    ds = load_dataset(name, data_dir)
    assert (len(ds.train), len(ds.dev), len(ds.test)) == sizes
    assert ds.num_labels == labels == len(ds.label_names) and ds.name == name
    assert ds.is_pair == (name == "mrpc")
    assert all(isinstance(e, Example) for e in ds.train[:5])
    assert all((e.text_b is not None) == ds.is_pair for e in ds.train + ds.dev + ds.test)
    assert set(e.label for e in ds.train) == set(range(labels))  # label set from train
    info = json.loads(json.dumps(ds.info))  # JSON-serialisable
    assert info["counts"] == dict(zip(("train", "dev", "test"), sizes, strict=True))
    assert info["unseen_test_labels"] == {}
    assert all(len(f["sha256"]) == 64 and f["known_as"] for f in info["files"])


def test_trec_label_names(data_dir):
    assert load_dataset("trec-coarse", data_dir).label_names == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    fine = load_dataset("trec-fine", data_dir).label_names
    assert fine == sorted(fine) and "DESC:manner" in fine and "ENTY:other" in fine and "LOC:other" in fine


def test_mrpc_uses_glue_dev_ids(data_dir):
    ds = load_dataset("mrpc", data_dir)
    assert Counter(e.label for e in ds.train) == {1: 2474, 0: 1194}
    assert Counter(e.label for e in ds.dev) == {1: 279, 0: 129}
    assert "GLUE" in ds.info["dev_split"]
    assert not {(e.text, e.text_b) for e in ds.dev} & {(e.text, e.text_b) for e in ds.train}


def test_mrpc_without_dev_ids_falls_back_to_holdout(data_dir, tmp_path):
    (tmp_path / "mrpc").mkdir()
    for f in ("msr_paraphrase_train.txt", "msr_paraphrase_test.txt"):
        (tmp_path / "mrpc" / f).symlink_to(data_dir / "mrpc" / f)
    ds = load_dataset("mrpc", tmp_path)
    # round(0.1 * 2753) + round(0.1 * 1323) = 275 + 132
    assert (len(ds.train), len(ds.dev), len(ds.test)) == (3669, 407, 1725)
    assert "hold-out" in ds.info["dev_split"]


def test_mrpc_dev_id_missing_from_train_fails_at_its_line(tmp_path):
    (tmp_path / "mrpc").mkdir()
    header = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
    for split in ("train", "test"):
        (tmp_path / f"mrpc/msr_paraphrase_{split}.txt").write_text(header + "1\t1\t2\ta\tb\n0\t3\t4\tc\td\n")
    (tmp_path / "mrpc/mrpc_dev_ids.tsv").write_text("3\t4\n5\t6\n")
    with pytest.raises(DataFormatError, match=r"mrpc_dev_ids\.tsv:2: dev pair 5\\t6 is not in"):
        load_dataset("mrpc", tmp_path)


def test_holdout_is_stratified_disjoint_and_fixed(data_dir, imdb):
    a = load_dataset("trec-fine", data_dir)
    data.load._LAST.clear()  # read and split again, not the remembered copy
    b = load_dataset("trec-fine", data_dir)
    assert a.dev == b.dev and a.train == b.train  # no seed argument: the same split for every training run
    train, dev = Counter(e.label for e in a.train), Counter(e.label for e in a.dev)
    for y in train:
        assert dev[y] == round(0.1 * (train[y] + dev[y]))
    assert (len(imdb.train), len(imdb.dev)) == (22500, 2500)
    assert Counter(e.label for e in imdb.dev) == {0: 1250, 1: 1250}
    tr, dv = stratified_holdout([0] * 10 + [1] * 20 + [2], "toy")
    assert len(dv) == 3 and sorted(tr + dv) == list(range(31)) and 30 in tr  # a singleton class stays in train


def test_holdout_dev_split_regression(data_dir):
    """Pin the dev split: if this changes, every saved result's dev numbers stop being comparable."""
    ds = load_dataset("trec-coarse", data_dir)
    assert [e.text for e in ds.dev[:2]] == [
        "What is considered the costliest disaster the insurance industry has ever faced ?",
        "What did the only repealed amendment to the U.S. Constitution deal with ?",
    ]
    assert stratified_holdout(list(range(3)) * 10, "pinned")[1] == [3, 4, 5]


def test_holdout_follows_the_documented_rule_on_real_trec(data_dir):
    """data/common.py's rule written out independently: per class, the round(0.1 * n_c) train indices with the
    smallest sha256(f"{SPLIT_SEED}:{dataset}:{index}") go to dev; checked on TREC's real train labels."""
    import hashlib

    from data.common import SPLIT_SEED
    from data.readers import read_trec

    rows = read_trec(data_dir / "trec" / "train_5500.label")
    for name, label in (("trec-coarse", lambda q: q.coarse), ("trec-fine", lambda q: q.fine)):
        labels = [label(r) for r in rows]
        want = []
        for y in set(labels):
            idx = [i for i, lab in enumerate(labels) if lab == y]
            h = lambda i: hashlib.sha256(f"{SPLIT_SEED}:{name}:{i}".encode()).digest()  # noqa: B023
            want += sorted(idx, key=h)[: round(0.1 * len(idx))]
        train, dev = stratified_holdout(labels, name)
        assert dev == sorted(want) and train == sorted(set(range(len(labels))) - set(want)) and len(dev) == 546
        ds = load_dataset(name, data_dir)  # and the loader's dev split is those questions, in file order
        assert [e.text for e in ds.dev] == [rows[i].text for i in sorted(want)]


def test_remembered_dataset_is_a_fresh_copy_and_follows_file_changes(tmp_path):
    (tmp_path / "sst").mkdir()
    for split in ("train", "dev", "test"):
        (tmp_path / f"sst/stsa.binary.{split}").write_text("1 good\n0 bad\n")
    a = load_dataset("sst-2", tmp_path)
    a.train.append(Example("x", 0))
    a.info["counts"]["train"] = -1
    b = load_dataset("sst-2", tmp_path)
    assert len(b.train) == 2 and b.info["counts"]["train"] == 2  # the caller's edits did not leak
    (tmp_path / "sst/stsa.binary.train").write_text("1 good\n0 bad\n1 fine\n")
    assert len(load_dataset("sst-2", tmp_path).train) == 3  # the file changed: read again


def test_unseen_test_labels_are_counted_and_kept(tmp_path):
    (tmp_path / "trec").mkdir()
    (tmp_path / "trec/train_5500.label").write_text("DESC:def What is a ?\nHUM:ind Who is b ?\n" * 5)
    (tmp_path / "trec/TREC_10.label").write_text("DESC:def What is c ?\nNUM:date When d ?\nNUM:date When e ?\n")
    ds = load_dataset("trec-fine", tmp_path)
    assert ds.label_names == ["DESC:def", "HUM:ind", "NUM:date"]  # train's labels, then the unseen one
    assert ds.info["unseen_test_labels"] == {"NUM:date": 2}
    assert [e.label for e in ds.test] == [0, 2, 2] and len(ds.test) == 3


def test_data_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("AMPLIFY_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_data_dir(tmp_path / "arg")[0] == tmp_path / "arg"
    assert resolve_data_dir()[0] == tmp_path / "env"
    monkeypatch.delenv("AMPLIFY_DATA_DIR")
    assert resolve_data_dir()[0] == tmp_path / "xdg" / "amplify" / "data"


@pytest.mark.parametrize("name", DATASETS)
def test_missing_data_message(tmp_path, monkeypatch, name):
    monkeypatch.setenv("AMPLIFY_DATA_DIR", str(tmp_path))
    with pytest.raises(DataMissingError) as e:
        load_dataset(name)
    msg = str(e.value)
    assert repr(name) in msg and str(tmp_path) in msg and "$AMPLIFY_DATA_DIR" in msg
    assert f"python -m data.download {name}" in msg
    if name == "yelp-5":
        assert "yelp/yelp_review_full_csv/train.csv" in msg


def test_yelp_from_small_files(tmp_path):
    d = tmp_path / "yelp" / "yelp_review_full_csv"
    d.mkdir(parents=True)
    (d / "train.csv").write_text("".join(f'"{1 + i % 5}","review {i}\\nsecond line"\n' for i in range(100)))
    (d / "test.csv").write_text('"1","bad"\n"5","good"\n')
    ds = load_dataset("yelp-5", tmp_path)
    assert (len(ds.train), len(ds.dev), len(ds.test)) == (90, 10, 2)
    assert ds.label_names == ["1", "2", "3", "4", "5"] and ds.test[1] == Example("good", 4)
    assert ds.train[0].text == "review 0\nsecond line"


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown dataset 'sst'"):
        load_dataset("sst")


def test_data_package_does_not_import_model_amplify_or_bench():
    for path in (REPO / "data").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for n in names:
                assert n.split(".")[0] not in ("model", "amplify", "bench", "datasets", "pandas"), f"{path}: {n}"


def test_no_data_files_in_the_package():
    """The datasets stay in the data dir; the package holds code only."""
    assert [p for p in (REPO / "data").rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")] == []
