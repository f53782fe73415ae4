import numpy as np
import pytest

from laq.io import LaqError, dumps_json
from laq.subsets import (
    generate_subsets,
    greedy_subset,
    jaccard,
    max_shared,
    overlap_report,
    make_subset,
    manifest_from_classes,
    read_subsets_file,
    subset_ids,
    subset_stats,
)


def reference_greedy(kl: np.ndarray, size: int, start: int, similar: bool) -> list[int]:
    """The seed study's rule written out plainly: add the class whose mean distance to the chosen ones is
    lowest (similar) or highest; scan classes in index order and keep the first best, so ties go low."""
    chosen = [start]
    while len(chosen) < size:
        best, best_score = None, None
        for cand in range(len(kl)):
            if cand in chosen:
                continue
            score = sum(float(kl[cand][c]) for c in chosen) / len(chosen)
            if best is None or (score < best_score if similar else score > best_score):
                best, best_score = cand, score
        chosen.append(best)
    return chosen


def random_sym(c: int, seed: int, integers: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, size=(c, c)).astype(float) if integers else rng.exponential(3.0, size=(c, c))
    m = (a + a.T) / 2
    np.fill_diagonal(m, 0)
    return m


def blocks(c: int = 30, groups: int = 5, seed: int = 0) -> np.ndarray:
    """Structured distances: small within groups of c/groups classes, large between them."""
    rng = np.random.default_rng(seed)
    g = np.arange(c) % groups
    m = np.where(g[:, None] == g[None, :], 0.5, 10.0) + rng.uniform(0, 1, size=(c, c))
    m = (m + m.T) / 2
    np.fill_diagonal(m, 0)
    return m


NAMES30 = [f"c{i}" for i in range(30)]
NAMES40 = [f"c{i}" for i in range(40)]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("similar", [True, False])
def test_greedy_matches_reference_rule(seed, similar):
    # Integer-valued matrices make exact ties common, which exercises the lowest-index tie break.
    for kl in (random_sym(25, seed), random_sym(25, seed, integers=True)):
        for start in (0, 7, 24):
            for size in (2, 6, 25):
                assert greedy_subset(kl, size, start, similar) == reference_greedy(kl, size, start, similar)


def test_greedy_tie_goes_to_lowest_index():
    kl = np.ones((5, 5)) - np.eye(5)
    assert greedy_subset(kl, 3, 2, True) == [2, 0, 1]
    assert greedy_subset(kl, 3, 2, False) == [2, 0, 1]


def test_subset_ids_order_and_format():
    assert subset_ids({"random": 1, "similar": 2, "dissimilar": 1}, 10) == [
        "similar-k10-00",
        "similar-k10-01",
        "dissimilar-k10-00",
        "random-k10-00",
    ]
    assert subset_ids({"similar": 0}, 5) == []
    with pytest.raises(LaqError, match="closest"):
        subset_ids({"closest": 1}, 5)


def test_manifest_is_byte_identical_for_same_seed_and_changes_with_seed():
    kl = blocks()
    for strategy in ("similar", "dissimilar", "random"):
        ids = [f"{strategy}-k5-{i:02d}" for i in range(3)]
        a = [dumps_json(make_subset(kl, NAMES30, sid, seed=0)) for sid in ids]
        b = [dumps_json(make_subset(kl, NAMES30, sid, seed=0)) for sid in ids]
        assert a == b
        classes0 = [make_subset(kl, NAMES30, sid, seed=0)["classes"] for sid in ids]
        classes1 = [make_subset(kl, NAMES30, sid, seed=1)["classes"] for sid in ids]
        assert classes0 != classes1, strategy


def test_manifest_fields():
    kl = blocks()
    m = make_subset(kl, NAMES30, "similar-k4-02", seed=3)
    assert m["id"] == "similar-k4-02" and m["strategy"] == "similar" and m["seed"] == 3 and m["size"] == 4
    assert m["classes"] == sorted(m["order"]) and m["order"][0] == m["start"]
    assert m["order"] == greedy_subset(kl, 4, m["start"], True)
    assert m["class_names"] == [NAMES30[i] for i in m["classes"]]
    d = [kl[i, j] for i in m["classes"] for j in m["classes"] if i < j]
    assert len(d) == 6
    assert m["dist_min"] == pytest.approx(min(d)) and m["dist_max"] == pytest.approx(max(d))
    assert m["dist_mean"] == pytest.approx(np.mean(d)) and m["dist_median"] == pytest.approx(np.median(d))
    r = make_subset(kl, NAMES30, "random-k4-00", seed=3)
    assert r["start"] is None and len(set(r["classes"])) == 4


