"""Embed trajectories' views incrementally: what the trajectory_embeddings model runs.

Views of a trajectory (the leaf request's messages and its reply: chat APIs
are stateless, so the last call carries the conversation):
- task: the user turns (what was asked), system prompts and replies left out,
  and boilerplate turns too (`Boilerplate`: "Thanks, make it shorter" sent in
  many conversations would otherwise outweigh the ask; judged when the
  trajectory is embedded);
- behavior: the assistant turns, tool calls and tool results.

A row is keyed by trajectory, view and embedder and carries the view's
content_key (md5 of its messages' md5s in order). A run reads only the
trajectories resolved after the newest one this embedder has seen, and
embeds those whose content_key it does not hold yet; another embedder's rows
are never touched.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from trellis.evaluation.compose import compose_mean
from trellis.evaluation.embedders import Embedder, Vectors, embedder_label
from trellis.evaluation.leaf_messages import request_messages

VIEW_SQL = """
case
    when message_role = 'user' and not is_reply then 'task'
    when message_role in ('assistant', 'tool', 'function') then 'behavior'
end
"""


@dataclass(frozen=True)
class Boilerplate:
    """A user turn sent in at least min_roots of a tenant's conversations and
    at least `share` of them is left out of the task view, unless every user
    turn of the trajectory is."""

    min_roots: int = 10
    share: float = 0.01


@dataclass(frozen=True)
class EmbedStats:
    trajectories: int
    rows: int
    texts: int
    text_bytes: int


def _trajectories_sql(has_existing: bool) -> str:
    """The trajectories resolved after the embedder's watermark."""
    watermark = (
        "where trajectories.resolved_at > coalesce((select max(source_resolved_at) "
        "from _eval_existing where embedder = $embedder), '-infinity'::timestamptz)"
        if has_existing
        else ""
    )
    return f"""
    create or replace temp table _eval_new_trajectories as
    select trajectory_id, tenant_id, root_node_id, leaf_node_id, resolved_at
    from _eval_trajectories as trajectories
    {watermark}
    """


# The leaves' records, read by request_messages (a request is its id and tenant).
_LEAF_RECORDS_SQL = """
select requests.request_id, requests.tenant_id, requests.record from _eval_requests as requests
where exists (
    select 1 from _eval_new_trajectories as trajectories
    where trajectories.leaf_node_id = requests.request_id
    and trajectories.tenant_id = requests.tenant_id
)
"""


def _candidates_sql() -> str:
    """The view messages of the new trajectories, boilerplate user turns left out."""
    return f"""
    create or replace temp table _eval_view_messages as
    with
    viewed as (
        select
            trajectories.trajectory_id,
            trajectories.tenant_id,
            trajectories.root_node_id,
            trajectories.resolved_at,
            messages.message_index,
            messages.message_text,
            md5(messages.message_text) as message_md5,
            {VIEW_SQL} as view
        from _eval_new_trajectories as trajectories
        inner join _eval_messages as messages
            on trajectories.leaf_node_id = messages.request_id
            and trajectories.tenant_id = messages.tenant_id
        where {VIEW_SQL} is not null and messages.message_text <> ''
    ),
    tenant_roots as (
        select tenant_id, count(distinct root_node_id) as roots
        from _eval_turn_counts group by tenant_id
    ),
    turn_roots as (
        select tenant_id, message_md5, count(*) as roots
        from _eval_turn_counts group by tenant_id, message_md5
    ),
    flagged as (
        select
            viewed.*,
            coalesce(
                viewed.view = 'task'
                and turn_roots.roots >= $min_roots
                and turn_roots.roots >= $share * tenant_roots.roots,
                false
            ) as is_boilerplate
        from viewed
        left join turn_roots
            on viewed.tenant_id = turn_roots.tenant_id
            and viewed.message_md5 = turn_roots.message_md5
        left join tenant_roots on viewed.tenant_id = tenant_roots.tenant_id
    ),
    -- A view whose every message is boilerplate keeps them all (a group by
    -- of the keys: cheaper than a window over the message texts).
    all_boilerplate as (
        select trajectory_id, view from flagged
        group by trajectory_id, view
        having bool_and(is_boilerplate)
    )
    select flagged.* exclude (is_boilerplate) from flagged
    where not flagged.is_boilerplate
        or (flagged.trajectory_id, flagged.view)
        in (select (trajectory_id, view) from all_boilerplate)
    """


