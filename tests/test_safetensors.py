"""model/safetensors.py against the reference `safetensors` package (test-only): the same tensors from the
real MiniLM checkpoint, byte-identical files, round trips for every dtype, one clear SafetensorsError for
each way a file can be broken, and a fuzz that breaks valid files at random."""

import gc
import json
import os
import struct

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file as ref_load_file
from safetensors.torch import save_file as ref_save_file

from model.safetensors import DTYPES, MAX_HEADER_SIZE, SafetensorsError, _read_header, load_file, save_file


def read_header(path):
    """The header as load_file parses it: (tensors, metadata, data_start)."""
    with open(path, "rb") as f:
        return _read_header(f, os.fstat(f.fileno()).st_size, path)


def raw_bytes(t):
    """A tensor's bytes (compared instead of values: NaN != NaN, and random bits make many NaNs)."""
    return bytes(t.detach().contiguous().reshape(-1).view(torch.uint8).numpy())


def assert_same(ours, ref):
    assert sorted(ours) == sorted(ref)
    for name in ref:
        a, b = ours[name], ref[name]
        assert (a.dtype, a.shape) == (b.dtype, b.shape), name
        assert raw_bytes(a) == raw_bytes(b), name


def random_tensor(dtype, shape, seed):
    """Random bits of any dtype (float8, bool and uint64 have no torch.rand): random bytes, viewed."""
    g = torch.Generator().manual_seed(seed)
    n = torch.Size(shape).numel()
    if dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=g).bool()
    bits = torch.randint(0, 256, (n * dtype.itemsize,), dtype=torch.uint8, generator=g)
    return bits.view(dtype).reshape(shape)


# every dtype, each in a plain, a 0-d and a zero-size shape
SAMPLE = {
    f"{name.lower()}.{kind}": random_tensor(dt, shape, seed=i)
    for i, (name, dt) in enumerate(DTYPES.items())
    for kind, shape in (("plain", (2, 3)), ("scalar", ()), ("empty", (3, 0, 2)))
}


def write(path, header, data=b"", n=None):
    """A hand-made file: header is a dict (JSON-encoded) or raw bytes; n overrides the length field."""
    blob = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob) if n is None else n) + blob + data)
    return path


# ------------------------------------------------------------------------------ the real checkpoint


@pytest.mark.slow
def test_minilm_matches_reference_and_is_zero_copy(minilm_dir):
    path = minilm_dir / "model.safetensors"
    ours, ref = load_file(path), ref_load_file(path)
    assert len(ours) == 104
    assert_same(ours, ref)

    header, metadata, data_start = read_header(path)
    assert metadata == {"format": "pt"}
    assert list(header) == list(ours)
    # zero-copy: the tensors sit in one mapping of the file, exactly as far apart as the header says
    a, b = sorted(header, key=lambda n: header[n]["data_offsets"])[:2]
    assert ours[b].data_ptr() - ours[a].data_ptr() == header[b]["data_offsets"][0] - header[a]["data_offsets"][0]
    assert ours[a].data_ptr() % 64 == data_start % 64  # the page-aligned map starts at file offset 0


# ------------------------------------------------------------------------------ round trips


def test_round_trip_every_dtype_through_both_readers(tmp_path):
    path = tmp_path / "all.safetensors"
    save_file(SAMPLE, path, metadata={"format": "pt", "note": "ünïcode"})
    assert_same(load_file(path), SAMPLE)
    assert_same(ref_load_file(path), SAMPLE)
    assert read_header(path)[1] == {"format": "pt", "note": "ünïcode"}


def test_reference_files_load(tmp_path):
    path = tmp_path / "ref.safetensors"
    ref_save_file(SAMPLE, path, metadata={"format": "pt"})
    assert_same(load_file(path), SAMPLE)
    assert read_header(path)[1] == {"format": "pt"}


