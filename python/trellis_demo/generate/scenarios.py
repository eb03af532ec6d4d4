"""Scenarios: how each agent behaves, and the edge cases lineage must survive.

Each function plays one conversation and returns it; its `nodes` are in
creation order, so any prefix of them is itself a consistent conversation
(the generator cuts the last one to hit the exact request count).
"""

from __future__ import annotations

import json
from typing import Any

from trellis_demo.generate import text
from trellis_demo.generate.builder import (
    SELF,
    Conversation,
    Generator,
    Message,
    Node,
    estimate_tokens,
)
from trellis_demo.generate.catalog import AGENTS, Tenant


def _fn(name: str, description: str, **props: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {key: {"type": value} for key, value in props.items()},
                "required": list(props),
            },
        },
    }


IDE_TOOLS = [
    _fn("read_file", "Read a file", path="string"),
    _fn("grep", "Search the workspace", pattern="string"),
    _fn("edit_file", "Replace text in a file", path="string", patch="string"),
]
IDE_TOOLS_PLUS = [*IDE_TOOLS, _fn("run_terminal", "Run a shell command", command="string")]
CODE_TOOLS = [
    _fn("read_file", "Read a file", path="string"),
    _fn("write_file", "Write a file", path="string", content="string"),
    _fn("run_tests", "Run the test suite", selector="string"),
]
CODE_TOOLS_PLUS = [*CODE_TOOLS, _fn("web_search", "Search the web", query="string")]
LOOP_TOOLS = [{"type": "function", "function": {"name": "sh", "parameters": {"type": "object"}}}]


def user(content: str, name: str | None = None) -> Message:
    message: Message = {"role": "user", "content": content}
    if name is not None:
        message["name"] = name
    return message


def answer(content: str) -> Message:
    return {"role": "assistant", "content": content}


def tool_calls(conv: Conversation, *calls: tuple[str, dict[str, Any]]) -> Message:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": f"call_{conv.rng.getrandbits(48):012x}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for name, args in calls
        ],
    }


def results(call_message: Message, *contents: str) -> list[Message]:
    return [
        {"role": "tool", "tool_call_id": call["id"], "content": content}
        for call, content in zip(call_message["tool_calls"], contents, strict=True)
    ]


def tokens_after(node: Node, *messages: Message) -> int:
    """Context tokens of a call continuing from `node`, without re-counting."""
    assert node.reply is not None
    return (
        node.context_tokens
        + estimate_tokens(node.reply)
        + sum(estimate_tokens(message) for message in messages)
    )


def _other_model(conv: Conversation, current: str) -> str:
    choices = [model for model in conv.agent.models if model != current]
    return conv.rng.choice(choices)


# ---------------------------------------------------------------- chat UI


def chat(
    gen: Generator,
    tenant: Tenant,
    *,
    turns: int | None = None,
    variants: bool = True,
    scenario: str = "chat",
    tenant_field: bool = True,
) -> Conversation:
    """A person in the chat UI: long answers, regenerations, edits, model swaps."""
    conv = Conversation(gen, scenario, tenant, "chat-ui", tenant_field=tenant_field)
    rng = conv.rng
    turns = turns or rng.choice((1, 2, 2, 3, 3, 4, 5, 6, 8, 10, 14))
    name = rng.choice(("alice", "bob", "carol")) if rng.random() < 0.2 else None
    think = (5_000, 180_000)
    first = [conv.system, user(text.first_question(rng, gen.next_ticket()), name)]
    if variants and rng.random() < 0.03:
        failed = conv.call(None, first, None, status="error", think_ms=(1_000, 8_000))
        node = conv.call(None, [], answer(text.long_answer(rng)), like=failed, think_ms=think)
    else:
        node = conv.call(None, first, answer(text.long_answer(rng)), think_ms=think)
    path = [node]
    for _ in range(turns - 1):
        roll = rng.random() if variants else 1.0
        reply = answer(text.long_answer(rng))
        if roll < 0.07:  # regenerate
            node = conv.call(None, [], reply, like=node, think_ms=think)
            path[-1] = node
            continue
        if roll < 0.11:  # regenerate with other sampling
            params = {"temperature": rng.choice((0.2, 1.0, 1.2)), "seed": rng.randrange(1, 10_000)}
            node = conv.call(None, [], reply, like=node, params=params, think_ms=think)
            path[-1] = node
            continue
        if roll < 0.14:  # same prompt, other model
            model = _other_model(conv, node.model)
            node = conv.call(None, [], reply, like=node, model=model, think_ms=think)
            path[-1] = node
            continue
        if roll < 0.20 and len(path) > 1:  # edit an earlier prompt, continue from there
            index = rng.randrange(1, len(path))
            edited = path[index]
            last = edited.context[-1]
            context = [*edited.context[:-1], user(text.edit_of(last["content"], rng), name)]
            node = conv.call(edited.parent, context, reply, context_tokens=None, think_ms=think)
            path = [*path[:index], node]
            continue
        prompt = user(text.follow_up(rng), name)
        context = node.follow_on(prompt)
        tokens = tokens_after(node, prompt)
        if roll < 0.26:  # error, timeout or cancel, then the user retries
            status = rng.choice(("error", "error", "timeout", "cancelled"))
            failed = conv.call(
                node, context, None, status=status, context_tokens=tokens, think_ms=(1_000, 20_000)
            )
            node = conv.call(None, [], reply, like=failed, think_ms=think)
        else:
            node = conv.call(node, context, reply, context_tokens=tokens, think_ms=think)
        path.append(node)
    return conv


