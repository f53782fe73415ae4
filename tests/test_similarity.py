import math

import numpy as np
import pytest

from laq.io import LaqError
from laq.similarity import (
    class_kl_matrix,
    distance_matrix,
    gaussian_kl,
    knn_kl_matrix,
    load_matrix,
    pca_reduce,
    subsample_per_class,
    umap_2d,
)


def kl_1d(m1: float, s1: float, m2: float, s2: float) -> float:
    """KL(N(m1, s1^2) || N(m2, s2^2)), the textbook formula."""
    return math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5


def random_cov(rng: np.random.Generator, k: int) -> np.ndarray:
    a = rng.normal(size=(k, k))
    return a @ a.T + 0.5 * np.eye(k)


@pytest.mark.parametrize("m1,s1,m2,s2", [(0, 1, 0, 1), (0, 1, 1, 1), (0.5, 2.0, -1.0, 0.7), (3, 0.1, 3, 10)])
def test_gaussian_kl_matches_1d_formula(m1, s1, m2, s2):
    assert gaussian_kl([m1], [[s1**2]], [m2], [[s2**2]]) == pytest.approx(kl_1d(m1, s1, m2, s2), rel=1e-10, abs=1e-12)


def test_gaussian_kl_diagonal_is_sum_over_dimensions():
    mp, sp = np.array([0.0, 1.0, -2.0]), np.array([1.0, 0.5, 2.0])
    mq, sq = np.array([1.0, 1.0, 0.0]), np.array([2.0, 0.5, 1.0])
    by_hand = sum(kl_1d(a, b, c, d) for a, b, c, d in zip(mp, sp, mq, sq))
    assert gaussian_kl(mp, np.diag(sp**2), mq, np.diag(sq**2)) == pytest.approx(by_hand, rel=1e-10)


def test_gaussian_kl_is_invariant_to_a_shared_affine_map():
    # KL is unchanged when both distributions go through the same invertible map: checks full covariances.
    rng = np.random.default_rng(3)
    mp, sp, mq, sq = rng.normal(size=4), rng.uniform(0.5, 2, 4), rng.normal(size=4), rng.uniform(0.5, 2, 4)
    a, b = rng.normal(size=(4, 4)) + 2 * np.eye(4), rng.normal(size=4)
    direct = gaussian_kl(mp, np.diag(sp**2), mq, np.diag(sq**2))
    mapped = gaussian_kl(a @ mp + b, a @ np.diag(sp**2) @ a.T, a @ mq + b, a @ np.diag(sq**2) @ a.T)
    assert mapped == pytest.approx(direct, rel=1e-8)


def test_gaussian_kl_self_is_zero_and_kl_is_asymmetric():
    rng = np.random.default_rng(0)
    mu, cov = rng.normal(size=5), random_cov(rng, 5)
    assert gaussian_kl(mu, cov, mu, cov) == pytest.approx(0.0, abs=1e-10)
    forward, backward = gaussian_kl([0], [[1]], [0], [[4]]), gaussian_kl([0], [[4]], [0], [[1]])
    assert forward == pytest.approx(kl_1d(0, 1, 0, 2)) and backward == pytest.approx(kl_1d(0, 2, 0, 1))
    assert abs(forward - backward) > 0.4


def test_gaussian_kl_singular_covariance_stays_finite():
    rank_one = np.outer([1.0, 2.0], [1.0, 2.0])
    value = gaussian_kl([0, 0], rank_one, [1, 1], np.eye(2))
    assert np.isfinite(value) and value > 0


def _blobs(seed: int, c: int = 6, n: int = 40, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(c), n))
    centres, scales = rng.normal(scale=3, size=(c, k)), rng.uniform(0.3, 2.0, size=(c, k))
    mix = rng.normal(size=(c, k, k)) * 0.3 + np.eye(k)
    pts = np.einsum("nij,nj->ni", mix[labels], rng.normal(size=(len(labels), k)) * scales[labels]) + centres[labels]
    return pts, labels


def test_class_kl_matrix_equals_double_loop_over_gaussian_kl():
    pts, labels = _blobs(1)
    m = class_kl_matrix(pts, labels)
    c = 6
    mus = [pts[labels == i].mean(axis=0) for i in range(c)]
    covs = [np.cov(pts[labels == i].T) for i in range(c)]
    loop = np.zeros((c, c))
    for i in range(c):
        for j in range(c):
            if i != j:
                loop[i, j] = (gaussian_kl(mus[i], covs[i], mus[j], covs[j]) + gaussian_kl(mus[j], covs[j], mus[i], covs[i])) / 2
    assert m.shape == (c, c) and np.isfinite(m).all()
    np.testing.assert_array_equal(m, m.T)
    np.testing.assert_array_equal(np.diag(m), 0)
    np.testing.assert_allclose(m, loop, rtol=1e-9, atol=1e-12)
    assert (m[~np.eye(c, dtype=bool)] > 0).all()


