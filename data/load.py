"""
load_dataset(name): the paper's seven datasets as train / dev / test lists of Example.

  name         classes  train / dev / test        files                                          dev split
  trec-coarse  6        4906 / 546 / 500          trec/train_5500.label, trec/TREC_10.label      hold-out
  trec-fine    50       4906 / 546 / 500          the same, with the 50 `COARSE:fine` labels     hold-out
  sst-2        2        6920 / 872 / 1821         sst/stsa.binary.{train,dev,test}               official
  sst-5        5        8544 / 1101 / 2210        sst/stsa.fine.{train,dev,test}                 official
  mrpc         2 pairs  3668 / 408 / 1725         mrpc/msr_paraphrase_{train,test}.txt           official*
  imdb         2        22500 / 2500 / 25000      imdb/aclImdb_v1.tar.gz (or repack, or folder)  hold-out
  yelp-5       5        585000 / 65000 / 50000    yelp/yelp_review_full_csv/{train,test}.csv     hold-out
(counts checked in tests/test_data_load.py, except Yelp-5, which the shared folder does not hold.)

"hold-out" is the fixed, seeded, stratified 10% of train described in data/common.py (the same for every
training seed). *MRPC uses GLUE's dev id list when mrpc/mrpc_dev_ids.tsv is there, else the hold-out.
Test is always the official test split; it must never be used for early stopping or model selection.

Label ids: the label set comes from train, sorted (TREC: alphabetically; SST, Yelp: the numeric class;
MRPC: 0 = not a paraphrase, 1 = paraphrase; IMDB: 0 = neg, 1 = pos). A test label that train never has
(TREC-fine has none, but the reader does not assume it) is appended after the train labels, so every
official test example is kept and counts as an error; ds.info["unseen_test_labels"] counts them.

ds.info is JSON-serialisable: each file read with its size, sha256 and which known version it is
(e.g. "Microsoft .msi original" vs "SentEval (tokenized)" for MRPC), the dev-split rule, counts and
label counts per split. Save it with the results of a run.
"""

import copy
from collections import Counter
from dataclasses import dataclass, field

from data import readers
from data.common import (
    DEV_FRACTION,
    SPLIT_SEED,
    DataMissingError,
    Example,
    fail,
    file_digest,
    resolve_data_dir,
    stratified_holdout,
)
from data.sources import DATASETS, IMDB_CANDIDATES, IMDB_KNOWN, SOURCE_OF, SOURCES, expected_files, known_version

HOLDOUT_RULE = (f"stratified {DEV_FRACTION:.0%} hold-out of the official train file: per class, the "
                f"round({DEV_FRACTION}*n) examples with the smallest sha256('{SPLIT_SEED}:<dataset>:<index>') "
                f"(data/common.py; fixed, independent of the training seed)")


@dataclass
class Dataset:
    name: str
    train: list
    dev: list
    test: list
    label_names: list
    is_pair: bool = False
    info: dict = field(default_factory=dict)

    @property
    def num_labels(self):
        return len(self.label_names)

    def splits(self):
        return {"train": self.train, "dev": self.dev, "test": self.test}

    def __repr__(self):
        return (f"Dataset({self.name!r}, train={len(self.train)}, dev={len(self.dev)}, test={len(self.test)}, "
                f"labels={self.num_labels})")


# The last dataset parsed in this process, with the size and mtime of the files it came from. A training
# run loads its dataset twice (to size the classifier head, then to train) and a grid runs several seeds
# in one process: re-reading IMDB (~2 s) or Yelp (~650k CSV rows) each time is waste. Callers get fresh
# lists (the Examples themselves are frozen), so nobody can change what the next caller sees. One entry
# only, so a grid over all datasets does not keep them all in memory.
_LAST = {}


