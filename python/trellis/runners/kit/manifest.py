"""Read a YAML manifest into typed structs, with errors that name the field and its line.

A manifest is user input: a missing file, a binary file, bad YAML or a field
of the wrong type is one line that says where (`manifest m.yaml line 12:
variants[0].samples: Expected `int`, got `str``), never a traceback. The
structs themselves (msgspec) say what is valid; this module only turns
msgspec's path (`$.variants[0].samples`) into the YAML line it came from.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import yaml

from trellis.errors import TrellisError

T = TypeVar("T")

_PATH = re.compile(r"^(?P<message>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


class ManifestError(TrellisError):
    """A manifest that cannot be used, with the file and line at fault."""


def read_yaml(path: Path, what: str = "manifest") -> tuple[Any, yaml.Node | None]:
    """The document as plain Python values, and its node tree (for line numbers)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ManifestError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ManifestError(f"{what} {path} is not a UTF-8 text file") from None
    if "\x00" in text:
        raise ManifestError(f"{what} {path} is a binary file, not YAML")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ManifestError(f"{what} {path}{where}: {problem}") from None
    return data, node


def _node_at(node: yaml.Node | None, path: str) -> yaml.Node | None:
    """The deepest YAML node along a msgspec path that exists in the document."""
    for key, index in _STEP.findall(path):
        if isinstance(node, yaml.MappingNode) and key:
            node = next((v for k, v in node.value if getattr(k, "value", None) == key), node)
        elif isinstance(node, yaml.SequenceNode) and index and int(index) < len(node.value):
            node = node.value[int(index)]
        else:
            break
    return node


def convert(
    data: Any, type_: type[T], source: str, node: yaml.Node | None = None, what: str = "manifest"
) -> T:
    """`data` as a `type_` struct; a ManifestError naming the field and line when it is not."""
    try:
        return msgspec.convert(data, type_)
    except msgspec.ValidationError as exc:
        text = str(exc)
        match = _PATH.match(text)
        message, path = (match["message"], match["path"]) if match else (text, "")
        field = path.lstrip(".") or "top level"
        found = _node_at(node, path)
        line = f" line {found.start_mark.line + 1}" if found is not None else ""
        raise ManifestError(f"bad {what} {source}{line}: {field}: {message}") from None


def load(path: Path, type_: type[T], what: str = "manifest") -> tuple[T, dict[str, Any]]:
    """The file as a `type_` struct, and as the plain mapping stored with the cohort."""
    data, node = read_yaml(path, what)
    if not isinstance(data, dict):
        raise ManifestError(f"bad {what} {path} line 1: must be a mapping of fields")
    return convert(data, type_, str(path), node, what), data
