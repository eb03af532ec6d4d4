"""Importers: the logs gateways already write, mapped to contract v1 records.

Each format module is a pure mapper: it streams its source and yields
`SourceItem`s (a contract record, or the reason it could not be mapped,
with the source's position and original text); `import_files` hands them
to the one ingest path, so validation, idempotence and quarantine are the
same as for `trellis ingest`. docs/importers.md gives every mapping.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from trellis.errors import TrellisError
from trellis.importers import chatgpt, langfuse, litellm, openai_batch, otel
from trellis.importers.common import ImportOptions
from trellis.ingest import IngestReport, SourceItem, checked_paths, ingest_items
from trellis.storage import Store

__all__ = [
    "FORMATS",
    "ImportOptions",
    "ImportResult",
    "Stream",
    "checked_files",
    "import_files",
    "import_stream",
]


@dataclass(frozen=True)
class Stream:
    """Records of one kind from one source, ready to ingest."""

    kind: str
    source: str
    items: Iterator[SourceItem]
    #: records the source holds that are not calls (non-GenAI spans...), by what
    #: they are; filled while `items` is read
    skipped: Counter[str] = field(default_factory=Counter)


def _per_file(
    mapper: Callable[[Path, ImportOptions], Iterator[SourceItem]], kind: str = "requests"
) -> Callable[[Sequence[Path], ImportOptions], Iterator[Stream]]:
    def streams(paths: Sequence[Path], options: ImportOptions) -> Iterator[Stream]:
        for path in paths:
            yield Stream(kind, str(path), mapper(path, options))

    return streams


def _langfuse(paths: Sequence[Path], options: ImportOptions) -> Iterator[Stream]:
    for path in paths:
        skipped: Counter[str] = Counter()
        yield Stream("requests", str(path), langfuse.requests(path, options, skipped), skipped)
        yield Stream("feedback", str(path), langfuse.feedback(path, options))


#: format name -> the streams of its files.
FORMATS: dict[str, Callable[[Sequence[Path], ImportOptions], Iterator[Stream]]] = {
    "litellm": _per_file(litellm.requests),
    "otel": otel.streams,
    "langfuse": _langfuse,
    "openai-batch": openai_batch.streams,
    "chatgpt": _per_file(chatgpt.requests),
}


@dataclass
class ImportResult:
    """What an import did, per kind of record."""

    reports: dict[str, IngestReport]
    #: records the format skips by design (non-GenAI spans...), by what they were
    skipped: dict[str, int]


def import_files(
    store: Store,
    format_name: str,
    paths: Sequence[Path],
    options: ImportOptions,
    on_progress: Callable[[str, int], None] | None = None,
) -> ImportResult:
    """Import `paths` of one format; every path is checked before anything is read."""
    files = checked_files(format_name, paths)
    return import_stream(store, FORMATS[format_name](files, options), on_progress)


def import_stream(
    store: Store,
    streams: Iterator[Stream],
    on_progress: Callable[[str, int], None] | None = None,
) -> ImportResult:
    """Ingest each stream through the one ingest path; the reports add up by kind."""
    result = ImportResult({}, {})
    for stream in streams:
        report = ingest_items(store, stream.kind, stream.items, stream.source, on_progress)
        _add(result.reports.setdefault(stream.kind, IngestReport()), report)
        for what, count in stream.skipped.items():
            result.skipped[what] = result.skipped.get(what, 0) + count
    return result


def _add(total: IngestReport, report: IngestReport) -> None:
    total.loaded += report.loaded
    total.duplicates += report.duplicates
    total.already_quarantined += report.already_quarantined
    total.files += [name for name in report.files if name not in total.files]
    for reason, count in report.quarantined.items():
        total.quarantined[reason] = total.quarantined.get(reason, 0) + count


def checked_files(format_name: str, paths: Sequence[Path]) -> list[Path]:
    """The files of an import, resolved, once the format and every path are known good."""
    if format_name not in FORMATS:
        raise TrellisError(
            f"unknown format {format_name!r}: choose one of {', '.join(sorted(FORMATS))}"
        )
    return checked_paths(paths)