def test_class_kl_matrix_needs_two_points_per_class():
    pts = np.random.default_rng(0).normal(size=(5, 2))
    with pytest.raises(LaqError, match="class 2 has 1 point"):
        class_kl_matrix(pts, np.array([0, 0, 1, 1, 2]))


def test_knn_estimator_close_to_closed_form():
    # Finite-sample k-NN estimates run a few percent low; 5000 points per class keep that well under 15%.
    rng = np.random.default_rng(7)
    n = 5000
    mp, cp = np.zeros(2), np.eye(2)
    mq, cq = np.array([1.0, 0.5]), np.diag([1.5, 0.8])
    x = np.vstack([rng.multivariate_normal(mp, cp, n), rng.multivariate_normal(mq, cq, n)])
    labels = np.repeat([0, 1], n)
    truth = (gaussian_kl(mp, cp, mq, cq) + gaussian_kl(mq, cq, mp, cp)) / 2
    est = knn_kl_matrix(x, labels, k=5)
    assert est[0, 0] == 0 and est[0, 1] == est[1, 0]
    assert est[0, 1] == pytest.approx(truth, rel=0.15)


def test_knn_estimator_of_one_distribution_split_in_two_is_near_zero_and_clamped():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(2000, 3))
    est = knn_kl_matrix(x, np.repeat([0, 1], 1000), k=5)
    assert 0 <= est[0, 1] < 0.05


def test_pca_reduce_matches_svd_projection_and_orders_variance():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 6)) * np.array([5, 3, 2, 1, 0.5, 0.1]) @ np.linalg.qr(rng.normal(size=(6, 6)))[0]
    z = pca_reduce(x, 3)
    xc = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(xc, full_matrices=False)
    ref = xc @ vt[:3].T
    assert z.shape == (200, 3)
    np.testing.assert_allclose(np.abs(z), np.abs(ref), rtol=1e-6, atol=1e-8)  # signs are a convention
    var = z.var(axis=0)
    assert var[0] > var[1] > var[2]
    np.testing.assert_array_equal(z, pca_reduce(x, 3))


def test_distance_matrix_pca_and_knn_subsample_deterministically():
    rng = np.random.default_rng(4)
    labels = np.repeat(np.arange(4), 30)
    feats = rng.normal(size=(120, 8)) + 3 * np.eye(8)[labels]
    m1, pts1, lab1 = distance_matrix(feats, labels, "pca_gaussian", seed=5, pca_dim=3, max_per_class=20)
    m2, pts2, lab2 = distance_matrix(feats, labels, "pca_gaussian", seed=5, pca_dim=3, max_per_class=20)
    _, _, lab3 = distance_matrix(feats, labels, "pca_gaussian", seed=6, pca_dim=3, max_per_class=20)
    assert np.bincount(lab1).tolist() == [20, 20, 20, 20] and pts1.shape == (80, 2)
    np.testing.assert_array_equal(m1, m2)
    np.testing.assert_array_equal(pts1, pts2)
    # A different seed keeps different images (though the same number per class).
    _, pts3, _ = distance_matrix(feats, labels, "pca_gaussian", seed=6, pca_dim=3, max_per_class=20)
    assert not np.array_equal(pts1, pts3) and np.array_equal(lab1, lab3)
    mk, pk, lk = distance_matrix(feats, labels, "knn", seed=0, pca_dim=3, knn_k=3)
    assert pk is None and len(lk) == 120 and mk.shape == (4, 4) and (mk[~np.eye(4, dtype=bool)] > 0).all()
    with pytest.raises(LaqError, match="tsne"):
        distance_matrix(feats, labels, "tsne")


def test_umap_gaussian_distance_is_deterministic_and_separates_clusters():
    # The only test that runs UMAP (slow to JIT): 3 well-separated clusters, 100 points each after subsampling.
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 120)
    feats = (rng.normal(size=(360, 16)) + 8 * np.eye(16)[labels]).astype(np.float32)
    m, pts, lab = distance_matrix(feats, labels, "umap_gaussian", seed=0, umap={"n_neighbors": 10}, max_per_class=100)
    assert pts.shape == (300, 2) and np.isfinite(pts).all() and np.bincount(lab).tolist() == [100, 100, 100]
    np.testing.assert_allclose(m, class_kl_matrix(pts, lab))
    assert (m[~np.eye(3, dtype=bool)] > 10).all()
    again = umap_2d(feats[subsample_per_class(labels, 100, 0)], seed=0, n_neighbors=10)
    np.testing.assert_array_equal(again, pts)


# ------------------------------------------------------------------------------ user matrices