# ---------------------------------------------------------------- IDE agent


def ide_loop(gen: Generator, tenant: Tenant, *, turns: int | None = None) -> Conversation:
    """An IDE agent: short fast calls in a tool loop, sometimes a changed tool set."""
    conv = Conversation(gen, "ide_loop", tenant, "ide-agent")
    rng = conv.rng
    turns = turns or min(60, 2 + int(rng.expovariate(1 / 10)))
    tools: list[dict[str, Any]] = IDE_TOOLS
    think = (80, 1_500)
    path = rng.choice(text.FILES)
    task = user(f"{rng.choice(text.TASKS)} {path} (#{gen.next_ticket()})")
    node = conv.call(
        None,
        [conv.system, task],
        tool_calls(conv, ("read_file", {"path": path})),
        tools=tools,
        think_ms=think,
    )
    for turn in range(1, turns):
        assert node.reply is not None
        output = results(node.reply, *(text.code_snippet(rng) for _ in node.reply["tool_calls"]))
        reply: Message
        if turn == turns - 1:
            reply = answer(f"Done. {text.sentence(rng)}")
        else:
            name = rng.choice(("read_file", "grep", "edit_file"))
            reply = tool_calls(conv, (name, {"path": rng.choice(text.FILES)}))
        roll = rng.random()
        context, tokens = node.follow_on(*output), tokens_after(node, *output)
        if roll < 0.03:
            failed = conv.call(
                node,
                context,
                None,
                status="error",
                tools=tools,
                context_tokens=tokens,
                think_ms=(200, 3_000),
            )
            node = conv.call(None, [], reply, like=failed, think_ms=think)
            continue
        node = conv.call(node, context, reply, tools=tools, context_tokens=tokens, think_ms=think)
        if roll > 0.96 and node.reply is not None and node.reply.get("tool_calls"):
            # the user enables another tool: same prompt, new tool set
            tools = IDE_TOOLS_PLUS
            node = conv.call(
                None,
                [],
                tool_calls(conv, ("run_terminal", {"command": "pytest -q"})),
                like=node,
                tools=tools,
                think_ms=think,
            )
        elif roll > 0.94:
            node = conv.call(
                None, [], reply, like=node, params={"temperature": 0.0}, think_ms=think
            )
    return conv


def deep_loop(
    gen: Generator,
    tenant: Tenant,
    *,
    turns: int,
    variants: bool = True,
    scenario: str = "deep_loop",
    tiny: bool = False,
) -> Conversation:
    """An agent that runs hundreds of tool turns; messages stay short.

    Every call resends the whole history, so a loop's size grows with the
    square of its length. `tiny` turns are a 2-character reply and a "go"
    (about 60 bytes a turn instead of 160) for benchmarks that need many.
    """
    conv = Conversation(gen, scenario, tenant, "ide-agent")
    conv.list_content = False  # keeps the history shared, so encoding stays linear
    rng = conv.rng
    think = (20, 400)
    task = user(f"Migrate every module to the new logger (#{gen.next_ticket()})")
    params = {"temperature": 0.0, "max_tokens": 128}
    tools = None if tiny else LOOP_TOOLS

    def step(turn: int) -> Message:
        return answer(f"s{turn}") if tiny else _short_call(turn)

    node = conv.call(None, [conv.system, task], step(0), tools=tools, params=params, think_ms=think)
    for turn in range(1, turns):
        assert node.reply is not None
        output = (
            user("go")
            if tiny
            else {"role": "tool", "tool_call_id": f"c{turn - 1}", "content": f"ok {turn}"}
        )
        reply = step(turn) if turn < turns - 1 else answer("done")
        context, tokens = node.follow_on(output), tokens_after(node, output)
        if variants and rng.random() < 0.01:
            failed = conv.call(
                node,
                context,
                None,
                status="timeout",
                tools=tools,
                params=params,
                context_tokens=tokens,
                think_ms=(100, 2_000),
            )
            node = conv.call(None, [], reply, like=failed, think_ms=think)
            continue
        node = conv.call(
            node,
            context,
            reply,
            tools=tools,
            params=params,
            context_tokens=tokens,
            think_ms=think,
        )
    return conv


