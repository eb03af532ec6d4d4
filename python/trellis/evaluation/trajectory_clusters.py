"""Cluster trajectory embeddings per scope and view, keeping cluster ids stable.

What the models int_trajectory_clusterings_fitted and
int_trajectory_clusters_assigned run (the arithmetic is in clustering.py).

A group is a scope and a view. Scope `tenant:<id>` clusters one tenant's
trajectories (the default); scope `global` clusters the trajectories of the
tenants whose policy allows global analytics (tenant_data_policies; a tenant
without a row is not allowed). A group is (re)fitted when it has no
clustering yet, when asked (var evaluation_recluster), when the embedder
changed, or when its members' mean distance to their centroids has grown by
more than the drift threshold since the fit. Otherwise the latest clustering
stays and new trajectories join their nearest centroid.

Ids: clustering_id `<scope>:<view>:<n>` (n-th fit of the group);
cluster_id `<scope>:<view>:c<number>`, the number carried across fits by
member overlap (clustering.carry_numbers).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from trellis.errors import TrellisError
from trellis.evaluation import clustering
from trellis.evaluation.embedders import Vectors


@dataclass(frozen=True)
class ClusterSettings:
    scope: str = "tenant"  # tenant | global
    embedder: str = "wordllama"  # the embedder's name; its newest version is used
    k: int = 0  # 0: chosen by silhouette
    seed: int = 7
    recluster: bool = False
    drift_threshold: float = 0.25
    exemplars_per_cluster: int = 3

    def __post_init__(self) -> None:
        if self.scope not in ("tenant", "global"):
            raise TrellisError(
                f"evaluation_cluster_scope must be tenant or global, not {self.scope!r}"
            )


FITTED_SCHEMA = pa.schema(
    [
        ("clustering_id", pa.string()),
        ("cluster_id", pa.string()),
        ("scope_key", pa.string()),
        ("view", pa.string()),
        ("embedder", pa.string()),
        ("fit_reason", pa.string()),
        ("previous_clustering_id", pa.string()),
        ("clustering_seq", pa.int32()),
        ("cluster_number", pa.int32()),
        ("k", pa.int32()),
        ("cluster_size", pa.int64()),
        ("previous_overlap", pa.int64()),
        ("silhouette", pa.float64()),
        ("mean_distance_at_fit", pa.float64()),
        ("centroid", pa.list_(pa.float32())),
        ("center", pa.list_(pa.float32())),
        ("fitted_at", pa.timestamp("us", tz="UTC")),
    ]
)

ASSIGNED_SCHEMA = pa.schema(
    [
        ("trajectory_id", pa.string()),
        ("tenant_id", pa.string()),
        ("view", pa.string()),
        ("clustering_id", pa.string()),
        ("cluster_id", pa.string()),
        ("distance_to_centroid", pa.float64()),
        ("is_exemplar", pa.bool_()),
        ("assigned_at", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass(frozen=True)
class Group:
    scope_key: str
    view: str
    trajectory_ids: list[str]
    tenant_ids: list[str]
    vectors: Vectors
    embedded_at: pa.Array


@dataclass(frozen=True)
class Clustering:
    clustering_id: str
    embedder: str
    seq: int
    fitted: clustering.Fitted
    mean_distance: float
    max_number: int
    fitted_at: dt.datetime


def current_embedder(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    """The newest name@version of the embedder among the stored embeddings."""
    row = con.execute(
        "select embedder from _clu_embeddings where split_part(embedder, '@', 1) = $name "
        "group by embedder order by max(embedded_at) desc, embedder desc limit 1",
        {"name": name},
    ).fetchone()
    return None if row is None else str(row[0])


def _vectors(table: pa.Table) -> Vectors:
    column = table["embedding"].combine_chunks()
    if len(column) == 0:
        return np.zeros((0, 0), np.float32)
    flat = pc.list_flatten(column).to_numpy(zero_copy_only=False).astype(np.float32)
    return flat.reshape(len(column), -1)


def _groups(con: duckdb.DuckDBPyConnection, label: str, scope: str) -> Iterator[Group]:
    scope_sql = "'tenant:' || embeddings.tenant_id" if scope == "tenant" else "'global'"
    allowed = (
        ""
        if scope == "tenant"
        else "and embeddings.tenant_id in "
        "(select tenant_id from _clu_policies where allow_global_analytics)"
    )
    table = con.execute(
        f"""
        select
            {scope_sql} as scope_key,
            embeddings.view,
            embeddings.trajectory_id,
            embeddings.tenant_id,
            embeddings.embedding,
            embeddings.embedded_at
        from _clu_embeddings as embeddings
        where embeddings.embedder = $label {allowed}
        order by scope_key, embeddings.view, embeddings.trajectory_id
        """,
        {"label": label},
    ).fetch_arrow_table()
    keys = pc.binary_join_element_wise(table["scope_key"], table["view"], "\x00").to_pylist()
    start = 0
    while start < len(keys):
        end = start
        while end < len(keys) and keys[end] == keys[start]:
            end += 1
        part = table.slice(start, end - start)
        yield Group(
            scope_key=part["scope_key"][0].as_py(),
            view=part["view"][0].as_py(),
            trajectory_ids=part["trajectory_id"].to_pylist(),
            tenant_ids=part["tenant_id"].to_pylist(),
            vectors=_vectors(part),
            embedded_at=part["embedded_at"].combine_chunks(),
        )
        start = end


def _clusterings(
    con: duckdb.DuckDBPyConnection, table: str | None
) -> dict[tuple[str, str], Clustering]:
    """The latest clustering of each group in the fitted table."""
    if table is None:
        return {}
    rows = con.execute(
        f"""
        with latest as (
            select scope_key, view, max(clustering_seq) as clustering_seq,
            from {table} group by scope_key, view
        ),
        numbers as (
            select scope_key, view, max(cluster_number) as max_number
            from {table} group by scope_key, view
        )
        select fitted.*, numbers.max_number
        from {table} as fitted
        inner join latest using (scope_key, view, clustering_seq)
        inner join numbers using (scope_key, view)
        order by fitted.scope_key, fitted.view, fitted.cluster_number
        """
    ).fetch_arrow_table()
    found: dict[tuple[str, str], Clustering] = {}
    for key in {
        (s, v) for s, v in zip(rows["scope_key"].to_pylist(), rows["view"].to_pylist(), strict=True)
    }:
        mask = pc.and_(pc.equal(rows["scope_key"], key[0]), pc.equal(rows["view"], key[1]))
        part = rows.filter(mask)
        centroids = pc.list_flatten(part["centroid"].combine_chunks()).to_numpy(
            zero_copy_only=False
        )
        center = np.asarray(part["center"][0].as_py(), np.float32)
        fitted = clustering.Fitted(
            center=center,
            centroids=centroids.astype(np.float32).reshape(part.num_rows, -1),
            numbers=np.asarray(part["cluster_number"].to_pylist(), np.int64),
            k=part.num_rows,
            silhouette=part["silhouette"][0].as_py(),
        )
        found[key] = Clustering(
            clustering_id=part["clustering_id"][0].as_py(),
            embedder=part["embedder"][0].as_py(),
            seq=part["clustering_seq"][0].as_py(),
            fitted=fitted,
            mean_distance=part["mean_distance_at_fit"][0].as_py(),
            max_number=part["max_number"][0].as_py(),
            fitted_at=part["fitted_at"][0].as_py(),
        )
    return found


def _previous_labels(
    con: duckdb.DuckDBPyConnection, group: Group, previous: Clustering, label: str
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(positions in the group, old cluster numbers) of the members the old clustering can place."""
    if previous.embedder == label:
        labels, _ = clustering.assign(group.vectors, previous.fitted)
        return np.arange(len(labels)), labels
    old = con.execute(
        "select trajectory_id, embedding from _clu_embeddings "
        "where embedder = $embedder and view = $view",
        {"embedder": previous.embedder, "view": group.view},
    ).fetch_arrow_table()
    position = {tid: i for i, tid in enumerate(group.trajectory_ids)}
    keep = [i for i, tid in enumerate(old["trajectory_id"].to_pylist()) if tid in position]
    if not keep:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    old = old.take(pa.array(keep))
    labels, _ = clustering.assign(_vectors(old), previous.fitted)
    positions = np.asarray([position[tid] for tid in old["trajectory_id"].to_pylist()], np.int64)
    return positions, labels