def _sym(c: int, seed: int = 0) -> np.ndarray:
    a = np.random.default_rng(seed).uniform(0.1, 5, size=(c, c))
    m = (a + a.T) / 2
    np.fill_diagonal(m, 0)
    return m


def test_load_matrix_reads_npy_and_csv_with_header(tmp_path):
    m = _sym(4)
    np.save(tmp_path / "m.npy", m)
    names = ["a", "b", "c", "d"]
    lines = [",".join([""] + names)] + [",".join([n] + [repr(float(v)) for v in row]) for n, row in zip(names, m)]
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    np.savetxt(tmp_path / "plain.csv", m, delimiter=",")
    for f in ("m.npy", "m.csv", "plain.csv"):
        np.testing.assert_allclose(load_matrix(tmp_path / f, 4), m, rtol=1e-12)


@pytest.mark.parametrize(
    "bad,problem",
    [
        ("asym", "not symmetric"),
        ("size", "the dataset has 5 classes"),
        ("nan", "non-finite"),
        ("neg", "negative"),
        ("rect", "not square"),
        ("diag", "non-zero diagonal"),
        ("bool", "not real numbers"),
        ("complex", "not real numbers"),
    ],
)
def test_load_matrix_rejects_bad_matrices(tmp_path, bad, problem):
    m = _sym(5)
    if bad == "asym":
        m[1, 3] += 1.0
    elif bad == "size":
        m = _sym(4)
    elif bad == "nan":
        m[2, 0] = m[0, 2] = np.nan
    elif bad == "neg":
        m[2, 0] = m[0, 2] = -1
    elif bad == "rect":
        m = m[:4]
    elif bad == "diag":
        m[1, 1] = 0.5
    elif bad == "bool":
        m = m > 1
    elif bad == "complex":
        m = m + 1j * np.eye(5)
    path = tmp_path / f"{bad}.npy"
    np.save(path, m)
    with pytest.raises(LaqError, match=problem) as e:
        load_matrix(path, 5)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_load_matrix_rejects_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(LaqError, match="does not exist"):
        load_matrix(tmp_path / "nope.npy", 3)
    (tmp_path / "m.json").write_text("[]")
    with pytest.raises(LaqError, match="unsupported suffix"):
        load_matrix(tmp_path / "m.json", 3)


# -------------------------------------------------------------------------------------- plots


def test_plots_write_png_and_svg(tmp_path):
    from laq.plots import similarity as plots

    c = 12
    m = _sym(c, 1) ** 3  # right-skewed, so the heatmap takes its log colour scale
    names = [f"class_{i}" for i in range(c)]
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(c), 5)
    images = rng.integers(0, 256, size=(len(labels), 8, 8, 3), dtype=np.uint8)
    pts = rng.normal(size=(len(labels), 2)) + labels[:, None]
    written = [
        plots.plot_heatmap(m, names, tmp_path / "heat.png"),
        plots.plot_pairs(m, names, images, labels, tmp_path / "pairs", n=3),
        plots.plot_embedding(pts, labels, names, tmp_path / "emb.svg"),
        plots.plot_histogram(m, tmp_path / "hist.png"),
    ]
    for png, svg in written:
        assert png.suffix == ".png" and svg.suffix == ".svg" and png.stem == svg.stem
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "<svg" in svg.read_text()[:2000]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{s}.{e}" for s in ("heat", "pairs", "emb", "hist") for e in ("png", "svg")
    )


# ------------------------------------------------------------------ bounded distances (similarity.distance)


@pytest.mark.parametrize("m1, s1, m2, s2", [(0.0, 1.0, 1.0, 1.0), (0.3, 0.5, -1.2, 2.0), (2.0, 0.01, 2.5, 3.0)])
def test_bhattacharyya_matches_numerical_overlap_integral(m1, s1, m2, s2):
    from scipy.integrate import quad
    from scipy.stats import norm

    from laq.similarity import gaussian_bhattacharyya

    lo, hi = min(m1 - 12 * s1, m2 - 12 * s2), max(m1 + 12 * s1, m2 + 12 * s2)
    pts = sorted({m1, m2, m1 - s1, m1 + s1, m2 - s2, m2 + s2})
    bc, _ = quad(lambda x: math.sqrt(norm.pdf(x, m1, s1) * norm.pdf(x, m2, s2)), lo, hi, points=pts, limit=500)
    assert gaussian_bhattacharyya([m1], [[s1**2]], [m2], [[s2**2]]) == pytest.approx(-math.log(bc), rel=1e-6, abs=1e-9)


