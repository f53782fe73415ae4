"""Class-distance matrices: how alike two classes look to a model.

`umap_gaussian` is the seed study's method: embed the images (penultimate features), reduce them to
2-D with UMAP, fit one Gaussian per class, and compare every pair of classes' Gaussians by
`distance`: the seed's symmetric KL divergence (KL(p||q) + KL(q||p)) / 2, the Bhattacharyya distance,
or the squared 2-Wasserstein distance. `pca_gaussian` fits the Gaussians on PCA
components instead; `knn` uses the k-nearest-neighbour KL estimator, which assumes no distribution shape.
"""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from scipy.spatial import cKDTree

from laq import seeding
from laq.io import LaqError

METHODS = ("umap_gaussian", "pca_gaussian", "knn")
# Distances between two classes' Gaussians (similarity.distance). kl: the seed's symmetric KL, which a
# nearly singular class covariance blows up (trace and Mahalanobis terms divide by it); bhattacharyya:
# -ln of the overlap integral, whose Mahalanobis term uses the mean of the two covariances, so one flat
# class cannot blow it up, but tight, well-separated clusters still can (UMAP makes them: on the default
# study it spans 0.3 to 2e8, KL 1.8 to 1e10); wasserstein: the squared 2-Wasserstein distance, a true
# metric in squared embedding units, bounded by the spread of the points (0.3 to 1.7e3 there).
DISTANCES = ("kl", "bhattacharyya", "wasserstein")
DISTANCE_LABELS = {"kl": "symmetric KL divergence", "bhattacharyya": "Bhattacharyya distance",
                   "wasserstein": "squared 2-Wasserstein distance"}


# --------------------------------------------------------------------------------------------- Gaussians


def _as_cov(cov: Any, k: int) -> np.ndarray:
    c = np.asarray(cov, dtype=np.float64)
    if c.ndim == 0:
        c = c.reshape(1, 1)
    if c.shape != (k, k):
        raise ValueError(f"covariance must be {k}x{k}, got {c.shape}")
    return c


def _positive_definite(cov: np.ndarray) -> np.ndarray:
    """`cov`, symmetrised, plus the smallest ridge (relative to its scale) that makes it positive definite.

    Idempotent: a matrix that already passes Cholesky comes back unchanged, so fitting code can
    regularise once and the pairwise KL code sees the same matrices.
    """
    c = (cov + cov.T) / 2
    try:
        np.linalg.cholesky(c)
        return c
    except np.linalg.LinAlgError:
        pass
    k = c.shape[0]
    scale = max(float(np.trace(c)) / k, 1e-12)
    ridge = 1e-9 * scale
    while True:
        r = c + ridge * np.eye(k)
        try:
            np.linalg.cholesky(r)
            return r
        except np.linalg.LinAlgError:
            ridge *= 10


def _inverse_logdet(cov: np.ndarray) -> tuple[np.ndarray, float]:
    """Inverse (by Cholesky solve) and log-determinant of a positive-definite matrix."""
    try:
        factor = cho_factor(cov, lower=True)
    except LinAlgError:  # pragma: no cover - _positive_definite guarantees a factor
        raise ValueError("covariance is not positive definite") from None
    inv = cho_solve(factor, np.eye(cov.shape[0]))
    logdet = 2.0 * float(np.sum(np.log(np.diag(factor[0]))))
    return (inv + inv.T) / 2, logdet


def gaussian_kl(mu_p: Any, cov_p: Any, mu_q: Any, cov_q: Any) -> float:
    """KL(p || q) in nats for p = N(mu_p, cov_p), q = N(mu_q, cov_q) (closed form).

    Singular covariances get a small relative ridge; tiny negative results from rounding are clipped to 0.
    """
    mp = np.atleast_1d(np.asarray(mu_p, dtype=np.float64))
    mq = np.atleast_1d(np.asarray(mu_q, dtype=np.float64))
    k = mp.shape[0]
    if mq.shape != (k,):
        raise ValueError(f"means must have the same length, got {mp.shape} and {mq.shape}")
    cp = _positive_definite(_as_cov(cov_p, k))
    cq = _positive_definite(_as_cov(cov_q, k))
    _, logdet_p = _inverse_logdet(cp)
    inv_q, logdet_q = _inverse_logdet(cq)
    d = mq - mp
    kl = 0.5 * (float(np.sum(inv_q * cp)) + float(d @ inv_q @ d) - k + logdet_q - logdet_p)
    return max(kl, 0.0)


