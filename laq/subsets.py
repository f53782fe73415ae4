"""Class subsets drawn from a class-distance matrix, written as JSON manifests.

Strategies (the seed study's three, plus user-given subsets):
  similar     greedy from a seeded start class, each step adding the class with the LOWEST mean
              distance to the classes chosen so far (a homogeneous, hard subset);
  dissimilar  the same with the HIGHEST mean distance (a heterogeneous, easy subset);
  random      classes drawn uniformly without replacement;
  file        subsets listed in a TSV file.
Ids are `<strategy>-k<size>-<index:02d>`, e.g. `similar-k10-00`.

A manifest's `classes` are sorted ascending (one canonical form for comparing and hashing subsets);
`order` keeps the order in which they were picked (greedy order, draw order or file order).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from laq.io import LaqError, brief
from laq.seeding import rng

STRATEGIES = ("similar", "dissimilar", "random")
_ID = re.compile(r"^(similar|dissimilar|random|file)-k(\d+)-(\d+)$")
# Random draws tried for a new subset before giving up (only reached when nearly every subset is taken).
_MAX_DRAWS = 1000


def greedy_subset(kl: np.ndarray, size: int, start: int, similar: bool) -> list[int]:
    """Classes in the order picked: `start`, then repeatedly the unchosen class with the lowest
    (similar) or highest (dissimilar) mean distance to the chosen ones; ties go to the lowest index."""
    kl = np.asarray(kl, dtype=np.float64)
    c = kl.shape[0]
    if not 1 <= size <= c:
        raise ValueError(f"subset size {size} must be between 1 and the {c} classes")
    if not 0 <= start < c:
        raise ValueError(f"start class {start} is out of range for {c} classes")
    chosen = [int(start)]
    free = np.ones(c, dtype=bool)
    free[start] = False
    while len(chosen) < size:
        cand = np.flatnonzero(free)  # ascending, so argmin/argmax's first hit is the lowest index
        score = kl[np.ix_(cand, chosen)].mean(axis=1)
        pick = int(cand[np.argmin(score) if similar else np.argmax(score)])
        chosen.append(pick)
        free[pick] = False
    return chosen


def subset_ids(counts: dict[str, int], size: int) -> list[str]:
    """Ids known from the config alone: similar, then dissimilar, then random, each numbered from 00."""
    unknown = sorted(set(counts) - set(STRATEGIES))
    if unknown:
        raise LaqError(f"unknown subset strategy {unknown[0]!r} in subsets.count; use {', '.join(STRATEGIES)}.")
    return [f"{s}-k{size}-{i:02d}" for s in STRATEGIES for i in range(int(counts.get(s, 0) or 0))]


def parse_subset_id(subset_id: str) -> tuple[str, int, int]:
    """(strategy, size, index) of an id such as `dissimilar-k10-03`."""
    m = _ID.match(subset_id)
    if not m:
        raise LaqError(f"subset id {subset_id!r} is malformed; ids look like similar-k10-00 (strategy-k<size>-<index>).")
    return m.group(1), int(m.group(2)), int(m.group(3))


def subset_stats(kl: np.ndarray, classes: Sequence[int]) -> dict[str, float]:
    """min / max / mean / median of the size*(size-1)/2 pairwise distances within `classes`."""
    idx = np.asarray(classes, dtype=np.int64)
    if len(idx) < 2:
        raise ValueError("a subset needs at least 2 classes to have pairwise distances")
    sub = np.asarray(kl, dtype=np.float64)[np.ix_(idx, idx)]
    d = sub[np.triu_indices(len(idx), 1)]
    return {
        "dist_min": float(d.min()),
        "dist_max": float(d.max()),
        "dist_mean": float(d.mean()),
        "dist_median": float(np.median(d)),
    }


def manifest_from_classes(
    kl: np.ndarray,
    class_names: Sequence[str],
    subset_id: str,
    classes: Sequence[int],
    *,
    seed: int,
    start: int | None = None,
) -> dict[str, Any]:
    """The manifest of a given subset (`classes` in picking order; stored sorted, with `order` kept)."""
    strategy, _, _ = parse_subset_id(subset_id)
    order = [int(c) for c in classes]
    c = np.asarray(kl).shape[0]
    if len(class_names) != c:
        raise LaqError(f"the distance matrix has {c} classes but there are {len(class_names)} class names; re-run the distance step.")
    if len(set(order)) != len(order) or not all(0 <= i < c for i in order):
        raise LaqError(f"subset {subset_id} has repeated or out-of-range classes {order}; classes are 0..{c - 1}, each once.")
    ordered = sorted(order)
    return {
        "id": subset_id,
        "strategy": strategy,
        "seed": int(seed),
        "size": len(ordered),
        "classes": ordered,
        "class_names": [str(class_names[i]) for i in ordered],
        "order": order,
        "start": None if start is None else int(start),
        **subset_stats(kl, ordered),
    }


def _greedy_pick(kl: np.ndarray, size: int, index: int, similar: bool, seed: int) -> tuple[list[int], int]:
    """The `index`-th distinct greedy subset, trying start classes in a seeded order.

    Different start classes can grow into the same set; such repeats are skipped so distinct ids get
    distinct subsets. If there are fewer distinct subsets than ids, LaqError: a repeat would count twice
    in the statistics.
    """
    c = kl.shape[0]
    starts = rng(seed, "subsets", "similar" if similar else "dissimilar", size).permutation(c)
    found: list[tuple[list[int], int]] = []
    seen: set[frozenset[int]] = set()
    for s in starts:
        picked = greedy_subset(kl, size, int(s), similar)
        key = frozenset(picked)
        if key not in seen:
            seen.add(key)
            found.append((picked, int(s)))
            if len(found) > index:
                return found[index]
    strategy = "similar" if similar else "dissimilar"
    raise LaqError(
        f"only {len(found)} distinct {strategy} subsets of {size} classes exist for this distance matrix, so "
        f"{strategy}-k{size}-{index:02d} would repeat one; lower subsets.count.{strategy} to {len(found)} or change subsets.size."
    )


def _random_pick(c: int, size: int, index: int, seed: int) -> list[int]:
    """The `index`-th distinct uniform draw of `size` classes (seeded; repeats skipped).

    LaqError if no new subset turns up in `_MAX_DRAWS` draws (nearly every subset taken): a repeat
    would count twice in the statistics.
    """
    gen = rng(seed, "subsets", "random", size)
    seen: set[frozenset[int]] = set()
    draw: list[int] = []
    for i in range(index + 1):
        for _attempt in range(_MAX_DRAWS):
            draw = [int(j) for j in gen.choice(c, size=size, replace=False)]
            if frozenset(draw) not in seen:
                break
        else:
            raise LaqError(
                f"random-k{size}-{index:02d}: no new random subset of {size} of {c} classes in {_MAX_DRAWS} draws after {i}; "
                "lower subsets.count.random or change subsets.size."
            )
        seen.add(frozenset(draw))
    return draw


def make_subset(kl: np.ndarray, class_names: Sequence[str], subset_id: str, *, seed: int) -> dict[str, Any]:
    """The manifest of `subset_id` (similar/dissimilar/random), determined by (kl, seed, id) alone."""
    strategy, size, index = parse_subset_id(subset_id)
    kl = np.asarray(kl, dtype=np.float64)
    c = kl.shape[0]
    if strategy == "file":
        raise LaqError(f"subset {subset_id} comes from subsets.file; build it with read_subsets_file and manifest_from_classes.")
    if not 2 <= size <= c:
        raise LaqError(f"subset {subset_id} asks for {size} classes but there are {c}; use a size of 2..{c}.")
    if strategy == "random":
        return manifest_from_classes(kl, class_names, subset_id, _random_pick(c, size, index, seed), seed=seed)
    picked, start = _greedy_pick(kl, size, index, strategy == "similar", seed)
    return manifest_from_classes(kl, class_names, subset_id, picked, seed=seed, start=start)


_MAX_SUBSETS_FILE = 16 << 20
_SEPARATOR_NAMES = {";": "semicolons", "|": "bars"}


def read_subsets_file(
    path: str | os.PathLike, class_names: Sequence[str] | None, *, size: int | None = None
) -> list[list[int]]:
    """Subsets listed in a text file: one per line, classes separated by a tab (the documented delimiter;
    a comma is also read), `#` starts a comment. UTF-8, with or without a byte-order mark; LF or CRLF
    line ends; spaces and tabs around an entry or at the end of a line are ignored. Any other
    separator (`;`, `|`, spaces) is refused with a hint.

    A class is an integer index (0-based) or a class name. With `class_names` None, only the syntax is
    checked (use it to count the subsets): names cannot be resolved and come back as -1. With `size`,
    every line must list exactly that many classes. The i-th subset gets the id `file-k<size>-<i:02d>`.
    """
    p = Path(path)
    try:
        if p.stat().st_size > _MAX_SUBSETS_FILE:
            raise LaqError(f"subsets file {p} is {p.stat().st_size} bytes, more than a subsets file can be ({_MAX_SUBSETS_FILE}); give a TSV with one subset per line.")
        text = p.read_text(encoding="utf-8-sig")  # a BOM (Excel, Notepad) is not part of the first class
    except FileNotFoundError:
        raise LaqError(f"subsets file {p} does not exist; give a TSV with one subset per line.") from None
    except (OSError, UnicodeDecodeError) as e:
        raise LaqError(f"subsets file {p} cannot be read as text ({e}).") from None
    lookup = None if class_names is None else {str(n): i for i, n in enumerate(class_names)}
    c = None if class_names is None else len(class_names)
    out: list[list[int]] = []
    seen: dict[frozenset[Any], int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        tokens = [t.strip() for t in re.split(r"[\t,]", line)]
        if any(not t for t in tokens):
            raise LaqError(f"subsets file {p}, line {lineno}: empty class entry; separate classes with single tabs or commas.")
        classes: list[int] = []
        for tok in tokens:
            if re.fullmatch(r"[+-]?\d+", tok):
                # a 5,000-digit index would make int() itself fail; any index that long is out of range
                i = int(tok) if len(tok) <= 12 else 10**12
                if i < 0 or (c is not None and i >= c):
                    bound = f"0..{c - 1}" if c is not None else ">= 0"
                    raise LaqError(f"subsets file {p}, line {lineno}: class index {i} is out of range; use {bound}.")
            elif re.search(r"[;|]", tok) or re.fullmatch(r"\d+(\s+\d+)+", tok):
                sep = _SEPARATOR_NAMES.get(re.search(r"[;|]|\s", tok).group(), "spaces")
                raise LaqError(f"subsets file {p}, line {lineno}: {brief(tok, 40)} holds several classes separated by {sep}; separate classes with tabs.")
            elif lookup is None:
                i = -1
            elif tok in lookup:
                i = lookup[tok]
            else:
                sep = re.search(r"[\s;|]", tok)
                hint = f" (separate classes with tabs, not {_SEPARATOR_NAMES.get(sep.group(), 'spaces')})" if sep else ""
                raise LaqError(f"subsets file {p}, line {lineno}: unknown class name {brief(tok, 40)}{hint}; use a class index or one of the dataset's class names.")
            classes.append(i)
        known = [i for i in classes if i >= 0]
        if len(set(known)) != len(known) or (lookup is None and len(set(tokens)) != len(tokens)):
            raise LaqError(f"subsets file {p}, line {lineno}: a class is listed twice; list each class once per subset.")
        if len(classes) < 2:
            raise LaqError(f"subsets file {p}, line {lineno}: a subset needs at least 2 classes, got {len(classes)}.")
        if size is not None and len(classes) != size:
            raise LaqError(f"subsets file {p}, line {lineno}: {len(classes)} classes but subsets.size is {size}; list exactly {size} per line.")
        key = frozenset(i if i >= 0 else tok for i, tok in zip(classes, tokens))
        if key in seen:
            raise LaqError(f"subsets file {p}, line {lineno} repeats the subset of line {seen[key]}; list each subset once (a repeat counts twice in the statistics).")
        seen[key] = lineno
        out.append(classes)
    if not out:
        raise LaqError(f"subsets file {p} lists no subsets; give one subset per line (class indices or names).")
    return out
