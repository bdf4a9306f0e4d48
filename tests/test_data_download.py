"""data.download without a network (urlopen is replaced), safe unpacking against malicious archives the
tests write, and the two command lines (download, stats)."""

import hashlib
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from urllib.error import URLError

import pytest

from data import download as dl
from data import load_dataset, stats
from data.download import DownloadError, safe_extract
from data.sources import CC

REPO = Path(__file__).resolve().parents[1]


class FakeResponse(io.BytesIO):
    def __init__(self, data, content_type="application/octet-stream"):
        super().__init__(data)
        self.headers = {"Content-Type": content_type, "Content-Length": str(len(data))}


def serve(monkeypatch, files):
    """Replace urlopen: URL -> bytes (or an exception) from `files`; records the URLs asked for."""
    asked = []

    def fake_urlopen(request, timeout=None):
        url = request.full_url
        asked.append(url)
        got = files.get(url, URLError("[Errno -3] Temporary failure in name resolution"))
        if isinstance(got, Exception):
            raise got
        return FakeResponse(*got) if isinstance(got, tuple) else FakeResponse(got)

    monkeypatch.setattr(dl, "urlopen", fake_urlopen)
    return asked


def leftovers(root):
    return [p for p in Path(root).rglob("*") if p.name.endswith((".part", ".tmp")) or p.name.startswith(".unpack-")]