def _pending_sql(has_existing: bool) -> str:
    """One row per trajectory view to embed, numbered (group_index) tree by tree:
    the trajectories of one tree share their early turns, and the static path
    embeds the groups part by part (_static_vectors), each distinct text of a
    part once."""
    known = (
        """
        left join _eval_existing as known
            on keyed.trajectory_id = known.trajectory_id
            and keyed.view = known.view
            and known.embedder = $embedder
            and keyed.content_key = known.content_key
        where known.trajectory_id is null
        """
        if has_existing
        else ""
    )
    return f"""
    create or replace temp table _eval_pending as
    with
    keyed as (
        select
            trajectory_id,
            any_value(tenant_id) as tenant_id,
            any_value(root_node_id) as root_node_id,
            view,
            md5(string_agg(message_md5, ',' order by message_index)) as content_key,
            max(resolved_at) as source_resolved_at
        from _eval_view_messages
        group by trajectory_id, view
    ),
    fresh as (
        select keyed.* from keyed
        {known}
    )
    select
        row_number() over (
            order by fresh.tenant_id, fresh.root_node_id, fresh.trajectory_id, fresh.view
        ) - 1 as group_index,
        fresh.* exclude (root_node_id)
    from fresh
    """


def embed_trajectories(
    con: duckdb.DuckDBPyConnection,
    trajectories: duckdb.DuckDBPyRelation,
    requests: duckdb.DuckDBPyRelation,
    turn_counts: duckdb.DuckDBPyRelation,
    existing: str | None,
    embedder: Embedder,
    boilerplate: Boilerplate | None = None,
    now: dt.datetime | None = None,
) -> tuple[pa.Table, EmbedStats]:
    """The new rows of trajectory_embeddings (arrow), and what it took.

    `requests` is the raw requests table (the leaves' records are read, see
    leaf_messages); `turn_counts` is int_user_turns_counted (the task view's boilerplate
    rule); `existing` names the table of rows embedded before (None on a
    first or full build).
    """
    label = embedder_label(embedder)
    rule = boilerplate or Boilerplate()
    trajectories.create_view("_eval_trajectories", replace=True)
    requests.create_view("_eval_requests", replace=True)
    turn_counts.create_view("_eval_turn_counts", replace=True)
    params: dict[str, object] = {"embedder": label} if existing else {}
    if existing:
        con.execute(f"create or replace temp view _eval_existing as select * from {existing}")
    con.execute(_trajectories_sql(existing is not None), params)
    con.register("_eval_messages", request_messages(con, _LEAF_RECORDS_SQL))
    con.execute(_candidates_sql(), {"min_roots": rule.min_roots, "share": rule.share})
    con.execute(_pending_sql(existing is not None), params)
    pending = con.execute(
        "select group_index, trajectory_id, tenant_id, view, content_key, source_resolved_at "
        "from _eval_pending order by group_index"
    ).fetch_arrow_table()
    count = pending.num_rows
    if embedder.is_static:
        vectors, texts, text_bytes = _static_vectors(con, embedder, count)
    else:
        vectors, texts, text_bytes = _whole_text_vectors(con, embedder, count)
    embedded_at = now or dt.datetime.now(dt.UTC)
    dim = int(vectors.shape[1]) if count else int(embedder.dim)
    flat = pa.array(vectors.reshape(-1), pa.float32())
    embedding = pa.ListArray.from_arrays(pa.array(np.arange(count + 1, dtype=np.int32) * dim), flat)
    table = pa.table(
        {
            "trajectory_id": pending["trajectory_id"],
            "tenant_id": pending["tenant_id"],
            "view": pending["view"],
            "embedder": pa.array([label] * count, pa.string()),
            "dim": pa.array([dim] * count, pa.int32()),
            "embedding": embedding,
            "content_key": pending["content_key"],
            "source_resolved_at": pending["source_resolved_at"],
            "embedded_at": pa.array([embedded_at] * count, pa.timestamp("us", tz="UTC")),
        }
    )
    trajectory_count = len(set(pending["trajectory_id"].to_pylist())) if count else 0
    return table, EmbedStats(trajectory_count, count, texts, text_bytes)