def _short_call(turn: int) -> Message:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": f"c{turn}", "type": "function", "function": {"name": "sh", "arguments": "{}"}}
        ],
    }


# ---------------------------------------------------------------- code agent


def code_agent(
    gen: Generator,
    tenant: Tenant,
    *,
    turns: int | None = None,
    force_timeout: bool = False,
    explicit: bool | None = None,
    scenario: str = "code_agent",
) -> Conversation:
    """A coding agent: plans, calls tools in parallel, falls back, retries timeouts."""
    conv = Conversation(gen, scenario, tenant, "code-agent", explicit=explicit)
    rng = conv.rng
    turns = turns or rng.randint(3, 25)
    tools: list[dict[str, Any]] = CODE_TOOLS
    think = (300, 8_000)
    timeout_at = rng.randrange(1, turns) if force_timeout else -1
    path = rng.choice(text.FILES)
    task = user(f"Plan and {rng.choice(text.TASKS)} {path}. Ticket {gen.next_ticket()}.")
    node = conv.call(
        None,
        [conv.system, task],
        tool_calls(conv, ("read_file", {"path": path}), ("run_tests", {"selector": "-k smoke"})),
        tools=tools,
        think_ms=think,
    )
    for turn in range(1, turns):
        assert node.reply is not None
        output = results(node.reply, *(text.code_snippet(rng) for _ in node.reply["tool_calls"]))
        if turn == turns - 1:
            reply = answer(text.paragraph(rng, 3))
        elif rng.random() < 0.3:
            reply = tool_calls(
                conv,
                ("read_file", {"path": rng.choice(text.FILES)}),
                ("read_file", {"path": rng.choice(text.FILES)}),
            )
        else:
            reply = tool_calls(conv, ("write_file", {"path": path, "content": text.sentence(rng)}))
        context, tokens = node.follow_on(*output), tokens_after(node, *output)
        roll = rng.random()
        if turn == timeout_at or roll < 0.03:
            failed = conv.call(
                node,
                context,
                None,
                status="timeout",
                tools=tools,
                context_tokens=tokens,
                think_ms=(1_000, 5_000),
            )
            if conv.explicit:
                # this gateway links the retry to the failed call
                node = conv.call(
                    failed, context, reply, tools=tools, context_tokens=tokens, think_ms=think
                )
            else:
                node = conv.call(None, [], reply, like=failed, think_ms=think)
            continue
        status = "fallback" if roll < 0.08 else "success"
        node = conv.call(
            node, context, reply, tools=tools, status=status, context_tokens=tokens, think_ms=think
        )
        if roll > 0.95 and turn < turns - 1:
            tools = CODE_TOOLS_PLUS
            node = conv.call(
                None,
                [],
                tool_calls(conv, ("web_search", {"query": "error"})),
                like=node,
                tools=tools,
                think_ms=think,
            )
        elif roll > 0.92:
            node = conv.call(
                None, [], reply, like=node, model=_other_model(conv, node.model), think_ms=think
            )
    return conv


# ---------------------------------------------------------------- batch evaluator


