"""Build request records together with the lineage they are meant to have.

A scenario drives a Conversation: each `call` makes one contract v1 request
record and remembers, by construction, its parent, branch kind and response
group. The truth file is computed by the independent reference resolver;
tests check that both agree.
"""

from __future__ import annotations

import hashlib
import json
import operator
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from trellis_demo.generate.catalog import AGENTS, FALLBACKS, MODELS, Agent, Tenant

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SAMPLING = ("temperature", "top_p", "seed", "n", "max_tokens")
Message = dict[str, Any]


def rfc3339(ms: int, offset_hours: int = 0) -> str:
    """RFC 3339 with milliseconds: `Z` for UTC, else `+HH:00`."""
    seconds, millis = divmod(ms, 1000)
    local = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds + offset_hours * 3600))
    suffix = "Z" if offset_hours == 0 else f"+{offset_hours:02d}:00"
    return f"{local}.{millis:03d}{suffix}"


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_PLACEHOLDER = "\x00messages\x00"
_PLACEHOLDER_JSON = _ENCODER.encode(_PLACEHOLDER)
_TOOLS_PLACEHOLDER = "\x00tools\x00"
_TOOLS_PLACEHOLDER_JSON = _ENCODER.encode(_TOOLS_PLACEHOLDER)


class JsonMemo:
    """JSON of messages by object identity; holds every message it has seen,
    so an id is never reused while the memo lives."""

    def __init__(self) -> None:
        self.by_id: dict[int, str] = {}
        self.keep: list[Any] = []
        self.last_messages: list[Message] = []
        self.last_text = ""

    def encode_tools(self, tools: list[dict[str, Any]]) -> str:
        key = id(tools)
        if key not in self.by_id:
            self.by_id[key] = _ENCODER.encode(tools)
            self.keep.append(tools)
        return self.by_id[key]

    def encode(self, messages: list[Message]) -> str:
        # A call usually extends the previous one's context: reuse its JSON
        # once every shared element is checked to be the very same object.
        shared = len(self.last_messages)
        if 0 < shared <= len(messages) and all(map(operator.is_, self.last_messages, messages)):
            added = self._parts(messages[shared:])
            text = ",".join([self.last_text, *added]) if added else self.last_text
        else:
            text = ",".join(self._parts(messages))
        self.last_messages, self.last_text = messages, text
        return "[" + text + "]"

    def _parts(self, messages: list[Message]) -> list[str]:
        try:
            return list(map(self.by_id.__getitem__, map(id, messages)))
        except KeyError:
            for message in messages:
                if id(message) not in self.by_id:
                    self.by_id[id(message)] = _ENCODER.encode(message)
                    self.keep.append(message)
            return list(map(self.by_id.__getitem__, map(id, messages)))


def dumps_record(record: dict[str, Any], memo: JsonMemo) -> str:
    """Compact JSON of a request record. Messages shared between the calls of a
    conversation are encoded once: a 400-turn loop would otherwise re-encode
    its history 400 times."""
    body = record["request"]
    messages, tools = body["messages"], body.get("tools")
    body["messages"] = _PLACEHOLDER
    if tools is not None:
        body["tools"] = _TOOLS_PLACEHOLDER
    try:
        text = _ENCODER.encode(record)
    finally:
        body["messages"] = messages
        if tools is not None:
            body["tools"] = tools
    text = text.replace(_PLACEHOLDER_JSON, memo.encode(messages), 1)
    if tools is not None:
        text = text.replace(_TOOLS_PLACEHOLDER_JSON, memo.encode_tools(tools), 1)
    return text


def estimate_tokens(message: Message) -> int:
    tokens = 4
    content = message.get("content")
    if isinstance(content, str):
        tokens += len(content) // 4
    for call in message.get("tool_calls") or ():
        tokens += 6 + len(call["function"]["arguments"]) // 4
    return tokens


