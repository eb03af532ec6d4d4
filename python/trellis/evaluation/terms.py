"""Top terms per cluster by class-based TF-IDF (c-TF-IDF, as in BERTopic).

All task text of a cluster is one document. A term's weight in cluster c is
tf(t, c) / words(c) * log(1 + A / f(t)), with A the mean words per cluster
and f(t) the term's count over all clusters: frequent in the cluster, rare
elsewhere. Each distinct message is tokenized once and counted once per
member trajectory that holds it.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import scipy.sparse
from sklearn.feature_extraction.text import CountVectorizer

TERMS_SCHEMA = pa.schema(
    [
        ("clustering_id", pa.string()),
        ("cluster_id", pa.string()),
        ("top_terms", pa.list_(pa.string())),
    ]
)


def cluster_terms(
    con: duckdb.DuckDBPyConnection,
    members: duckdb.DuckDBPyRelation,
    trajectories: duckdb.DuckDBPyRelation,
    messages: duckdb.DuckDBPyRelation,
    top: int,
) -> pa.Table:
    """One row per clustering x cluster: its `top` terms, best first."""
    members.create_view("_terms_members", replace=True)
    trajectories.create_view("_terms_trajectories", replace=True)
    messages.create_view("_terms_messages", replace=True)
    con.execute(
        """
        create or replace temp table _terms_counts as
        with
        texts as (
            select
                members.clustering_id,
                members.cluster_id,
                messages.message_text
            from _terms_members as members
            inner join _terms_trajectories as trajectories
                on members.trajectory_id = trajectories.trajectory_id
            inner join _terms_messages as messages
                on trajectories.leaf_node_id = messages.request_id
                and trajectories.tenant_id = messages.tenant_id
            where messages.message_role = 'user' and not messages.is_reply
        ),
        clusters as (
            select
                clustering_id,
                cluster_id,
                row_number() over (order by clustering_id, cluster_id) - 1 as cluster_index
            from (select distinct clustering_id, cluster_id from texts)
        ),
        distinct_texts as (
            select message_text, row_number() over (order by message_text) - 1 as text_index
            from (select distinct message_text from texts)
        )
        select
            clusters.cluster_index,
            clusters.clustering_id,
            clusters.cluster_id,
            distinct_texts.text_index,
            distinct_texts.message_text,
            count(*) as occurrences
        from texts
        inner join clusters using (clustering_id, cluster_id)
        inner join distinct_texts using (message_text)
        group by all
        """
    )
    clusters = con.execute(
        "select distinct cluster_index, clustering_id, cluster_id from _terms_counts order by 1"
    ).fetchall()
    if not clusters:
        return TERMS_SCHEMA.empty_table()
    texts = [
        row[0]
        for row in con.execute(
            "select any_value(message_text) from _terms_counts "
            "group by text_index order by text_index"
        ).fetchall()
    ]
    counts = con.execute(
        "select cluster_index, text_index, occurrences from _terms_counts"
    ).fetchnumpy()
    vectorizer = CountVectorizer(
        stop_words="english", token_pattern=r"(?u)\b[^\W\d_]{3,}\b", lowercase=True
    )
    try:
        text_terms = vectorizer.fit_transform(texts)
    except ValueError:  # only stop words: no vocabulary
        return pa.Table.from_pylist(
            [{"clustering_id": c[1], "cluster_id": c[2], "top_terms": []} for c in clusters],
            schema=TERMS_SCHEMA,
        )
    cluster_texts = scipy.sparse.csr_matrix(
        (
            np.asarray(counts["occurrences"], np.float64),
            (
                np.asarray(counts["cluster_index"], np.int64),
                np.asarray(counts["text_index"], np.int64),
            ),
        ),
        shape=(len(clusters), len(texts)),
    )
    tf = (cluster_texts @ text_terms).tocsr().astype(np.float64)
    words = np.asarray(tf.sum(axis=1)).ravel()
    term_totals = np.asarray(tf.sum(axis=0)).ravel()
    idf = np.log1p(words.mean() / np.maximum(term_totals, 1.0))
    weights = scipy.sparse.diags(1.0 / np.maximum(words, 1.0)) @ tf @ scipy.sparse.diags(idf)
    weights = weights.tocsr()
    vocabulary = vectorizer.get_feature_names_out()
    rows = []
    for cluster_index, clustering_id, cluster_id in clusters:
        row = weights.getrow(cluster_index)
        order = np.lexsort((vocabulary[row.indices], -row.data))[:top]
        rows.append(
            {
                "clustering_id": clustering_id,
                "cluster_id": cluster_id,
                "top_terms": [str(vocabulary[row.indices[i]]) for i in order],
            }
        )
    return pa.Table.from_pylist(rows, schema=TERMS_SCHEMA)
