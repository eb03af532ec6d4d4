"""Evaluation templates: a YAML file with an id, a version, a parser and Jinja messages.

    id: helpfulness
    version: 2
    parser: last_line_score        # see trellis.runners.judge.parsers
    target: trajectory             # trajectory | response
    messages:
      - role: system
        content: You grade assistant conversations.
      - role: user
        content: |
          {% for m in messages %}{{ m.role }}: {{ m.content }}
          {% endfor %}
          End with `SCORE: <0-10>`.

Rendering runs in the kit's Jinja sandbox and is strict: a variable the
template uses but the target does not provide is an error, never an empty
string.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from trellis.runners.judge.parsers import LABEL_PARSERS, PARSERS
from trellis.runners.kit.ids import stable_id
from trellis.runners.kit.manifest import convert, load
from trellis.runners.kit.templating import check_syntax, render

TARGET_KINDS = ("trajectory", "response")


class Message(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    role: Literal["system", "user", "assistant"]
    content: str

    def __post_init__(self) -> None:
        problem = check_syntax(self.content)
        if problem:
            raise ValueError(f"content is not a valid template ({problem})")


class TemplateFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str | int
    version: str | int
    parser: str
    messages: Annotated[list[Message], msgspec.Meta(min_length=1)]
    target: Literal["trajectory", "response"] = "trajectory"

    def __post_init__(self) -> None:
        known = {*PARSERS, *LABEL_PARSERS}
        if self.parser not in known:
            raise ValueError(f"unknown parser {self.parser!r} (known: {', '.join(sorted(known))})")


class JudgeTemplate(msgspec.Struct, frozen=True):
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
        what = f"template {self.template_id} v{self.version}"
        return [
            {"role": role, "content": render(content, variables, what)}
            for role, content in self.messages
        ]


def load_template(path: Path) -> JudgeTemplate:
    parsed, _ = load(path, TemplateFile, what="judge template")
    return _template(parsed)


def parse_template(data: Any, source: str = "<template>") -> JudgeTemplate:
    """A template given as a mapping (a library caller's, or YAML already read)."""
    return _template(convert(data, TemplateFile, source, what="judge template"))


def _template(parsed: TemplateFile) -> JudgeTemplate:
    return JudgeTemplate(
        str(parsed.id),
        str(parsed.version),
        parser=parsed.parser,
        target=parsed.target,
        messages=tuple((m.role, m.content) for m in parsed.messages),
    )