@dataclass(eq=False)
class Node:
    """One request as constructed, with the lineage it was built to have."""

    request_id: str
    tenant_id: str
    agent_id: str
    scenario: str
    created_ms: int
    completed_ms: int
    status: str
    model: str
    context: list[Message]
    context_tokens: int
    reply: Message | None
    params: dict[str, Any]
    tools: list[dict[str, Any]] | None
    record: dict[str, Any]
    parent: Node | None
    kind: str
    source: str  # explicit | content | none
    leader: Node | None  # first member of its response group; None for roots
    children: int = 0
    session_id: str | None = None

    @property
    def orphan(self) -> bool:
        return self.parent is None and self.source != "none"

    def follow_on(self, *messages: Message) -> list[Message]:
        """The context of a call that continues from this node's reply."""
        assert self.reply is not None, "no reply to continue from"
        return [*self.context, self.reply, *messages]


class _Unset:
    pass


UNSET: Any = _Unset()
#: `explicit_parent=SELF`: a record that names itself as its parent.
SELF: Any = _Unset()


@dataclass
class Generator:
    """Shared state of one generation run: randomness, ids, counters."""

    rng: random.Random
    start_ms: int
    span_ms: int
    tenants: tuple[Tenant, ...]
    short_messages: bool = False
    ids: set[str] = field(default_factory=set)
    ticket: int = 1000
    #: (reason, created_ms, record) of broken records a scenario needs written as
    #: malformed lines
    pending_quarantine: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)

    def new_id(self, prefix: str) -> str:
        while True:
            value = f"{prefix}{self.rng.getrandbits(64):016x}"
            if value not in self.ids:
                self.ids.add(value)
                return value

    def next_ticket(self) -> int:
        self.ticket += 1
        return self.ticket

    def random_start(self) -> int:
        """A conversation start: busier on weekdays and in working hours."""
        rng = self.rng
        while True:
            ms = self.start_ms + rng.randrange(self.span_ms)
            moment = _EPOCH + timedelta(milliseconds=ms)
            weight = (0.35 if moment.weekday() >= 5 else 1.0) * (
                1.0 if 8 <= moment.hour < 19 else 0.3
            )
            if rng.random() < weight:
                return ms


_SYSTEM_PROMPTS: dict[tuple[str, str], str] = {}


def system_prompt(agent: Agent, version: str) -> str:
    key = (agent.agent_id, version)
    if key not in _SYSTEM_PROMPTS:
        _SYSTEM_PROMPTS[key] = (
            f"You are the {agent.agent_id} assistant (prompt v{version}). "
            "Be accurate and concise; use tools when they help."
        )
    return _SYSTEM_PROMPTS[key]