@pytest.mark.parametrize("metadata", [None, {"format": "pt"}])
def test_files_are_byte_identical_to_the_reference(tmp_path, metadata):
    save_file(SAMPLE, tmp_path / "ours", metadata=metadata)
    ref_save_file(SAMPLE, tmp_path / "ref", metadata=metadata)
    assert (tmp_path / "ours").read_bytes() == (tmp_path / "ref").read_bytes()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.text(max_size=6).filter(lambda s: s != "__metadata__"),
        st.tuples(st.sampled_from(sorted(DTYPES)), st.lists(st.integers(0, 3), max_size=3), st.integers(0, 99)),
        max_size=5,
    )
)
def test_any_names_and_shapes_match_the_reference_bytes(tmp_path, spec):
    tensors = {name: random_tensor(DTYPES[dt], shape, seed) for name, (dt, shape, seed) in spec.items()}
    save_file(tensors, tmp_path / "ours")
    ref_save_file(tensors, tmp_path / "ref")
    assert (tmp_path / "ours").read_bytes() == (tmp_path / "ref").read_bytes()
    assert_same(load_file(tmp_path / "ours"), tensors)


def test_loaded_tensors_are_private_copy_on_write_views(tmp_path):
    path = tmp_path / "w.safetensors"
    save_file({"w": torch.arange(6.0).reshape(2, 3)}, path)
    before = path.read_bytes()
    w = load_file(path)["w"]
    w += 1  # writable without a warning, and the file must not change
    assert path.read_bytes() == before
    assert torch.equal(load_file(path)["w"], torch.arange(6.0).reshape(2, 3))
    gc.collect()  # nothing but the tensor refers to the map now: it must stay valid
    assert torch.equal(w, torch.arange(1.0, 7.0).reshape(2, 3))


def test_misaligned_tensors_load_as_aligned_copies(tmp_path):
    # other writers may pack a float right after one byte; we copy it rather than hand out a misaligned pointer
    header = {"b": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
              "f": {"dtype": "F32", "shape": [], "data_offsets": [1, 5]}}
    path = write(tmp_path / "packed", header, b"\x07" + struct.pack("<f", 2.5))
    out = load_file(path)
    assert out["b"].item() == 7 and out["f"].item() == 2.5 and out["f"].data_ptr() % 4 == 0
    assert_same(out, ref_load_file(path))


def test_save_takes_strided_conjugated_and_shared_tensors(tmp_path):
    base = torch.arange(12.0).reshape(3, 4)
    c = torch.tensor([1 + 2j, 3 - 4j], dtype=torch.complex64)
    tensors = {"t": base.T, "row": base[1], "conj": c.conj(), "neg": c.conj().imag}
    save_file(tensors, tmp_path / "s")
    out = load_file(tmp_path / "s")
    for name, t in tensors.items():
        assert torch.equal(out[name], t.resolve_conj().resolve_neg()), name


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    save_file({"a": torch.ones(3)}, path)
    old = path.read_bytes()
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)  # not mkstemp's private mode

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        save_file({"a": torch.zeros(3)}, path)
    assert path.read_bytes() == old  # the old file survives whole
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # and no temp file is left behind


def test_saving_over_a_loaded_file_leaves_its_tensors_intact(tmp_path):
    # the rename gives the new file a new inode; truncating and rewriting in place would pull the pages
    # out from under the live map (SIGBUS on the next read)
    path = tmp_path / "m.safetensors"
    save_file({"a": torch.arange(1000.0)}, path)
    a = load_file(path)["a"]
    save_file({"b": torch.zeros(1)}, path)
    assert torch.equal(a, torch.arange(1000.0))
    assert list(load_file(path)) == ["b"]


@pytest.mark.parametrize(
    "tensors, metadata, words",
    [
        ([torch.ones(1)], None, "dict"),
        ({1: torch.ones(1)}, None, "strings"),
        ({"__metadata__": torch.ones(1)}, None, "__metadata__"),
        ({"x": [1.0]}, None, "got list"),
        ({"x": torch.ones(2).to_sparse()}, None, "dense"),
        ({"x": torch.ones(2, device="meta")}, None, "dense"),
        ({"x": torch.ones(2, dtype=torch.complex128)}, None, "complex128"),
        ({"x": torch.ones(1)}, {"k": 1}, "str -> str"),
        ({"\ud800": torch.ones(1)}, None, "Unicode"),
    ],
)
def test_save_rejects_what_it_cannot_write(tmp_path, tensors, metadata, words):
    with pytest.raises(SafetensorsError, match=words) as e:
        save_file(tensors, tmp_path / "bad.safetensors", metadata=metadata)
    assert "bad.safetensors" in str(e.value)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------ broken files