def batch_eval(gen: Generator, tenant: Tenant) -> Conversation:
    """A batch job: one-shot prompts against several models, plus judge calls.

    A judge call carries a candidate answer nobody logged: an orphan root. Runs in the
    middle fifth of the span hit an upstream incident: half their gpt-4o-mini calls fail,
    while the other agents' calls to that model go on succeeding, so the batch agent's
    confidence in it parts from the model's global score (agents.confidence_divergence).
    """
    conv = Conversation(gen, "batch_eval", tenant, "batch-evaluator", explicit=False)
    rng = conv.rng
    progress = (conv.clock - gen.start_ms) / gen.span_ms
    incident = 0.4 <= progress < 0.6
    models = rng.sample(AGENTS["batch-evaluator"].models, rng.randint(1, 3))
    params = {"temperature": 0.0, "max_tokens": 256, "seed": 7}
    run = gen.next_ticket()
    think = (30, 600)
    for item in range(rng.randint(5, 25)):
        question = user(f"[eval run {run} item {item}] Classify: {text.sentence(rng)}")
        for model in models:
            label = rng.choice(("positive", "negative", "neutral"))
            reply = answer(json.dumps({"label": label, "score": round(rng.random(), 2)}))
            error_rate = 0.5 if incident and model == "gpt-4o-mini" else 0.02
            status = "error" if rng.random() < error_rate else "success"
            conv.call(
                None,
                [conv.system, question],
                reply,
                model=model,
                params=params,
                status=status,
                think_ms=think,
            )
        if rng.random() < 0.3:
            judged = [
                conv.system,
                question,
                answer(f"I think it is {rng.choice(('positive', 'negative'))}."),
                user("Grade the answer above from 0 to 10."),
            ]
            conv.call(
                None,
                judged,
                answer(str(rng.randint(0, 10))),
                model=models[0],
                params=params,
                think_ms=think,
            )
    return conv


# ---------------------------------------------------------------- edge cases


def cache_hits(gen: Generator, tenant: Tenant) -> list[Conversation]:
    """A cache hit logged twice: same context, same reply, two request ids.

    The child picks the latest copy created before it; in the second
    conversation the copy is logged after the child, so the child keeps the
    first.
    """
    conversations = []
    for late_log in (False, True):
        conv = Conversation(
            gen, "cache_hit_late_log" if late_log else "cache_hit", tenant, "chat-ui"
        )
        rng = conv.rng
        root = conv.call(
            None,
            [conv.system, user(text.first_question(rng, gen.next_ticket()))],
            answer(text.long_answer(rng)),
        )
        prompt = user(text.follow_up(rng))
        first = conv.call(root, root.follow_on(prompt), answer(text.long_answer(rng)))
        if not late_log:
            copy = conv.call(None, [], first.reply, like=first, cache_hit=True)
            conv.call(copy, copy.follow_on(user("Great, thanks.")), answer(text.sentence(rng)))
        else:
            conv.call(first, first.follow_on(user("Great, thanks.")), answer(text.sentence(rng)))
            conv.call(None, [], first.reply, like=first, cache_hit=True)
        conversations.append(conv)
    return conversations


def cross_tenant_copy(gen: Generator, tenant: Tenant, other: Tenant) -> list[Conversation]:
    """The same conversation, word for word, in two tenants: lineage stays in each."""
    original = chat(gen, tenant, turns=3, variants=False, scenario="cross_tenant_copy")
    copy = Conversation(
        gen, "cross_tenant_copy", other, "chat-ui", start_ms=original.nodes[0].created_ms + 45_000
    )
    mapped: dict[str, Node] = {}
    for node in original.nodes:
        copy.clock = max(copy.clock, node.created_ms + 45_000)
        parent = mapped[node.parent.request_id] if node.parent is not None else None
        mapped[node.request_id] = copy.call(
            parent,
            node.context,
            node.reply,
            model=node.model,
            params=dict(node.params),
            tools=node.tools,
        )
    return [original, copy]


def orphan_resumed(gen: Generator, tenant: Tenant) -> Conversation:
    """A code agent resumes a session from local history the gateway never saw."""
    conv = Conversation(gen, "orphan_resumed", tenant, "code-agent", explicit=False)
    rng = conv.rng
    earlier = tool_calls(conv, ("read_file", {"path": "src/app/main.py"}))
    history = [
        conv.system,
        user(f"Continue yesterday's refactor, ticket {gen.next_ticket()}."),
        earlier,
        *results(earlier, text.code_snippet(rng)),
        user("Go on from where you stopped."),
    ]
    node = conv.call(None, history, answer(text.paragraph(rng, 2)))
    prompt = user("Now run the tests.")
    conv.call(node, node.follow_on(prompt), answer(text.paragraph(rng, 2)))
    return conv


def explicit_missing(gen: Generator, tenant: Tenant) -> Conversation:
    """An explicit parent that was never logged: an orphan root, though content matches."""
    conv = Conversation(gen, "explicit_missing", tenant, "code-agent", explicit=True)
    rng = conv.rng
    root = conv.call(
        None,
        [conv.system, user(f"Task {gen.next_ticket()}: tidy imports.")],
        answer(text.sentence(rng)),
    )
    lost = gen.new_id("req_")  # never written
    orphan = conv.call(
        None,
        root.follow_on(user("And sort them.")),
        answer(text.sentence(rng)),
        explicit_parent=lost,
    )
    conv.call(orphan, orphan.follow_on(user("Thanks.")), answer(text.sentence(rng)))
    return conv


