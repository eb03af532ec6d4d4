"""Reference lineage resolver: contract section 3 applied to raw request records.

It is the oracle for `trellis generate` truth files and for the dbt lineage
models, so it is written for plainness, not speed; it hashes canonical
message prefixes so 100k records still resolve in seconds.

The caller passes valid records only (ingest has quarantined the others);
among records sharing a `request_id` the first one wins, as in ingest.

Choices where the contract leaves room (the dbt models must make the same):

- Canonical text of a message: a string content is itself; a list content is
  the `text` of its parts of type "text", joined in order with "" (no
  separator); null or absent content has the empty text, as in the dbt
  models (clients differ in echoing a tool-call turn's null content as "").
  Absent `tool_calls` equals an empty list. A tool call's `arguments` that is
  not a string is compared as compact JSON with sorted keys.
- Content rule candidates: P must be in N's tenant, its context must equal
  `messages[:j]`, its reply `messages[j]`, and it must be created strictly
  before N (instants, offsets applied). Among candidates the latest
  `created_at` wins, then the smallest `request_id`. A match created at or
  after N does not count: N is then an orphan.
- An explicit `parent_request_id` that is absent from N's tenant makes N an
  orphan root; there is no fall-back to the content rule.
- Cycles (explicit chains that loop, including a self-parent): in each cycle
  the member with the earliest (`created_at`, `request_id`) drops its parent
  and becomes an orphan root; the other members keep theirs. A cycle always
  holds at least one explicit edge, and its earliest member's edge is
  explicit, since content parents are created strictly before their child.
- `lineage_source` names the rule that placed the node: "explicit" when
  `parent_request_id` is present (resolved, missing or cut from a cycle),
  "content" when the node's context holds an assistant message (matched or
  orphan), else "none" (a plain root).
- `response_group_key` is the `node_id` of the group's first member (by
  `created_at`, then `request_id`). Siblings answer the same context: the
  children of one parent with identical contexts, or, for first turns (plain
  roots: no parent, no assistant turn, no explicit parent), the plain roots
  of one tenant with identical contexts (a regenerated first answer). An
  orphan root's history came from elsewhere and a late parent may still
  adopt it, so it is in no group: null.
- `branch.kind`, when a non-empty string, replaces the inferred kind,
  roots included.
"""

from __future__ import annotations

import hashlib
import json
import operator
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_SAMPLING_FIELDS = ("temperature", "top_p", "seed", "n", "max_tokens")


@dataclass(frozen=True)
class TruthNode:
    """One node of the conversation forest, as section 3 places it."""

    node_id: str
    tenant_id: str
    parent_node_id: str | None
    root_node_id: str
    depth: int
    session_key: str
    branch_kind: str
    is_orphan: bool
    lineage_source: str
    response_group_key: str | None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _TRUTH_FIELDS}


_TRUTH_FIELDS = tuple(item.name for item in fields(TruthNode))


@dataclass
class RecordFacts:
    """What section 3 needs of one record; the messages themselves are dropped,
    so a caller can extract record by record and resolve millions at once."""

    request_id: str
    tenant_id: str
    created_us: int
    explicit_parent: str | None
    session_id: str | None
    context_key: bytes  # hash of the canonical context
    link_key: bytes | None  # hash of messages[:j + 1]; None when no assistant turn
    reply_key: bytes | None  # hash of context + reply; None without a reply
    tools: str
    sampling: tuple[Any, ...]
    model: Any
    branch_kind: str | None


def parse_instant_us(value: str) -> int:
    """Microseconds since the epoch of an RFC 3339 timestamp with offset."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _ONE_US


def canonical_text(content: Any) -> str:
    """Text of a message content: a string, or the text parts joined in order."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict)
            and part.get("type") == "text"
            and isinstance(part.get("text"), str)
        )
    return json.dumps(content, sort_keys=True, separators=(",", ":"))


