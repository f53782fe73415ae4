"""Glue shared by the workflow's scripts: logging to the rule's log, threads, device, seeds."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import signal
import sys
import time
from typing import TYPE_CHECKING, Any, Callable, Iterator, TextIO

from laq.io import LaqError, outputs_together, temporaries_of

if TYPE_CHECKING:
    from laq.data.transforms import Preprocess


INTERRUPTED = "interrupted; run the same command again to resume"
_ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")  # ANSI/VT100 control sequences


class PlainLog(io.TextIOBase):
    """A rule log that a pager can read: progress bars (tqdm's carriage-return redraws and cursor moves)
    become one plain line per `every` seconds, plus the bar's last state; other text passes through."""

    def __init__(self, stream: TextIO, every: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self._out, self._every, self._clock = stream, every, clock
        self._line, self._bar, self._last = "", False, -float("inf")

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        for i, part in enumerate(_ESCAPE.sub("", text).split("\r")):
            # a carriage return redraws the line: what it held was one state of a bar; other text arriving
            # while a bar's line is open (a log message inside the loop) starts a line of its own
            if i or (self._bar and part and not part.startswith("\n")):
                if self._line.strip() and self._clock() - self._last >= self._every:
                    self._emit()
                self._line, self._bar = "", bool(i)
            *done, self._line = (self._line + part).split("\n")
            if done and self._bar and not done[0].strip():
                done = done[1:]  # a bar that cleared itself (leave=False) leaves no empty line
            if done:
                self._bar = False
            for line in done:
                self._out.write(line.rstrip() + "\n")
        return len(text)

    def _emit(self) -> None:
        self._out.write(self._line.rstrip() + "\n")
        self._last = self._clock()

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        if self._line.strip():
            self._emit()
        self._line = ""
        super().close()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM (a cluster's cancel, `timeout`) cleans up like Ctrl-C


@contextlib.contextmanager
def job(snakemake: Any) -> Iterator[logging.Logger]:
    """Run a script's body as one job: logging and progress bars go to the rule's log as plain lines, a
    LaqError becomes one line, and the outputs appear together at the end or not at all (an error, Ctrl-C
    or SIGTERM removes their temporaries and says in one line how to resume)."""
    log_path = snakemake.log[0] if len(snakemake.log) else None
    file = open(log_path, "w", buffering=1) if log_path else None
    stream: TextIO = PlainLog(file) if file else sys.stderr
    old_stderr = sys.stderr
    sys.stderr = stream
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s", stream=stream, force=True
    )
    logger = logging.getLogger(f"laq.{snakemake.rule}")
    threads = max(1, int(snakemake.threads))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    else:  # light jobs (plots, tables, manifests) never pay for importing torch
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    old_term = signal.signal(signal.SIGTERM, _interrupt)
    for out in snakemake.output:  # temporaries a killed (SIGKILL) earlier attempt left behind
        for stale in temporaries_of(out):
            stale.unlink(missing_ok=True)
    try:
        with outputs_together():
            yield logger
    except LaqError as e:
        logger.error("%s", e)
        sys.stderr = old_stderr
        print(f"laq: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        logger.warning("%s", INTERRUPTED)
        sys.stderr = old_stderr
        print(f"laq: {snakemake.rule}: {INTERRUPTED}", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        signal.signal(signal.SIGTERM, old_term)
        sys.stderr = old_stderr
        if file is not None:
            stream.close()
            file.close()


def trusted_hub(snakemake: Any) -> str | None:
    """The configured model.source when it is a torchhub: source: the one torch.hub repository a job
    may run (checkpoint sidecars are data and cannot name another; see `laq.models.arch`)."""
    source = str(snakemake.config.get("model", {}).get("source", ""))
    return source if source.startswith("torchhub:") else None


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise LaqError("device is cuda but no GPU is visible to this job; set device: cpu or auto.")
    return device


def preprocess_for(meta: dict[str, Any]) -> Preprocess:
    from laq.data.transforms import Preprocess

    return Preprocess(int(meta["input_size"]), tuple(meta["mean"]), tuple(meta["std"]), meta.get("preprocess", "resize"))
