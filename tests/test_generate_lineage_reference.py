"""The reference resolver applies contract section 3, one edge case per test."""

from __future__ import annotations

from typing import Any

from trellis.services.lineage_reference import TruthNode, resolve

SYSTEM = {"role": "system", "content": "be brief"}
ASK = {"role": "user", "content": "hello"}
HI = {"role": "assistant", "content": "hi there"}
MORE = {"role": "user", "content": "tell me more"}


def rec(
    request_id: str,
    second: int,
    messages: list[dict[str, Any]],
    reply: dict[str, Any] | None = None,
    *,
    tenant: str | None = "t1",
    **fields: Any,
) -> dict[str, Any]:
    """A minimal valid request record created at 2026-01-01T00:00:<second>Z."""
    request = fields.pop("request", {})
    record: dict[str, Any] = {
        "request_id": request_id,
        "created_at": f"2026-01-01T00:{second // 60:02d}:{second % 60:02d}Z",
        "model": fields.pop("model", "gpt-4o"),
        "request": {"messages": messages, **request},
    }
    if tenant is not None:
        record["tenant_id"] = tenant
    if reply is not None:
        record["response"] = {"choices": [{"message": reply}]}
    record.update(fields)
    return record


def tree(*records: dict[str, Any]) -> dict[str, TruthNode]:
    return resolve(records)


def test_request_without_assistant_message_is_a_plain_root() -> None:
    node = tree(rec("a", 1, [SYSTEM, ASK], HI))["a"]
    assert (node.parent_node_id, node.branch_kind, node.is_orphan) == (None, "root", False)
    assert (node.lineage_source, node.depth, node.root_node_id) == ("none", 0, "a")
    assert node.response_group_key == "a"


def test_regenerated_first_answers_of_one_tenant_share_a_response_group() -> None:
    nodes = tree(
        rec("a", 1, [SYSTEM, ASK], HI),
        rec("b", 2, [SYSTEM, ASK], MORE, model="gpt-4o-mini"),
        rec("c", 3, [SYSTEM, ASK], HI, tenant="t2"),
        rec("d", 4, [SYSTEM, MORE], HI),
    )
    assert {n: nodes[n].response_group_key for n in "abcd"} == {
        "a": "a",
        "b": "a",
        "c": "c",
        "d": "d",
    }
    assert {nodes[n].branch_kind for n in "abcd"} == {"root"}


def test_orphan_roots_with_one_context_are_in_no_response_group() -> None:
    nodes = tree(rec("b", 2, [SYSTEM, ASK, HI, MORE], HI), rec("c", 3, [SYSTEM, ASK, HI, MORE], HI))
    assert (nodes["b"].response_group_key, nodes["c"].response_group_key) == (None, None)


def test_content_child_matches_parent_context_and_reply() -> None:
    nodes = tree(rec("a", 1, [SYSTEM, ASK], HI), rec("b", 2, [SYSTEM, ASK, HI, MORE], HI))
    assert nodes["b"].parent_node_id == "a"
    assert (nodes["b"].lineage_source, nodes["b"].depth) == ("content", 1)
    assert nodes["b"].branch_kind == "continuation"
    assert nodes["b"].response_group_key == "b"


def test_list_content_matches_string_content_by_text_parts_joined_in_order() -> None:
    parts = [
        {"type": "text", "text": "hel"},
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
        {"type": "text", "text": "lo"},
    ]
    as_list = {"role": "user", "content": parts}
    reply_as_list = {"role": "assistant", "content": [{"type": "text", "text": "hi there"}]}
    nodes = tree(
        rec("a", 1, [SYSTEM, ASK], HI),
        rec("b", 2, [SYSTEM, as_list, reply_as_list, MORE], HI),
    )
    assert nodes["b"].parent_node_id == "a"


def test_fields_outside_the_canonical_form_are_ignored() -> None:
    reply = {"role": "assistant", "content": "hi there", "refusal": None, "annotations": []}
    echoed = {"role": "assistant", "content": "hi there"}
    nodes = tree(rec("a", 1, [SYSTEM, ASK], reply), rec("b", 2, [SYSTEM, ASK, echoed, MORE]))
    assert nodes["b"].parent_node_id == "a"