def canonical_message(message: Any) -> bytes:
    """Canonical form of one message as bytes: equal bytes iff equal for matching."""
    if not isinstance(message, dict):
        return repr(("<not a message>", json.dumps(message, sort_keys=True))).encode()
    get = message.get
    content = get("content")
    if type(content) is not str:
        content = canonical_text(content)
    if not get("tool_calls"):  # the common case, kept short: it runs millions of times
        form: tuple[Any, ...] = (get("role"), content, get("name"), (), get("tool_call_id"))
        return repr(form).encode("utf-8", "surrogatepass")
    calls: list[tuple[Any, Any, Any]] = []
    for call in message["tool_calls"]:
        if not isinstance(call, dict):
            continue
        function = call.get("function") or {}
        arguments = function.get("arguments")
        if arguments is not None and not isinstance(arguments, str):
            arguments = json.dumps(arguments, sort_keys=True, separators=(",", ":"))
        calls.append((call.get("id"), function.get("name"), arguments))
    form = (get("role"), content, get("name"), tuple(calls), get("tool_call_id"))
    return repr(form).encode("utf-8", "surrogatepass")


class CanonicalMemo:
    """Canonical bytes of messages by object identity, for callers whose records
    share message objects (the generator). It holds every message it has seen,
    so an id is never reused while the memo lives."""

    def __init__(self) -> None:
        self.by_id: dict[int, bytes] = {}
        self.keep: list[Any] = []
        self.tools_by_id: dict[int, str] = {}
        self.last_messages: list[Any] = []
        self.last_canonical: list[bytes] = []
        self.last_state: Any = None  # hash state after the last context

    def tools(self, tools: Any) -> str:
        key = id(tools)
        if key not in self.tools_by_id:
            self.tools_by_id[key] = _tools_key(tools)
            self.keep.append(tools)
        return self.tools_by_id[key]

    def canonical(self, messages: list[Any]) -> tuple[list[bytes], Any, int]:
        """Canonical bytes of each message, a hash state holding the first
        `done` of them, and `done`.

        A call usually extends the previous one's context: that part is reused
        once every shared element is checked to be the very same object.
        """
        shared = len(self.last_messages)
        if 0 < shared <= len(messages) and all(map(operator.is_, self.last_messages, messages)):
            result = self.last_canonical + self._lookup(messages[shared:])
            state, done = self.last_state.copy(), shared
        else:
            result = self._lookup(messages)
            state, done = _hasher(), 0
        self.last_messages, self.last_canonical = messages, result
        return result, state, done

    def _lookup(self, messages: list[Any]) -> list[bytes]:
        try:
            return list(map(self.by_id.__getitem__, map(id, messages)))
        except KeyError:
            for message in messages:
                if id(message) not in self.by_id:
                    self.by_id[id(message)] = _canonical(message)
                    self.keep.append(message)
            return list(map(self.by_id.__getitem__, map(id, messages)))


def _tools_key(tools: Any) -> str:
    return json.dumps(tools, sort_keys=True)


def _canonical(message: Any) -> bytes:
    """Length-prefixed canonical bytes, so a concatenation parses one way only."""
    form = canonical_message(message)
    return len(form).to_bytes(8, "little") + form


