"""The evaluation chain: embeddings and clusters (tag:evaluation).

Real components: the wordllama embedder loaded offline from its wheel, a
real DuckDB file built by dbt, a real PostgreSQL read through the workbench
target, and a real HTTP server on 127.0.0.1 for the OpenAI-compatible
embedder. Traffic is the labelled topic corpus (trellis.evaluation.topic_corpus),
ingested through the real ingest service.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, v_measure_score

from tests.support.dbt import run_dbt
from tests.support.embeddings_server import running_embeddings_server, vector_for
from trellis.errors import TrellisError
from trellis.evaluation import clustering
from trellis.evaluation.compose import compose_mean
from trellis.evaluation.embedders import OpenAIEmbedder, OpenAISettings, WordLlamaEmbedder
from trellis.evaluation.topic_corpus import topic_corpus, write_jsonl
from trellis.ingest import ingest_files
from trellis.storage import open_store

MESSAGES = [
    "How do I reset my password?",
    "The reset email never arrives, I checked the spam folder twice.",
    "Thanks. Can you make that shorter?",
    "def load(x):\n    return x * 2\n",
    "Ünïcödé текст 漢字 and an emoji 🙂 at the end.",
    "",
]


@pytest.fixture(scope="module")
def wordllama() -> WordLlamaEmbedder:
    return WordLlamaEmbedder()


def test_wordllama_loads_offline_and_gives_what_wordllama_itself_gives(
    wordllama: WordLlamaEmbedder,
) -> None:
    texts = [*MESSAGES, "a  b   c\td\n e", " leading and trailing ", "x" * 3000]
    ours = wordllama.embed(texts)
    theirs = wordllama._model.embed(texts)
    assert ours.vectors.shape == (len(texts), 256)
    assert np.abs(ours.vectors - theirs).max() < 1e-5
    assert ours.token_counts[MESSAGES.index("")] == 0
    assert wordllama.version.startswith("0.4")


def test_wordllama_splits_words_as_its_tokenizer_does_around_every_kind_of_space(
    wordllama: WordLlamaEmbedder,
) -> None:
    spaces = [chr(c) for c in range(0x3001) if re.fullmatch(r"\s", chr(c))]
    texts = [t for c in spaces for t in (f"a{c} b", f"a {c}b", f"{c} a b", f"a b {c}", f"a{c}b c")]
    texts += ["", " ", "  ", "a  b", "plain words only"]
    ours = wordllama.embed(texts)
    theirs = wordllama._model.embed(texts)
    assert np.abs(ours.vectors - theirs).max() < 1e-5


def test_a_trajectory_vector_composed_from_its_messages_equals_embedding_the_joined_text(
    wordllama: WordLlamaEmbedder,
) -> None:
    # Messages joined by single spaces between non-spaces: the tokenizer's
    # tokens of the whole are the messages' tokens end to end.
    messages = [m for m in MESSAGES if m and not m[0].isspace() and not m[-1].isspace()]
    messages += [MESSAGES[0], MESSAGES[0]]  # a repeated message counts twice
    embedded = wordllama.embed(messages)
    composed = compose_mean(
        np.zeros(len(messages), np.int64),
        np.arange(len(messages), dtype=np.int64),
        embedded.vectors,
        embedded.token_counts,
        1,
    )
    whole = wordllama._model.embed([" ".join(messages)])
    assert np.abs(composed - whole).max() < 1e-5


def test_carried_numbers_follow_the_members_not_the_fit_order() -> None:
    previous = np.array([5, 5, 5, 9, 9, 9, 2, 2], np.int64)
    # The refit found the same groups in another order, and split one off.
    current = np.array([1, 1, 1, 0, 0, 3, 2, 2], np.int64)
    numbers = clustering.carry_numbers(previous, current, np.arange(4), next_free=10)
    assert numbers.tolist() == [9, 5, 2, 10]


def test_clustering_is_deterministic_for_a_seed() -> None:
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(5, 64))
    noise = rng.normal(size=(600, 64)) * 0.3
    vectors = (centers[rng.integers(0, 5, 600)] + noise).astype(np.float32)
    first = clustering.fit(vectors, None, seed=3)
    second = clustering.fit(vectors, None, seed=3)
    assert first.k == second.k == 5
    assert np.array_equal(first.centroids, second.centroids)


def test_openai_embedder_retries_a_429_and_sends_the_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVAL_TEST_KEY", "sk-test-123")
    with running_embeddings_server() as server:
        server.statuses = [429, 503]
        embedder = OpenAIEmbedder(
            OpenAISettings(
                base_url=server.base_url,
                model="emb-small",
                api_key_env="EVAL_TEST_KEY",
                batch_size=2,
                backoff_base_s=0.01,
            )
        )
        result = embedder.embed(["alpha", "beta", "gamma"])
    assert np.allclose(result.vectors[2], vector_for("gamma"), atol=1e-6)
    assert [len(r["body"]["input"]) for r in server.requests] == [2, 2, 2, 1]
    assert {r["auth"] for r in server.requests} == {"Bearer sk-test-123"}
    assert {r["path"] for r in server.requests} == {"/v1/embeddings"}


def test_openai_embedder_fails_clearly_on_a_client_error() -> None:
    with running_embeddings_server() as server:
        server.statuses = [401]
        embedder = OpenAIEmbedder(
            OpenAISettings(base_url=server.base_url, model="m", api_key_env="NONE")
        )
        with pytest.raises(TrellisError, match="401"):
            embedder.embed(["alpha"])
    assert len(server.requests) == 1


# -- the leaves' messages read from raw records ------------------------------

_EDGE_MESSAGES: list[Any] = [
    {"role": "system", "content": "Be brief."},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "part one, "},
            {"type": "image_url"},
            {"type": "text", "text": "part two"},
            {"type": "text", "text": 7},
        ],
    },
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "a",
                "type": "function",
                "function": {"name": "lookup", "arguments": '{"q": "ü"}'},
            },
            {
                "id": "b",
                "type": "function",
                "function": {"name": "sum", "arguments": {"xs": [1, 2], "k": "v"}},
            },
            {"id": "c", "type": "function", "function": {"name": "nothing"}},
        ],
    },
    {"role": "tool", "tool_call_id": "a", "content": "Ünïcödé 漢字 🙂\nsecond line"},
    {"role": "assistant", "content": "Text and a call.", "tool_calls": []},
    {"role": "user", "content": ""},
]


def _edge_records() -> list[dict[str, Any]]:
    base = {
        "created_at": "2026-02-01T00:00:00Z",
        "tenant_id": "acme",
        "agent_id": "a",
        "model": "m",
    }
    reply = {"role": "assistant", "content": [{"type": "text", "text": "done"}]}
    return [
        {
            **base,
            "request_id": "edge-1",
            "request": {"model": "m", "messages": _EDGE_MESSAGES},
            "response": {"id": "r1", "choices": [{"index": 0, "message": reply}]},
        },
        {
            **base,
            "request_id": "edge-2",
            "request": {"model": "m", "messages": _EDGE_MESSAGES[:2]},
            "response": {"id": "r2", "choices": []},
        },
        {
            **base,
            "request_id": "edge-3",
            "request": {"model": "m", "messages": [{"role": "user", "content": "a  b\tc "}]},
        },
    ]


@pytest.mark.slow
def test_leaf_messages_read_from_raw_records_equal_the_staging_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb

    from trellis.evaluation.leaf_messages import request_messages

    env = {"TRELLIS_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb")}
    corpus, _ = _write_corpus(tmp_path, 12, seed=2, prefix="edge")
    with corpus.open("a", encoding="utf-8") as out:
        out.writelines(json.dumps(record) + "\n" for record in _edge_records())
    _ingest(corpus, monkeypatch, env, "duckdb")
    Built(tmp_path, env).dbt("run", "--select", "stg_gateway__request_messages")
    columns = "request_id, tenant_id, message_index, message_role, message_text, is_reply"
    with duckdb.connect(env["TRELLIS_DUCKDB_PATH"]) as con:
        staged = con.execute(
            f"select {columns} from staging.stg_gateway__request_messages order by all"
        ).fetchall()
        con.register("_read", request_messages(con, "select * from raw.requests"))
        read = con.execute(f"select {columns} from _read order by all").fetchall()
    assert any(row[0] == "edge-1" for row in staged)
    assert read == staged


# -- the marts, built by dbt on a DuckDB file ---------------------------------

TENANTS = ("acme", "globex")  # acme allows global analytics, globex does not (seed)
EVAL_VARS = "{evaluation_cluster_seed: 7}"
TASK_CLUSTERS = (
    "select trajectory_id, cluster_id from evaluation.trajectory_clusters where view = 'task'"
)


def _write_corpus(
    folder: Path, conversations: int, seed: int, prefix: str
) -> tuple[Path, dict[str, str]]:
    corpus = topic_corpus(conversations, seed=seed, tenants=TENANTS, prefix=prefix)
    return write_jsonl(corpus, folder / f"{prefix}.jsonl"), corpus.labels


class Built:
    def __init__(self, work: Path, env: dict[str, str]) -> None:
        self.work = work
        self.env = env

    def dbt(self, *args: str, target: str = "duckdb") -> str:
        return run_dbt(list(args), self.env, target, self.work / "dbt").stdout

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        import duckdb

        with duckdb.connect(self.env["TRELLIS_DUCKDB_PATH"], read_only=True) as con:
            return con.execute(sql).fetchall()


def _ingest(path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], target: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with open_store(target) as store:  # type: ignore[arg-type]
        ingest_files(store, "requests", [path])


def _v_measure(built: Built, labels: dict[str, str], tenant: str) -> tuple[float, float]:
    rows = built.query(
        "select units.leaf_node_id, clusters.cluster_id "
        "from evaluation.trajectory_clusters as clusters "
        "join lineage.trajectory_units as units using (trajectory_id) "
        f"where clusters.view = 'task' and clusters.tenant_id = '{tenant}'"
    )
    truth = [labels[leaf] for leaf, _ in rows if leaf in labels]
    found = [cluster for leaf, cluster in rows if leaf in labels]
    assert len(truth) > 100
    return v_measure_score(truth, found), adjusted_rand_score(truth, found)


@pytest.mark.slow
def test_evaluation_marts_embed_incrementally_cluster_by_topic_and_keep_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"TRELLIS_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb")}
    built = Built(tmp_path, env)
    first, labels = _write_corpus(tmp_path, 480, seed=5, prefix="first")
    second, more_labels = _write_corpus(tmp_path, 48, seed=6, prefix="second")
    labels |= more_labels

    _ingest(first, monkeypatch, env, "duckdb")
    built.dbt("build", "--select", "tag:lineage", "tag:evaluation", "--vars", EVAL_VARS)
    embedded_before = dict(
        (f"{t}|{v}", at)
        for t, v, at in built.query(
            "select trajectory_id, view, embedded_at from evaluation.trajectory_embeddings"
        )
    )
    clusters_before = dict((t, c) for t, c in built.query(TASK_CLUSTERS))
    assert {
        row[0] for row in built.query("select distinct view from evaluation.trajectory_embeddings")
    } == {
        "task",
        "behavior",
    }
    assert built.query(
        "select count(*) from evaluation.trajectory_embeddings where len(embedding) <> dim"
    ) == [(0,)]

    # The task clusters group by what was asked: each tenant's clustering
    # recovers the 12 topics well although follow-ups and replies are shared.
    for tenant in TENANTS:
        v_measure, ari = _v_measure(built, labels, tenant)
        assert v_measure > 0.75, (tenant, v_measure, ari)

    # New traffic: only new trajectories are embedded; they join existing clusters.
    _ingest(second, monkeypatch, env, "duckdb")
    built.dbt("build", "--select", "tag:lineage", "tag:evaluation", "--vars", EVAL_VARS)
    after = built.query(
        "select trajectory_id, view, embedded_at from evaluation.trajectory_embeddings"
    )
    unchanged = [
        at == embedded_before[f"{t}|{v}"] for t, v, at in after if f"{t}|{v}" in embedded_before
    ]
    assert len(unchanged) == len(embedded_before) and all(unchanged)
    assert len(after) > len(embedded_before)
    assert built.query("select distinct fit_reason from evaluation.trajectory_cluster_history") == [
        ("first",)
    ]
    kept = built.query(TASK_CLUSTERS)
    assert all(clusters_before[t] == c for t, c in kept if t in clusters_before)

    # A requested re-clustering (another seed) carries ids by overlap: as many
    # trajectories keep their id as any one-to-one matching of old to new
    # clusters allows (computed here independently).
    before_refit = dict(kept)
    built.dbt(
        "build",
        "--select",
        "tag:evaluation",
        "--vars",
        "{evaluation_recluster: true, evaluation_cluster_seed: 11}",
    )
    history = built.query(
        "select clustering_id, previous_clustering_id, fit_reason "
        "from evaluation.trajectory_cluster_history "
        "where is_current group by all order by 1"
    )
    assert {reason for _, _, reason in history} == {"requested"}
    assert all(previous is not None and previous.endswith(":1") for _, previous, _ in history)
    reclustered = dict(built.query(TASK_CLUSTERS))
    pairs = Counter((before_refit[t], c) for t, c in reclustered.items())
    old_ids = sorted({o for o, _ in pairs})
    new_ids = sorted({n for _, n in pairs})
    overlap = np.array([[pairs[(o, n)] for n in new_ids] for o in old_ids])
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    best = int(overlap[rows, cols].sum())
    kept_ids = sum(before_refit[t] == c for t, c in reclustered.items())
    assert kept_ids == best
    assert kept_ids / len(reclustered) > 0.6

    # The global clustering covers only the tenants whose policy allows it.
    built.dbt("build", "--select", "tag:evaluation", "--vars", "{evaluation_cluster_scope: global}")
    assert built.query(
        "select distinct tenant_id, clustering_id from evaluation.trajectory_clusters order by 2"
    ) == [
        ("acme", "global:behavior:1"),
        ("acme", "global:task:1"),
    ]
    summaries = built.query(
        "select cluster_id, trajectory_count, len(exemplar_trajectory_ids), len(top_terms) "
        "from evaluation.trajectory_cluster_summaries"
    )
    assert summaries and all(
        count >= 1 and 1 <= exemplars <= 3 and terms > 0 for _, count, exemplars, terms in summaries
    )

    # Switching the embedder adds its rows and keeps wordllama's.
    with running_embeddings_server() as server:
        built.dbt(
            "build",
            "--select",
            "int_trajectory_views_embedded",
            "trajectory_embeddings",
            "--vars",
            json.dumps(
                {"evaluation_embedder": "openai", "evaluation_openai_base_url": server.base_url}
            ),
        )
    counts = dict(
        built.query(
            "select split_part(embedder, '@', 1), count(*) "
            "from evaluation.trajectory_embeddings group by 1"
        )
    )
    assert counts["openai"] == counts["wordllama"] == len(after)
    assert built.query(
        "select count(*) from evaluation.trajectory_embeddings "
        "where embedder = 'openai@text-embedding-3-small' and dim = 16"
    ) == [(len(after),)]


@pytest.mark.slow
def test_embedding_part_by_part_gives_the_vectors_of_one_whole_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wordllama: WordLlamaEmbedder
) -> None:
    import duckdb

    from trellis.evaluation import trajectory_embeddings

    env = {"TRELLIS_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb")}
    built = Built(tmp_path, env)
    corpus, _ = _write_corpus(tmp_path, 120, seed=9, prefix="parts")
    _ingest(corpus, monkeypatch, env, "duckdb")
    built.dbt("build", "--select", "tag:lineage", "int_user_turns_counted", "--vars", EVAL_VARS)

    def embedded(part: int) -> dict[tuple[str, str], Any]:
        monkeypatch.setattr(trajectory_embeddings, "GROUPS_PER_PART", part)
        with duckdb.connect(env["TRELLIS_DUCKDB_PATH"]) as con:
            table, stats = trajectory_embeddings.embed_trajectories(
                con,
                trajectories=con.sql("select * from lineage.trajectory_units"),
                requests=con.sql("select * from raw.requests"),
                turn_counts=con.sql("select * from intermediate.int_user_turns_counted"),
                existing=None,
                embedder=wordllama,
            )
        rows = table.to_pylist()
        assert stats.rows == len(rows) > 200
        return {(row["trajectory_id"], row["view"]): row for row in rows}

    whole = embedded(1_000_000)
    parts = embedded(7)
    assert parts.keys() == whole.keys()
    for key, row in whole.items():
        assert parts[key]["content_key"] == row["content_key"]
        assert np.allclose(parts[key]["embedding"], row["embedding"], atol=1e-6), key


@pytest.mark.slow
@pytest.mark.postgres
def test_workbench_target_builds_evaluation_from_the_postgres_truth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_env: dict[str, str]
) -> None:
    env = {**pg_env, "TRELLIS_WORKBENCH_PATH": str(tmp_path / "workbench.duckdb")}
    built = Built(tmp_path, env)
    path, _ = _write_corpus(tmp_path, 60, seed=9, prefix="wb")
    _ingest(path, monkeypatch, env, "postgres")
    # On postgres the evaluation models are disabled and the build passes.
    out = built.dbt("build", "--select", "tag:lineage", "tag:evaluation", target="postgres")
    assert "trajectory_embeddings" not in out
    built.dbt("build", "--select", "tag:evaluation", target="workbench")

    import duckdb
    import psycopg

    with psycopg.connect(
        **{
            "host": env["PGHOST"],
            "port": env["PGPORT"],
            "user": env["PGUSER"],
            "password": env["PGPASSWORD"],
            "dbname": env["PGDATABASE"],
        }
    ) as pg:
        truth = {
            row[0]
            for row in pg.execute("select trajectory_id from lineage.trajectory_units").fetchall()
        }
    with duckdb.connect(env["TRELLIS_WORKBENCH_PATH"], read_only=True) as con:
        embedded = con.execute(
            "select trajectory_id, view from evaluation.trajectory_embeddings"
        ).fetchall()
        clustered = con.execute("select count(*) from evaluation.trajectory_clusters").fetchone()
    assert {t for t, _ in embedded} == truth
    assert clustered is not None and clustered[0] == len(embedded)
