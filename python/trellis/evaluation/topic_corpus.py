"""A labelled corpus of conversations with known topics, as gateway traffic.

No public intent corpus (BANKING77, CLINC150, ...) ships inside a package
this project can install offline, so clustering quality is measured on this
generated one. Each conversation opens with a user ask of one of TOPICS,
phrased by one of several templates with slot values (the paraphrases an
intent corpus has), and goes on with generic follow-ups and generic
assistant replies drawn from pools shared by every topic, often longer than
the ask: the boilerplate a task clustering must not be drowned by. Each
conversation is a chain of requests (the context grows by a turn), so the
warehouse's lineage turns it into one trajectory whose leaf is the last
request; `labels` maps that leaf's request_id to the topic.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOPICS: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, ...]]]] = {
    "reset_password": (
        (
            "I forgot my password for {app}, how do I reset it?",
            "Can't log into {app} anymore, the password reset email never arrives.",
            "How can I change my {app} password if I no longer remember the old one?",
            "My {app} account is locked after too many wrong passwords, help me get back in.",
            "Where is the reset password link on the {app} login page?",
        ),
        {
            "app": (
                "the banking app",
                "my email account",
                "the company VPN",
                "Netflix",
                "the HR portal",
            )
        },
    ),
    "cancel_subscription": (
        (
            "How do I cancel my {service} subscription before the next billing date?",
            "I want to stop paying for {service}, please cancel it.",
            "Unsubscribe me from {service}, the monthly plan is too expensive.",
            "What happens to my data if I end my {service} membership?",
            "Is there a fee for cancelling {service} in the middle of the contract?",
        ),
        {
            "service": (
                "the gym",
                "Spotify premium",
                "the newspaper",
                "cloud storage",
                "the meal kit",
            )
        },
    ),
    "refund_request": (
        (
            "I was charged twice for order {order}, can I get a refund?",
            "The {item} I bought arrived broken and I want my money back.",
            "How long does a refund take to reach my card after returning the {item}?",
            "Please refund the {item}, it is not what the description promised.",
            "Return policy question: can I still return a {item} after 30 days for a refund?",
        ),
        {
            "order": ("4471", "A-2291", "88-310"),
            "item": ("blender", "jacket", "laptop charger", "pair of shoes"),
        },
    ),
    "lost_card": (
        (
            "I lost my {card} somewhere in town, block it immediately.",
            "My {card} was stolen at the train station, what should I do?",
            "Freeze my {card}, I cannot find it since yesterday.",
            "How do I order a replacement {card} after losing the old one?",
            "Someone used my missing {card} for purchases I never made.",
        ),
        {"card": ("credit card", "debit card", "bank card", "Visa card")},
    ),
    "shipping_status": (
        (
            "Where is my package? The tracking for {carrier} has not moved in days.",
            "When will my order arrive, it shipped with {carrier} last week?",
            "The {carrier} delivery says delivered but nothing is at my door.",
            "Can you check the shipping status of my parcel sent by {carrier}?",
            "My delivery from {carrier} is late, what is the estimated arrival?",
        ),
        {"carrier": ("DHL", "UPS", "FedEx", "the postal service")},
    ),
    "book_flight": (
        (
            "Book me a flight from {city} to {city2} next Friday.",
            "Find the cheapest plane tickets to {city2} departing {city} in May.",
            "I need a return flight {city} to {city2}, economy, two adults.",
            "Are there direct flights between {city} and {city2} on weekends?",
            "Reserve a window seat on the morning flight to {city2}.",
        ),
        {
            "city": ("Paris", "Berlin", "Chicago", "Tokyo"),
            "city2": ("Lisbon", "Madrid", "Toronto", "Seoul"),
        },
    ),
    "weather_forecast": (
        (
            "What will the weather be like in {city} tomorrow?",
            "Is it going to rain in {city} this weekend?",
            "Give me the temperature forecast for {city} for the next five days.",
            "Should I bring an umbrella to {city} on Thursday, any storms expected?",
            "How windy and cold will it be in {city} tonight?",
        ),
        {"city": ("London", "Oslo", "Sydney", "Denver", "Mumbai")},
    ),
    "recipe_request": (
        (
            "Give me a simple recipe for {dish} for four people.",
            "How do I cook {dish} without an oven?",
            "What ingredients do I need to make {dish} from scratch?",
            "Suggest a vegetarian version of {dish} for dinner tonight.",
            "How long should I bake {dish} and at what temperature?",
        ),
        {"dish": ("lasagna", "banana bread", "chicken curry", "pancakes", "ramen")},
    ),
    "translate_text": (
        (
            "Translate 'where is the train station' into {language}.",
            "How do you say good morning and thank you in {language}?",
            "Please translate this sentence to {language}: the meeting is moved to Monday.",
            "What is the {language} word for invoice?",
            "Help me write a polite greeting card in {language}.",
        ),
        {"language": ("French", "Japanese", "German", "Portuguese", "Italian")},
    ),
    "python_error": (
        (
            "My Python script crashes with {error}, how do I fix it?",
            "Why do I get {error} when importing pandas in Python?",
            "Debug this: Python raises {error} inside a for loop over a dict.",
            "What does {error} mean in a Python traceback and what causes it?",
            "Python throws {error} after upgrading numpy, any idea?",
        ),
        {
            "error": (
                "KeyError",
                "TypeError: 'NoneType' object is not subscriptable",
                "ModuleNotFoundError",
                "IndexError",
            )
        },
    ),
    "book_restaurant": (
        (
            "Reserve a table for {people} at an Italian restaurant tonight.",
            "Can you book dinner for {people} on Saturday at eight?",
            "Find a restaurant with free tables for {people} near the city center.",
            "I need a lunch reservation for {people} tomorrow, somewhere quiet.",
            "Cancel my restaurant booking and make a new one for {people}.",
        ),
        {"people": ("two", "four people", "a party of six", "my family")},
    ),
    "car_maintenance": (
        (
            "My car makes a grinding noise when I brake, is it the {part}?",
            "How often should I replace the {part} on a 2015 sedan?",
            "The check engine light came on, could the {part} be failing?",
            "How much does it cost to change the {part} at a garage?",
            "Can I replace the {part} of my car myself?",
        ),
        {"part": ("brake pads", "timing belt", "battery", "spark plugs", "oil filter")},
    ),
}

FOLLOW_UPS = (
    "Thanks. Can you make that shorter?",
    "Could you rewrite your whole answer as a short checklist that I can paste into our team wiki, "
    "keeping it under ten bullet points and in plain language please?",
    "I am not sure I understood everything, can you explain it again step by step, "
    "slowly and with an example, as if I were completely new to this?",
    "Great, thank you so much for the help, that was really useful and quick.",
    "Please be brief and skip the introduction this time.",
    "Can you summarise the previous answer in two sentences for my manager?",
)

REPLIES = (
    "Sure, here is what I suggest. First, let me restate the request to make sure I got it right. "
    "Then I will go through the options one by one, and finally recommend what I would do.",
    "Happy to help with that. There are a few things to consider, and the right choice depends on "
    "your situation, so I will list the most common cases and what to do in each of them.",
    "Of course. In short: check the details, follow the steps below, and contact support if "
    "anything does not work as expected.",
    "Here is a shorter version of the answer with only the essential steps.",
    "Good question. The usual approach works in most cases; if it does not, there is a fallback "
    "that takes a little longer but always works.",
)

SYSTEM = "You are a helpful assistant for our customers. Be accurate, friendly and concise."


@dataclass(frozen=True)
class Corpus:
    records: list[dict[str, Any]]
    labels: dict[str, str]  # leaf request_id -> topic


def _ask(rng: random.Random, topic: str) -> str:
    templates, slots = TOPICS[topic]
    template = rng.choice(templates)
    return template.format(**{name: rng.choice(values) for name, values in slots.items()})


def topic_corpus(
    conversations: int,
    seed: int = 7,
    tenants: tuple[str, ...] = ("acme",),
    start: dt.datetime | None = None,
    prefix: str = "topic",
) -> Corpus:
    """`conversations` chats, topics uniform, each 1 to 3 follow-ups long."""
    rng = random.Random(seed)
    clock = start or dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    topics = sorted(TOPICS)
    records: list[dict[str, Any]] = []
    labels: dict[str, str] = {}
    for number in range(conversations):
        topic = topics[number % len(topics)] if number < len(topics) else rng.choice(topics)
        tenant = tenants[number % len(tenants)]
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": _ask(rng, topic)},
        ]
        turns = 1 + rng.randint(1, 3)
        request_id = ""
        for turn in range(turns):
            clock += dt.timedelta(seconds=rng.randint(5, 90))
            request_id = f"{prefix}-{seed}-{number}-{turn}"
            reply = rng.choice(REPLIES)
            records.append(
                {
                    "request_id": request_id,
                    "created_at": clock.isoformat().replace("+00:00", "Z"),
                    "tenant_id": tenant,
                    "agent_id": "support-chat",
                    "model": "gpt-4o-mini",
                    "request": {"model": "gpt-4o-mini", "messages": [dict(m) for m in messages]},
                    "response": {
                        "id": f"chatcmpl-{request_id}",
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": reply},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 50 * (turn + 1), "completion_tokens": 40},
                    },
                }
            )
            messages.append({"role": "assistant", "content": reply})
            messages.append({"role": "user", "content": rng.choice(FOLLOW_UPS)})
        labels[request_id] = topic
    return Corpus(records, labels)


def write_jsonl(corpus: Corpus, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for record in corpus.records:
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
    return path
