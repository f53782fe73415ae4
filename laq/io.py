"""File formats and safe writing: every output is written atomically (temp file + rename)."""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import signal
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np


_UMASK = os.umask(0)
os.umask(_UMASK)


class LaqError(Exception):
    """An error the user can act on; the message is one sentence naming the problem and the fix."""


# Every one-line error stays readable: values are shown by `brief` (length and first items), so a line
# is at most MAX_LINE characters besides the file paths it names; `one_line` cuts anything longer than
# MAX_WITH_PATHS as a last resort (paths are kept whole up to that).
MAX_LINE = 300
MAX_WITH_PATHS = 1000


def brief(value: Any, limit: int = 60) -> str:
    """repr(value), or for a long value its type, length and first items: "a list of 200000 items [2, 2, 2, ...]"."""
    if isinstance(value, np.generic):
        value = value.item()
    text = repr(value)
    if len(text) <= limit:
        return text
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        head = ", ".join(_item(x) for x in list(value)[:3])
        return f"a {type(value).__name__} of {len(value)} items [{head}, ...]"
    if isinstance(value, str):
        return f"a string of {len(value)} characters {value[:limit - 30]!r}..."
    return text[: limit - 3] + "..."


def _item(x: Any) -> str:
    """One short item of a long container: nested containers and long strings elided."""
    if isinstance(x, np.generic):
        x = x.item()
    text = repr(x)
    if len(text) <= 12:
        return text
    if isinstance(x, dict):
        return "{...}"
    if isinstance(x, (list, tuple, set, frozenset)):
        return "[...]"
    return text[:9] + "..."


def one_line(msg: str, limit: int = MAX_WITH_PATHS) -> str:
    """`msg` on one line of at most `limit` characters (the end, which says what to do, is kept)."""
    msg = " ".join(str(msg).split())
    if len(msg) <= limit:
        return msg
    keep = limit - 5
    return msg[: keep // 2] + " ... " + msg[-(keep - keep // 2):]


def rebuild_hint(path: str | os.PathLike) -> str:
    """How to remake a damaged or missing workflow output, and everything made from it.

    Deleting it is not enough: Snakemake treats a missing intermediate as a temporary file and, with
    the final results present, reports "Nothing to be done"; --forcerun re-runs the job that makes the
    file and every job downstream of it (tested in tests/test_workflow.py).
    """
    return f"rebuild it and what depends on it with `snakemake --cores all --forcerun {path}` (plus the run's --configfile/--profile options)"


_NO_SPACE = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


_held: list[tuple[str, Path]] | None = None  # (temporary, final) renames kept back by `outputs_together`


def temporaries_of(path: str | os.PathLike) -> list[Path]:
    """The temporaries `atomic_path` makes for `path` that are still lying next to it (a killed writer's)."""
    path = Path(path)
    return sorted(path.parent.glob(f".{glob.escape(path.name)}.*.part{glob.escape(path.suffix)}"))


@contextlib.contextmanager
def outputs_together() -> Iterator[None]:
    """Keep back every `atomic_path` rename made inside the block and do them all when it ends, or none.

    A job with several outputs must never leave some under their final names: Snakemake would call them
    incomplete after an interrupt and refuse a plain re-run. On an error or an interrupt every held
    temporary is removed; the renames themselves run with SIGINT/SIGTERM blocked, so they happen as a set.
    """
    global _held
    outer, held = _held, []
    _held = held
    try:
        yield
    except BaseException:
        for tmp, _ in held:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise
    finally:
        _held = outer
    if outer is not None:
        outer.extend(held)
        return
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        for tmp, final in held:
            os.replace(tmp, final)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it onto `path` only if the block succeeds (inside
    `outputs_together`: when that block ends). Interrupts (KeyboardInterrupt) remove the temporary too."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=path.parent)
    except OSError as e:
        if _no_space(e):
            raise _disk_full(path, e) from None
        raise
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs should look like any other file
        if _held is not None:
            _held.append((tmp, path))
        else:
            os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if _no_space(e):
            raise _disk_full(path, e) from None
        raise


def _no_space(e: BaseException) -> bool:
    # safetensors (Rust) reports a full disk as its own error type with the OS message inside
    return (isinstance(e, OSError) and e.errno in _NO_SPACE) or "No space left on device" in str(e) or "os error 28" in str(e)


def _disk_full(path: Path, e: BaseException) -> LaqError:
    return LaqError(f"no space left on the device of {path.parent} while writing {path.name} ({type(e).__name__}); free space there and re-run.")


def canonical_safetensors(path: str | os.PathLike) -> None:
    """Rewrite a safetensors header with sorted keys, in place.

    safetensors writes `__metadata__` from a hash map whose order changes from process to process, so
    two saves of the same tensors and metadata differ in bytes; sorting makes checkpoints reproducible.
    """
    with open(path, "r+b") as f:
        n = int.from_bytes(f.read(8), "little")
        raw = f.read(n)
        header = json.loads(raw)
        new = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        if len(new) > n:  # cannot happen for a re-ordering; keep the file as it is rather than break it
            return
        f.seek(8)
        f.write(new + b" " * (n - len(new)))


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def dumps_json(obj: Any) -> str:
    """Deterministic JSON text (sorted keys, fixed indentation, trailing newline)."""
    return json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n"


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(dumps_json(obj))


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise LaqError(f"{path} does not exist; {rebuild_hint(path)}.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise LaqError(f"{path} is not valid JSON ({e}); {rebuild_hint(path)}.") from None


def load_array(path: str | os.PathLike, keys: tuple[str, ...] = ()) -> Any:
    """A .npy array, or the `keys` of a .npz archive as a dict of arrays; never unpickles.

    A missing, truncated or pickled (object-array) file is a LaqError naming it and how to rebuild it.
    """
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                missing = [k for k in keys if k not in data.files]
                if missing or not keys:
                    raise LaqError(f"{path} lacks the array(s) {', '.join(missing) or '(none asked)'}; {rebuild_hint(path)}.")
                return {k: data[k] for k in keys}
        if keys:
            raise LaqError(f"{path} is a single array, not an .npz archive of {', '.join(keys)}; {rebuild_hint(path)}.")
        return data
    except FileNotFoundError:
        raise LaqError(f"{path} does not exist; {rebuild_hint(path)}.") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        # allow_pickle=False makes numpy refuse object arrays with a ValueError instead of running them
        raise LaqError(f"{path} is not a readable numeric array file ({type(e).__name__}: {e}); {rebuild_hint(path)}.") from None


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def config_hash(cfg: Any) -> str:
    """Short stable hash of a (JSON-serialisable) config fragment."""
    return hashlib.sha256(dumps_json(cfg).encode()).hexdigest()[:16]


def package_versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in ("laq", "torch", "torchvision", "numpy", "snakemake", "umap-learn", "timm", "safetensors"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def provenance(cfg: Any = None, inputs: dict[str, str] | None = None) -> dict[str, Any]:
    """What a result came from: config hash, package versions, sha256 of the input files."""
    return {
        "config_hash": config_hash(cfg) if cfg is not None else None,
        "packages": package_versions(),
        "inputs": {k: sha256_file(v) for k, v in sorted((inputs or {}).items())},
    }