def _fit_reason(
    group: Group, previous: Clustering | None, label: str, settings: ClusterSettings
) -> str | None:
    if previous is None:
        return "first"
    if settings.recluster:
        return "requested"
    if previous.embedder != label:
        return "embedder_changed"
    _, distances = clustering.assign(group.vectors, previous.fitted)
    if previous.mean_distance > 0 and float(distances.mean()) / previous.mean_distance - 1 > (
        settings.drift_threshold
    ):
        return "drift"
    return None


def fit_clusterings(
    con: duckdb.DuckDBPyConnection,
    embeddings: duckdb.DuckDBPyRelation,
    policies: duckdb.DuckDBPyRelation,
    existing: str | None,
    settings: ClusterSettings,
    now: dt.datetime | None = None,
) -> pa.Table:
    """Rows of the clusterings fitted in this run (one per cluster); none when nothing is due."""
    embeddings.create_view("_clu_embeddings", replace=True)
    policies.create_view("_clu_policies", replace=True)
    fitted_at = now or dt.datetime.now(dt.UTC)
    label = current_embedder(con, settings.embedder)
    rows: list[dict[str, object]] = []
    if label is None:
        return pa.Table.from_pylist(rows, schema=FITTED_SCHEMA)
    latest = _clusterings(con, existing)
    for group in _groups(con, label, settings.scope):
        previous = latest.get((group.scope_key, group.view))
        reason = _fit_reason(group, previous, label, settings)
        if reason is None:
            continue
        fitted = clustering.fit(group.vectors, settings.k, settings.seed)
        new_labels, _ = clustering.assign(group.vectors, fitted)
        overlaps = np.zeros(fitted.k, np.int64)
        if previous is not None:
            positions, old_labels = _previous_labels(con, group, previous, label)
            numbers = clustering.carry_numbers(
                old_labels, new_labels[positions], fitted.numbers, previous.max_number + 1
            )
            for old, new in zip(old_labels.tolist(), new_labels[positions].tolist(), strict=True):
                if numbers[new] == old:
                    overlaps[new] += 1
            fitted = clustering.Fitted(
                fitted.center, fitted.centroids, numbers, fitted.k, fitted.silhouette
            )
        labels, distances = clustering.assign(group.vectors, fitted)
        seq = 1 if previous is None else previous.seq + 1
        clustering_id = f"{group.scope_key}:{group.view}:{seq}"
        center = fitted.center.tolist()
        for index in range(fitted.k):
            number = int(fitted.numbers[index])
            rows.append(
                {
                    "clustering_id": clustering_id,
                    "cluster_id": f"{group.scope_key}:{group.view}:c{number}",
                    "scope_key": group.scope_key,
                    "view": group.view,
                    "embedder": label,
                    "fit_reason": reason,
                    "previous_clustering_id": None if previous is None else previous.clustering_id,
                    "clustering_seq": seq,
                    "cluster_number": number,
                    "k": fitted.k,
                    "cluster_size": int((labels == number).sum()),
                    "previous_overlap": None if previous is None else int(overlaps[index]),
                    "silhouette": fitted.silhouette,
                    "mean_distance_at_fit": float(distances.mean()),
                    "centroid": fitted.centroids[index].tolist(),
                    "center": center,
                    "fitted_at": fitted_at,
                }
            )
    return pa.Table.from_pylist(rows, schema=FITTED_SCHEMA)