def test_similar_subsets_are_closer_than_dissimilar_ones():
    kl = blocks()
    for i in range(4):
        sim = make_subset(kl, NAMES30, f"similar-k5-{i:02d}", seed=0)
        dis = make_subset(kl, NAMES30, f"dissimilar-k5-{i:02d}", seed=0)
        assert sim["dist_median"] < 2 < 9 < dis["dist_median"]
        # Similar subsets stay inside one group of classes; dissimilar ones take one class per group.
        assert len({c % 5 for c in sim["classes"]}) == 1
        assert len({c % 5 for c in dis["classes"]}) == 5


def test_distinct_ids_give_distinct_subsets():
    kl = blocks()
    for strategy in ("similar", "dissimilar", "random"):
        subsets = {tuple(make_subset(kl, NAMES30, f"{strategy}-k5-{i:02d}", seed=0)["classes"]) for i in range(6)}
        assert len(subsets) == 6, strategy
    # 5 classes choose 3 = 10 subsets: ten random ids must use up every one of them.
    small = random_sym(5, 0)
    names = list("abcde")
    drawn = {tuple(make_subset(small, names, f"random-k3-{i:02d}", seed=0)["classes"]) for i in range(10)}
    assert len(drawn) == 10


def test_make_subset_rejects_bad_ids_and_sizes():
    kl = blocks()
    with pytest.raises(LaqError, match="malformed"):
        make_subset(kl, NAMES30, "closest-k5-00", seed=0)
    with pytest.raises(LaqError, match="31 classes"):
        make_subset(kl, NAMES30, "random-k31-00", seed=0)


def test_subset_stats_by_hand():
    kl = np.array([[0, 1, 4, 9], [1, 0, 2, 8], [4, 2, 0, 7], [9, 8, 7, 0]], dtype=float)
    assert subset_stats(kl, [0, 1, 2]) == {"dist_min": 1.0, "dist_max": 4.0, "dist_mean": 7 / 3, "dist_median": 2.0}
    assert subset_stats(kl, [3, 0])["dist_median"] == 9.0


# ------------------------------------------------------------------------------------ file strategy


def test_read_subsets_file_names_indices_and_comments(tmp_path):
    names = ["apple", "bear", "cloud", "dolphin", "elephant"]
    f = tmp_path / "subsets.tsv"
    f.write_text("# predefined subsets\n\napple\tbear\t4\n 2, dolphin ,0  # mixed separators\n\n3\t1\t2\n")
    assert read_subsets_file(f, names) == [[0, 1, 4], [2, 3, 0], [3, 1, 2]]
    assert read_subsets_file(f, names, size=3) == [[0, 1, 4], [2, 3, 0], [3, 1, 2]]
    assert len(read_subsets_file(f, None)) == 3
    kl = random_sym(5, 1)
    m = manifest_from_classes(kl, names, "file-k3-01", [2, 3, 0], seed=0)
    assert m["strategy"] == "file" and m["classes"] == [0, 2, 3] and m["order"] == [2, 3, 0]
    assert m["class_names"] == ["apple", "cloud", "dolphin"]


@pytest.mark.parametrize(
    "text,problem,line",
    [
        ("apple\tbear\ncloud\tunicorn\n", "unknown class name 'unicorn'", 2),
        ("# header\napple\t9\n", "class index 9 is out of range", 2),
        ("apple\tbear\tapple\n", "listed twice", 1),
        ("apple\n", "at least 2 classes", 1),
        ("apple bear cloud\n", "not spaces", 1),
        ("apple\t\tbear\n", "empty class entry", 1),
    ],
)
def test_read_subsets_file_rejects_bad_lines(tmp_path, text, problem, line):
    f = tmp_path / "bad.tsv"
    f.write_text(text)
    with pytest.raises(LaqError, match=problem) as e:
        read_subsets_file(f, ["apple", "bear", "cloud"])
    msg = str(e.value)
    assert str(f) in msg and f"line {line}:" in msg and "\n" not in msg