def load_dataset(name, data_dir=None):
    """The dataset `name` (one of DATASETS) from the data dir: the argument, else $AMPLIFY_DATA_DIR, else
    ~/.cache/amplify/data. Raises DataMissingError (with the download command) if its files are absent."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    root, how = resolve_data_dir(data_dir)
    key = (name, str(root.resolve()), _signature(name, root))
    if key not in _LAST:
        ds = _read(name, root, how)
        _LAST.clear()
        _LAST[key] = ds
    ds = _LAST[key]
    return Dataset(ds.name, list(ds.train), list(ds.dev), list(ds.test), list(ds.label_names), ds.is_pair,
                   copy.deepcopy(ds.info))


def _signature(name, root):
    """(path, size, mtime) of every file the dataset could be read from; a change means read again."""
    out = []
    for rel in expected_files(name, optional=True):
        try:
            st = (root / rel).stat()
            out.append((rel, st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((rel, None, None))
    return tuple(out)


def _read(name, root, how):
    files = []  # every file read, for info

    def need(rel):
        p = root / rel
        if not p.exists():
            _missing(name, root, how)
        files.append(p)
        return p

    src = SOURCE_OF[name]
    if src == "trec":
        train_raw, test_raw = (readers.read_trec(need(f"trec/{f}")) for f in ("train_5500.label", "TREC_10.label"))
        key = (lambda q: q.coarse) if name == "trec-coarse" else (lambda q: q.fine)
        train, test, label_names, unseen = _by_label_name([(q.text, None, key(q)) for q in train_raw],
                                                          [(q.text, None, key(q)) for q in test_raw])
        train, dev, rule = _holdout(train, name)
    elif src in ("sst-2", "sst-5"):
        k, kind = (2, "binary") if src == "sst-2" else (5, "fine")
        train, dev, test = (readers.read_sst(need(f"sst/stsa.{kind}.{s}"), k) for s in ("train", "dev", "test"))
        label_names, unseen = [str(c) for c in range(k)], {}
        rule = f"official (stsa.{kind}.dev)"
    elif src == "mrpc":
        train_raw, test_raw = (readers.read_mrpc(need(f"mrpc/msr_paraphrase_{s}.txt")) for s in ("train", "test"))
        train_all = [Example(p.text1, p.quality, p.text2) for p in train_raw]
        test = [Example(p.text1, p.quality, p.text2) for p in test_raw]
        label_names, unseen = ["not_paraphrase", "paraphrase"], {}
        ids_path = root / "mrpc/mrpc_dev_ids.tsv"
        if ids_path.exists():
            files.append(ids_path)
            train, dev = _mrpc_glue_split(train_raw, train_all, ids_path)
            rule = "official GLUE dev ids (mrpc/mrpc_dev_ids.tsv); train = the other pairs of the train file"
        else:
            train, dev, rule = _holdout(train_all, name)
    elif src == "imdb":
        found = next((root / c for c in IMDB_CANDIDATES if (root / c).exists()), None)
        if found is None:
            _missing(name, root, how)
        files.append(found)
        reviews = readers.read_imdb(found)
        label_names, unseen = ["neg", "pos"], {}
        train_all, test = ([Example(r.text, label_names.index(r.label)) for r in reviews[s]] for s in ("train", "test"))
        train, dev, rule = _holdout(train_all, name)
    else:  # yelp-5
        train_all, test = (readers.read_yelp(need(f"yelp/yelp_review_full_csv/{s}.csv")) for s in ("train", "test"))
        label_names, unseen = ["1", "2", "3", "4", "5"], {}
        train, dev, rule = _holdout(train_all, name)

    ds = Dataset(name, train, dev, test, label_names, is_pair=(src == "mrpc"))
    ds.info = _info(ds, root, files, rule, unseen)
    return ds


# ---------------------------------------------------------------------------------------------------


def _missing(name, root, how):
    required = expected_files(name)
    optional = [f for f in expected_files(name, optional=True) if f not in required and name != "imdb"]
    raise DataMissingError(
        f"data/load.py: dataset {name!r} not found in {root} (chosen by {how}).\n"
        f"  expected there: {', '.join(required)}\n"
        + (f"  optional:       {', '.join(optional)}\n" if optional else "")
        + f"  to get it:      python -m data.download {name} --data-dir {root}\n"
        f"  or point --data-dir / $AMPLIFY_DATA_DIR at a folder that already has these files."
    )


def _by_label_name(train_rows, test_rows):
    """Rows (text, text_b, label_name) -> Examples with ids from train's sorted label set; see docstring."""
    label_names = sorted({y for _, _, y in train_rows})
    unseen = Counter(y for _, _, y in test_rows if y not in set(label_names))
    label_names += sorted(unseen)  # kept, after the train labels, so no test example is dropped
    ids = {y: i for i, y in enumerate(label_names)}
    make = lambda rows: [Example(t, ids[y], b) for t, b, y in rows]
    return make(train_rows), make(test_rows), label_names, dict(sorted(unseen.items()))


def _holdout(train_all, name):
    tr, dv = stratified_holdout([e.label for e in train_all], name)
    return [train_all[i] for i in tr], [train_all[i] for i in dv], HOLDOUT_RULE


def _mrpc_glue_split(train_raw, train_all, ids_path):
    where = {(p.id1, p.id2): i for i, p in enumerate(train_raw)}
    dev_idx = []
    for n, pair in enumerate(readers.read_mrpc_dev_ids(ids_path), start=1):
        if pair not in where:
            fail(ids_path, n, f"dev pair {pair[0]}\\t{pair[1]} is not in msr_paraphrase_train.txt; "
                              "is this the GLUE mrpc_dev_ids.tsv for the same corpus?")
        dev_idx.append(where[pair])
    dev_set = set(dev_idx)
    # dev keeps the id file's order (not GLUE's dev.tsv order, which follows the train file); train keeps the file order
    return [e for i, e in enumerate(train_all) if i not in dev_set], [train_all[i] for i in dev_idx]


def _info(ds, root, files, rule, unseen):
    known_all = {**IMDB_KNOWN}
    for group in SOURCES.values():
        for f in group:
            known_all.update(f.known)
    file_info = []
    for p in files:
        entry = {"path": str(p.relative_to(root)), "bytes": None, "sha256": None, "known_as": None}
        if p.is_file():
            digests = {"sha256": file_digest(p)}
            if p.name.endswith((".tar.gz", ".tgz")):
                digests["md5"] = file_digest(p, "md5")  # the official IMDB / Yelp tarballs have only an MD5
            entry.update(bytes=p.stat().st_size, sha256=digests["sha256"], known_as=known_version(known_all, digests))
        else:
            entry["known_as"] = "extracted folder (not hashed)"
        file_info.append(entry)
    return {
        "name": ds.name,
        "data_dir": str(root),
        "files": file_info,
        "dev_split": rule,
        "split_seed": SPLIT_SEED,
        "label_names": list(ds.label_names),
        "is_pair": ds.is_pair,
        "counts": {s: len(x) for s, x in ds.splits().items()},
        "label_counts": {s: _label_counts(x, ds.num_labels) for s, x in ds.splits().items()},
        "unseen_test_labels": unseen,
    }


def _label_counts(examples, num_labels):
    c = Counter(e.label for e in examples)
    return [c[i] for i in range(num_labels)]