def _hasher() -> Any:
    return hashlib.blake2b(digest_size=16)


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def extract(record: dict[str, Any], memo: CanonicalMemo | None = None) -> RecordFacts:
    """The facts of one valid record. `memo` only saves work when records share
    message objects (as the generator's do); the result is the same without it."""
    request = record.get("request") or {}
    messages = request.get("messages") or []
    if memo is None:
        canonical, state, done = [_canonical(message) for message in messages], _hasher(), 0
    else:
        canonical, state, done = memo.canonical(messages)
    last_assistant = -1
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, dict) and message.get("role") == "assistant":
            last_assistant = index
            break
    # One streaming hash: messages[:j + 1] (link), then the whole context.
    link_key: bytes | None = None
    if last_assistant >= done:
        state.update(b"".join(canonical[done : last_assistant + 1]))
        link_key = state.copy().digest()
        state.update(b"".join(canonical[last_assistant + 1 :]))
    else:
        if last_assistant >= 0:
            link_key = _digest(b"".join(canonical[: last_assistant + 1]))
        state.update(b"".join(canonical[done:]))
    context_key = state.digest()
    if memo is not None:
        memo.last_state = state
    reply = _reply(record)
    reply_key: bytes | None = None
    if reply is not None:
        with_reply = state.copy()
        with_reply.update(_canonical(reply))
        reply_key = with_reply.digest()
    tools = request.get("tools")
    branch = record.get("branch")
    branch_kind = branch.get("kind") if isinstance(branch, dict) else None
    parent = record.get("parent_request_id")
    return RecordFacts(
        request_id=record["request_id"],
        tenant_id=record.get("tenant_id") or "default",
        created_us=parse_instant_us(record["created_at"]),
        explicit_parent=parent if isinstance(parent, str) else None,
        session_id=record.get("session_id") or None,
        context_key=context_key,
        link_key=link_key,
        reply_key=reply_key,
        tools=_tools_key(tools) if memo is None else memo.tools(tools),
        sampling=tuple(request.get(name) for name in _SAMPLING_FIELDS),
        model=record.get("model"),
        branch_kind=branch_kind if isinstance(branch_kind, str) and branch_kind else None,
    )


def _reply(record: dict[str, Any]) -> dict[str, Any] | None:
    response = record.get("response")
    if not isinstance(response, dict):
        return None
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    message = choices[0].get("message")
    return message if isinstance(message, dict) else None


def resolve(records: Iterable[dict[str, Any]]) -> dict[str, TruthNode]:
    """Place every (valid, first-occurrence) request record in its tree."""
    facts: dict[str, RecordFacts] = {}
    for record in records:
        if record["request_id"] not in facts:
            facts[record["request_id"]] = extract(record)
    return resolve_extracted(facts.values())


def resolve_extracted(extracted: Iterable[RecordFacts]) -> dict[str, TruthNode]:
    """`resolve` for facts already extracted; the first facts of an id win."""
    facts: dict[str, RecordFacts] = {}
    for fact in extracted:
        facts.setdefault(fact.request_id, fact)
    # Who can be a content parent: (tenant, hash of context + reply) -> candidates.
    by_reply: dict[tuple[str, bytes], list[RecordFacts]] = defaultdict(list)
    for fact in facts.values():
        if fact.reply_key is not None:
            by_reply[(fact.tenant_id, fact.reply_key)].append(fact)

    parent: dict[str, str | None] = {}
    orphan: dict[str, bool] = {}
    source: dict[str, str] = {}
    for fact in facts.values():
        node = fact.request_id
        if fact.explicit_parent is not None:
            source[node] = "explicit"
            target = facts.get(fact.explicit_parent)
            if target is not None and target.tenant_id == fact.tenant_id:
                parent[node], orphan[node] = target.request_id, False
            else:
                parent[node], orphan[node] = None, True
        elif fact.link_key is not None:
            source[node] = "content"
            best = _latest_before(by_reply.get((fact.tenant_id, fact.link_key), ()), fact)
            parent[node] = best
            orphan[node] = best is None
        else:
            source[node], parent[node], orphan[node] = "none", None, False

    for cycle in _cycles(parent):
        first = min(cycle, key=lambda node: (facts[node].created_us, node))
        parent[first], orphan[first] = None, True

    root, depth = _roots_and_depths(parent)
    kind, group = _branch_kinds(facts, parent)
    group.update(_first_turn_groups(facts, parent, orphan))
    result: dict[str, TruthNode] = {}
    for node, fact in facts.items():
        root_fact = facts[root[node]]
        result[node] = TruthNode(
            node_id=node,
            tenant_id=fact.tenant_id,
            parent_node_id=parent[node],
            root_node_id=root[node],
            depth=depth[node],
            session_key=root_fact.session_id or root_fact.request_id,
            branch_kind=fact.branch_kind or kind[node],
            is_orphan=orphan[node],
            lineage_source=source[node],
            response_group_key=group[node],
        )
    return result


