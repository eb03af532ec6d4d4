"""De-identification: the labelled corpus, placeholders, and the SQL twin of the detectors."""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from tests.support.dbt import PROJECT_DIR, dbt_command, run_dbt
from tests.support.pii_corpus import examples
from tests.support.pii_scoring import score
from trellis.datasets import deid

CORPUS = list(examples(seed=16, count=4000))


def test_every_detector_type_reaches_99_percent_recall_on_the_labelled_corpus() -> None:
    scores = score(CORPUS)
    planted = {kind for example in CORPUS for kind, _ in example.labels}
    assert planted == {d.detector_type for d in deid.load_detectors()}
    for kind, figures in scores.items():
        assert figures["recall"] >= 0.99, (kind, figures)
        assert figures["precision"] >= 0.95, (kind, figures)


def test_the_same_value_gets_the_same_placeholder_within_one_example() -> None:
    redactor = deid.Redactor()
    first = redactor.text("Write to Ann.Lee@Example.com or bob@example.org.")
    second = redactor.text("ann.lee@example.com said: call +44 20 7946 0958")
    assert first == "Write to <EMAIL_1> or <EMAIL_2>."
    assert second == "<EMAIL_1> said: call <PHONE_1>"
    assert deid.Redactor().text("bob@example.org") == "<EMAIL_1>"


def test_checksums_decide_between_a_card_and_a_number() -> None:
    assert deid.redact("card 4111 1111 1111 1111, order 4111 1111 1111 1112") == (
        "card <PAYMENT_CARD_1>, order 4111 1111 1111 1112"
    )
    assert deid.redact("IBAN GB82 WEST 1234 5698 7654 32 ok, GB83 WEST 1234 5698 7654 32 not") == (
        "IBAN <IBAN_1> ok, GB83 WEST 1234 5698 7654 32 not"
    )


def test_an_iban_followed_by_more_digits_is_still_found() -> None:
    assert deid.redact("DE89 3704 0044 0532 0130 00 1234") == "<IBAN_1> 1234"


def test_provider_secrets_and_credentials_in_urls_are_replaced() -> None:
    text = (
        "OPENAI_API_KEY=sk-proj-" + "a1B2" * 12 + " anthropic sk-ant-api03-" + "x9Y_" * 20 + " "
        "AKIAIOSFODNN7EXAMPLE ghp_" + "A1b2C3" * 6 + " xoxb-123456789012-abcdefABCDEF "
        "AIza" + "Sy" * 17 + "A sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc "
        "Authorization: Bearer abc.DEF-123_456~789+xyz/ABCDE== "
        "redis://default:hunter2@cache.example.com:6379/0"
    )
    assert deid.redact(text) == (
        "OPENAI_API_KEY=<OPENAI_KEY_1> anthropic <ANTHROPIC_KEY_1> <AWS_ACCESS_KEY_1> "
        "<GITHUB_TOKEN_1> <SLACK_TOKEN_1> <GOOGLE_API_KEY_1> <STRIPE_KEY_1> "
        "Authorization: <BEARER_TOKEN_1> <URL_CREDENTIALS_1>/0"
    )


def test_code_times_and_versions_are_left_alone() -> None:
    text = "std::vector<int> a::b; xs[::2] at 10:30:00, v1.2.3, 2024-05-01, pid 31337, ::1"
    assert deid.redact(text) == text


def test_messages_with_tool_calls_are_redacted_string_by_string() -> None:
    messages = [
        {"role": "user", "content": "Email jo@example.com the invoice"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "send", "arguments": '{"to": "jo@example.com"}'},
                }
            ],
        },
    ]
    redacted = deid.Redactor().value(messages)
    assert redacted[0]["content"] == "Email <EMAIL_1> the invoice"
    assert redacted[1]["content"] is None
    assert redacted[1]["tool_calls"][0]["function"]["arguments"] == '{"to": "<EMAIL_1>"}'


def test_redacting_twice_changes_nothing() -> None:
    for example in CORPUS[:500]:
        once = deid.redact(example.text)
        assert deid.redact(once) == once
        assert not deid.find(once)


@pytest.mark.slow
def test_the_sql_detectors_find_what_python_finds(tmp_path: Path) -> None:
    """One list of detectors (seed deid_detectors) read by Python and by the dbt test."""
    database = tmp_path / "deid.duckdb"
    env = {"TRELLIS_DUCKDB_PATH": str(database)}
    run_dbt(["seed", "--select", "deid_detectors"], env, "duckdb", tmp_path / "target")
    texts = [example.text for example in CORPUS]
    with duckdb.connect(str(database)) as con:
        con.execute("create table main.corpus (txt varchar, redacted varchar)")
        con.executemany(
            "insert into main.corpus values (?, ?)", [(t, deid.redact(t)) for t in texts]
        )
    compiled = {}
    for column in ("txt", "redacted"):
        inline = (
            f"{{{{ trellis.deid_leftovers('main.corpus', '{column}', ref('deid_detectors')) }}}}"
        )
        result = subprocess.run(
            [
                *dbt_command(),
                "compile",
                "--quiet",
                "--inline",
                inline,
                "--target",
                "duckdb",
                "--project-dir",
                str(PROJECT_DIR),
                "--target-path",
                str(tmp_path / "target"),
            ],
            env=run_env(env),
            capture_output=True,
            text=True,
            check=True,
            cwd=PROJECT_DIR,
        )
        compiled[column] = result.stdout
    with duckdb.connect(str(database)) as con:
        sql_found = Counter(con.execute(compiled["txt"]).fetchall())
        leftovers = con.execute(compiled["redacted"]).fetchall()
    python_found = Counter((s.detector_type, s.value) for t in texts for s in deid.find(t))
    assert leftovers == []
    missing_in_sql = python_found - sql_found
    extra_in_sql = sql_found - python_found
    # The SQL checks whole matches; Python also tries the longest valid prefix
    # of a greedy match (an IBAN followed by more digits), which SQL may miss.
    assert sum(missing_in_sql.values()) <= 0.01 * sum(python_found.values()), missing_in_sql
    assert not extra_in_sql, extra_in_sql


def run_env(env: dict[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        **env,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
    }
