"""Model labels: a labelling template answered in JSON, parsed and validated by the judge
runner; the raw text is kept when the answer does not parse."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.openai_server import OpenAIServer
from tests.test_judge import feedback, judge, server, store, write  # noqa: F401 (fixtures)
from trellis.services.judge.parsers import parse_labels
from trellis.services.judge.templates import load_template
from trellis.storage import Store

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_a_fenced_json_answer_gives_validated_categories_and_a_score() -> None:
    text = (
        "Looking at it...\n```json\n"
        '{"categories": [{"category": "tool_misuse", "confidence": 0.7, "evidence": "grep twice"},'
        ' "overlong"], "score": 4}\n```'
    )
    labels, error = parse_labels("json_categories", text)
    assert error is None and labels == {
        "categories": [
            {"category": "tool_misuse", "confidence": 0.7, "evidence": "grep twice"},
            {"category": "overlong", "confidence": 1.0, "evidence": ""},
        ],
        "score": 4.0,
    }


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("no json here", "no JSON object with a `categories` list"),
        ('{"categories": ["rude"]}', "unknown category 'rude'"),
        ('{"categories": [{"category": "overlong", "confidence": 3}]}', "outside 0-1"),
        ('{"categories": "overlong"}', "not a list"),
        ('{"categories": [], "score": 11}', "outside 0-10"),
    ],
)
def test_an_answer_that_breaks_the_label_schema_is_a_reason(text: str, error: str) -> None:
    labels, reason = parse_labels("json_categories", text)
    assert labels is None and reason is not None and error in reason


def test_the_example_labelling_template_loads_with_its_parser() -> None:
    template = load_template(EXAMPLES / "judge_labels.yaml")
    assert template.parser == "json_categories" and template.target == "trajectory"
    manifest = yaml.safe_load((EXAMPLES / "judge_labels_manifest.yaml").read_text())
    assert manifest["templates"] == ["judge_labels.yaml"]


def test_judging_with_a_labelling_template_stores_labels_or_the_raw_text(
    store: Store,  # noqa: F811
    server: OpenAIServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    server.state.replier = lambda body: (
        '{"categories": [{"category": "hallucination", "confidence": 0.9, "evidence": "x"}],'
        ' "score": 3}'
        if body["model"] == "judge-a"
        else "It looks fine to me."
    )
    template = yaml.safe_load((EXAMPLES / "judge_labels.yaml").read_text())
    path = write(
        tmp_path,
        server,
        template,
        [{"model": "judge-a"}, {"model": "judge-b"}],
        {"kind": "trajectory", "ids": ["t-n-b"]},
    )
    judge(store, path)
    by_judge = {r["metadata"]["judge_model"]: r for r in feedback(store)}
    good, bad = by_judge["judge-a"], by_judge["judge-b"]
    assert good["source"] == "judge" and good["completion_quality"] == 3
    assert good["metadata"]["labels"]["categories"][0]["category"] == "hallucination"
    assert good["metadata"]["target_id"] == "t-n-b" and good["metadata"]["parse_error"] is None
    assert bad["metadata"]["labels"] is None and "completion_quality" not in bad
    assert bad["metadata"]["raw_text"] == "It looks fine to me."
    assert "categories" in bad["metadata"]["parse_error"]
