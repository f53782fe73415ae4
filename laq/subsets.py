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


def max_shared(size: int, max_jaccard: float) -> int:
    """The most classes two subsets of `size` classes may share with Jaccard |A∩B| / |A∪B| <= max_jaccard
    (s / (2k - s) <= J  <=>  s <= 2kJ / (1 + J)); never `size` itself, so subsets stay distinct."""
    return min(size - 1, int(np.floor(2 * size * max_jaccard / (1 + max_jaccard) + 1e-9)))


def jaccard(a: Sequence[int], b: Sequence[int]) -> float:
    sa, sb = set(int(x) for x in a), set(int(x) for x in b)
    return len(sa & sb) / len(sa | sb)


def greedy_subset(
    kl: np.ndarray, size: int, start: int, similar: bool, *, taken: Sequence[Sequence[int]] = (), shared: int | None = None
) -> list[int] | None:
    """Classes in the order picked: `start`, then repeatedly the unchosen class with the lowest
    (similar) or highest (dissimilar) mean distance to the chosen ones; ties go to the lowest index.

    With `taken` subsets and `shared`, a class is a candidate only while the subset would share at
    most `shared` classes with each taken one (the overlap cap, enforced while growing); None when no
    candidate is left before `size` classes are chosen.
    """
    kl = np.asarray(kl, dtype=np.float64)
    c = kl.shape[0]
    if not 1 <= size <= c:
        raise ValueError(f"subset size {size} must be between 1 and the {c} classes")
    if not 0 <= start < c:
        raise ValueError(f"start class {start} is out of range for {c} classes")
    members = np.zeros((len(taken), c), dtype=bool)  # members[j, i]: class i is in taken subset j
    for j, t in enumerate(taken):
        members[j, list(t)] = True
    limit = size if shared is None else shared
    common = members[:, start].astype(np.int64)  # classes shared so far with each taken subset
    if (common > limit).any():
        return None
    chosen = [int(start)]
    free = np.ones(c, dtype=bool)
    free[start] = False
    while len(chosen) < size:
        allowed = free & ~(members & (common[:, None] >= limit)).any(axis=0)
        cand = np.flatnonzero(allowed)  # ascending, so argmin/argmax's first hit is the lowest index
        if len(cand) == 0:
            return None
        score = kl[np.ix_(cand, chosen)].mean(axis=1)
        pick = int(cand[np.argmin(score) if similar else np.argmax(score)])
        chosen.append(pick)
        free[pick] = False
        common += members[:, pick]
    return chosen


def sizes_of(size: int | Sequence[int]) -> list[int]:
    """`subsets.size` as a list of sizes (one int, or a list of them for a dose-response sweep)."""
    return [int(size)] if isinstance(size, (int, np.integer)) else [int(k) for k in size]


def subset_ids(counts: dict[str, int], size: int | Sequence[int]) -> list[str]:
    """Ids known from the config alone: per size, similar, then dissimilar, then random, each numbered from 00."""
    unknown = sorted(set(counts) - set(STRATEGIES))
    if unknown:
        raise LaqError(f"unknown subset strategy {unknown[0]!r} in subsets.count; use {', '.join(STRATEGIES)}.")
    return [f"{s}-k{k}-{i:02d}" for k in sizes_of(size) for s in STRATEGIES for i in range(int(counts.get(s, 0) or 0))]


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


def _cap_error(subset_id: str, found: int, max_jaccard: float) -> LaqError:
    strategy, size, _ = parse_subset_id(subset_id)
    return LaqError(
        f"{subset_id}: only {found} {strategy} subsets of {size} classes can be found that overlap the earlier ones "
        f"by Jaccard <= {max_jaccard:g} (and repeat none); lower subsets.count.{strategy} or raise subsets.max_jaccard."
    )


