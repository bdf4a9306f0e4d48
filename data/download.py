"""
python -m data.download NAME [NAME ...] [--data-dir DIR] [--force]

Fetches a dataset's files from their official URLs (data/sources.py) into the data directory
(--data-dir, else $AMPLIFY_DATA_DIR, else ~/.cache/amplify/data), in the layout load_dataset expects.

  - https only; each file streams into a temporary file next to its destination, is hashed on the way,
    checked against the published sha256 (or MD5 where that is all anyone publishes: IMDB, Yelp), and
    only then os.replace()d into place, so an interrupted or wrong download never looks like data.
    No resume: an interrupted download starts over.
  - A mirror with no published checksum (Yelp's fast.ai copy) is used only after the ones with one
    failed, and the sha256 we got is printed so that you can record it.
  - Archives that must be unpacked (Yelp) are checked member by member before anything is written:
    absolute paths, `..` components, links whose target lands outside the folder, devices and fifos are
    refused. Unpacking happens in a temporary folder that is then moved into place.
  - IMDB is not unpacked at all: data/readers.py reads the reviews straight out of the tarball.
  - Files already present with a known checksum are not fetched again; a file present with an unknown
    checksum is left alone unless --force.
  - Offline, or a URL gone: one message naming the dataset, the URLs tried, where the file should go,
    and its checksum, so that it can be fetched by other means. No traceback.
"""

import argparse
import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from urllib.request import Request, urlopen

from tqdm import tqdm

from data.common import DATA_DIR_HELP, ArgumentParser, file_digest, resolve_data_dir
from data.sources import DATASETS, IMDB_CANDIDATES, SOURCE_OF, SOURCES, known_version

USER_AGENT = "amplify-bench-data/0.1 (+https://peerj.com/articles/cs-2011/)"


class DownloadError(RuntimeError):
    """A download or an unpacking failed; the message says what to do instead."""


def download(name, data_dir=None, force=False, log=print):
    """Fetch (and unpack) the files of dataset `name`. Returns the data directory."""
    if name not in DATASETS:
        raise DownloadError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    root, _ = resolve_data_dir(data_dir)
    group = SOURCE_OF[name]
    if group == "imdb":
        have = [c for c in IMDB_CANDIDATES if (root / c).exists()]
        if have and not force:
            log(f"{name}: already have {root / have[0]}")
            return root
    for sf in SOURCES[group]:
        dest = root / sf.path
        if sf.extract and not force and all((root / p).exists() for p in sf.provides):
            log(f"{name}: already have {', '.join(sf.provides)} in {root}")
            continue
        if dest.exists() and not force:
            version = known_version(sf.known, _digests(dest))
            if version is None:
                raise DownloadError(f"{name}: {dest} exists but its checksum matches no known version; "
                                    "move it away, or rerun with --force to replace it")
            log(f"{name}: already have {dest} ({version})")
        else:
            _fetch_any(name, sf, dest, log)
        if sf.extract:
            log(f"{name}: unpacking {dest.name} into {dest.parent}")
            safe_extract(dest, dest.parent)
    return root


def _digests(path):
    return {"sha256": file_digest(path), "md5": file_digest(path, "md5")}


def _fetch_any(name, sf, dest, log):
    """Try each mirror in turn; all failing is one DownloadError that says how to get the file by hand."""
    tried = []
    for remote in sf.remotes:
        try:
            digests = fetch(remote.url, dest, remote.sha256, remote.md5)
        except DownloadError as e:
            tried.append(f"    {remote.url}\n      -> {e}")
            continue
        if remote.sha256 is None and remote.md5 is None:
            log(f"{name}: WARNING {remote.url} publishes no checksum; got sha256 {digests['sha256']}")
        log(f"{name}: saved {dest}")
        return
    expected = sf.remotes[0].sha256 and f"sha256 {sf.remotes[0].sha256}" or f"md5 {sf.remotes[0].md5}"
    raise DownloadError(
        f"could not download dataset {name!r} file {sf.path}. Tried:\n" + "\n".join(tried) + "\n"
        f"  Are you offline? Fetch it by other means, put it at {dest} ({expected}), and rerun."
    )


