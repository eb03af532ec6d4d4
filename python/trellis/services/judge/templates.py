"""Evaluation templates: a YAML file with an id, a version, a parser and Jinja messages.

    id: helpfulness
    version: 2
    parser: last_line_score        # see trellis.services.judge.parsers
    target: trajectory             # trajectory | response
    messages:
      - role: system
        content: You grade assistant conversations.
      - role: user
        content: |
          {% for m in messages %}{{ m.role }}: {{ m.content }}
          {% endfor %}
          End with `SCORE: <0-10>`.

Rendering is strict: a variable the template uses but the target does not
provide is an error, never an empty string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml

from trellis.errors import TrellisError
from trellis.services.judge.parsers import LABEL_PARSERS, PARSERS
from trellis.services.replay.ids import stable_id

TARGET_KINDS = ("trajectory", "response")
_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
)


@dataclass(frozen=True)
class JudgeTemplate:
    template_id: str
    version: str
    parser: str
    target: str
    messages: tuple[tuple[str, str], ...]

    @property
    def fingerprint(self) -> str:
        return stable_id(
            "template",
            self.template_id,
            self.version,
            self.parser,
            self.target,
            [list(m) for m in self.messages],
        )

    def render(self, variables: Mapping[str, Any]) -> list[dict[str, str]]:
        rendered = []
        for role, content in self.messages:
            try:
                text = _ENV.from_string(content).render(**variables)
            except jinja2.UndefinedError as exc:
                raise TrellisError(
                    f"template {self.template_id} v{self.version}: {exc.message}"
                ) from None
            rendered.append({"role": role, "content": text})
        return rendered


def parse_template(data: Any, source: str) -> JudgeTemplate:
    def fail(message: str) -> TrellisError:
        return TrellisError(f"bad judge template {source}: {message}")

    if not isinstance(data, dict):
        raise fail("must be a mapping")
    for key in ("id", "version", "parser", "messages"):
        if key not in data:
            raise fail(f"missing `{key}`")
    known = {*PARSERS, *LABEL_PARSERS}
    if data["parser"] not in known:
        raise fail(f"unknown parser {data['parser']!r} (known: {', '.join(sorted(known))})")
    target = data.get("target", "trajectory")
    if target not in TARGET_KINDS:
        raise fail(f"target must be one of {', '.join(TARGET_KINDS)}")
    messages = data["messages"]
    if not isinstance(messages, list) or not messages:
        raise fail("`messages` must be a non-empty list")
    parsed: list[tuple[str, str]] = []
    for i, message in enumerate(messages):
        if (
            not isinstance(message, dict)
            or not isinstance(message.get("content"), str)
            or message.get("role") not in ("system", "user", "assistant")
        ):
            raise fail(f"messages[{i}] needs a role (system, user, assistant) and a content string")
        try:
            _ENV.parse(message["content"])
        except jinja2.TemplateSyntaxError as exc:
            raise fail(f"messages[{i}] line {exc.lineno}: {exc.message}") from None
        parsed.append((message["role"], message["content"]))
    return JudgeTemplate(
        str(data["id"]), str(data["version"]), data["parser"], target, tuple(parsed)
    )


def load_template(path: Path) -> JudgeTemplate:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TrellisError(f"cannot read judge template {path}: {exc.strerror}") from None
    except yaml.YAMLError:
        raise TrellisError(f"judge template {path} is not valid YAML") from None
    return parse_template(data, str(path))
