"""One results folder, one working directory: a record in `results/` of the directory whose runs made it.

Snakemake keeps what it knows about outputs (params, code, software of each job) in the working
directory's `.snakemake/`. A second directory writing into the same results folder (an absolute
`results`, or `--directory`) would see outputs it has no record of: a changed seed then gives "Nothing to
be done", and stale results look current. So the first run that executes jobs writes
`results/.laq-owner.json`, and every snakemake call from another directory, or naming the folder by
another path, stops with one line.

The record holds the working directory relative to the results folder, so a project moved or copied
whole (results inside it, the default) still owns its copy. A recorded directory without a
`.snakemake/` has no history to disagree with, and the folder passes to the new one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from laq.io import LaqError, write_json

RECORD = ".laq-owner.json"


def _record(results: Path) -> tuple[Path, str] | None:
    """(owning directory, `results` as that directory's runs spell it), or None."""
    try:
        rec = json.loads((results / RECORD).read_text())
        return (results / rec["workdir"]).resolve(), str(rec["results"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return None  # an unreadable record protects nothing; the next run rewrites it


def check(results: str | os.PathLike, workdir: str | os.PathLike | None = None) -> None:
    """Refuse a run from `workdir` (default: the current directory) into a results folder another
    working directory's runs keep, or that its own runs name differently (Snakemake's records are
    keyed by the path as written, so `results: /abs/path` would not find those of `results: results`)."""
    res, here = Path(results).resolve(), Path(workdir or os.getcwd()).resolve()
    found = _record(res)
    if found is None or not (found[0] / ".snakemake").is_dir():
        return
    owner, spelled = found
    if owner != here:
        raise LaqError(
            f"results folder {res} is kept by runs from {owner} (its .snakemake/ knows what is up to date there), so a run "
            f"from {here} could take stale results for current ones; run snakemake from {owner}, or set results to another folder."
        )
    if spelled != str(results):
        raise LaqError(
            f"results folder {res} was made with results: {spelled!r}, and Snakemake keys what it knows by the path as written; "
            f"set results to {spelled!r} again (or to another folder for a new study)."
        )


def claim(results: str | os.PathLike, workdir: str | os.PathLike | None = None) -> None:
    """Record `workdir` (default: the current directory) as the folder's owner, once jobs are about to run."""
    res, here = Path(results).resolve(), Path(workdir or os.getcwd()).resolve()
    if _record(res) == (here, str(results)):
        return
    res.mkdir(parents=True, exist_ok=True)
    write_json(res / RECORD, {"workdir": os.path.relpath(here, res), "results": str(results)})
