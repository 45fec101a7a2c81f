"""Google's SQL analyzer (ZetaSQL, compiled to WASM) with its compiled module cached on disk.

Why a cache: ``zetasql`` ships a 28 MB WASM module that wasmtime compiles to machine code
each time a process creates the service (about 35-60 s on two shared cores). A compiled
``wasmtime.Module`` serialises to a file that later processes map back in milliseconds, so
only the first run on a machine pays the compile. The cache is keyed by the zetasql and
wasmtime versions (a serialised module only loads into the wasmtime that wrote it) and by
the WASM file's size and mtime; it lives outside the repository (``$XDG_CACHE_HOME`` or
``~/.cache/salesphere``, or ``SALESPHERE_SQLCHECK_CACHE``), never in git.

The service is built the way ``zetasql.core.wasm_client.WasmClient`` builds it (same
engine configuration, WASI setup and initialisation); only the compile step differs.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

ZETASQL_DIST = "zetasql"


@dataclass(frozen=True)
class EngineInfo:
    """How the analyzer was started: which cache file, and what it cost."""

    cache_file: Path
    cached: bool  # True when the compiled module came from the cache
    load_seconds: float  # compile (cold) or deserialise (cached), plus instantiation


def cache_dir() -> Path:
    """Where compiled modules are kept (outside the repository)."""
    explicit = os.environ.get("SALESPHERE_SQLCHECK_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "salesphere"


@cache
def cache_file() -> Path:
    """The cache file for the installed zetasql and wasmtime (and this WASM build).

    Keyed by the WASM file's content, not its modification time: a fresh install of the
    same wheel (every CI run) must find the module its previous run compiled, so CI can
    keep the cache folder between runs."""
    import hashlib

    from zetasql.wasi import get_wasm_path

    digest = hashlib.sha256(Path(get_wasm_path()).read_bytes()).hexdigest()[:16]
    name = (
        f"zetasql-{metadata.version(ZETASQL_DIST)}-wasmtime-{metadata.version('wasmtime')}"
        f"-{digest}.cwasm"
    )
    return cache_dir() / name


def _engine():
    from wasmtime import Config, Engine

    config = Config()
    with contextlib.suppress(AttributeError):  # what WasmClient does; must match the cache
        config.shared_memory = True
    return Engine(config)


def _module(engine, path: Path) -> tuple[object, bool]:
    """The compiled module: from ``path`` if it loads, else compiled and written there."""
    from wasmtime import Module
    from zetasql.wasi import get_wasm_path

    if path.is_file():
        try:
            return Module.deserialize_file(engine, str(path)), True
        except Exception as exc:  # written by another wasmtime/CPU: recompile below
            print(f"sqlcheck: ignoring unusable module cache {path} ({exc})", file=sys.stderr)
    module = Module.from_file(engine, str(get_wasm_path()))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a concurrent process never maps a half-written file.
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as tmp:
            tmp.write(module.serialize())
        Path(tmp.name).replace(path)
    except OSError as exc:  # a read-only home still analyses, just slowly next time
        print(f"sqlcheck: could not write module cache {path} ({exc})", file=sys.stderr)
    return module, False


def _client(path: Path):
    """A ``WasmClient`` whose module comes from the cache instead of a fresh compile.

    It also copies request and response bytes in one call each: the stock client moves
    them one byte at a time through Python, which dominated the cost of a large answer.
    """
    from wasmtime import Linker, Store, WasiConfig
    from zetasql.core.wasm_client import WasmClient, get_tzinfo_dir

    class _BulkCopyClient(WasmClient):
        # The module's memory is shared (a ``SharedMemory``, no read/write methods): copy
        # through its base address, looked up on every call because growth may move it.
        def _base(self) -> int:
            return ctypes.cast(self.memory.data_ptr(), ctypes.c_void_p).value or 0

        def write_bytes(self, ptr: int, data: bytes) -> None:
            ctypes.memmove(self._base() + ptr, data, len(data))

        def read_bytes(self, ptr: int, size: int) -> bytes:
            return ctypes.string_at(self._base() + ptr, size)

    client = _BulkCopyClient.__new__(_BulkCopyClient)
    wasi = WasiConfig()
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    tzinfo = get_tzinfo_dir()
    if tzinfo:
        wasi.preopen_dir(tzinfo, "/usr/share/zoneinfo")
    engine = _engine()
    client.store = Store(engine)
    client.store.set_wasi(wasi)
    client.module, cached = _module(engine, path)
    linker = Linker(engine)
    linker.define_wasi()
    client.instance = linker.instantiate(client.store, client.module)
    client.exports = client.instance.exports(client.store)
    with contextlib.suppress(KeyError):
        client.exports["_initialize"](client.store)
    client.memory = client.exports["memory"]
    # Free the wasmtime objects while the interpreter is still whole: left to the
    # garbage collector at shutdown, their finalisers find wasmtime's FFI torn down
    # and print a traceback for each object.
    atexit.register(_close, client.memory, client.instance, client.module, client.store, engine)
    return client, cached


def _close(*objects) -> None:
    for obj in objects:
        with contextlib.suppress(Exception):
            obj.close()


@cache
def service():
    """One ``ZetaSqlLocalService`` per process, its module compiled at most once per machine.

    Returns ``(service, EngineInfo)``.
    """
    from zetasql.core.local_service import ZetaSqlLocalService

    path = cache_file()
    started = time.monotonic()
    client, cached = _client(path)
    svc = ZetaSqlLocalService.__new__(ZetaSqlLocalService)
    svc.wasm_client = client
    return svc, EngineInfo(path, cached, time.monotonic() - started)