def explicit_cross_tenant(gen: Generator, tenant: Tenant, other: Tenant) -> list[Conversation]:
    """An explicit parent id that exists only in another tenant: missing here."""
    home = Conversation(gen, "explicit_cross_tenant", other, "code-agent", explicit=True)
    target = home.call(
        None,
        [home.system, user(f"Task {gen.next_ticket()}: bump deps.")],
        answer(text.sentence(home.rng)),
    )
    away = Conversation(
        gen,
        "explicit_cross_tenant",
        tenant,
        "code-agent",
        explicit=True,
        start_ms=home.clock + 1_000,
    )
    away.call(
        None,
        [away.system, user(f"Task {gen.next_ticket()}: pin deps.")],
        answer(text.sentence(away.rng)),
        explicit_parent=target.request_id,
    )
    return [home, away]


def explicit_cycles(gen: Generator, tenant: Tenant) -> Conversation:
    """Explicit chains that loop: a self-parent, a 2-cycle and a 3-cycle with a tail.

    In each cycle the earliest member is the orphan root; the others keep
    their explicit parent.
    """
    conv = Conversation(gen, "explicit_cycle", tenant, "code-agent", explicit=True)
    rng = conv.rng

    def prompt() -> list[Message]:
        return [conv.system, user(f"Step {gen.next_ticket()}: {text.sentence(rng)}")]

    conv.call(None, prompt(), answer("ok"), explicit_parent=SELF)
    for size in (2, 3):
        ids = [gen.new_id("req_") for _ in range(size)]
        previous: Node | None = None
        for position, request_id in enumerate(ids):
            target = ids[position - 1]  # the first names the last: a loop
            previous = conv.call(
                previous,
                prompt(),
                answer(text.sentence(rng)),
                explicit_parent=target,
                request_id=request_id,
            )
        conv.call(previous, prompt(), answer("tail"), explicit_parent=ids[-1])
    return conv


def replay(gen: Generator, tenant: Tenant) -> Conversation:
    """The replay runner re-asks a call with another model; its `branch.kind` wins."""
    conv = Conversation(gen, "replay", tenant, "chat-ui")
    rng = conv.rng
    root = conv.call(
        None,
        [conv.system, user(text.first_question(rng, gen.next_ticket()))],
        answer(text.long_answer(rng)),
    )
    prompt = user(text.follow_up(rng))
    original = conv.call(root, root.follow_on(prompt), answer(text.long_answer(rng)))
    conv.wait(86_400_000, 90_000_000)
    model = _other_model(conv, original.model)
    variant = {"model": model, "temperature": 0.2}
    conv.call(
        None,
        [],
        answer(text.long_answer(rng)),
        like=original,
        model=model,
        params={"temperature": 0.2},
        branch={
            "kind": "model_variant",
            "variant_config": variant,
            "replay_of_request_id": original.request_id,
            "cohort_id": gen.new_id("cohort_"),
        },
    )
    return conv


def quarantined_parent(gen: Generator, tenant: Tenant) -> tuple[Conversation, dict[str, Any]]:
    """A valid call whose parent was quarantined (negative tokens): an orphan.

    Returns the conversation and the broken parent record, to be written as a
    malformed line.
    """
    conv = Conversation(gen, "quarantined_parent", tenant, "chat-ui", explicit=False)
    rng = conv.rng
    ghost = conv.call(
        None,
        [conv.system, user(text.first_question(rng, gen.next_ticket()))],
        answer(text.long_answer(rng)),
    )
    conv.nodes.remove(ghost)
    broken = ghost.record
    broken["response"]["usage"]["completion_tokens"] = -ghost.record["response"]["usage"][
        "completion_tokens"
    ]
    conv.call(None, ghost.follow_on(user(text.follow_up(rng))), answer(text.long_answer(rng)))
    return conv, broken


def default_tenant(gen: Generator) -> Conversation:
    """Records without tenant_id or agent_id: the contract defaults apply."""
    nobody = Tenant("default", False, False, False, "unknown")
    return chat(gen, nobody, turns=3, variants=False, scenario="default_tenant", tenant_field=False)


def explicit_error_parent(gen: Generator, tenant: Tenant) -> Conversation:
    """An explicit gateway links a retry to the call that timed out."""
    return code_agent(
        gen, tenant, turns=4, force_timeout=True, explicit=True, scenario="explicit_error_parent"
    )
