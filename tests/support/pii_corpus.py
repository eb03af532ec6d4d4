"""A labelled de-identification corpus, generated deterministically from a seed.

Each example is a short chat-like text with zero or more planted values and
their labels (type, exact substring). Values are built the way the real ones
are (card numbers with their brand prefixes and a Luhn digit, IBANs with their
country lengths and ISO 7064 check digits, provider key prefixes and lengths),
independently of the detectors' regular expressions. Distractors that look
alike but are not PII (order numbers, dates, times, versions, hashes, UUIDs,
amounts, card-like numbers that fail Luhn, IBAN-like strings with wrong check
digits) are planted unlabelled, so precision means something.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass

FIRST = ["anna", "li", "omar", "sofia", "jean-luc", "mia", "kenji", "ola", "priya", "tom"]
LAST = ["smith", "garcia", "nguyen", "muller", "rossi", "kowalski", "okafor", "tanaka"]
DOMAINS = ["example.com", "mail.example.org", "corp.example.co.uk", "uni-example.edu", "x.io"]
WORDS = (  # noqa: SIM905 (a sentence reads better than 110 quoted words)
    "the a of to and in is it you that he was for on are with as his they be at one have "
    "this from or had by hot word but what some we can out other were all there when up use "
    "your how said an each she which do their time if will way about many then them write "
    "would like so these her long make thing see him two has look more day could go come did "
    "number sound no most people my over know water than call first who may down side been now "
    "find deploy build service request response error retry model token prompt answer config"
).split()

IBAN_LENGTHS = {"DE": 22, "FR": 27, "GB": 22, "NL": 18, "ES": 24, "IT": 27, "BE": 16, "CH": 21}
CARD_PREFIXES = [
    ("4", 16),
    ("51", 16),
    ("55", 16),
    ("2221", 16),
    ("34", 15),
    ("37", 15),
    ("6011", 16),
    ("35", 16),
    ("4", 19),
]


@dataclass(frozen=True)
class Example:
    text: str
    labels: tuple[tuple[str, str], ...]  # (type, value)


def _luhn_digit(body: str) -> str:
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def _group(value: str, size: int, sep: str) -> str:
    return sep.join(value[i : i + size] for i in range(0, len(value), size))


def card(rng: random.Random, valid: bool = True) -> str:
    prefix, length = rng.choice(CARD_PREFIXES)
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    check = _luhn_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    number = body + check
    sep = rng.choice(["", " ", "-"])
    if length == 15 and sep:
        return sep.join([number[:4], number[4:10], number[10:]])
    return _group(number, 4, sep) if sep else number


def iban(rng: random.Random, valid: bool = True) -> str:
    country = rng.choice(sorted(IBAN_LENGTHS))
    bban = "".join(rng.choice(string.digits) for _ in range(IBAN_LENGTHS[country] - 4))
    if country in {"GB", "NL"}:
        bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + bban[4:]
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    if not valid:
        check = (check + rng.randint(1, 50)) % 97 + 2
    value = f"{country}{check:02d}{bban}"
    return _group(value, 4, " ") if rng.random() < 0.5 else value


def email(rng: random.Random) -> str:
    local = rng.choice(
        [
            f"{rng.choice(FIRST)}.{rng.choice(LAST)}",
            f"{rng.choice(FIRST)}{rng.randint(1, 999)}",
            f"{rng.choice(FIRST)}+{rng.choice(WORDS)}",
            f"{rng.choice(FIRST)[0]}_{rng.choice(LAST)}",
        ]
    )
    return f"{local}@{rng.choice(DOMAINS)}"


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def phone(rng: random.Random) -> str:
    kind = rng.randrange(7)
    if kind == 0:
        return f"+1 {rng.randint(201, 989)} {rng.randint(200, 999)} {_digits(rng, 4)}"
    if kind == 1:
        return f"+44 20 {_digits(rng, 4)} {_digits(rng, 4)}"
    if kind == 2:
        return f"+33 6 {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)}"
    if kind == 3:
        return f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{_digits(rng, 4)}"
    if kind == 4:
        pairs = " ".join(_digits(rng, 2) for _ in range(4))
        return f"0{rng.randint(6, 7)} {pairs}"
    if kind == 5:
        return f"+49{rng.randint(151, 179)}{_digits(rng, 8)}"
    return f"{rng.randint(201, 989)}-{rng.randint(200, 999)}-{_digits(rng, 4)}"


def ipv4(rng: random.Random) -> str:
    return ".".join(str(rng.randint(1, 254)) for _ in range(4))


def ipv6(rng: random.Random) -> str:
    groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
    groups[0] = rng.choice(["2001", "fe80", "2a00", "2606"])
    if rng.random() < 0.5:
        start = rng.randint(2, 5)
        return ":".join(groups[:start]) + "::" + ":".join(groups[start + 2 :])
    return ":".join(groups)


def _chars(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


B64URL = string.ascii_letters + string.digits + "-_"
ALNUM = string.ascii_letters + string.digits


def secret(rng: random.Random) -> tuple[str, str]:
    kind = rng.randrange(10)
    if kind == 0:
        return "OPENAI_KEY", "sk-proj-" + _chars(rng, B64URL, 48)
    if kind == 1:
        return "OPENAI_KEY", "sk-" + _chars(rng, ALNUM, 48)
    if kind == 2:
        return "ANTHROPIC_KEY", "sk-ant-api03-" + _chars(rng, B64URL, 93) + "AA"
    if kind == 3:
        prefix = rng.choice(["AKIA", "ASIA"])
        return "AWS_ACCESS_KEY", prefix + _chars(rng, string.ascii_uppercase + "234567", 16)
    if kind == 4:
        if rng.random() < 0.5:
            return "GITHUB_TOKEN", "ghp_" + _chars(rng, ALNUM, 36)
        return "GITHUB_TOKEN", "github_pat_" + _chars(rng, ALNUM, 22) + "_" + _chars(rng, ALNUM, 59)
    if kind == 5:
        return "SLACK_TOKEN", f"xoxb-{_digits(rng, 12)}-{_digits(rng, 13)}-{_chars(rng, ALNUM, 24)}"
    if kind == 6:
        return "GOOGLE_API_KEY", "AIza" + _chars(rng, B64URL, 35)
    if kind == 7:
        return "STRIPE_KEY", "sk_live_" + _chars(rng, ALNUM, 24)
    if kind == 8:
        header = rng.choice(["eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", "eyJhbGciOiJSUzI1NiJ9"])
        return "JWT", f"{header}.eyJ{_chars(rng, B64URL, 40)}.{_chars(rng, B64URL, 43)}"
    return "BEARER_TOKEN", "Bearer " + _chars(rng, ALNUM + "._-", 31) + _chars(rng, ALNUM, 1)


def url_credentials(rng: random.Random) -> str:
    scheme = rng.choice(["https", "postgres", "mysql", "redis", "ftp", "amqp"])
    user = rng.choice(FIRST)
    password = _chars(rng, ALNUM + "!$%", 12)
    host = rng.choice(["db.example.com", "10.0.0.5:5432", "cache.internal", "example.org"])
    return f"{scheme}://{user}:{password}@{host}"


def distractor(rng: random.Random) -> str:
    kind = rng.randrange(14)
    options: list[Callable[[], str]] = [
        lambda: f"order #{_digits(rng, 8)}",
        lambda: f"{rng.randint(2019, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        lambda: f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
        lambda: f"v{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}",
        lambda: _chars(rng, "0123456789abcdef", 40),
        lambda: "-".join(_chars(rng, "0123456789abcdef", n) for n in (8, 4, 4, 4, 12)),
        lambda: f"${rng.randint(1, 99999)}.{rng.randint(0, 99):02d}",
        lambda: card(rng, valid=False),
        lambda: iban(rng, valid=False),
        lambda: f"std::vector<int> xs; xs[{rng.randint(0, 9)}]",
        lambda: f"pid {rng.randint(100, 99999)} exited with {rng.randint(0, 255)}",
        lambda: f"sk-{rng.choice(WORDS)}",
        lambda: f"{rng.randint(1, 9999)} tokens at {rng.randint(1, 999)} ms",
        lambda: f"ISBN 978-{_digits(rng, 1)}-{_digits(rng, 3)}-{_digits(rng, 5)}-{_digits(rng, 1)}",
    ]
    return options[kind]()


GENERATORS: dict[str, Callable[[random.Random], tuple[str, str]]] = {
    "EMAIL": lambda r: ("EMAIL", email(r)),
    "PHONE": lambda r: ("PHONE", phone(r)),
    "PAYMENT_CARD": lambda r: ("PAYMENT_CARD", card(r)),
    "IBAN": lambda r: ("IBAN", iban(r)),
    "IPV4": lambda r: ("IPV4", ipv4(r)),
    "IPV6": lambda r: ("IPV6", ipv6(r)),
    "SECRET": secret,
    "URL_CREDENTIALS": lambda r: ("URL_CREDENTIALS", url_credentials(r)),
}

TEMPLATES = [
    "Hi, can you {w} {w} my account? You can reach me at {v}, {w} {w}.",
    "The {w} failed with {d} when I used {v} in the {w} config.",
    "{v}",
    "Please update the record ({d}): new value is {v}; {w} {w} {w}.",
    '```\nexport VALUE="{v}"\n```\nthen run it again ({d})',
    "I {w} {w} {w}, {w}: {v}. Thanks!",
]


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def examples(seed: int = 16, count: int = 4000) -> Iterator[Example]:
    """``count`` examples: a third clean, the rest with one or two planted values."""
    rng = random.Random(seed)
    kinds = sorted(GENERATORS)
    for index in range(count):
        template = rng.choice(TEMPLATES)
        if index % 3 == 0:
            text = template.replace("{v}", distractor(rng))
            labels: list[tuple[str, str]] = []
        else:
            kind, value = GENERATORS[kinds[index % len(kinds)]](rng)
            text = template.replace("{v}", value, 1)
            labels = [(kind, value)]
            if rng.random() < 0.2:
                kind2, value2 = GENERATORS[rng.choice(kinds)](rng)
                text += f" Also {value2} ."
                labels.append((kind2, value2))
        while "{w}" in text:
            text = text.replace("{w}", rng.choice(WORDS), 1)
        while "{d}" in text:
            text = text.replace("{d}", distractor(rng), 1)
        yield Example(text, tuple(labels))


def clean_text(seed: int, size: int) -> str:
    """About ``size`` characters of realistic, mostly clean chat text (throughput runs)."""
    rng = random.Random(seed)
    parts: list[str] = []
    total = 0
    while total < size:
        if rng.random() < 0.02:
            piece = next(examples(rng.randint(0, 10**6), 2)).text
        elif rng.random() < 0.1:
            piece = distractor(rng)
        else:
            piece = sentence(rng, rng.randint(8, 30)).capitalize() + "."
        parts.append(piece)
        total += len(piece) + 1
    return "\n".join(parts)