def _latest_before(candidates: Iterable[RecordFacts], child: RecordFacts) -> str | None:
    """The latest candidate created strictly before the child; ties: smallest id."""
    best: RecordFacts | None = None
    for candidate in candidates:
        if candidate.created_us >= child.created_us:
            continue
        if (
            best is None
            or candidate.created_us > best.created_us
            or (candidate.created_us == best.created_us and candidate.request_id < best.request_id)
        ):
            best = candidate
    return best.request_id if best is not None else None


def _cycles(parent: dict[str, str | None]) -> Iterator[list[str]]:
    """Each cycle of the parent graph once (iterative: chains run hundreds deep)."""
    state: dict[str, int] = {}  # 1 on the current walk, 2 done
    for start in parent:
        if state.get(start):
            continue
        path: list[str] = []
        node: str | None = start
        while node is not None and not state.get(node):
            state[node] = 1
            path.append(node)
            node = parent[node]
        if node is not None and state[node] == 1:
            yield path[path.index(node) :]
        for member in path:
            state[member] = 2


def _roots_and_depths(parent: dict[str, str | None]) -> tuple[dict[str, str], dict[str, int]]:
    root: dict[str, str] = {}
    depth: dict[str, int] = {}
    for start in parent:
        path: list[str] = []
        node: str | None = start
        while node is not None and node not in depth:
            path.append(node)
            node = parent[node]
        if node is None:
            top = path.pop()
            root[top], depth[top] = top, 0
            node = top
        for member in reversed(path):
            root[member] = root[node]
            depth[member] = depth[node] + 1
            node = member
    return root, depth


def _first_turn_groups(
    facts: dict[str, RecordFacts], parent: dict[str, str | None], orphan: dict[str, bool]
) -> dict[str, str | None]:
    """Plain roots of one tenant with identical contexts answer the same first turn."""
    first_turns = sorted(
        (facts[node] for node, up in parent.items() if up is None and not orphan[node]),
        key=lambda fact: (fact.created_us, fact.request_id),
    )
    leaders: dict[tuple[str, bytes], str] = {}
    group: dict[str, str | None] = {}
    for fact in first_turns:
        group[fact.request_id] = leaders.setdefault(
            (fact.tenant_id, fact.context_key), fact.request_id
        )
    return group


def _branch_kinds(
    facts: dict[str, RecordFacts], parent: dict[str, str | None]
) -> tuple[dict[str, str], dict[str, str | None]]:
    kind: dict[str, str] = {}
    group: dict[str, str | None] = {}
    children: dict[str, list[RecordFacts]] = defaultdict(list)
    for node, up in parent.items():
        if up is None:
            kind[node], group[node] = "root", None
        else:
            children[up].append(facts[node])
    for siblings in children.values():
        siblings.sort(key=lambda fact: (fact.created_us, fact.request_id))
        first_of_group: dict[bytes, RecordFacts] = {}
        for position, fact in enumerate(siblings):
            leader = first_of_group.get(fact.context_key)
            if leader is None:
                first_of_group[fact.context_key] = fact
                group[fact.request_id] = fact.request_id
                kind[fact.request_id] = "continuation" if position == 0 else "prompt_variant"
                continue
            group[fact.request_id] = leader.request_id
            if fact.tools != leader.tools:
                kind[fact.request_id] = "tool_variant"
            elif fact.sampling != leader.sampling:
                kind[fact.request_id] = "sampling_variant"
            elif fact.model != leader.model:
                kind[fact.request_id] = "model_variant"
            else:
                kind[fact.request_id] = "retry"
    return kind, group
