"""The layout of an imagefolder dataset (`root/train/<class>/*`, `root/test/<class>/*` or `root/val/...`),
checked before anything is loaded, and a fingerprint of its contents.

Light (standard library only): config validation scans the tree on every snakemake call, so a broken
layout stops the dry run and a changed image re-runs `prepare_data` (its fingerprint is a param).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from laq.io import LaqError


@dataclass(frozen=True)
class FolderLayout:
    classes: list[str]  # class folder names of train/, sorted; the label of a class is its index
    files: dict[str, list[tuple[int, Path]]]  # "train"/"test" -> (label, image file), sorted
    skipped: list[Path] = field(default_factory=list)  # hidden files and folders (.DS_Store, .git), not read


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _part_dir(root: Path, names: tuple[str, ...]) -> Path:
    for n in names:
        if (root / n).is_dir():
            return root / n
    raise LaqError(
        f"dataset.root = {str(root)!r} has no {' or '.join(f'{n}/' for n in names)} folder; "
        "give a folder with train/<class>/ and test/<class>/ (or val/<class>/)."
    )


def _scan_part(part: Path, skipped: list[Path]) -> dict[str, list[Path]]:
    """Class name -> image files of one part; LaqError on anything that is neither a class folder nor hidden."""
    out: dict[str, list[Path]] = {}
    for entry in sorted(os.scandir(part), key=lambda e: e.name):
        path = Path(entry.path)
        if _hidden(entry.name):
            skipped.append(path)
            continue
        if entry.is_symlink() and entry.is_dir():
            raise LaqError(f"{path} is a symbolic link to a folder; class folders must be real folders (a link can loop or duplicate a class).")
        if not entry.is_dir(follow_symlinks=False):
            raise LaqError(f"{path} is not a class folder; {part} may only contain one folder per class, so move the file out.")
        files = []
        for f in sorted(os.scandir(path), key=lambda e: e.name):
            fp = Path(f.path)
            if _hidden(f.name):
                skipped.append(fp)
            elif f.is_dir():  # a real folder or a link to one
                raise LaqError(f"{fp} is a folder inside class folder {path.name}; images must sit directly in {path}, so flatten it.")
            elif f.is_file():  # a regular file or a link to one
                files.append(fp)
            else:
                raise LaqError(f"{fp} is neither an image file nor a folder (a broken link?); remove it.")
        if not files:
            raise LaqError(f"class folder {path} has no images; add images or remove the folder.")
        out[entry.name] = files
    return out


def scan_imagefolder(root: str | os.PathLike) -> FolderLayout:
    """The checked layout of an imagefolder dataset: at least 2 classes, test classes = train classes,
    every class folder flat and non-empty; hidden entries are skipped (listed in `skipped`)."""
    root = Path(root)
    if not root.is_dir():
        raise LaqError(f"dataset.root = {str(root)!r} is not a folder; give a folder with train/<class>/ and test/<class>/.")
    skipped: list[Path] = []
    parts = {"train": _part_dir(root, ("train",)), "test": _part_dir(root, ("test", "val"))}
    found = {name: _scan_part(path, skipped) for name, path in parts.items()}
    classes = sorted(found["train"])
    if len(classes) < 2:
        raise LaqError(f"{parts['train']} must contain one folder per class and at least 2 classes (found {len(classes)}).")
    missing = sorted(set(classes) - set(found["test"]))
    extra = sorted(set(found["test"]) - set(classes))
    if missing or extra:
        what = f"lacks {', '.join(missing[:5])}" if missing else f"has classes not in train/: {', '.join(extra[:5])}"
        raise LaqError(f"{parts['test']} {what}; test and train must have the same class folders.")
    files = {part: [(i, f) for i, c in enumerate(classes) for f in found[part][c]] for part in parts}
    return FolderLayout(classes, files, skipped)


def fingerprint(layout: FolderLayout) -> str:
    """Digest of every image's relative path, size and modification time (not its bytes: hashing a
    large dataset on every snakemake call would take minutes; editing a file changes its mtime)."""
    h = hashlib.sha256()
    for part in sorted(layout.files):
        for label, f in layout.files[part]:
            st = f.stat()  # follows links: a changed target counts
            h.update(f"{part}\x1f{label}\x1f{f.parent.name}/{f.name}\x1f{st.st_size}\x1f{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]