def test_name_is_part_of_the_canonical_form() -> None:
    named = {"role": "user", "content": "hello", "name": "alice"}
    nodes = tree(rec("a", 1, [SYSTEM, named], HI), rec("b", 2, [SYSTEM, ASK, HI, MORE]))
    assert nodes["b"].parent_node_id is None
    assert nodes["b"].is_orphan


def _call(arguments: str, call_id: str = "call_1") -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": "read_file", "arguments": arguments},
            }
        ],
    }


def test_tool_call_reply_and_tool_result_link_a_tool_loop() -> None:
    result = {"role": "tool", "tool_call_id": "call_1", "content": "print(1)"}
    nodes = tree(
        rec("a", 1, [SYSTEM, ASK], _call('{"path": "a.py"}')),
        rec("b", 2, [SYSTEM, ASK, _call('{"path": "a.py"}'), result], HI),
    )
    assert nodes["b"].parent_node_id == "a"


def test_tool_call_arguments_or_id_that_differ_break_the_match() -> None:
    result = {"role": "tool", "tool_call_id": "call_1", "content": "x"}
    nodes = tree(
        rec("a", 1, [SYSTEM, ASK], _call('{"path": "a.py"}')),
        rec("b", 2, [SYSTEM, ASK, _call('{"path":"a.py"}'), result]),
        rec("c", 3, [SYSTEM, ASK, _call('{"path": "a.py"}', "call_2"), result]),
    )
    assert nodes["b"].parent_node_id is None and nodes["b"].is_orphan
    assert nodes["c"].parent_node_id is None and nodes["c"].is_orphan


def test_history_never_logged_makes_an_orphan_root() -> None:
    node = tree(rec("b", 2, [SYSTEM, ASK, HI, MORE], HI))["b"]
    assert (node.parent_node_id, node.is_orphan, node.lineage_source) == (None, True, "content")
    assert node.branch_kind == "root"


def test_identical_content_in_another_tenant_is_never_a_parent() -> None:
    nodes = tree(
        rec("a", 1, [SYSTEM, ASK], HI, tenant="t1"),
        rec("x", 3, [SYSTEM, ASK], HI, tenant="t2"),
        rec("b", 5, [SYSTEM, ASK, HI, MORE], tenant="t1"),
        rec("y", 6, [SYSTEM, ASK, HI, MORE], tenant="t2"),
    )
    assert nodes["b"].parent_node_id == "a"
    assert nodes["y"].parent_node_id == "x"


def test_missing_tenant_is_the_default_tenant() -> None:
    nodes = tree(
        rec("a", 1, [SYSTEM, ASK], HI, tenant=None),
        rec("b", 2, [SYSTEM, ASK, HI, MORE], tenant="default"),
    )
    assert nodes["a"].tenant_id == "default"
    assert nodes["b"].parent_node_id == "a"


def test_cache_hit_logged_twice_the_latest_copy_before_the_child_wins() -> None:
    nodes = tree(
        rec("a", 1, [SYSTEM, ASK], HI),
        rec("a2", 2, [SYSTEM, ASK], HI),
        rec("b", 3, [SYSTEM, ASK, HI, MORE]),
    )
    assert nodes["b"].parent_node_id == "a2"


def test_cache_hit_copy_logged_after_the_child_does_not_count() -> None:
    nodes = tree(
        rec("a", 1, [SYSTEM, ASK], HI),
        rec("b", 3, [SYSTEM, ASK, HI, MORE]),
        rec("a2", 4, [SYSTEM, ASK], HI),
    )
    assert nodes["b"].parent_node_id == "a"


def test_only_match_created_after_the_child_leaves_it_orphan() -> None:
    nodes = tree(rec("b", 3, [SYSTEM, ASK, HI, MORE]), rec("a", 4, [SYSTEM, ASK], HI))
    assert nodes["b"].parent_node_id is None and nodes["b"].is_orphan


