"""Jinja for manifests and judge templates, in a sandbox.

Templates are user input that ends up in prompts: they may read the
variables they are given and nothing else. ImmutableSandboxedEnvironment
refuses attribute access that leads out of the data (`__class__`,
`__globals__`, `mro`...) and any method that mutates it, so a template cannot
reach `os` or `subprocess`, not even while a plan is only being made.
Undefined variables are errors, never empty strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from trellis.errors import TrellisError

ENV = ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
)


def check_syntax(source: str) -> str | None:
    """None when the template parses, else the reason with its line."""
    try:
        ENV.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        return f"line {exc.lineno}: {exc.message}"
    return None


def render(source: str, variables: Mapping[str, Any], what: str) -> str:
    """The rendered text; a TrellisError naming `what` for an unknown variable or an unsafe
    access."""
    try:
        return ENV.from_string(source).render(**variables)
    except SecurityError as exc:
        raise TrellisError(f"{what}: unsafe template refused by the sandbox: {exc}") from None
    except jinja2.UndefinedError as exc:
        raise TrellisError(f"{what}: {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise TrellisError(f"{what}: {exc}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise TrellisError(f"{what}: {type(exc).__name__}: {exc}") from None