def assign_clusters(
    con: duckdb.DuckDBPyConnection,
    embeddings: duckdb.DuckDBPyRelation,
    policies: duckdb.DuckDBPyRelation,
    fitted_table: duckdb.DuckDBPyRelation,
    settings: ClusterSettings,
) -> pa.Table:
    """One row per trajectory and view: its cluster in the group's latest clustering."""
    embeddings.create_view("_clu_embeddings", replace=True)
    policies.create_view("_clu_policies", replace=True)
    fitted_table.create_view("_clu_fitted", replace=True)
    label = current_embedder(con, settings.embedder)
    parts: list[pa.Table] = []
    if label is None:
        return ASSIGNED_SCHEMA.empty_table()
    latest = _clusterings(con, "_clu_fitted")
    for group in _groups(con, label, settings.scope):
        current = latest.get((group.scope_key, group.view))
        if current is None:
            continue
        labels, distances = clustering.assign(group.vectors, current.fitted)
        flags = clustering.exemplars(labels, distances, settings.exemplars_per_cluster)
        fitted_at = pa.scalar(current.fitted_at, pa.timestamp("us", tz="UTC"))
        embedded_at = group.embedded_at.cast(pa.timestamp("us", tz="UTC"))
        assigned_at = pc.if_else(pc.greater(embedded_at, fitted_at), embedded_at, fitted_at)
        prefix = f"{group.scope_key}:{group.view}:c"
        parts.append(
            pa.table(
                {
                    "trajectory_id": pa.array(group.trajectory_ids, pa.string()),
                    "tenant_id": pa.array(group.tenant_ids, pa.string()),
                    "view": pa.array([group.view] * len(labels), pa.string()),
                    "clustering_id": pa.array([current.clustering_id] * len(labels), pa.string()),
                    "cluster_id": pa.array([prefix + str(n) for n in labels.tolist()], pa.string()),
                    "distance_to_centroid": pa.array(distances.astype(np.float64)),
                    "is_exemplar": pa.array(flags),
                    "assigned_at": assigned_at,
                },
                schema=ASSIGNED_SCHEMA,
            )
        )
    return pa.concat_tables(parts) if parts else ASSIGNED_SCHEMA.empty_table()