def test_tie_on_created_at_the_smallest_request_id_wins() -> None:
    nodes = tree(
        rec("p2", 1, [SYSTEM, ASK], HI),
        rec("p1", 1, [SYSTEM, ASK], HI),
        rec("b", 3, [SYSTEM, ASK, HI, MORE]),
    )
    assert nodes["b"].parent_node_id == "p1"


def test_timestamps_compare_as_instants_across_offsets() -> None:
    early = rec("early", 0, [SYSTEM, ASK], HI)
    early["created_at"] = "2026-01-01T01:30:00+02:00"  # 23:30Z the day before
    late = rec("late", 0, [SYSTEM, ASK], HI)
    late["created_at"] = "2025-12-31T23:45:00Z"
    child = rec("b", 0, [SYSTEM, ASK, HI, MORE])
    child["created_at"] = "2026-01-01T01:50:00+02:00"  # 23:50Z
    assert tree(early, late, child)["b"].parent_node_id == "late"


def test_explicit_parent_wins_over_content() -> None:
    nodes = tree(
        rec("a", 1, [SYSTEM, ASK], HI),
        rec("z", 2, [SYSTEM, {"role": "user", "content": "other"}], HI),
        rec("b", 3, [SYSTEM, ASK, HI, MORE], parent_request_id="z"),
    )
    assert (nodes["b"].parent_node_id, nodes["b"].lineage_source) == ("z", "explicit")


def test_explicit_parent_missing_is_an_orphan_root_without_content_fallback() -> None:
    nodes = tree(
        rec("a", 1, [SYSTEM, ASK], HI),
        rec("b", 3, [SYSTEM, ASK, HI, MORE], parent_request_id="never-logged"),
    )
    node = nodes["b"]
    assert (node.parent_node_id, node.is_orphan, node.lineage_source) == (None, True, "explicit")


def test_explicit_parent_in_another_tenant_counts_as_missing() -> None:
    nodes = tree(
        rec("a", 1, [SYSTEM, ASK], HI, tenant="t2"),
        rec("b", 3, [SYSTEM, ASK], HI, parent_request_id="a"),
    )
    assert nodes["b"].parent_node_id is None and nodes["b"].is_orphan


def test_explicit_self_parent_is_an_orphan_root() -> None:
    node = tree(rec("a", 1, [SYSTEM, ASK], HI, parent_request_id="a"))["a"]
    assert (node.parent_node_id, node.is_orphan, node.branch_kind) == (None, True, "root")


def test_explicit_cycle_earliest_member_becomes_the_orphan_root() -> None:
    nodes = tree(
        rec("y", 2, [SYSTEM, ASK], HI, parent_request_id="x"),
        rec("x", 1, [SYSTEM, ASK], HI, parent_request_id="z"),
        rec("z", 3, [SYSTEM, ASK], HI, parent_request_id="y"),
        rec("tail", 4, [SYSTEM, ASK], HI, parent_request_id="z"),
    )
    assert nodes["x"].parent_node_id is None and nodes["x"].is_orphan
    assert [nodes[n].parent_node_id for n in ("y", "z", "tail")] == ["x", "y", "z"]
    assert [nodes[n].depth for n in ("x", "y", "z", "tail")] == [0, 1, 2, 3]
    assert {nodes[n].root_node_id for n in nodes} == {"x"}
    assert not nodes["y"].is_orphan


def test_failed_request_is_no_content_parent_but_can_be_an_explicit_one() -> None:
    nodes = tree(
        rec("a", 1, [SYSTEM, ASK], HI),
        rec("failed", 2, [SYSTEM, ASK, HI, MORE], status="timeout"),
        rec("retry", 3, [SYSTEM, ASK, HI, MORE], HI),
        rec("linked", 4, [SYSTEM, ASK, HI, MORE], HI, parent_request_id="failed"),
    )
    assert nodes["failed"].parent_node_id == "a"
    assert nodes["retry"].parent_node_id == "a"
    assert nodes["retry"].branch_kind == "retry"
    assert nodes["linked"].parent_node_id == "failed"
    assert nodes["linked"].branch_kind == "continuation"


