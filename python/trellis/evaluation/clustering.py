"""Clusters of trajectory vectors with ids that survive re-clustering.

- Vectors are centred on the mean of the clustered set (the component every
  trajectory shares: greetings, follow-up boilerplate, the language itself)
  and scaled to unit length, so k-means on them is spherical k-means on
  cosine similarity. The centre is kept with the clustering, so later
  trajectories are placed the same way.
- k-means (Lloyd's, mini-batches on large sets), seeded, on the leading
  principal axes. k, unless given, is the candidate with the best silhouette
  on the distinct points (docs/evaluation.md says how it was chosen).
- A new trajectory joins its nearest centroid. A re-clustering (asked for,
  or when members sit farther from their centroids than at fit time by more
  than a threshold) maps each new cluster to the old cluster it shares most
  members with (Hungarian assignment on the overlap counts), so a cluster
  keeps its number; a new cluster without a partner gets a fresh number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score

from trellis.evaluation.embedders import Vectors

Labels = npt.NDArray[np.int64]

K_CANDIDATES = (2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 48)
SILHOUETTE_SAMPLE = 1500
REDUCED_DIMS = 32
MINIBATCH_FROM = 20000


@dataclass(frozen=True)
class Fitted:
    center: Vectors  # (dim,)
    centroids: Vectors  # (k, dim), unit length, in the space of `prepare`
    numbers: Labels  # (k,) the stable cluster number of each centroid
    k: int
    silhouette: float | None


def prepare(vectors: Vectors, center: Vectors) -> Vectors:
    """Centre and scale to unit length (a zero row stays zero)."""
    shifted = vectors.astype(np.float32) - center
    norms = np.linalg.norm(shifted, axis=1, keepdims=True)
    return (shifted / np.maximum(norms, 1e-12)).astype(np.float32)


def _kmeans(points: Vectors, k: int, seed: int) -> KMeans | MiniBatchKMeans:
    """Lloyd's k-means up to MINIBATCH_FROM points, mini-batches beyond.

    Mini-batches pay a fixed cost per batch and init that dominates on small
    sets; full passes are what grows with size on large ones.
    """
    if len(points) < MINIBATCH_FROM:
        return KMeans(n_clusters=k, random_state=seed, n_init=1).fit(points)
    return MiniBatchKMeans(
        n_clusters=k, random_state=seed, n_init=1, batch_size=4096, max_iter=50
    ).fit(points)


def choose_k(
    points: Vectors, seed: int, candidates: tuple[int, ...] = K_CANDIDATES
) -> tuple[int, float]:
    """The candidate k with the best silhouette, and that silhouette.

    Scored on the distinct points (a seeded sample of them): repeated
    identical asks would otherwise form perfectly tight clusters that reward
    splitting each topic into its paraphrases. Candidates stop at the square
    root of the distinct points, the usual upper bound for k: past it,
    silhouettes keep rising as clusters shrink towards single phrasings.
    """
    rng = np.random.default_rng(seed)
    distinct = np.unique(points.round(5), axis=0).astype(np.float32)
    sample = distinct
    if len(distinct) > SILHOUETTE_SAMPLE:
        sample = distinct[rng.choice(len(distinct), SILHOUETTE_SAMPLE, replace=False)]
    limit = int(np.sqrt(len(distinct)))
    best_k, best_score = 1, -1.0
    for k in candidates:
        if k > limit:
            break
        labels = _kmeans(sample, k, seed).labels_
        if len(set(labels.tolist())) < 2:
            continue
        score = float(silhouette_score(sample, labels, random_state=seed))
        if score > best_score:
            best_k, best_score = k, score
    return best_k, best_score


def _reduced(points: Vectors, seed: int) -> Vectors:
    """The points on their top REDUCED_DIMS principal axes, unit length again.

    k-means and silhouettes cost in proportion to the dimensions; the leading
    axes of sentence vectors carry the topic structure, the tail mostly noise.
    """
    dims = min(REDUCED_DIMS, points.shape[1], len(points))
    if dims < 2 or dims == points.shape[1]:
        return points
    rng = np.random.default_rng(seed)
    sample = points[rng.choice(len(points), min(len(points), 20000), replace=False)]
    pca = PCA(n_components=dims, svd_solver="randomized", random_state=seed).fit(sample)
    reduced = pca.transform(points).astype(np.float32)
    return (reduced / np.maximum(np.linalg.norm(reduced, axis=1, keepdims=True), 1e-12)).astype(
        np.float32
    )


def fit(vectors: Vectors, k: int | None, seed: int) -> Fitted:
    """A fresh clustering of the vectors (numbers 0..k-1 before any mapping).

    Clustered on the leading principal axes; the centroids kept are the unit
    means of each cluster's members in the full space, where new vectors are
    placed.
    """
    center = vectors.astype(np.float64).mean(axis=0).astype(np.float32)
    points = prepare(vectors, center)
    reduced = _reduced(points, seed)
    silhouette: float | None = None
    if k is None or k <= 0:
        k, score = choose_k(reduced, seed)
        silhouette = score if k > 1 else None
    k = max(1, min(k, len(points)))
    labels = _kmeans(reduced, k, seed).labels_
    sums = np.zeros((k, points.shape[1]), np.float64)
    np.add.at(sums, labels, points)
    centroids = sums.astype(np.float32)
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    return Fitted(center, centroids, np.arange(k, dtype=np.int64), k, silhouette)


def assign(vectors: Vectors, fitted: Fitted) -> tuple[Labels, npt.NDArray[np.float32]]:
    """Nearest centroid (its stable number) and cosine distance to it, per vector."""
    points = prepare(vectors, fitted.center)
    labels = np.empty(len(points), np.int64)
    distances = np.empty(len(points), np.float32)
    for start in range(0, len(points), 65536):
        similarity = points[start : start + 65536] @ fitted.centroids.T
        best = similarity.argmax(axis=1)
        labels[start : start + 65536] = fitted.numbers[best]
        distances[start : start + 65536] = 1.0 - similarity[np.arange(len(best)), best]
    return labels, distances


def carry_numbers(
    previous: Labels, current: Labels, current_numbers: Labels, next_free: int
) -> Labels:
    """Numbers for the new clusters: each takes the old number it overlaps most.

    previous[i] and current[i] are trajectory i's old and new cluster numbers
    (new numbers 0..k-1 as fitted). The overlap matrix is matched one to one
    (Hungarian, maximal total overlap); a new cluster left without a partner
    (more clusters than before, or no shared member) gets next_free, next_free+1...
    """
    old_numbers = np.unique(previous)
    old_position = {int(n): i for i, n in enumerate(old_numbers)}
    overlap = np.zeros((len(current_numbers), len(old_numbers)), np.int64)
    for old, new in zip(previous.tolist(), current.tolist(), strict=True):
        overlap[new, old_position[old]] += 1
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    mapped = np.full(len(current_numbers), -1, np.int64)
    for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
        if overlap[row, col] > 0:
            mapped[row] = old_numbers[col]
    for row in range(len(mapped)):
        if mapped[row] < 0:
            mapped[row] = next_free
            next_free += 1
    return mapped


def exemplars(
    labels: Labels, distances: npt.NDArray[np.float32], per_cluster: int
) -> npt.NDArray[np.bool_]:
    """True for the per_cluster members closest to their centroid (ties by position)."""
    order = np.lexsort((np.arange(len(labels)), distances, labels))
    flags = np.zeros(len(labels), np.bool_)
    sorted_labels = labels[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_labels)) + 1]
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    flags[order[rank < per_cluster]] = True
    return flags