def _class_groups(labels: np.ndarray, num_classes: int | None) -> tuple[int, list[np.ndarray]]:
    """Number of classes and, per class, the indices of its points."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
    if len(labels) == 0:
        raise LaqError("no points to compute class distances from; the embedding is empty.")
    if labels.min() < 0:
        raise ValueError("labels must be non-negative")
    c = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    if labels.max() >= c:
        raise ValueError(f"label {int(labels.max())} is out of range for {c} classes")
    order = np.argsort(labels, kind="stable")
    bounds = np.cumsum(np.bincount(labels, minlength=c))[:-1]
    return c, np.split(order, bounds)


def class_gaussians(
    points: np.ndarray, labels: np.ndarray, *, num_classes: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class mean [C,k] and covariance [C,k,k] (unbiased, ddof=1; ridge only if singular)."""
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != len(labels):
        raise ValueError(f"points must be [N,k] with one label per point, got {x.shape} and {len(labels)} labels")
    c, groups = _class_groups(labels, num_classes)
    k = x.shape[1]
    means = np.empty((c, k))
    covs = np.empty((c, k, k))
    for i, idx in enumerate(groups):
        if len(idx) < 2:
            raise LaqError(
                f"class {i} has {len(idx)} point(s); fitting a Gaussian needs at least 2 per class (more than {k} to avoid a singular fit)."
            )
        means[i] = x[idx].mean(axis=0)
        covs[i] = _positive_definite(np.cov(x[idx], rowvar=False, ddof=1).reshape(k, k))
    return means, covs