#: Trajectory views embedded per part by the static path: memory holds one
#: part's texts, word occurrences and message vectors at a time (all of them
#: at once took gigabytes at 1M requests), and a part is large enough that
#: the turns its trees share are embedded once.
GROUPS_PER_PART = 65_536


def _static_vectors(
    con: duckdb.DuckDBPyConnection, embedder: Embedder, count: int
) -> tuple[Vectors, int, int]:
    """Each distinct message of a part embedded once; the part's views composed
    from them."""
    con.execute(
        """
        create or replace temp table _eval_occurrences as
        select pending.group_index, messages.message_md5, messages.message_text
        from _eval_pending as pending
        inner join _eval_view_messages as messages
            on pending.trajectory_id = messages.trajectory_id and pending.view = messages.view
        order by pending.group_index
        """
    )
    vectors = np.zeros((count, embedder.dim), np.float32)
    texts_embedded = text_bytes = 0
    for start in range(0, count, GROUPS_PER_PART):
        end = min(start + GROUPS_PER_PART, count)
        con.execute(
            """
            create or replace temp table _eval_part as
            with
            part as (
                select group_index - $start as group_index, message_md5, message_text
                from _eval_occurrences
                where group_index >= $start and group_index < $end
            ),
            texts as (
                select message_md5, row_number() over (order by message_md5) - 1 as text_index
                from (select distinct message_md5 from part)
            )
            select part.group_index, texts.text_index, part.message_text
            from part
            inner join texts on part.message_md5 = texts.message_md5
            """,
            {"start": start, "end": end},
        )
        texts = (
            con.execute(
                "select any_value(message_text) from _eval_part "
                "group by text_index order by text_index"
            )
            .fetch_arrow_table()
            .column(0)
            .to_pylist()
        )
        pairs = con.execute("select group_index, text_index from _eval_part").fetchnumpy()
        embedded = embedder.embed(texts)
        vectors[start:end] = compose_mean(
            np.asarray(pairs["group_index"], np.int64),
            np.asarray(pairs["text_index"], np.int64),
            embedded.vectors,
            embedded.token_counts,
            end - start,
        )
        texts_embedded += len(texts)
        text_bytes += sum(len(text.encode()) for text in texts)
    con.execute("drop table if exists _eval_part")
    return vectors, texts_embedded, text_bytes


def _whole_text_vectors(
    con: duckdb.DuckDBPyConnection, embedder: Embedder, count: int
) -> tuple[Vectors, int, int]:
    """Each distinct view text (messages joined by blank lines) embedded whole."""
    rows = con.execute(
        """
        with joined as (
            select
                pending.group_index,
                string_agg(
                    messages.message_text, chr(10) || chr(10) order by messages.message_index
                ) as view_text
            from _eval_pending as pending
            inner join _eval_view_messages as messages
                on pending.trajectory_id = messages.trajectory_id and pending.view = messages.view
            group by pending.group_index
        )
        select group_index, view_text from joined order by group_index
        """
    ).fetchall()
    distinct = sorted({text for _, text in rows})
    position = {text: i for i, text in enumerate(distinct)}
    embedded = embedder.embed(distinct)
    vectors = np.zeros((count, embedded.vectors.shape[1] if distinct else embedder.dim), np.float32)
    for group_index, text in rows:
        vectors[group_index] = embedded.vectors[position[text]]
    return vectors, len(distinct), sum(len(text.encode()) for text in distinct)