def test_branch_kinds_follow_response_groups() -> None:
    base = [SYSTEM, ASK, HI, MORE]
    edited = [SYSTEM, ASK, HI, {"role": "user", "content": "tell me less"}]
    tools = [{"type": "function", "function": {"name": "f"}}]
    nodes = tree(
        rec("a", 1, [SYSTEM, ASK], HI),
        rec("c1", 10, base, HI, request={"temperature": 0.7}),
        rec("c2", 11, base, HI, request={"temperature": 0.7}),
        rec("c3", 12, base, HI, request={"temperature": 0.2}),
        rec("c4", 13, base, HI, request={"temperature": 0.7}, model="gpt-4o-mini"),
        rec("c5", 14, base, HI, request={"temperature": 0.2, "tools": tools}),
        rec("e1", 15, edited, HI),
        rec("e2", 16, edited, HI, request={"seed": 3}),
        rec("e3", 17, edited, HI),
    )
    kinds = {node_id: nodes[node_id].branch_kind for node_id in nodes}
    assert kinds == {
        "a": "root",
        "c1": "continuation",
        "c2": "retry",
        "c3": "sampling_variant",
        "c4": "model_variant",
        "c5": "tool_variant",
        "e1": "prompt_variant",
        "e2": "sampling_variant",
        "e3": "retry",
    }
    groups = {node_id: nodes[node_id].response_group_key for node_id in nodes}
    assert {groups[n] for n in ("c1", "c2", "c3", "c4", "c5")} == {"c1"}
    assert {groups[n] for n in ("e1", "e2", "e3")} == {"e1"}


def test_branch_kind_given_by_the_record_overrides_the_inferred_one() -> None:
    nodes = tree(
        rec("a", 1, [SYSTEM, ASK], HI),
        rec("b", 2, [SYSTEM, ASK, HI, MORE], HI),
        rec(
            "r",
            3,
            [SYSTEM, ASK, HI, MORE],
            HI,
            request={"temperature": 0.1},
            branch={"kind": "model_variant", "replay_of_request_id": "b"},
        ),
    )
    assert nodes["r"].branch_kind == "model_variant"
    assert nodes["r"].response_group_key == "b"


def test_session_key_is_the_roots_session_id_else_its_request_id() -> None:
    nodes = tree(
        rec("a", 1, [SYSTEM, ASK], HI, session_id="s-1"),
        rec("b", 2, [SYSTEM, ASK, HI, MORE], HI, session_id="s-other"),
        rec("c", 3, [SYSTEM, {"role": "user", "content": "new"}], HI),
    )
    assert nodes["a"].session_key == "s-1"
    assert nodes["b"].session_key == "s-1"
    assert nodes["c"].session_key == "c"


def test_first_occurrence_of_a_request_id_wins() -> None:
    nodes = tree(
        rec("a", 1, [SYSTEM, ASK], HI),
        rec("b", 2, [SYSTEM, ASK, HI, MORE]),
        rec("b", 2, [SYSTEM, ASK], parent_request_id="nowhere"),
    )
    assert nodes["b"].parent_node_id == "a"


def test_a_chain_a_thousand_deep_resolves_without_recursion() -> None:
    messages: list[dict[str, Any]] = [SYSTEM, ASK]
    records = []
    for turn in range(1_000):
        reply = {"role": "assistant", "content": f"r{turn}"}
        records.append(rec(f"n{turn:05d}", turn, list(messages), reply))
        messages += [reply, {"role": "user", "content": "go"}]
    nodes = resolve(records)
    assert nodes["n00999"].depth == 999
    assert nodes["n00999"].root_node_id == "n00000"


def test_null_content_reads_as_empty_text_like_the_dbt_models() -> None:
    from trellis.services.lineage_reference import canonical_message

    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assert canonical_message({"role": "assistant", "content": None, "tool_calls": [call]}) == (
        canonical_message({"role": "assistant", "content": "", "tool_calls": [call]})
    )
