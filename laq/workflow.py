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
    """A rule log that a pager can read: progress bars become plain lines, at most one per `every` seconds
    (plus each bar's last state), and cursor movements disappear; other text passes through unchanged.

    tqdm redraws a bar with a carriage return, moves between nested bars with newlines and cursor-up
    escapes, and ends a kept bar with a newline; a bar's state is written only when the next redraw
    comes `every` seconds after the last line, and a finished bar's state when other text follows.
    """

    def __init__(self, stream: TextIO, every: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self._out, self._every, self._clock = stream, every, clock
        self._line, self._bar, self._held = "", False, ""  # held: a bar's state ended by a newline
        self._last = -float("inf")

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:  # for libraries that hand stderr's descriptor to C code or subprocesses
        return self._out.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._out, "encoding", None) or "utf-8"

    def write(self, text: str) -> int:
        if not text.strip("\n") and not self._line and not self._bar:
            return len(text)  # tqdm moving down to a nested bar's line
        after_cr = False  # tqdm writes "\r" and the bar's state in one call; other text is no bar
        for token in re.split(r"(\r|\n)", _ESCAPE.sub("", text)):
            if token == "\r":
                self._offer(self._held)
                self._offer(self._line)
                self._held, self._line, self._bar = "", "", True
            elif token and self._bar and not after_cr and token != "\n":
                self._offer(self._line)
                self._line, self._bar = token, False
            elif token == "\n":
                if self._bar:
                    self._offer(self._held)
                    self._held, self._line, self._bar = self._line, "", False
                elif self._line or not self._held:  # an empty line right after a bar is a cursor movement
                    self._put(self._held)
                    self._out.write(self._line.rstrip() + "\n")
                    self._held, self._line = "", ""
            else:
                self._line += token
            after_cr = token == "\r"
        return len(text)

    def _offer(self, state: str) -> None:
        if state.strip() and self._clock() - self._last >= self._every:
            self._put(state)

    def _put(self, state: str) -> None:
        if state.strip():
            self._out.write(state.rstrip() + "\n")
            self._last = self._clock()

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        self._put(self._held)
        self._put(self._line)
        self._held = self._line = ""
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
        from laq.device import set_tf32

        set_tf32(False)  # explicit, never cuDNN's default (TF32 convs); evaluation and training set `precision`
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
