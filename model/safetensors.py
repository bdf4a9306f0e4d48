"""
The safetensors checkpoint format, read and written by hand: zero-copy loading and atomic saving.

A .safetensors file is three parts, back to back:

    [ 8 bytes ][ N bytes of JSON header ][ data buffer .................................... ]
      N as a     {"__metadata__": {"format": "pt"},            <- optional, str -> str only
      little-     "bias":   {"dtype": "F32", "shape": [2],    "data_offsets": [0, 8]},
      endian      "weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [8, 24]}}
      u64

Offsets count bytes from the start of the data buffer (byte 8 + N of the file), each tensor's bytes are
its values in row-major (C) order, little-endian. That is the whole format: no pickle, so loading a file
can never run code, and because the layout is this plain, a reader can map the file into memory and hand
out tensors that *are* the file's bytes -- no copy, no parse, only the pages you touch are ever read.

The reference implementation (github.com/huggingface/safetensors, Rust) refuses any file whose header
does not describe its data exactly. We apply the same rules (`_check_tensor`, `_check_layout`):
  - the header length is at most 100 MB and fits inside the file; the header is UTF-8 JSON, an object;
  - each entry has a known dtype, a shape of non-negative ints and two int data_offsets [begin, end];
  - end - begin == prod(shape) * itemsize;
  - sorted by begin, the tensors tile the data buffer: the first starts at 0, each starts where the
    previous ended (no gaps, no overlap) and the last ends exactly at the end of the file.
On top of the reference we refuse duplicate names (Python's json, like serde, would silently keep the last).
Every violation raises SafetensorsError, naming the file and the tensor.

tests/test_safetensors.py proves this equal to `safetensors.torch` (same tensors from the real MiniLM
checkpoint, byte-identical files from save_file) and fuzzes it with broken files.
bench/load_speed.py times it against the reference.
"""

import contextlib
import json
import mmap
import os
import struct
import sys
import tempfile
from pathlib import Path

import torch

if sys.byteorder != "little":  # the format is little-endian; we map bytes straight into tensors
    raise ImportError("model.safetensors supports little-endian machines only")

MAX_HEADER_SIZE = 100_000_000  # the reference's limit: a bigger header is a broken or hostile file


class SafetensorsError(ValueError):
    """A file (or a dict handed to save_file) that breaks the format. The message names the file."""


# Format dtype name -> torch dtype, in the reference's own order (smallest element first). save_file lays
# tensors out in the reverse of this order, so the data of every tensor starts at a multiple of its
# element size (the header is padded to a multiple of 8) and loads without a copy. Newer float8 kinds
# exist only in newer torch builds, hence getattr. F4/F6 (sub-byte floats) have no torch dtype to map to.
_NAMES = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ",
          "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64"]
_TORCH = ["bool", "uint8", "int8", "float8_e5m2", "float8_e4m3fn", "float8_e8m0fnu", "float8_e4m3fnuz",
          "float8_e5m2fnuz", "int16", "uint16", "float16", "bfloat16", "int32", "uint32", "float32",
          "complex64", "float64", "int64", "uint64"]
DTYPES = {n: getattr(torch, t) for n, t in zip(_NAMES, _TORCH, strict=True) if hasattr(torch, t)}
_DTYPE_NAME = {dt: n for n, dt in DTYPES.items()}
_RANK = {n: i for i, n in enumerate(_NAMES)}
_TORCH_MAX_DIM = 2**63 - 1  # torch sizes are int64


# ------------------------------------------------------------------------------------------- reading


