"""
A method of one's own, loaded without editing the suite: --method path/to/my_method.py:MyMix (a file) or
--method my_package.my_module:MyMix (a module on the Python path), in run.py and bench.compare.

The class must satisfy the method protocol (amplify/protocol.py; subclassing amplify.methods.Method is the
short way) and take a `name` no built-in method has. Everything is checked when the arguments are read, before
any training, and each fault is one line naming the method: a file that does not exist, a module that fails to
import (its traceback first), a class the module does not define, a protocol member the class lacks, a name
that clashes.

A run's key (bench/grid/plan.py) holds the sha256 of the file that defines the class, so editing that file
makes a grid run the method again; files it imports are not hashed. A file is read at the path given, from the
directory the command runs in, so a job on another machine (bench.compare --launcher slurm) needs the same
file at the same relative path in the directory its job starts in (a shared filesystem), and a module form
needs its package importable there (installed, or on PYTHONPATH).
"""

import argparse
import functools
import hashlib
import importlib
import importlib.util
import inspect
import json
import re
import sys
import traceback
from pathlib import Path

from amplify.protocol import missing_members


class MethodLoadError(ValueError):
    pass


def is_spec(method):
    """Whether `method` names a user's class ("where:Class") rather than a built-in method."""
    return isinstance(method, str) and ":" in method


def split_spec(spec):
    where, _, cls = spec.rpartition(":")
    if not where or not cls.isidentifier():
        raise MethodLoadError(f"method {spec!r}: expected path/to/file.py:Class or package.module:Class")
    return where, cls


def is_path(where):
    return where.endswith(".py") or "/" in where or "\\" in where


def label(method):
    """The method's part of a result file name: a built-in's name, else the class name of the spec."""
    return split_spec(method)[1] if is_spec(method) else method


def source_file(spec):
    """The file that defines the spec's class: the path itself, or the module's file."""
    where, _ = split_spec(spec)
    if is_path(where):
        path = Path(where)
        if not path.is_file():
            raise MethodLoadError(f"method {spec!r}: no file {where} (from {Path.cwd()})")
        return path
    return Path(_import(spec, where).__file__)


def source_hash(spec):
    """sha256 of the source file that defines the spec's class (hex), for the run key."""
    return hashlib.sha256(source_file(spec).read_bytes()).hexdigest()


def _failed(spec, e):
    """Print the user's own traceback (without the import machinery's frames); the error saying which failed."""
    tb = e.__traceback__
    while tb is not None and (tb.tb_frame.f_code.co_filename in (__file__, "") or
                              tb.tb_frame.f_code.co_filename.startswith("<frozen")):
        tb = tb.tb_next
    traceback.print_exception(type(e), e, tb, file=sys.stderr)
    return MethodLoadError(f"method {spec!r} failed to load: {type(e).__name__}: {e} (traceback above)")


def _import(spec, where):
    if is_path(where):
        path = Path(where).resolve()
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
        stem = re.sub(r"\W", "_", path.stem)
        name = f"amplify_user_method_{stem}_{digest}"
        if name in sys.modules:
            return sys.modules[name]
        found = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(found)
        sys.modules[name] = module  # registered first: dataclasses and pickling look classes up by module
        try:
            found.loader.exec_module(module)
        except Exception as e:
            del sys.modules[name]
            raise _failed(spec, e) from None
        return module
    try:
        return importlib.import_module(where)
    except ModuleNotFoundError as e:
        if e.name and (where == e.name or where.startswith(e.name + ".")):
            raise MethodLoadError(f"method {spec!r}: no module named {e.name!r} on the Python path (a file? give "
                                  "its path, ending in .py)") from None
        raise _failed(spec, e) from None
    except Exception as e:
        raise _failed(spec, e) from None


@functools.lru_cache
def load_class(spec):
    """The class a spec names, checked against the protocol and the built-in names; MethodLoadError if not."""
    from amplify.methods import METHODS

    where, cls_name = split_spec(spec)
    if is_path(where):
        source_file(spec)  # a missing file: its own message, before trying to import it
    module = _import(spec, where)
    cls = getattr(module, cls_name, None)
    if not inspect.isclass(cls):
        classes = sorted(n for n, v in vars(module).items() if inspect.isclass(v) and v.__module__ == module.__name__)
        raise MethodLoadError(f"method {spec!r}: {where} defines no class {cls_name}"
                              + (f" (its classes: {', '.join(classes)})" if classes else ""))
    missing = missing_members(cls)
    if missing:
        raise MethodLoadError(f"method {spec!r}: class {cls_name} lacks {', '.join(missing)} of the method protocol "
                              "(amplify/protocol.py; subclassing amplify.methods.Method provides every member)")
    if cls.name in METHODS:
        raise MethodLoadError(f"method {spec!r}: class {cls_name} is named {cls.name!r}, a built-in method's name; "
                              "give it a `name` of its own")
    return cls


def method_arg(text):
    """argparse type of --method / --methods: a built-in name, or a spec whose class loads and checks out."""
    from amplify.methods import METHODS

    if text in METHODS:
        return text
    if not is_spec(text):
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {', '.join(METHODS)}; or a method of "
                                         "your own: path/to/file.py:Class or package.module:Class)")
    try:
        load_class(text)
    except MethodLoadError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


class MethodOptions(argparse.Action):
    """--method-option KEY=VALUE ...: a dict of options for a user's method; a value is read as JSON when it
    parses (3, 0.5, true, [1, 2]), else kept as a string."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = getattr(namespace, self.dest, None)  # bench.compare's probe parser puts a sentinel here
        options = dict(given) if isinstance(given, dict) else {}
        for item in values:
            key, eq, value = item.partition("=")
            if not eq or not key.isidentifier():
                parser.error(f"{option_string}: expected KEY=VALUE with KEY a Python name, got {item!r}")
            try:
                options[key] = json.loads(value)
            except ValueError:
                options[key] = value
        setattr(namespace, self.dest, options)
