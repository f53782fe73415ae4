"""Config messages for every schema key: one line of at most 300 characters that reads as a sentence
("use <what the key accepts>"), whatever the value (a 200,000-entry list, a 1,000-character name)."""

from __future__ import annotations

import copy
import re
from typing import Any, Iterator

import pytest
import yaml

from conftest import REPO
from laq.config import SCHEMA, validate_config, with_methods
from laq.io import LaqError, brief, one_line

DEFAULT = yaml.safe_load((REPO / "config.yaml").read_text())
ROOT = with_methods(yaml.safe_load(SCHEMA.read_text()))


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = {**ROOT["$defs"][node["$ref"].rsplit("/", 1)[1]], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def leaves(node: dict[str, Any] = ROOT, path: tuple = ()) -> Iterator[tuple[tuple, dict[str, Any]]]:
    """(path, schema) of every leaf key; list items (specs) at index 0."""
    node = _resolve(node)
    if node.get("type") == "object" and "properties" in node:
        for k, sub in node["properties"].items():
            yield from leaves(sub, (*path, k))
    elif node.get("type") == "array" and isinstance(node.get("items"), dict) and _resolve(node["items"]).get("properties"):
        yield from leaves(node["items"], (*path, 0))
    else:
        yield path, node


def bad_values(node: dict[str, Any]) -> list[Any]:
    """Values the key refuses: a wrong type, and past each bound the schema states."""
    out: list[Any] = [{"not": "this"}] if node.get("type") != "object" else [[1, 2]]
    if "enum" in node:
        out.append("no-such-choice")
    if "maximum" in node:
        out.append(node["maximum"] + 1)
    if "minimum" in node:
        out.append(node["minimum"] - 1)
    if "pattern" in node:
        out.append("{bad}\n")
    if "maxLength" in node:
        out.append("x" * 1000)
    if "string" in str(node.get("type")) or "pattern" in node:
        out.append("y" * 5000)  # past laq.config.MAX_STRING, whatever the key
    return out


def _set(cfg: dict, path: tuple, value: Any) -> dict:
    cfg = copy.deepcopy(cfg)
    node = cfg
    for k in path[:-1]:
        if isinstance(k, int):
            node = node[k]
        else:
            node = node.setdefault(k, {}) if node.get(k) is not None else node.setdefault(k, {}) or node.__setitem__(k, {}) or node[k]
    node[path[-1]] = value
    return cfg


def _message(cfg: dict) -> str | None:
    try:
        validate_config(cfg, REPO)
    except LaqError as e:
        return str(e)
    return None


# "must be" followed by a verb or a description: the wording the messages used to paste together
NOT_A_SENTENCE = re.compile(r"must be (compare|a registered|how|random|seed of|training|independent|subsets of|minutes|gpfq:|tensor:|conv:|fixed:|sgpfq:|bits per|torchvision|imagenet|the name|a seed log)", re.I)


def test_every_leaf_key_refuses_bad_values_in_one_sentence_under_300_characters():
    rendered, unchecked = 0, []
    for path, node in leaves():
        for value in bad_values(node):
            msg = _message(_set(DEFAULT, path, value))
            if msg is None:
                unchecked.append((path, value))
                continue
            rendered += 1
            assert "\n" not in msg and len(msg) <= 300, msg
            assert msg.startswith("config error: ") and not NOT_A_SENTENCE.search(msg), msg
            assert "must be" not in msg or "must be 6n+2" in msg, msg  # the schema messages say "use ..."
            if "is not allowed; use " in msg:
                phrase = msg.split("is not allowed; use ", 1)[1]
                # the noun phrase starts with an article, "one of", "true", "null" or a list of values
                assert re.match(r"(an? |one of |true|null|a list|a mapping)", phrase), msg
    assert rendered >= 130, rendered
    assert not unchecked, unchecked  # every bad value is refused


@pytest.mark.parametrize(
    "override, expect",
    [
        ({"quantization": {"specs": [{"name": "g2", "method": "gpfq", "bits": [2] * 200_000}]}}, "a list of 200000 items [2, 2, 2, ...]"),
        ({"quantization": {"specs": [{"name": "g" * 1000, "method": "gpfq", "bits": 2}]}}, "a string of 1000 characters"),
        ({"model": {"name": "m" * 1000, "source": "train"}}, "a string of 1000 characters"),
        ({"x" * 5000: 1}, "unknown key"),
        ({"quantization.draws": 2}, "Snakemake does not split dotted keys, so nest it (quantization: {draws: ...})"),
        ({"subsets": {"size": 3, "count": None}}, "subsets.count = None is not allowed; use a mapping"),
        ({"results": "r" * 5000}, "results = a string of 5000 characters 'rrr"),
        ({"model": {"name": "m", "source": "file:" + "p" * 5000}}, "is too long; use at most 4096 characters"),
    ],
    ids=["bits-200000", "spec-name-1000", "model-name-1000", "key-5000", "dotted-key", "count-empty", "results-5000", "source-5000"],
)
def test_huge_and_misshapen_values_give_one_short_line(override, expect):
    cfg = copy.deepcopy(DEFAULT)
    for k, v in override.items():
        cfg[k] = {**cfg[k], **v} if isinstance(v, dict) and isinstance(cfg.get(k), dict) else v
    msg = _message(cfg)
    assert msg is not None and expect in msg and "\n" not in msg and len(msg) <= 300, msg


def test_brief_and_one_line_bound_any_value():
    assert brief(list(range(200_000))) == "a list of 200000 items [0, 1, 2, ...]"
    assert brief("abc") == "'abc'" and len(brief("z" * 10**6)) < 80
    long = "config error: " + "x " * 1000 + "; use 3."
    out = one_line(long, 300)
    assert len(out) <= 300 and out.startswith("config error: ") and out.endswith("; use 3.")
    assert len(one_line("x" * 5000)) <= 1000 and one_line("a\n  b") == "a b"