class Conversation:
    """One client session of one agent in one tenant: makes calls in time order."""

    def __init__(
        self,
        gen: Generator,
        scenario: str,
        tenant: Tenant,
        agent_id: str,
        *,
        start_ms: int | None = None,
        model: str | None = None,
        explicit: bool | None = None,
        tenant_field: bool = True,
    ) -> None:
        self.gen = gen
        self.rng = gen.rng
        self.scenario = scenario
        self.tenant = tenant
        self.agent: Agent = AGENTS[agent_id]
        self.clock = gen.random_start() if start_ms is None else start_ms
        self.model = model or self._pick_model()
        if explicit is None:  # explicit gateways serve the agents, not the chat UI
            explicit = tenant.explicit_ids and agent_id in ("ide-agent", "code-agent")
        self.explicit = explicit
        self.session_id = gen.new_id("sess_") if self.explicit else None
        self.trace_id = gen.new_id("tr_")
        self.user_id = f"u_{self.rng.randrange(1, 400):04d}"
        self.tenant_field = tenant_field
        self.list_content = self.rng.random() < 0.3
        self.nodes: list[Node] = []
        progress = (self.clock - gen.start_ms) / gen.span_ms
        versions = self.agent.config_versions
        self.config_version = versions[min(len(versions) - 1, int(progress * len(versions)))]
        self.prompt_version = "4" if progress > 0.5 else "3"
        self.system = {"role": "system", "content": system_prompt(self.agent, self.prompt_version)}

    def _pick_model(self) -> str:
        models = self.agent.models
        return models[0] if self.rng.random() < 0.6 else self.rng.choice(models)

    def wait(self, low_ms: int, high_ms: int) -> None:
        self.clock += self.rng.randint(low_ms, high_ms)

    # ------------------------------------------------------------------ calls

    def call(
        self,
        parent: Node | None,
        context: list[Message],
        reply: Message | None,
        *,
        like: Node | None = None,
        model: str | None = None,
        tools: Any = UNSET,
        params: dict[str, Any] | None = None,
        status: str = "success",
        explicit_parent: Any = UNSET,
        branch: dict[str, Any] | None = None,
        kind: str | None = None,
        cache_hit: bool = False,
        think_ms: tuple[int, int] = (2_000, 60_000),
        context_tokens: int | None = None,
        request_id: str | None = None,
    ) -> Node:
        """Make one request record. `like` makes a sibling in `like`'s response group."""
        gen, rng = self.gen, self.rng
        if like is not None:
            parent, context = like.parent, like.context
            context_tokens = like.context_tokens
            model = model or like.model
            tools = like.tools if tools is UNSET else tools
            merged = dict(like.params)
            merged.update(params or {})
            params = {key: value for key, value in merged.items() if value is not None}
        model = model or self.model
        tools = None if tools is UNSET else tools
        if params is None:
            params = {"temperature": self.agent.temperature, "max_tokens": self.agent.max_tokens}
        if context_tokens is None:
            context_tokens = sum(estimate_tokens(message) for message in context)

        request_id = request_id or gen.new_id("req_")
        created = self.clock
        asked = MODELS[model]
        served = asked
        fallback = None
        if status == "fallback":
            served = MODELS[FALLBACKS[model]]
            fallback = {
                "used": True,
                "from_model": model,
                "reason": rng.choice(("rate_limited", "provider_error", "timeout")),
            }
        completion_tokens = estimate_tokens(reply) if reply is not None else 0
        ttft = int(served.ttft_ms * rng.uniform(0.6, 1.8))
        if cache_hit:
            ttft = rng.randint(15, 60)
            latency = ttft + rng.randint(5, 40)
        elif status == "timeout":
            latency = rng.choice((30_000, 60_000)) + rng.randint(0, 40)
        elif status == "error":
            latency = rng.randint(40, 900)
        elif status == "cancelled":
            latency = ttft + rng.randint(300, 4_000)
        else:
            latency = ttft + int(
                completion_tokens / served.tokens_per_s * 1000 * rng.uniform(0.8, 1.3)
            )
            if status == "fallback":
                latency += rng.randint(500, 3_000)
        completed = created + latency

        record: dict[str, Any] = {"request_id": request_id}
        offset = 2 if self.tenant.logs_local_time and rng.random() < 0.5 else 0
        record["created_at"] = rfc3339(created, offset)
        record["completed_at"] = rfc3339(completed, offset)
        if self.tenant_field:
            record["tenant_id"] = self.tenant.tenant_id
            record["agent_id"] = self.agent.agent_id
        if self.session_id is not None:
            record["session_id"] = self.session_id
        if explicit_parent is UNSET:
            explicit_parent = parent.request_id if self.explicit and parent is not None else None
        if explicit_parent is SELF:
            explicit_parent = request_id
        if explicit_parent is not None:
            record["parent_request_id"] = explicit_parent
        record["trace_id"] = self.trace_id
        record["model"] = model
        record["served_model"] = served.served_model
        record["provider"] = served.provider
        record["endpoint"] = served.endpoint

        body: dict[str, Any] = {"model": model, "messages": self._render(context)}
        body.update(params)
        if tools is not None:
            body["tools"] = tools
            body["tool_choice"] = "auto"
        if self.agent.agent_id in ("chat-ui", "ide-agent"):
            body["stream"] = True
        record["request"] = body

        cached = 0
        if reply is not None:
            if cache_hit:
                cached = context_tokens // 128 * 128
            elif parent is not None and served.provider != "ollama" and context_tokens >= 1024:
                cached = min(context_tokens, parent.context_tokens) // 128 * 128
            usage: dict[str, Any] = {
                "prompt_tokens": context_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": context_tokens + completion_tokens,
            }
            if served.provider in ("openai", "anthropic", "vllm"):
                usage["prompt_tokens_details"] = {"cached_tokens": cached}
            message = dict(reply)
            if served.provider == "openai":
                message["refusal"] = None
            finish = "tool_calls" if reply.get("tool_calls") else "stop"
            record["response"] = {
                "id": f"chatcmpl-{request_id[4:]}",
                "object": "chat.completion",
                "created": created // 1000,
                "model": served.served_model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": usage,
            }
        if not (status in ("success", "error") and rng.random() < 0.15):
            record["status"] = status  # else left to the contract default
        if status == "error":
            code, http = rng.choice(
                (("rate_limit_exceeded", 429), ("server_error", 500), ("overloaded", 503))
            )
            record["error"] = {"code": code, "message": f"upstream {code}", "http_status": http}
        elif status == "timeout":
            record["error"] = {
                "code": "timeout",
                "message": "upstream timed out",
                "http_status": 504,
            }
        record["latency_ms"] = latency
        if body.get("stream") and status in ("success", "fallback", "cancelled"):
            record["ttft_ms"] = ttft  # a failed call never saw a first token
        if fallback is not None:
            record["fallback"] = fallback
        if self.tenant.logs_cost and reply is not None and rng.random() < 0.9:
            record["cost_usd"] = round(
                (
                    (context_tokens - cached) * served.input_usd_per_mtok
                    + cached * served.cached_usd_per_mtok
                    + completion_tokens * served.output_usd_per_mtok
                )
                / 1e6,
                8,
            )
        record["prompt"] = {
            "template_id": self.agent.template_id,
            "version": self.prompt_version,
            "hash": _short_hash(self.system["content"]),
        }
        record["agent_config"] = {"id": self.agent.agent_id, "version": self.config_version}
        metadata: dict[str, Any] = {"env": "prod", "region": self.tenant.region}
        metadata["user_id"] = self.user_id
        if cache_hit:
            metadata["cache"] = "hit"
        record["metadata"] = metadata
        if branch is not None:
            record["branch"] = branch

        source = (
            "explicit"
            if explicit_parent is not None
            else "content"
            if any(message.get("role") == "assistant" for message in reversed(context))
            else "none"
        )
        leader: Node | None
        if parent is None:
            computed_kind, leader = "root", None
        elif like is not None and like.leader is not None:
            leader = like.leader
            if tools != leader.tools:
                computed_kind = "tool_variant"
            elif any(params.get(key) != leader.params.get(key) for key in _SAMPLING):
                computed_kind = "sampling_variant"
            elif model != leader.model:
                computed_kind = "model_variant"
            else:
                computed_kind = "retry"
        else:
            leader = None
            computed_kind = "continuation" if parent.children == 0 else "prompt_variant"
        if parent is not None:
            parent.children += 1
        node = Node(
            request_id=request_id,
            tenant_id=self.tenant.tenant_id if self.tenant_field else "default",
            agent_id=self.agent.agent_id if self.tenant_field else "unknown",
            scenario=self.scenario,
            created_ms=created,
            completed_ms=completed,
            status=status,
            model=model,
            context=context,
            context_tokens=context_tokens,
            reply=reply if status in ("success", "fallback") else None,
            params=params,
            tools=tools,
            record=record,
            parent=parent,
            kind=kind or (branch or {}).get("kind") or computed_kind,
            source=source,
            leader=leader,
            session_id=self.session_id,
        )
        if parent is not None and node.leader is None:
            node.leader = node
        self.nodes.append(node)
        self.clock = completed + rng.randint(*think_ms)
        return node

    def _render(self, context: list[Message]) -> list[Message]:
        """The messages as this client sends them: sometimes as content parts."""
        if not self.list_content or self.rng.random() < 0.6:
            return context
        rendered = list(context)
        for _ in range(3):  # a few messages, not all: loops run hundreds deep
            index = self.rng.randrange(len(rendered))
            message = rendered[index]
            content = message.get("content")
            if message["role"] in ("user", "assistant") and isinstance(content, str):
                parts: list[dict[str, Any]] = [{"type": "text", "text": content}]
                if message["role"] == "user" and self.rng.random() < 0.3:
                    parts.append(
                        {"type": "image_url", "image_url": {"url": "https://img.example/a.png"}}
                    )
                rendered[index] = {**message, "content": parts}
        return rendered


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
