"""The cast of the demo traffic: tenants, agents, models and their prices.

Numbers are plausible, not quoted: prices are USD per million tokens at the
public list prices of late 2024; self-hosted models cost nothing per token.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Model:
    name: str  # what the client asks for (`model`)
    served_model: str  # the snapshot that answers
    provider: str
    endpoint: str
    input_usd_per_mtok: float
    cached_usd_per_mtok: float
    output_usd_per_mtok: float
    tokens_per_s: float
    ttft_ms: int


MODELS: dict[str, Model] = {
    model.name: model
    for model in (
        Model(
            "gpt-4o",
            "gpt-4o-2024-08-06",
            "openai",
            "/v1/chat/completions",
            2.50,
            1.25,
            10.00,
            70.0,
            450,
        ),
        Model(
            "gpt-4o-mini",
            "gpt-4o-mini-2024-07-18",
            "openai",
            "/v1/chat/completions",
            0.15,
            0.075,
            0.60,
            110.0,
            300,
        ),
        Model(
            "claude-3-5-sonnet",
            "claude-3-5-sonnet-20241022",
            "anthropic",
            "/v1/messages",
            3.00,
            0.30,
            15.00,
            60.0,
            600,
        ),
        Model(
            "llama3.1:8b",
            "llama3.1:8b-instruct-q4_K_M",
            "ollama",
            "http://ollama.internal:11434/v1/chat/completions",
            0.0,
            0.0,
            0.0,
            40.0,
            200,
        ),
        Model(
            "qwen2.5-coder-32b",
            "Qwen/Qwen2.5-Coder-32B-Instruct@a1b2c3d",
            "vllm",
            "http://vllm.internal:8000/v1/chat/completions",
            0.0,
            0.0,
            0.0,
            55.0,
            150,
        ),
    )
}

#: Where a failing model falls back to.
FALLBACKS: dict[str, str] = {
    "claude-3-5-sonnet": "gpt-4o",
    "gpt-4o": "gpt-4o-mini",
    "qwen2.5-coder-32b": "gpt-4o-mini",
    "llama3.1:8b": "gpt-4o-mini",
    "gpt-4o-mini": "llama3.1:8b",
}


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    logs_local_time: bool  # gateway writes +02:00 offsets for part of its records
    explicit_ids: bool  # gateway sets session_id and parent_request_id
    logs_cost: bool  # gateway writes cost_usd
    region: str


TENANTS: tuple[Tenant, ...] = (
    Tenant("acme", False, False, True, "us-east-1"),
    Tenant("globex", True, True, False, "eu-central-1"),
    Tenant("initech", False, False, False, "us-west-2"),
    Tenant("umbrella", True, False, True, "eu-west-1"),
    Tenant("hooli", False, True, True, "us-east-2"),
    Tenant("stark", False, False, True, "us-west-1"),
)


@dataclass(frozen=True)
class Agent:
    agent_id: str
    models: tuple[str, ...]  # first is the usual one
    config_versions: tuple[str, ...]  # rolled out over the month
    template_id: str
    temperature: float
    max_tokens: int


AGENTS: dict[str, Agent] = {
    agent.agent_id: agent
    for agent in (
        Agent(
            "ide-agent",
            ("gpt-4o-mini", "qwen2.5-coder-32b", "llama3.1:8b"),
            ("1.8.0", "1.9.0"),
            "ide/tool-loop",
            0.2,
            512,
        ),
        Agent(
            "chat-ui",
            ("gpt-4o", "claude-3-5-sonnet", "gpt-4o-mini"),
            ("2026.01.1", "2026.01.2", "2026.01.3"),
            "chat/assistant",
            0.7,
            1024,
        ),
        Agent(
            "batch-evaluator",
            ("gpt-4o-mini", "llama3.1:8b", "gpt-4o"),
            ("0.4.2",),
            "eval/grader",
            0.0,
            256,
        ),
        Agent(
            "code-agent",
            ("claude-3-5-sonnet", "gpt-4o", "qwen2.5-coder-32b"),
            ("3.1.0", "3.2.0"),
            "code/planner",
            0.3,
            2048,
        ),
    )
}
