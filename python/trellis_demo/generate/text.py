"""Plausible message text, cheap to make and different every time.

Replies are a few sentences drawn from thousands of combinations, so two
siblings never answer alike by chance: an identical reply is always meant
(a cache hit).
"""

from __future__ import annotations

import random

TOPICS = (
    "the quarterly revenue report",
    "a Kubernetes ingress",
    "our refund policy",
    "the onboarding checklist",
    "a Postgres index",
    "the billing webhook",
    "rate limiting",
    "the churn dashboard",
    "a React hook",
    "OAuth scopes",
    "the incident postmortem",
    "vector search",
    "the pricing page copy",
    "a flaky integration test",
    "GDPR data requests",
    "the release notes",
)
ASPECTS = (
    "edge cases",
    "performance",
    "cost",
    "security",
    "the rollout plan",
    "error handling",
    "monitoring",
    "the migration",
    "naming",
    "tests",
)
LANGUAGES = ("Python", "TypeScript", "Go", "SQL", "Rust")
FILES = (
    "src/app/main.py",
    "src/app/billing.py",
    "src/app/models.py",
    "tests/test_api.py",
    "web/src/App.tsx",
    "internal/server/http.go",
    "migrations/0042_orders.sql",
    "README.md",
    "src/app/auth.py",
    "pyproject.toml",
)
TASKS = (
    "fix the failing test in",
    "add type hints to",
    "refactor the retry logic in",
    "add logging to",
    "remove dead code from",
    "speed up the query in",
    "write docs for",
    "add input validation to",
)

_OPENERS = (
    "In short,",
    "First,",
    "Note that",
    "In practice,",
    "Usually,",
    "Here,",
    "As a rule,",
    "Importantly,",
    "For example,",
    "Then",
    "Finally,",
    "Also,",
)
_SUBJECTS = (
    "the service",
    "this approach",
    "the query planner",
    "your config",
    "the cache",
    "each request",
    "the scheduler",
    "the client",
    "the index",
    "the team",
    "the model",
    "the pipeline",
    "the handler",
    "the migration",
    "the budget",
)
_VERBS = (
    "should validate",
    "can reuse",
    "will retry",
    "must log",
    "tends to hide",
    "needs to batch",
    "often skips",
    "should cap",
    "can stream",
    "will cache",
    "may reorder",
    "must version",
)
_OBJECTS = (
    "the input before saving it",
    "idempotency keys",
    "failed writes",
    "slow queries",
    "stale entries",
    "token usage",
    "the schema change",
    "partial results",
    "duplicate events",
    "the error budget",
    "per-tenant limits",
    "the audit trail",
    "expensive joins",
    "user feedback",
)


_SENTENCES = tuple(
    f"{opener} {subject} {verb} {obj}."
    for opener in _OPENERS
    for subject in _SUBJECTS
    for verb in _VERBS
    for obj in _OBJECTS
)


def sentence(rng: random.Random) -> str:
    return _SENTENCES[rng.getrandbits(32) % len(_SENTENCES)]


def paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(sentence(rng) for _ in range(sentences))


def long_answer(rng: random.Random) -> str:
    """A chat answer: a few paragraphs, 300 to 1,200 characters."""
    paragraphs = [paragraph(rng, rng.randint(2, 4)) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.3:
        items = "\n".join(f"- {sentence(rng)}" for _ in range(rng.randint(2, 4)))
        paragraphs.append(items)
    return "\n\n".join(paragraphs)


def first_question(rng: random.Random, ticket: int) -> str:
    return rng.choice(
        (
            f"Can you explain {rng.choice(TOPICS)} in simple terms? (ticket {ticket})",
            f"Help me draft a note about {rng.choice(TOPICS)} for ticket {ticket}.",
            f"Ticket {ticket}: what are the risks with {rng.choice(TOPICS)}?",
            f"Summarise {rng.choice(TOPICS)} for a new hire. Ref {ticket}.",
        )
    )


def follow_up(rng: random.Random) -> str:
    return rng.choice(
        (
            f"Thanks. What about {rng.choice(ASPECTS)}?",
            "Can you make that shorter?",
            f"Give me an example in {rng.choice(LANGUAGES)}.",
            f"How does that affect {rng.choice(ASPECTS)}?",
            "Turn that into a checklist.",
            f"I disagree about {rng.choice(ASPECTS)}, explain again.",
            "And for a team of five?",
        )
    )


def edit_of(text: str, rng: random.Random) -> str:
    """The user rewrites an earlier prompt."""
    return rng.choice(
        (
            f"{text} Please be brief.",
            f"{text} Assume we use {rng.choice(LANGUAGES)}.",
            f"Actually: {text.lower()}",
            f"{text} Focus on {rng.choice(ASPECTS)}.",
        )
    )


def code_snippet(rng: random.Random) -> str:
    name = rng.choice(("load", "save", "retry", "parse", "charge", "notify"))
    return (
        f"def {name}_{rng.randint(1, 99)}(x):\n"
        f"    # {sentence(rng)}\n"
        f"    return x * {rng.randint(2, 9)}\n"
    )