def fetch(url, dest, sha256=None, md5=None, timeout=60):
    """Download url to dest atomically, checking the given checksums. Returns {"sha256", "md5"}."""
    if not url.startswith("https://"):
        raise DownloadError(f"refusing a non-https URL: {url}")
    dest = Path(dest)
    created = [d for d in (dest.parent, *dest.parent.parents) if not d.exists()]  # deepest first
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name + ".", suffix=".part")
    h256, h5 = hashlib.sha256(), hashlib.md5()
    saved = False
    try:
        with os.fdopen(fd, "wb") as out:
            with urlopen(Request(url, headers={"User-Agent": USER_AGENT}), timeout=timeout) as resp:
                kind = resp.headers.get("Content-Type", "") if resp.headers else ""
                if kind.startswith("text/html") and not dest.name.endswith((".html", ".htm")):
                    raise DownloadError("the server sent a web page instead of the file (a quota or "
                                        "confirmation page?)")
                total = int(resp.headers.get("Content-Length") or 0) if resp.headers else 0
                with tqdm(total=total or None, unit="B", unit_scale=True, desc=dest.name, disable=None) as bar:
                    while block := resp.read(1 << 20):
                        out.write(block)
                        h256.update(block)
                        h5.update(block)
                        bar.update(len(block))
            out.flush()
            os.fsync(out.fileno())
        got = {"sha256": h256.hexdigest(), "md5": h5.hexdigest()}
        for algo, want in (("sha256", sha256), ("md5", md5)):
            if want is not None and got[algo] != want:
                raise DownloadError(f"{algo} mismatch: expected {want}, got {got[algo]} (file not saved)")
        os.replace(tmp, dest)
        saved = True
        return got
    except (OSError, http.client.HTTPException, ValueError) as e:  # URLError, HTTPError, timeouts are OSError
        raise DownloadError(f"{type(e).__name__}: {getattr(e, 'reason', None) or e}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
        if not saved:  # a failed download leaves no empty folders behind (the ones it made, if still empty)
            for d in created:
                try:
                    d.rmdir()
                except OSError:
                    break


# ---------------------------------------------------------------------------------------------------


def check_members(tf, target):
    """The members of an open tarfile, after refusing anything that could write outside `target`."""
    target = Path(os.path.realpath(target))
    members = tf.getmembers()
    for m in members:
        p = PurePosixPath(m.name)
        if p.is_absolute() or m.name.startswith(("/", "\\")) or (len(m.name) > 1 and m.name[1] == ":"):
            raise DownloadError(f"unsafe archive: member {m.name!r} has an absolute path")
        if ".." in p.parts or "\\" in m.name:
            raise DownloadError(f"unsafe archive: member {m.name!r} climbs out with '..' or uses backslashes")
        if not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
            raise DownloadError(f"unsafe archive: member {m.name!r} is a device or fifo")
        if not _inside(target, target / p):
            raise DownloadError(f"unsafe archive: member {m.name!r} lands outside {target}")
        if m.issym() or m.islnk():
            link = PurePosixPath(m.linkname)
            if link.is_absolute():
                raise DownloadError(f"unsafe archive: link {m.name!r} points to the absolute path {m.linkname!r}")
            # a symlink is relative to its own folder, a hard link to the archive's root
            where = (target / p.parent / link) if m.issym() else (target / link)
            if not _inside(target, where):
                raise DownloadError(f"unsafe archive: link {m.name!r} -> {m.linkname!r} points outside {target}")
    return members


def _inside(root, path):
    resolved = Path(os.path.normpath(os.path.join(root, path)))
    return resolved == root or root in resolved.parents


def safe_extract(archive, target):
    """Unpack a .tar.gz into `target` (checked first, see check_members; staged in a temporary folder)."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=target, prefix=".unpack-"))
    try:
        with tarfile.open(archive, "r:*") as tf:
            members = check_members(tf, stage)
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 / 3.10.12: the stdlib's own guard too
                tf.extractall(stage, members=members, filter="data")
            else:  # pragma: no cover - older Pythons; check_members above is the guard
                tf.extractall(stage, members=members)
        for top in stage.iterdir():
            final = target / top.name
            if final.is_dir() and not final.is_symlink():
                shutil.rmtree(final)
            elif final.exists() or final.is_symlink():
                final.unlink()
            os.replace(top, final)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DownloadError(f"could not unpack {archive}: {type(e).__name__}: {e}") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def main(argv=None):
    ap = ArgumentParser(prog="python -m data.download", description=__doc__.split("\n\n")[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="+", metavar="NAME", choices=(*DATASETS, "all"),
                    help=f"dataset(s) to fetch: {', '.join(DATASETS)}, or all")
    ap.add_argument("--data-dir", default=None, help=f"where to put them; {DATA_DIR_HELP}")
    ap.add_argument("--force", action="store_true", help="download again even if the files are there")
    args = ap.parse_args(argv)
    root = resolve_data_dir(args.data_dir)[0]
    if root.exists() and not root.is_dir():
        ap.exit(2, f"{ap.prog}: error: --data-dir {root} is a file; give a folder for the datasets\n")
    names = DATASETS if "all" in args.names else args.names
    failed = 0
    for name in names:
        try:
            download(name, args.data_dir, force=args.force)
        except (DownloadError, OSError) as e:
            print(f"error: {name}: {e}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    from data.common import entry

    entry(main)