def generate_subsets(
    kl: np.ndarray, size: int, counts: dict[str, int], *, seed: int, max_jaccard: float = 1.0
) -> list[tuple[str, list[int], int | None]]:
    """(id, classes in picking order, start class or None) of every generated subset of `size` classes,
    in `subset_ids` order.

    Each subset is drawn under the overlap cap against the earlier subsets of its own strategy: at
    most `max_shared(size, max_jaccard)` classes in common with any of them, so no two have a Jaccard
    index above `max_jaccard`, and none repeats another. Greedy subsets try start classes in a seeded
    order (the cap applies while they grow; a start that cannot complete is skipped); random subsets
    are redrawn (seeded) until one fits. Strategies do not constrain each other (similar and
    dissimilar subsets barely overlap by construction, random ones by chance), so raising one
    strategy's count adds subsets without changing any existing one; the realized overlap across
    strategies is reported by `overlap_report`.
    """
    kl = np.asarray(kl, dtype=np.float64)
    c = kl.shape[0]
    shared = max_shared(size, max_jaccard)
    grow_limit = shared if max_jaccard < 1 else None  # uncapped: only repeats are skipped, as a whole
    done: list[tuple[str, list[int], int | None]] = []

    def fits(classes: Sequence[int], taken: list[list[int]]) -> bool:
        s = set(classes)
        return all(len(s.intersection(t)) <= shared for t in taken)

    for strategy in STRATEGIES:
        taken: list[list[int]] = []
        if strategy == "random":
            gen = rng(seed, "subsets", "random", size)
        else:
            starts = iter(rng(seed, "subsets", strategy, size).permutation(c))
        for index in range(int(counts.get(strategy, 0) or 0)):
            sid = f"{strategy}-k{size}-{index:02d}"
            picked, start = None, None
            if strategy == "random":
                for _attempt in range(_MAX_DRAWS):
                    draw = [int(j) for j in gen.choice(c, size=size, replace=False)]
                    if fits(draw, taken):
                        picked = draw
                        break
            else:
                for s in starts:
                    got = greedy_subset(kl, size, int(s), strategy == "similar", taken=taken, shared=grow_limit)
                    if got is not None and fits(got, taken):
                        picked, start = got, int(s)
                        break
            if picked is None:
                raise _cap_error(sid, index, max_jaccard)
            done.append((sid, picked, start))
            taken.append(picked)
    return done


def make_subset(
    kl: np.ndarray, class_names: Sequence[str], subset_id: str, *, seed: int, max_jaccard: float = 1.0
) -> dict[str, Any]:
    """The manifest of `subset_id` (similar/dissimilar/random), determined by (kl, seed, max_jaccard,
    id) alone: the subsets of its strategy before it are generated again to hold the overlap cap."""
    strategy, size, index = parse_subset_id(subset_id)
    kl = np.asarray(kl, dtype=np.float64)
    c = kl.shape[0]
    if strategy == "file":
        raise LaqError(f"subset {subset_id} comes from subsets.file; build it with read_subsets_file and manifest_from_classes.")
    if not 2 <= size <= c:
        raise LaqError(f"subset {subset_id} asks for {size} classes but there are {c}; use a size of 2..{c}.")
    _, picked, start = generate_subsets(kl, size, {strategy: index + 1}, seed=seed, max_jaccard=max_jaccard)[-1]
    return manifest_from_classes(kl, class_names, subset_id, picked, seed=seed, start=start)


_MAX_SUBSETS_FILE = 16 << 20
_SEPARATOR_NAMES = {";": "semicolons", "|": "bars"}


def overlap_report(manifests: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The realized overlap of a run's subsets: every pair's Jaccard index and shared classes, and per
    subset size the mean and max Jaccard, the pairs that share any class, overall and per strategy pair."""
    pairs, by_size = [], {}
    ms = list(manifests)
    for i, a in enumerate(ms):
        for b in ms[i + 1 :]:
            if len(a["classes"]) != len(b["classes"]):
                continue
            shared = sorted(set(a["classes"]) & set(b["classes"]))
            pairs.append({"a": a["id"], "b": b["id"], "strategies": "/".join(sorted((a["strategy"], b["strategy"]))),
                          "size": len(a["classes"]), "shared": len(shared), "jaccard": jaccard(a["classes"], b["classes"])})
    for k in sorted({p["size"] for p in pairs}):
        ps = [p for p in pairs if p["size"] == k]
        groups = {}
        for g in sorted({p["strategies"] for p in ps}):
            js = [p["jaccard"] for p in ps if p["strategies"] == g]
            groups[g] = {"pairs": len(js), "mean_jaccard": float(np.mean(js)), "max_jaccard": float(np.max(js))}
        js = [p["jaccard"] for p in ps]
        by_size[str(k)] = {
            "subsets": sum(1 for m in ms if len(m["classes"]) == k),
            "pairs": len(ps),
            "pairs_sharing_classes": sum(p["shared"] > 0 for p in ps),
            "mean_jaccard": float(np.mean(js)),
            "max_jaccard": float(np.max(js)),
            "by_strategies": groups,
        }
    return {"by_size": by_size, "pairs": pairs}


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
