"""Finding the backbone's files: package, hub cache, our cache, and a clear message offline."""

import urllib.error

import pytest

from model import registry


@pytest.fixture
def no_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("AMPLIFY_BERT_DIR", raising=False)
    return tmp_path


def fake_model_dir(d):
    d.mkdir(parents=True)
    for f in registry.MODEL_FILES:
        (d / f).write_text("x")
    return d


def test_unknown_model():
    with pytest.raises(registry.ModelNotFound, match="unknown model 'bert-huge'.*minilm-l6"):
        registry.model_dir("bert-huge")


def test_bert_base_offline_message(no_caches, monkeypatch):
    def offline(*a, **k):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(registry.urllib.request, "urlopen", offline)
    with pytest.raises(registry.ModelNotFound) as err:
        registry.model_dir("bert-base-uncased")
    msg = str(err.value)
    assert str(no_caches / "xdg" / "amplify" / "models" / "bert-base-uncased") in msg
    assert "--model minilm-l6" in msg and "model.safetensors" in msg


def test_bert_base_found_in_hub_cache_and_env(no_caches, monkeypatch):
    snap = fake_model_dir(no_caches / "hub" / "models--bert-base-uncased" / "snapshots" / "abc123")
    assert registry.model_dir("bert-base-uncased") == snap
    mine = fake_model_dir(no_caches / "mine")
    monkeypatch.setenv("AMPLIFY_BERT_DIR", str(mine))
    assert registry.model_dir("bert-base-uncased") == mine
    with pytest.raises(registry.ModelNotFound, match="--weights"):
        registry.model_dir("bert-base-uncased", weights=str(no_caches / "empty"))


def test_download_resumes_a_partial_file(tmp_path, monkeypatch):
    payload = b"0123456789" * 100

    class Resp:
        def __init__(self, start):
            self.status, self.data = (206 if start else 200), payload[start:]
            self.headers = {"Content-Length": str(len(self.data))}

        def read(self, n):
            out, self.data = self.data[:n], self.data[n:]
            return out

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    def urlopen(req, timeout):
        rng = req.headers.get("Range", "bytes=0-")
        return Resp(int(rng.split("=")[1].rstrip("-")))

    monkeypatch.setattr(registry.urllib.request, "urlopen", urlopen)
    dest = tmp_path / "model.safetensors"
    (tmp_path / "model.safetensors.part").write_bytes(payload[:300])
    registry.download_file("https://example.invalid/x", dest, chunk=64)
    assert dest.read_bytes() == payload and not (tmp_path / "model.safetensors.part").exists()


def test_minilm_builds(minilm_dir):
    model, tok, info = registry.build("minilm-l6", num_labels=6, max_length=64)
    assert info["dir"] == str(minilm_dir) and model.config.num_hidden_layers == 6
    assert tok.max_length == 64
    tiny, _, _ = registry.build("tiny", num_labels=2)
    assert tiny.config.hidden_size == 32