def load_file(path, device="cpu"):
    """All tensors of a .safetensors file as {name: tensor}.

    On CPU the tensors are views of one copy-on-write memory map of the file: loading costs only the
    header parse, pages are read from disk when first touched, and writing into a tensor changes this
    process's copy only, never the file. The map is closed when the last tensor that uses it is freed.
    For another device each tensor is copied there (and the map freed)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        tensors, _, data_start = _read_header(f, size, path)
        # Why ACCESS_COPY (MAP_PRIVATE) and not ACCESS_READ: torch tensors are writable, and frombuffer on
        # a read-only buffer warns that writing would be undefined behaviour. A private map is still lazy
        # and shares the page cache; only pages written to get copied. (The map holds its own file handle.)
        # torch.UntypedStorage.from_file(shared=False) is the other zero-copy route and measured the same,
        # but it hands out tensors via set_(), which can't express a misaligned start.
        try:
            mm = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY)
        except ValueError as e:  # e.g. "mmap length is greater than file size"
            raise SafetensorsError(f"{path}: the file changed while it was being opened ({e}); retry") from e
    out = {name: _tensor(mm, data_start, name, info, path) for name, info in tensors.items()}
    if str(device) != "cpu":
        out = {name: t.to(device) for name, t in out.items()}
    return out


def _tensor(mm, data_start, name, info, path):
    """One tensor over the mapped file. frombuffer keeps a reference to `mm`, which keeps the map alive."""
    dtype, shape = DTYPES[info["dtype"]], info["shape"]
    begin, end = info["data_offsets"]
    offset = data_start + begin
    try:
        if end == begin:  # frombuffer refuses empty buffers; an empty tensor needs no data anyway
            return torch.empty(shape, dtype=dtype)
        if offset % dtype.itemsize == 0:
            count = (end - begin) // dtype.itemsize
            return torch.frombuffer(mm, dtype=dtype, count=count, offset=offset).view(shape)
        # Misaligned (other writers may pack tensors tightly): torch kernels may assume aligned data, so we
        # pay for one copy into fresh, aligned memory instead of risking it. Our save_file never does this.
        raw = torch.frombuffer(mm, dtype=torch.uint8, count=end - begin, offset=offset)
        return raw.clone().view(dtype).view(shape)
    except RuntimeError as e:  # e.g. a zero-size shape whose strides overflow int64
        raise SafetensorsError(f"{path}: tensor {_short(name)}: torch cannot build shape {_short(shape)}: {e}") from e


def _read_header(f, file_size, path):
    head = f.read(8)
    if len(head) < 8:
        raise SafetensorsError(f"{path}: file is {len(head)} bytes, shorter than the 8-byte header length; "
                               "it is truncated or not a safetensors file")
    (n,) = struct.unpack("<Q", head)
    if n > MAX_HEADER_SIZE:
        raise SafetensorsError(f"{path}: header length {n} is over the {MAX_HEADER_SIZE}-byte limit; "
                               "this is not a safetensors file, or its first 8 bytes are corrupt")
    if 8 + n > file_size:
        raise SafetensorsError(f"{path}: header length {n} runs past the end of the {file_size}-byte file; "
                               "the file is truncated")
    raw = f.read(n)
    if len(raw) != n:
        raise SafetensorsError(f"{path}: the file shrank while being read; retry")
    header = _parse_json(raw, path)
    metadata = _check_metadata(header.pop("__metadata__", None), path)
    tensors = {name: _check_tensor(name, entry, file_size - 8 - n, path) for name, entry in header.items()}
    _check_layout(tensors, file_size - 8 - n, path)
    return tensors, metadata, 8 + n


def _parse_json(raw, path):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SafetensorsError(f"{path}: header is not valid UTF-8 ({e})") from e

    def no_duplicates(pairs):  # json keeps the last of two equal keys without a word; we refuse
        seen = {}
        for key, value in pairs:
            if key in seen:
                raise SafetensorsError(f"{path}: header has the name {_short(key)} twice")
            for s in (key, value):  # "\ud800" is valid JSON but not valid Unicode: the reference refuses it
                if isinstance(s, str) and not s.isascii():
                    try:
                        s.encode("utf-8")
                    except UnicodeEncodeError as e:
                        raise SafetensorsError(f"{path}: header string {_short(s)} is not valid Unicode") from e
            seen[key] = value
        return seen

    def no_constant(name):  # Python's json accepts NaN/Infinity, which are not JSON
        raise SafetensorsError(f"{path}: header contains {name}, which is not valid JSON")

    try:
        header = json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constant)
    except SafetensorsError:
        raise
    except (ValueError, RecursionError) as e:  # JSONDecodeError, an int of >4300 digits, deep nesting
        raise SafetensorsError(f"{path}: header is not valid JSON: {_short(str(e))}") from e
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header must be a JSON object, got {type(header).__name__}")
    return header


def _check_metadata(meta, path):
    if meta is None:  # absent, or null as some writers put it
        return None
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise SafetensorsError(f"{path}: __metadata__ must be an object of string -> string, got {_short(meta)}")
    return meta


def _check_tensor(name, entry, data_len, path):
    """Validate one header entry on its own; returns a clean copy (the reference ignores extra keys: so do we)."""
    where = f"{path}: tensor {_short(name)}"
    if not isinstance(entry, dict):
        raise SafetensorsError(f"{where}: entry must be an object with dtype, shape, data_offsets, "
                               f"got {_short(entry)}")
    missing = [k for k in ("dtype", "shape", "data_offsets") if k not in entry]
    if missing:
        raise SafetensorsError(f"{where}: entry is missing {', '.join(missing)}")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        sub_byte = dtype in ("F4", "F6_E2M3", "F6_E3M2")  # valid in the format, but no torch dtype to map to
        why = "a safetensors dtype this reader does not support" if sub_byte else "not a known dtype"
        raise SafetensorsError(f"{where}: dtype {_short(dtype)} is {why}; expected one of {', '.join(DTYPES)}")
    # `type(x) is int`, not isinstance: JSON true/false arrive as Python bools, which are ints too
    if not isinstance(shape, list) or not all(type(d) is int and 0 <= d <= _TORCH_MAX_DIM for d in shape):
        raise SafetensorsError(f"{where}: shape must be a list of non-negative integers below 2**63, "
                               f"got {_short(shape)}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int and o >= 0 for o in offsets)):
        raise SafetensorsError(f"{where}: data_offsets must be [begin, end], two non-negative integers, "
                               f"got {_short(offsets)}")
    begin, end = offsets
    if begin > end:
        raise SafetensorsError(f"{where}: data_offsets [{begin}, {end}] end before they begin")
    if end > data_len:
        raise SafetensorsError(f"{where}: data_offsets [{begin}, {end}] are out of bounds: the data buffer "
                               f"has {data_len} bytes (is the file truncated?)")
    need = _nbytes(shape, DTYPES[dtype].itemsize)
    if need != end - begin:
        need = "more than 2**64" if need is None else need
        raise SafetensorsError(f"{where}: shape {_short(shape)} of {dtype} needs {need} bytes, but "
                               f"data_offsets [{begin}, {end}] hold {end - begin}")
    return {"dtype": dtype, "shape": list(shape), "data_offsets": [begin, end]}


def _nbytes(shape, itemsize, limit=2**64):
    """prod(shape) * itemsize, or None once it passes `limit` (where the reference's u64 overflows).
    Python ints never overflow, but a hostile header could make them enormous and slow to multiply:
    since every dim is >= 1 after the zero check, the running product only grows, so we stop early."""
    if 0 in shape:
        return 0
    n = itemsize
    for d in shape:
        n *= d
        if n > limit:
            return None
    return n


def _check_layout(tensors, data_len, path):
    """Sorted by where they begin, the tensors must tile the data buffer exactly."""
    pos, prev = 0, None
    for name, info in sorted(tensors.items(), key=lambda kv: (*kv[1]["data_offsets"], kv[0])):
        begin, end = info["data_offsets"]
        if begin < pos:
            raise SafetensorsError(f"{path}: tensor {_short(name)} at data_offsets [{begin}, {end}] overlaps "
                                   f"tensor {_short(prev)}, which ends at {pos}")
        if begin > pos:
            after = f"after tensor {_short(prev)}" if prev is not None else "at the start of the data"
            raise SafetensorsError(f"{path}: tensor {_short(name)} begins at {begin}: {begin - pos} bytes "
                                   f"{after} belong to no tensor")
        pos, prev = end, name
    if pos != data_len:
        raise SafetensorsError(f"{path}: the tensors cover {pos} bytes of data but the file holds {data_len}: "
                               f"{data_len - pos} trailing bytes belong to no tensor")


def _short(x, limit=80):
    """repr, cut short: a hostile header can hold a megabyte-long name or shape."""
    r = repr(x)
    return r if len(r) <= limit else r[: limit - 3] + "..."


# ------------------------------------------------------------------------------------------- writing


def save_file(tensors, path, metadata=None):
    """Write {name: tensor} (and optional {str: str} metadata) to `path` as a .safetensors file.

    Byte-identical to safetensors.torch.save_file (for at most one metadata key; the reference writes
    metadata in hash order, we sort it): data laid out largest dtype first, then by name, so every tensor
    is aligned; header compact JSON padded with spaces to a multiple of 8. Unlike the reference we accept
    non-contiguous tensors and tensors that share memory: each is written as its own contiguous copy.

    Atomic: we write a temporary file next to `path`, fsync it and rename it over `path`, so a crash or a
    full disk leaves either the old file or the new one, never half of one."""
    path = Path(path)
    if not isinstance(tensors, dict):
        raise SafetensorsError(f"{path}: save_file needs a dict of name -> torch.Tensor, got {type(tensors).__name__}")
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        raise SafetensorsError(f"{path}: metadata must be a dict of str -> str, got {_short(metadata)}")
    for name, t in tensors.items():
        where = f"{path}: tensor {_short(name)}"
        if not isinstance(name, str) or name == "__metadata__":
            raise SafetensorsError(f"{where}: names must be strings other than '__metadata__'")
        if not isinstance(t, torch.Tensor) or t.layout != torch.strided or t.is_meta:
            what = type(t).__name__ if not isinstance(t, torch.Tensor) else f"a {t.layout} / {t.device} tensor"
            raise SafetensorsError(f"{where}: expected a dense torch.Tensor with data, got {what}")
        if t.dtype not in _DTYPE_NAME:
            raise SafetensorsError(f"{where}: dtype {t.dtype} has no safetensors name; convert it to one of "
                                   f"{', '.join(map(str, _DTYPE_NAME))}")

    order = sorted(tensors, key=lambda n: (-_RANK[_DTYPE_NAME[tensors[n].dtype]], n))
    header = {} if metadata is None else {"__metadata__": dict(sorted(metadata.items()))}
    pos = 0
    for name in order:
        t = tensors[name]
        size = t.numel() * t.dtype.itemsize
        header[name] = {"dtype": _DTYPE_NAME[t.dtype], "shape": list(t.shape), "data_offsets": [pos, pos + size]}
        pos += size
    try:  # serde_json's compact form; ensure_ascii=False writes UTF-8 as the reference does
        blob = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        raise SafetensorsError(f"{path}: a name or metadata string is not valid Unicode ({e})") from e
    blob += b" " * (-len(blob) % 8)  # pad so the data buffer starts 8-byte aligned

    def chunks():  # one tensor at a time: never more than one extra copy (for a GPU/strided tensor) in memory
        yield struct.pack("<Q", len(blob)) + blob
        for name in order:
            t = tensors[name].detach().to("cpu").resolve_conj().resolve_neg().contiguous()
            if t.numel():
                yield t.reshape(-1).view(torch.uint8).numpy()  # its bytes, as a buffer, no copy

    _atomic_write(path, chunks())


def _atomic_write(path, chunks):
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        # mkstemp creates the file private (0600); give it the mode open() would have. Reading the umask
        # means setting it, briefly: racy only against other threads creating files at this very moment.
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if os.name == "posix":  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