F32x2 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
D8 = b"\0" * 8
BROKEN = {
    # name: (header dict or raw bytes, data, header length override, tensor named in the message, words)
    "truncated": (b"", b"", None, None, "shorter than"),
    "length past end": ({"enc.w": F32x2}, D8, 1000, None, "past the end"),
    "length 2**63": ({"enc.w": F32x2}, D8, 2**63, None, "limit"),
    "length > 100MB": ({"enc.w": F32x2}, D8, MAX_HEADER_SIZE + 1, None, "limit"),
    "not utf-8": (b'{"enc.w\xff": 1}', b"", None, None, "UTF-8"),
    "not json": (b'{"enc.w": ', b"", None, None, "not valid JSON"),
    "NaN": (b'{"enc.w": NaN}', b"", None, None, "NaN"),
    "not an object": (b"[1, 2]", b"", None, None, "JSON object"),
    "lone surrogate": (b'{"\\udc00": 1}', b"", None, None, "Unicode"),
    "entry not an object": ({"enc.w": [1]}, b"", None, "enc.w", "must be an object"),
    "missing key": ({"enc.w": {"dtype": "F32", "shape": [2]}}, D8, None, "enc.w", "missing data_offsets"),
    "unknown dtype": ({"enc.w": {**F32x2, "dtype": "F33"}}, D8, None, "enc.w", "'F33' is not a known"),
    "dtype not a string": ({"enc.w": {**F32x2, "dtype": ["F32"]}}, D8, None, "enc.w", "not a known"),
    "negative dim": ({"enc.w": {**F32x2, "shape": [-2]}}, D8, None, "enc.w", "non-negative"),
    "bool dim": ({"enc.w": {**F32x2, "shape": [True, 2]}}, D8, None, "enc.w", "non-negative"),
    "shape not a list": ({"enc.w": {**F32x2, "shape": 2}}, D8, None, "enc.w", "shape must be"),
    "three offsets": ({"enc.w": {**F32x2, "data_offsets": [0, 8, 8]}}, D8, None, "enc.w", "two non-negative"),
    "begin > end": ({"enc.w": {**F32x2, "data_offsets": [8, 0]}}, D8, None, "enc.w", "end before"),
    "out of bounds": ({"enc.w": {**F32x2, "data_offsets": [0, 16]}}, D8, None, "enc.w", "out of bounds"),
    "size != shape": ({"enc.w": {**F32x2, "shape": [3]}}, D8, None, "enc.w", "needs 12 bytes"),
    "huge shape": ({"enc.w": {**F32x2, "shape": [2**62] * 1000}}, D8, None, "enc.w", r"more than 2\*\*64"),
    "duplicate name": (b'{"enc.w": %s, "enc.w": %s}' % (json.dumps(F32x2).encode(), json.dumps(F32x2).encode()),
                       D8, None, "enc.w", "twice"),
    "overlap": ({"a": F32x2, "enc.w": {**F32x2, "data_offsets": [4, 12]}}, b"\0" * 12, None, "enc.w", "overlaps"),
    "gap": ({"a": F32x2, "enc.w": {**F32x2, "data_offsets": [12, 20]}}, b"\0" * 20, None, "enc.w", "no tensor"),
    "gap at start": ({"enc.w": {**F32x2, "data_offsets": [4, 12]}}, b"\0" * 12, None, "enc.w", "at the start"),
    "trailing bytes": ({"enc.w": F32x2}, b"\0" * 9, None, None, "1 trailing"),
    "bad metadata": ({"__metadata__": {"k": 1}, "enc.w": F32x2}, D8, None, None, "__metadata__"),
    "zero-size shape torch refuses": ({"enc.w": {"dtype": "F32", "shape": [2**62] * 3 + [0],
                                                 "data_offsets": [0, 0]}}, b"", None, "enc.w", "torch cannot"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_files_raise_one_clear_error(tmp_path, case):
    header, data, n, tensor, words = BROKEN[case]
    path = tmp_path / "broken.safetensors"
    if case == "truncated":
        path.write_bytes(b"\x10\0\0")
    else:
        write(path, header, data, n)
    with pytest.raises(SafetensorsError, match=words) as e:
        load_file(path)
    message = str(e.value)
    assert str(path) in message
    if tensor is not None:
        assert repr(tensor) in message
    if case != "zero-size shape torch refuses":  # that one is only found when the tensor is built
        with pytest.raises(SafetensorsError):
            read_header(path)


def test_duplicates_the_reference_would_silently_drop_are_refused(tmp_path):
    # serde, like Python's json, keeps the last of two equal keys: the reference loads this file happily
    path = write(tmp_path / "dup", b'{"a": %s, "a": %s}' % ((json.dumps(F32x2).encode(),) * 2), D8)
    assert list(ref_load_file(path)) == ["a"]
    with pytest.raises(SafetensorsError, match="twice"):
        load_file(path)


# ------------------------------------------------------------------------------ fuzz


@pytest.fixture(scope="module")
def valid_file(tmp_path_factory):
    """A small valid file to break: several dtypes, a 0-d and a zero-size tensor, metadata."""
    path = tmp_path_factory.mktemp("fuzz") / "valid.safetensors"
    tensors = {
        "w": torch.arange(6.0).reshape(2, 3),
        "ids": torch.tensor([3, -1]),
        "h": torch.tensor(1.5, dtype=torch.bfloat16),
        "mask": torch.tensor([True, False, True]),
        "none": torch.zeros(0, 4, dtype=torch.uint8),
    }
    save_file(tensors, path, metadata={"format": "pt"})
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return raw, json.loads(raw[8 : 8 + n]), n


# any JSON value, and values that are almost right (the interesting ones for a validator)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.integers(0, 40) | st.floats(allow_nan=False)
    | st.text(max_size=4) | st.sampled_from(["F32", "I64", "BF16", "BOOL", "U8", "F4"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)
NEAR = {
    "dtype": st.sampled_from(sorted(DTYPES)),
    "shape": st.lists(st.integers(0, 8), max_size=3),
    "data_offsets": st.lists(st.integers(0, 64), min_size=2, max_size=2),
}


def mutate(draw, raw, header, n):
    how = draw(st.sampled_from(["bytes", "truncate", "length", "json", "append"]))
    if how == "bytes":  # overwrite a few bytes anywhere (the header is most of this small file)
        b = bytearray(raw)
        for _ in range(draw(st.integers(1, 6))):
            b[draw(st.integers(0, len(b) - 1))] = draw(st.integers(0, 255))
        return bytes(b)
    if how == "truncate":
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if how == "length":
        new_n = draw(st.integers(max(0, n - 16), n + 16) | st.integers(0, 2**64 - 1))
        return struct.pack("<Q", new_n) + raw[8:]
    if how == "append":
        return raw + draw(st.binary(min_size=1, max_size=16))
    header = json.loads(json.dumps(header))  # a deep copy to edit
    name = draw(st.sampled_from(sorted(header)))
    field = draw(st.sampled_from(["dtype", "shape", "data_offsets", "the entry", "drop"]))
    if field == "the entry":
        header[name] = draw(JSONISH)
    elif field == "drop":
        del header[name]
    elif isinstance(header[name], dict):
        header[name][field] = draw(NEAR.get(field, st.nothing()) | JSONISH) if name != "__metadata__" else 1
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    return struct.pack("<Q", len(blob)) + blob + raw[8 + n :]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_broken_files_load_or_raise_safetensors_error(valid_file, tmp_path, data):
    raw = mutate(data.draw, *valid_file)
    # a fresh name each time: overwriting a file that a live map still points at would be its own bug
    path = tmp_path / f"{len(list(tmp_path.iterdir()))}.safetensors"
    path.write_bytes(raw)
    try:
        ours = load_file(path)
    except SafetensorsError as e:
        assert str(path) in str(e)
        return
    # what we accept, the reference accepts too, with the same tensors (we touch every byte doing so)
    assert_same(ours, ref_load_file(path))