def pairwise_gaussian_kl(means: np.ndarray, covs: np.ndarray) -> np.ndarray:
    """[C,C] matrix of KL(p_i || p_j) for Gaussians with positive-definite covariances (not symmetrised)."""
    c, k = means.shape
    inv = np.empty_like(covs)
    logdet = np.empty(c)
    for i in range(c):
        inv[i], logdet[i] = _inverse_logdet(covs[i])
    kl = np.empty((c, c))
    # Row blocks bound the [B,C,k] difference tensor for large C and k.
    block = max(1, 4_000_000 // max(1, c * k))
    for s in range(0, c, block):
        p = slice(s, min(c, s + block))
        trace = np.einsum("qij,pij->pq", inv, covs[p])
        d = means[None, :, :] - means[p, None, :]
        maha = np.einsum("pqi,qij,pqj->pq", d, inv, d, optimize=True)
        kl[p] = 0.5 * (trace + maha - k + logdet[None, :] - logdet[p, None])
    return np.maximum(kl, 0.0)


def gaussian_bhattacharyya(mu_p: Any, cov_p: Any, mu_q: Any, cov_q: Any) -> float:
    """Bhattacharyya distance -ln ∫ sqrt(p q) in nats for two Gaussians (closed form):
    (1/8) d' S^-1 d + (1/2) ln(det S / sqrt(det Sp det Sq)), S = (Sp + Sq) / 2, d = mu_q - mu_p."""
    mp = np.atleast_1d(np.asarray(mu_p, dtype=np.float64))
    k = mp.shape[0]
    out = pairwise_bhattacharyya(
        np.stack([mp, np.atleast_1d(np.asarray(mu_q, dtype=np.float64))]),
        np.stack([_positive_definite(_as_cov(cov_p, k)), _positive_definite(_as_cov(cov_q, k))]),
    )
    return float(out[0, 1])


def gaussian_wasserstein2(mu_p: Any, cov_p: Any, mu_q: Any, cov_q: Any) -> float:
    """Squared 2-Wasserstein distance between two Gaussians (closed form):
    |mu_p - mu_q|^2 + tr(Sp + Sq - 2 (Sp^1/2 Sq Sp^1/2)^1/2)."""
    mp = np.atleast_1d(np.asarray(mu_p, dtype=np.float64))
    k = mp.shape[0]
    out = pairwise_wasserstein2(
        np.stack([mp, np.atleast_1d(np.asarray(mu_q, dtype=np.float64))]),
        np.stack([_as_cov(cov_p, k), _as_cov(cov_q, k)]),
    )
    return float(out[0, 1])


def _row_blocks(c: int, k: int):
    """Row slices bounding the [B,C,k,k] pair tensors for large C and k."""
    block = max(1, 2_000_000 // max(1, c * k * k))
    for s in range(0, c, block):
        yield slice(s, min(c, s + block))


def pairwise_bhattacharyya(means: np.ndarray, covs: np.ndarray) -> np.ndarray:
    """[C,C] Bhattacharyya distances between Gaussians with positive-definite covariances (symmetric)."""
    c, k = means.shape
    logdet = np.array([_inverse_logdet(cv)[1] for cv in covs])
    out = np.empty((c, c))
    for p in _row_blocks(c, k):
        avg = (covs[p, None] + covs[None, :]) / 2  # [B,C,k,k]
        d = means[None, :, :] - means[p, None, :]  # [B,C,k]
        chol = np.linalg.cholesky(avg)
        z = np.linalg.solve(chol, d[..., None])[..., 0]  # L^-1 d, so |z|^2 = d' S^-1 d
        logdet_avg = 2 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)
        out[p] = (z**2).sum(-1) / 8 + 0.5 * (logdet_avg - 0.5 * (logdet[p, None] + logdet[None, :]))
    out = np.maximum((out + out.T) / 2, 0.0)  # exact symmetry; rounding can dip below 0 on the diagonal
    np.fill_diagonal(out, 0.0)
    return out


def _sqrt_psd(cov: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((cov + np.swapaxes(cov, -1, -2)) / 2)
    return (v * np.sqrt(np.maximum(w, 0))[..., None, :]) @ np.swapaxes(v, -1, -2)


def pairwise_wasserstein2(means: np.ndarray, covs: np.ndarray) -> np.ndarray:
    """[C,C] squared 2-Wasserstein distances between Gaussians (covariances positive semi-definite)."""
    c, k = means.shape
    roots = _sqrt_psd(covs)
    traces = np.trace(covs, axis1=-2, axis2=-1)
    out = np.empty((c, c))
    for p in _row_blocks(c, k):
        m = roots[p, None] @ covs[None, :] @ roots[p, None]  # Sp^1/2 Sq Sp^1/2, [B,C,k,k]
        cross = np.sqrt(np.maximum(np.linalg.eigvalsh((m + np.swapaxes(m, -1, -2)) / 2), 0)).sum(-1)
        d = means[None, :, :] - means[p, None, :]
        out[p] = (d**2).sum(-1) + traces[p, None] + traces[None, :] - 2 * cross
    out = np.maximum((out + out.T) / 2, 0.0)
    np.fill_diagonal(out, 0.0)
    return out


def class_distance_matrix(
    points: np.ndarray, labels: np.ndarray, distance: str = "kl", *, num_classes: int | None = None
) -> np.ndarray:
    """[C,C] symmetric distance (`DISTANCES`) between per-class Gaussians of `points`; zero diagonal."""
    if distance not in DISTANCES:
        raise LaqError(f"unknown similarity distance {distance!r}; use one of {', '.join(DISTANCES)}.")
    if distance == "kl":
        return class_kl_matrix(points, labels, num_classes=num_classes)
    means, covs = class_gaussians(points, labels, num_classes=num_classes)
    return pairwise_bhattacharyya(means, covs) if distance == "bhattacharyya" else pairwise_wasserstein2(means, covs)


def class_kl_matrix(points: np.ndarray, labels: np.ndarray, *, num_classes: int | None = None) -> np.ndarray:
    """[C,C] symmetric KL, (KL(p||q) + KL(q||p)) / 2, between per-class Gaussians of `points`; zero diagonal.

    C is `num_classes`, or max(labels) + 1; every class needs at least 2 points.
    """
    means, covs = class_gaussians(points, labels, num_classes=num_classes)
    kl = pairwise_gaussian_kl(means, covs)
    sym = (kl + kl.T) / 2
    np.fill_diagonal(sym, 0.0)
    return sym


# -------------------------------------------------------------------------------------- embeddings


def umap_2d(
    features: np.ndarray, *, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1, **extra: Any
) -> np.ndarray:
    """[N,2] UMAP embedding with a fixed random_state (which makes umap-learn single-threaded)."""
    import umap  # slow to import and JIT-compiles on first use: keep it out of module import

    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2 or len(x) < 4:
        raise LaqError(f"UMAP needs at least 4 feature vectors in a 2-D array, got shape {x.shape}.")
    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=min(int(n_neighbors), len(x) - 1),
        min_dist=float(min_dist),
        random_state=seeding.derive_seed(seed, "similarity", "umap") % 2**32,  # RandomState takes 32 bits
        **extra,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs.*overridden.*")
        return np.asarray(reducer.fit_transform(x), dtype=np.float64)


def pca_reduce(features: np.ndarray, dim: int) -> np.ndarray:
    """[N, min(dim, D)] scores on the top principal components (centred; sign fixed so runs agree)."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be [N,D], got {x.shape}")
    dim = min(int(dim), x.shape[1])
    if dim < 1:
        raise ValueError("dim must be at least 1")
    xc = x - x.mean(axis=0)
    # Eigen-decomposition of the DxD scatter matrix: far cheaper than an SVD of a tall N x D matrix.
    evals, evecs = np.linalg.eigh(xc.T @ xc)
    top = evecs[:, np.argsort(evals)[::-1][:dim]]
    flip = np.sign(top[np.argmax(np.abs(top), axis=0), np.arange(dim)])
    return xc @ (top * np.where(flip == 0, 1.0, flip))


# -------------------------------------------------------------------------------------------- k-NN


def knn_kl_matrix(
    features: np.ndarray, labels: np.ndarray, k: int = 5, *, num_classes: int | None = None, workers: int = 1
) -> np.ndarray:
    """[C,C] symmetric k-NN estimate of the KL divergence between classes (Wang, Kulkarni & Verdu 2009).

    D(P||Q) ~ d/n * sum_i log(nu_k(i) / rho_k(i)) + log(m / (n - 1)), where rho_k(i) is the distance from
    x_i in P (n points, d dims) to its k-th neighbour among the other points of P and nu_k(i) to its k-th
    neighbour in Q (m points). The estimate is symmetrised and, because it can dip below zero for
    near-identical classes while a distance cannot, negative values are clamped to 0. Distances are
    floored at 1e-10 x the feature scale so duplicate points stay finite.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != len(labels):
        raise ValueError(f"features must be [N,d] with one label per row, got {x.shape} and {len(labels)} labels")
    c, groups = _class_groups(labels, num_classes)
    k = int(k)
    small = [i for i, g in enumerate(groups) if len(g) <= k]
    if small:
        raise LaqError(
            f"class {small[0]} has {len(groups[small[0]])} point(s); the k-NN estimator with k={k} needs at least {k + 1} per class (lower knn_k)."
        )
    n, d = x.shape
    floor = 1e-10 * max(float(np.abs(x).max()), 1e-300)
    label_of = np.empty(n, dtype=np.int64)
    for i, g in enumerate(groups):
        label_of[g] = i
    # logdist[i, q]: log distance from point i to its k-th neighbour in class q (itself excluded).
    logdist = np.empty((n, c))
    for q, g in enumerate(groups):
        tree = cKDTree(x[g])
        own = label_of == q
        dist_other, _ = tree.query(x[~own], k=[k], workers=workers)
        dist_own, _ = tree.query(x[own], k=[k + 1], workers=workers)
        logdist[~own, q] = np.log(np.maximum(dist_other[:, 0], floor))
        logdist[own, q] = np.log(np.maximum(dist_own[:, 0], floor))
    counts = np.array([len(g) for g in groups], dtype=np.float64)
    mean_log = np.stack([logdist[g].mean(axis=0) for g in groups])  # [p, q]
    rho = np.diag(mean_log)
    est = d * (mean_log - rho[:, None]) + np.log(counts[None, :] / (counts[:, None] - 1))
    sym = np.maximum((est + est.T) / 2, 0.0)
    np.fill_diagonal(sym, 0.0)
    return sym


# ------------------------------------------------------------------------------------------ dispatch


def subsample_per_class(labels: np.ndarray, max_per_class: int | None, seed: int) -> np.ndarray:
    """Sorted indices keeping at most `max_per_class` points of every class (seeded; all if None)."""
    labels = np.asarray(labels)
    if max_per_class is None:
        return np.arange(len(labels))
    rng = seeding.rng(seed, "similarity", "subsample")
    keep = []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        keep.append(idx if len(idx) <= max_per_class else rng.choice(idx, size=max_per_class, replace=False))
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)


def distance_matrix(
    features: np.ndarray,
    labels: np.ndarray,
    method: str = "umap_gaussian",
    *,
    seed: int = 0,
    umap: dict[str, Any] | None = None,
    pca_dim: int = 10,
    knn_k: int = 5,
    max_per_class: int | None = None,
    num_classes: int | None = None,
    distance: str = "kl",
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(matrix [C,C], 2-D points [N',2] or None, labels [N']) for `method`.

    umap_gaussian: Gaussians on UMAP-2D points (the points are returned).
    pca_gaussian: Gaussians on `pca_dim` principal components; the first two components are returned
        as the 2-D view (the Gaussians themselves live in `pca_dim` dimensions).
    knn: k-NN KL estimate on `pca_dim` principal components (the estimator degrades in high
        dimension); no 2-D points.
    With `max_per_class`, each class is first cut to that many points (seeded), which bounds UMAP time.
    `distance` compares the Gaussians of the two Gaussian methods (`DISTANCES`); knn estimates KL only.
    """
    if method not in METHODS:
        raise LaqError(f"unknown similarity method {method!r}; use one of {', '.join(METHODS)}.")
    if distance not in DISTANCES or (method == "knn" and distance != "kl"):
        raise LaqError(f"similarity.distance {distance!r} does not apply to method {method}; use kl with knn, or one of "
                       f"{', '.join(DISTANCES)} with the Gaussian methods.")
    x = np.asarray(features)
    labels = np.asarray(labels, dtype=np.int64)
    if x.ndim != 2 or len(x) != len(labels):
        raise ValueError(f"features must be [N,D] with one label per row, got {x.shape} and {len(labels)} labels")
    keep = subsample_per_class(labels, max_per_class, seed)
    x, labels = x[keep], labels[keep]
    if method == "umap_gaussian":
        pts = umap_2d(x, seed=seed, **(umap or {}))
        return class_distance_matrix(pts, labels, distance, num_classes=num_classes), pts, labels
    z = pca_reduce(x, max(int(pca_dim), 2))
    zk = z[:, : int(pca_dim)]
    if method == "pca_gaussian":
        view = z[:, :2] if z.shape[1] >= 2 else np.column_stack([z[:, 0], np.zeros(len(z))])
        return class_distance_matrix(zk, labels, distance, num_classes=num_classes), view, labels
    return knn_kl_matrix(zk, labels, knn_k, num_classes=num_classes), None, labels


# ------------------------------------------------------------------------------------ user matrices


def _read_csv_matrix(path: Path) -> np.ndarray:
    """Numbers of a comma- (or tab-) separated file; a non-numeric first row (header) and first column
    (row names) are skipped, as pandas writes them."""
    text = path.read_text()
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = "\t" if "\t" in first and "," not in first else ","
    rows = [r for r in csv.reader(text.splitlines(), delimiter=delimiter) if any(cell.strip() for cell in r)]

    def numeric(cells: list[str]) -> bool:
        try:
            [float(c) for c in cells]
            return True
        except ValueError:
            return False

    if rows and not numeric(rows[0]) and not numeric(rows[0][1:]):
        rows = rows[1:]
    if rows and all(not numeric(r[:1]) for r in rows):
        rows = [r[1:] for r in rows]
    if not rows:
        raise LaqError(f"matrix file {path} has no numbers; give a CxC matrix of class distances.")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise LaqError(f"matrix file {path} has rows of different lengths ({min(widths)} to {max(widths)} values); give a CxC matrix.")
    try:
        return np.array([[float(c) for c in r] for r in rows], dtype=np.float64)
    except ValueError as e:
        raise LaqError(f"matrix file {path} has a value that is not a number ({e}); give a CxC matrix of numbers.") from None


def load_matrix(path: str | os.PathLike, num_classes: int, *, produced: bool = False) -> np.ndarray:
    """A CxC class-distance matrix (.npy, or .csv/.tsv/.txt text), validated; returned exactly symmetric
    with an exactly zero diagonal.

    Raises LaqError unless it holds real numbers (not bool or complex) and is square, C = `num_classes`,
    finite, non-negative, symmetric and zero on the diagonal (both to 1e-6 of its largest entry).
    `produced`: the matrix is a workflow output (`similarity/distance.npy`), so the message says how
    to rebuild it rather than how to write one.
    """
    if not produced:
        return _load_matrix(path, num_classes)
    try:
        return _load_matrix(path, num_classes)
    except LaqError as e:
        from laq.io import rebuild_hint

        what = str(e).split("; ")[0].rstrip(".").replace("matrix file", "distance matrix", 1)
        raise LaqError(f"{what}; {rebuild_hint(path)}.") from None


def _load_matrix(path: str | os.PathLike, num_classes: int) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise LaqError(f"matrix file {p} does not exist; give a .npy or .csv CxC matrix.")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        try:
            m = np.load(p, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise LaqError(f"matrix file {p} is not a readable numeric .npy array ({e}); save it with numpy.save.") from None
    elif suffix in (".csv", ".txt", ".tsv"):
        try:
            m = _read_csv_matrix(p)
        except UnicodeDecodeError:
            raise LaqError(f"matrix file {p} is not a text file; give a .npy array or a .csv of numbers.") from None
    else:
        raise LaqError(f"matrix file {p} has unsupported suffix {p.suffix!r}; give a .npy or .csv file.")
    if m.dtype.kind not in "iuf":  # bool would pass as 0/1 distances, complex would lose its imaginary part
        raise LaqError(f"matrix file {p} holds {m.dtype} values, not real numbers; give a CxC matrix of float distances.")
    m = m.astype(np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise LaqError(f"matrix file {p} has shape {m.shape}, which is not square; give a CxC matrix.")
    if m.shape[0] != num_classes:
        raise LaqError(
            f"matrix file {p} is {m.shape[0]}x{m.shape[1]} but the dataset has {num_classes} classes; give a {num_classes}x{num_classes} matrix."
        )
    bad = ~np.isfinite(m)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise LaqError(f"matrix file {p} has {int(bad.sum())} non-finite value(s) (NaN or inf), the first at row {i}, column {j}.")
    if m.min() < 0:
        i, j = np.unravel_index(np.argmin(m), m.shape)
        raise LaqError(f"matrix file {p} has negative distances (smallest {m[i, j]:.4g} at row {i}, column {j}); distances must be >= 0.")
    diff = np.abs(m - m.T)
    tol = 1e-6 * max(float(m.max()), 1e-12)
    if diff.max() > tol:
        i, j = np.unravel_index(np.argmax(diff), m.shape)
        raise LaqError(
            f"matrix file {p} is not symmetric (entry [{i},{j}] = {m[i, j]:.6g} but [{j},{i}] = {m[j, i]:.6g}); symmetrise it, e.g. (M + M.T) / 2."
        )
    diag = np.abs(np.diag(m))
    if diag.max() > tol:
        i = int(np.argmax(diag))
        raise LaqError(f"matrix file {p} has a non-zero diagonal ([{i},{i}] = {m[i, i]:.6g}); a class's distance to itself must be 0.")
    out = (m + m.T) / 2
    np.fill_diagonal(out, 0.0)
    return out