def test_offline_gives_one_clear_message(tmp_path, monkeypatch, capsys):
    serve(monkeypatch, {})
    assert dl.main(["trec-coarse", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "'trec-coarse'" in err and "trec/train_5500.label" in err and "offline" in err
    assert "https://cogcomp.seas.upenn.edu/Data/QA/QC/train_5500.label" in err and "URLError" in err
    assert str(tmp_path / "trec" / "train_5500.label") in err and "9e4c8bdc" in err
    assert "Traceback" not in err
    assert not (tmp_path / "trec" / "train_5500.label").exists() and not leftovers(tmp_path)
    assert not (tmp_path / "trec").exists()  # no empty folder left behind


def test_offline_into_a_new_data_dir_leaves_nothing(tmp_path, monkeypatch, capsys):
    serve(monkeypatch, {})
    root = tmp_path / "new" / "data"
    assert dl.main(["sst-2", "--data-dir", str(root)]) == 1
    assert "offline" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_download_verifies_and_then_skips(tmp_path, monkeypatch, data_dir, capsys):
    files = {CC + f: (data_dir / "trec" / f).read_bytes() for f in ("train_5500.label", "TREC_10.label")}
    asked = serve(monkeypatch, files)
    assert dl.main(["trec-fine", "--data-dir", str(tmp_path)]) == 0
    assert len(asked) == 2 and not leftovers(tmp_path)
    assert load_dataset("trec-fine", tmp_path).info["counts"]["test"] == 500
    assert dl.main(["trec-coarse", "--data-dir", str(tmp_path)]) == 0
    assert len(asked) == 2 and "already have" in capsys.readouterr().out  # nothing fetched again


def test_checksum_mismatch_saves_nothing(tmp_path, monkeypatch, capsys):
    serve(monkeypatch, {CC + "train_5500.label": b"DESC:def tampered ?\n"})
    assert dl.main(["trec-coarse", "--data-dir", str(tmp_path)]) == 1
    assert "sha256 mismatch" in capsys.readouterr().err
    assert not (tmp_path / "trec" / "train_5500.label").exists() and not leftovers(tmp_path)


def test_web_page_instead_of_file_is_refused(tmp_path, monkeypatch):
    serve(monkeypatch, {CC + "train_5500.label": (b"<html>quota</html>", "text/html; charset=utf-8")})
    with pytest.raises(DownloadError, match="web page instead of the file"):
        dl.download("trec-coarse", tmp_path)


def test_unknown_existing_file_is_left_alone(tmp_path, monkeypatch):
    serve(monkeypatch, {})
    (tmp_path / "trec").mkdir()
    (tmp_path / "trec" / "train_5500.label").write_text("DESC:def mine ?\n")
    with pytest.raises(DownloadError, match="matches no known version.*--force"):
        dl.download("trec-coarse", tmp_path)
    assert (tmp_path / "trec" / "train_5500.label").read_text() == "DESC:def mine ?\n"


def test_http_only_urls_are_refused(tmp_path):
    with pytest.raises(DownloadError, match="non-https"):
        dl.fetch("http://example.org/x", tmp_path / "x")


def make_tgz(members):
    """members: list of (TarInfo fields dict, data bytes or None)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for fields, data in members:
            info = tarfile.TarInfo(fields.pop("name"))
            for k, v in fields.items():
                setattr(info, k, v)
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def test_yelp_download_falls_back_to_the_mirror_and_unpacks(tmp_path, monkeypatch, capsys):
    train = "".join(f'"{1 + i % 5}","review {i} ""quoted""\\nnext"\n' for i in range(50)).encode()
    tgz = make_tgz([({"name": "yelp_review_full_csv/train.csv"}, train),
                    ({"name": "yelp_review_full_csv/test.csv"}, b'"3","ok"\n'),
                    ({"name": "yelp_review_full_csv/readme.txt"}, b"readme")])
    drive, fastai = (r.url for r in dl.SOURCES["yelp-5"][0].remotes)
    serve(monkeypatch, {drive: tgz, fastai: tgz})  # Drive's MD5 will not match this toy archive
    assert dl.main(["yelp-5", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "publishes no checksum; got sha256 " + hashlib.sha256(tgz).hexdigest() in out
    ds = load_dataset("yelp-5", tmp_path)
    assert (len(ds.train) + len(ds.dev), len(ds.test)) == (50, 1)
    assert not leftovers(tmp_path)


@pytest.mark.parametrize("member, complaint", [
    ({"name": "/tmp/evil.txt"}, "absolute path"),
    ({"name": "ok/../../evil.txt"}, "'..'"),
    ({"name": "link", "type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, "absolute path"),
    ({"name": "a/link", "type": tarfile.SYMTYPE, "linkname": "../../outside"}, "points outside"),
    ({"name": "hard", "type": tarfile.LNKTYPE, "linkname": "../outside"}, "points outside"),
    ({"name": "dev", "type": tarfile.CHRTYPE}, "device or fifo"),
    ({"name": "fifo", "type": tarfile.FIFOTYPE}, "device or fifo"),
])
def test_safe_extract_refuses_malicious_archives(tmp_path, member, complaint):
    data = b"x" if member.get("type", tarfile.REGTYPE) == tarfile.REGTYPE else None
    archive = tmp_path / "evil.tgz"
    archive.write_bytes(make_tgz([({"name": "fine.txt"}, b"fine"), (member, data)]))
    target = tmp_path / "target"
    with pytest.raises(DownloadError, match="unsafe archive.*" + complaint.replace("(", r"\(")):
        safe_extract(archive, target)
    assert list(target.iterdir()) == []  # checked before anything is written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.tgz", "target"]


def test_safe_extract_accepts_links_inside(tmp_path):
    archive = tmp_path / "good.tgz"
    archive.write_bytes(make_tgz([({"name": "d/a.txt"}, b"A"),
                                  ({"name": "d/sub/link", "type": tarfile.SYMTYPE, "linkname": "../a.txt"}, None)]))
    safe_extract(archive, tmp_path / "t")
    assert (tmp_path / "t/d/sub/link").read_text() == "A"
    assert [p.name for p in (tmp_path / "t").iterdir()] == ["d"]


def test_download_help_runs_as_a_module():
    r = subprocess.run([sys.executable, "-m", "data.download", "--help"], cwd=REPO, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert r.returncode == 0 and "NAME" in r.stdout and "yelp-5" in r.stdout


def test_stats_help(capsys):
    with pytest.raises(SystemExit) as e:
        stats.main(["--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and "--model-dir" in out
    assert "trunc@256     share of examples" in out  # the description is whole, not cut mid-sentence


def test_stats_table(data_dir, minilm_dir, tmp_path, capsys):
    rc = stats.main(["--data-dir", str(data_dir), "--datasets", "trec-coarse", "mrpc", "yelp-5",
                     "--model-dir", str(minilm_dir), "--cache-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 1  # yelp-5 was asked for and is missing
    assert "python -m data.download yelp-5" in err
    rows = [line.split("|")[1:-1] for line in out.splitlines()[2:]]
    cells = {(r[0].strip(), r[1].strip()): [c.strip() for c in r[2:]] for r in rows}
    assert cells[("trec-coarse", "test")][:2] == ["500", "6/6"]
    assert cells[("mrpc", "train")][:2] == ["3668", "2/2"] and cells[("mrpc", "train")][-1] == "0.0%"
    counts = load_dataset("trec-coarse", data_dir).info["label_counts"]["train"]
    assert cells[("trec-coarse", "train")][2] == f"{max(counts) / min(counts):.2f}"