def test_read_subsets_file_size_missing_and_empty(tmp_path):
    f = tmp_path / "s.tsv"
    f.write_text("0\t1\n0\t1\t2\n")
    with pytest.raises(LaqError, match="line 2: 3 classes but subsets.size is 2"):
        read_subsets_file(f, ["a", "b", "c"], size=2)
    with pytest.raises(LaqError, match="does not exist"):
        read_subsets_file(tmp_path / "missing.tsv", ["a", "b"])
    f.write_text("# nothing here\n\n")
    with pytest.raises(LaqError, match="lists no subsets"):
        read_subsets_file(f, ["a", "b"])


# ------------------------------------------------------------------------------- the overlap cap


def test_max_shared_is_the_jaccard_bound():
    for k in range(2, 40):
        for cap in (0.1, 0.25, 0.3, 0.5, 0.8, 1.0):
            s = max_shared(k, cap)
            assert s <= k - 1
            assert s / (2 * k - s) <= cap + 1e-12  # s shared classes keep the Jaccard index under the cap
            if s < k - 1:
                assert (s + 1) / (2 * k - s - 1) > cap  # one more would break it


@pytest.mark.parametrize("cap", [0.2, 0.3, 0.5])
@pytest.mark.parametrize("seed", [0, 1])
def test_overlap_cap_holds_between_every_pair_of_generated_subsets(cap, seed):
    kl = blocks(40, 4, seed)  # clustered: uncapped dissimilar subsets pile onto the same far classes
    counts = {"similar": 4, "dissimilar": 4, "random": 4}
    got = generate_subsets(kl, 6, counts, seed=seed, max_jaccard=cap)
    assert [sid for sid, _, _ in got] == subset_ids(counts, 6)
    assert all(len(set(c)) == 6 for _, c, _ in got)
    for strategy in counts:  # the cap holds between every two subsets of a strategy
        sets = [c for sid, c, _ in got if sid.startswith(strategy)]
        assert max(jaccard(a, b) for i, a in enumerate(sets) for b in sets[i + 1 :]) <= cap
    # every job computes the same list: make_subset of each id returns its entry
    for sid, classes, _ in got:
        assert make_subset(kl, NAMES40, sid, seed=seed, max_jaccard=cap)["classes"] == sorted(classes)
    report = overlap_report([{"id": sid, "strategy": sid.split("-")[0], "classes": sorted(c)} for sid, c, _ in got])
    every = [jaccard(a, b) for i, (_, a, _) in enumerate(got) for _, b, _ in got[i + 1 :]]
    assert report["by_size"]["6"]["max_jaccard"] == pytest.approx(max(every)) and report["by_size"]["6"]["pairs"] == 66
    assert report["by_size"]["6"]["pairs_sharing_classes"] == sum(j > 0 for j in every)
    assert report["by_size"]["6"]["by_strategies"]["dissimilar/dissimilar"]["max_jaccard"] <= cap


def test_uncapped_dissimilar_subsets_overlap_and_the_cap_spreads_them():
    kl = blocks(40, 4, 0)
    counts = {"dissimilar": 4}
    free = [set(c) for _, c, _ in generate_subsets(kl, 6, counts, seed=0)]
    capped = [set(c) for _, c, _ in generate_subsets(kl, 6, counts, seed=0, max_jaccard=0.2)]
    pairs = lambda sets: [jaccard(a, b) for i, a in enumerate(sets) for b in sets[i + 1 :]]  # noqa: E731
    assert max(pairs(free)) > 0.2 >= max(pairs(capped))
    # still dissimilar: each capped subset spans several of the 4 blocks
    assert all(len({c % 4 for c in s}) >= 3 for s in capped)
    # uncapped (make_subset's default) is the generation without the cap
    assert [set(make_subset(kl, NAMES40, f"dissimilar-k6-{i:02d}", seed=0)["classes"]) for i in range(4)] == free
    # raising a count adds subsets and changes none before them
    assert [set(c) for _, c, _ in generate_subsets(kl, 6, {"dissimilar": 6}, seed=0, max_jaccard=0.2)][:4] == capped


def test_an_infeasible_cap_is_a_one_line_error():
    kl = random_sym(12, 0)
    with pytest.raises(LaqError, match="raise subsets.max_jaccard"):
        generate_subsets(kl, 6, {"random": 5}, seed=0, max_jaccard=0.1)  # 6 of 12 classes: disjoint pairs only


def test_subset_ids_over_a_list_of_sizes():
    assert subset_ids({"similar": 1, "random": 1}, [2, 5]) == ["similar-k2-00", "random-k2-00", "similar-k5-00", "random-k5-00"]