def test_bhattacharyya_2d_matches_numerical_integral_and_is_symmetric():
    from scipy.integrate import dblquad
    from scipy.stats import multivariate_normal as mvn

    from laq.similarity import gaussian_bhattacharyya

    mp, cp = np.array([0.0, 0.5]), np.array([[1.0, 0.3], [0.3, 0.5]])
    mq, cq = np.array([1.0, -0.2]), np.array([[0.4, -0.1], [-0.1, 0.8]])
    p, q = mvn(mp, cp), mvn(mq, cq)
    bc, _ = dblquad(lambda y, x: math.sqrt(p.pdf([x, y]) * q.pdf([x, y])), -8, 9, -8, 8, epsabs=1e-10)
    got = gaussian_bhattacharyya(mp, cp, mq, cq)
    assert got == pytest.approx(-math.log(bc), rel=1e-5)
    assert got == pytest.approx(gaussian_bhattacharyya(mq, cq, mp, cp), rel=1e-12)


def test_wasserstein2_matches_closed_forms():
    from scipy.linalg import sqrtm

    from laq.similarity import gaussian_wasserstein2

    # 1-D: (m1 - m2)^2 + (s1 - s2)^2; commuting (diagonal) covariances: sum of (sqrt a - sqrt b)^2
    assert gaussian_wasserstein2([0.5], [[4.0]], [-1.0], [[0.25]]) == pytest.approx(1.5**2 + 1.5**2)
    a, b = np.array([1.0, 4.0, 0.09]), np.array([9.0, 1.0, 0.16])
    assert gaussian_wasserstein2(np.zeros(3), np.diag(a), np.ones(3), np.diag(b)) == pytest.approx(
        3 + float(np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)))
    # general covariances: the textbook formula with scipy's matrix square root
    rng = np.random.default_rng(0)
    for _ in range(5):
        x, y = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
        cp, cq = x @ x.T + 0.1 * np.eye(3), y @ y.T + 0.1 * np.eye(3)
        mp, mq = rng.normal(size=3), rng.normal(size=3)
        rp = np.real(sqrtm(cp))
        ref = np.sum((mp - mq) ** 2) + np.trace(cp + cq - 2 * np.real(sqrtm(rp @ cq @ rp)))
        assert gaussian_wasserstein2(mp, cp, mq, cq) == pytest.approx(ref, rel=1e-8)
        assert gaussian_wasserstein2(mq, cq, mp, cp) == pytest.approx(ref, rel=1e-8)


@pytest.mark.parametrize("distance", ["bhattacharyya", "wasserstein"])
def test_class_distance_matrix_equals_double_loop(distance):
    from laq.similarity import class_distance_matrix, class_gaussians, gaussian_bhattacharyya, gaussian_wasserstein2

    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(7), 15)
    pts = rng.normal(size=(len(labels), 3)) * (1 + labels[:, None] % 3) + labels[:, None]
    m = class_distance_matrix(pts, labels, distance)
    means, covs = class_gaussians(pts, labels)
    pair = gaussian_bhattacharyya if distance == "bhattacharyya" else gaussian_wasserstein2
    ref = np.array([[0.0 if i == j else pair(means[i], covs[i], means[j], covs[j]) for j in range(7)] for i in range(7)])
    np.testing.assert_allclose(m, ref, rtol=1e-9, atol=1e-12)
    assert np.array_equal(m, m.T) and (np.diag(m) == 0).all() and (m > 0)[~np.eye(7, dtype=bool)].all()


def test_a_nearly_singular_class_blows_up_kl_but_not_the_bounded_distances():
    """The degenerate case of the default study: one class's points (nearly) on a line. KL divides by
    its variance across the line; Bhattacharyya and Wasserstein use the average or the square root."""
    from laq.similarity import class_distance_matrix

    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(3), 50)
    pts = rng.normal(size=(150, 2))
    pts[labels == 1] += [4.0, 0.0]
    pts[labels == 2] = np.column_stack([rng.normal(size=50) - 4, 1e-7 * rng.normal(size=50)])  # a flat class
    kl = class_distance_matrix(pts, labels, "kl")
    bh = class_distance_matrix(pts, labels, "bhattacharyya")
    w2 = class_distance_matrix(pts, labels, "wasserstein")
    assert kl[0, 2] > 1e6  # the seed's distance explodes
    assert bh[0, 2] < 10 and w2[0, 2] < 20  # the others stay on the scale of the well-behaved pair
    assert bh[0, 1] < bh[0, 2] * 10 and w2[0, 1] > 5  # and still see that classes 0 and 1 are 4 apart


def test_knn_refuses_a_gaussian_distance():
    from laq.similarity import distance_matrix

    x, labels = np.random.default_rng(0).normal(size=(60, 3)), np.repeat(np.arange(3), 20)
    with pytest.raises(LaqError, match="does not apply to method knn"):
        distance_matrix(x, labels, "knn", distance="bhattacharyya")
    m, _, _ = distance_matrix(x, labels, "pca_gaussian", pca_dim=2, distance="wasserstein")
    assert m.shape == (3, 3)
