"""`trellis export`: a frozen snapshot in the formats fine-tuning tools read.

- ``trl``: JSON Lines in TRL's conversational formats: ``{"messages": [...]}``
  for SFT datasets, ``{"prompt": [...], "chosen": [...], "rejected": [...]}``
  for preference datasets (prompt as messages, chosen and rejected as the
  assistant turns that follow it).
- ``openai``: JSON Lines for OpenAI fine-tuning (chat, or preference for
  DPO), each example checked against OpenAI's rules (openai_format); a row
  that breaks them is not written but listed, with its reasons, in
  ``OUT.rejected.jsonl`` and counted in the summary.
- ``hf``: a folder Hugging Face ``datasets`` loads (``load_dataset(OUT)``):
  ``data/train-00000-of-00001.parquet`` with messages as lists of structs,
  and a README whose YAML header names the split.

An export reads the snapshot's own Parquet files (immutable), never the live
dataset, so it is the same whenever it runs.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from trellis.datasets import openai_format
from trellis.datasets.freeze import Snapshot, find_snapshot, open_warehouse
from trellis.errors import TrellisError

ExportFormat = Literal["trl", "openai", "hf"]
FORMATS: tuple[ExportFormat, ...] = ("trl", "openai", "hf")
BATCH_ROWS = 8192

#: Progress callback: (rows done, rows in all).
Progress = Callable[[int, int], None]


@dataclass
class ExportResult:
    snapshot_id: str
    path: Path
    rows_written: int = 0
    rows_rejected: int = 0
    bytes: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


def export(
    reference: str, export_format: str, out: Path, progress: Progress | None = None
) -> ExportResult:
    if export_format not in FORMATS:
        raise TrellisError(f"unknown format {export_format!r}: choose trl, openai or hf")
    con = open_warehouse()
    try:
        snapshot = find_snapshot(con, reference)
    finally:
        con.close()
    files = sorted(Path(snapshot.location).glob("*.parquet"))
    if not files:
        raise TrellisError(
            f"snapshot {snapshot.snapshot_id} has no Parquet files in {snapshot.location}"
        )
    dataset = pq.ParquetDataset([str(f) for f in files])
    kind = _kind(dataset.schema.names, snapshot)
    report = progress or (lambda done, total: None)
    total = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    if export_format == "hf":
        return _export_hf(snapshot, files, kind, out, total, report)
    return _export_jsonl(snapshot, files, kind, export_format, out, total, report)  # type: ignore[arg-type]


def _kind(columns: list[str], snapshot: Snapshot) -> str:
    if "messages" in columns:
        return "sft"
    if {"prompt", "chosen", "rejected"} <= set(columns):
        return "preference"
    raise TrellisError(
        f"snapshot {snapshot.snapshot_id} has neither a messages column nor"
        " prompt/chosen/rejected columns: nothing to export as a training set"
    )


def _rows(files: list[Path]) -> Iterator[dict[str, Any]]:
    for file in files:
        for batch in pq.ParquetFile(file).iter_batches(batch_size=BATCH_ROWS):
            yield from batch.to_pylist()


def _messages(value: Any) -> Any:
    """Messages stored as JSON text, or already as a list of structs."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, list):
        return [_drop_nulls(m) if isinstance(m, dict) else m for m in value]
    return value


def _drop_nulls(message: dict[str, Any]) -> dict[str, Any]:
    """Parquet structs carry every key; a message keeps those it has (content may be null)."""
    return {k: v for k, v in message.items() if v is not None or k == "content"}


def _example(row: dict[str, Any], kind: str, export_format: ExportFormat) -> dict[str, Any]:
    if kind == "sft":
        return {"messages": _messages(row["messages"])}
    prompt, chosen, rejected = (_messages(row[k]) for k in ("prompt", "chosen", "rejected"))
    if export_format == "trl":
        return {"prompt": prompt, "chosen": chosen, "rejected": rejected}
    return {
        "input": {"messages": prompt},
        "preferred_output": chosen,
        "non_preferred_output": rejected,
    }


def _problems(example: dict[str, Any], kind: str, export_format: ExportFormat) -> list[str]:
    if export_format == "openai":
        if kind == "sft":
            return openai_format.chat_problems(example["messages"])
        return openai_format.preference_problems(example)
    return trl_problems(example)


def trl_problems(example: dict[str, Any]) -> list[str]:
    """TRL's conversational shape: every field a list of {role, content} messages."""
    problems = []
    for key, value in example.items():
        if not isinstance(value, list) or not value:
            problems.append(f"{key} is not a non-empty list of messages")
        elif not all(isinstance(m, dict) and "role" in m and "content" in m for m in value):
            problems.append(f"{key} has a message without role or content")
    return problems


def _example_id(row: dict[str, Any], number: int) -> str:
    return str(row.get("example_id") or f"row {number}")


def _export_jsonl(
    snapshot: Snapshot,
    files: list[Path],
    kind: str,
    export_format: ExportFormat,
    out: Path,
    total: int,
    report: Progress,
) -> ExportResult:
    out.parent.mkdir(parents=True, exist_ok=True)
    rejected_path = out.with_name(out.name + ".rejected.jsonl")
    result = ExportResult(snapshot.snapshot_id, out)
    with out.open("w", encoding="utf-8") as good, rejected_path.open("w", encoding="utf-8") as bad:
        for number, row in enumerate(_rows(files)):
            example = _example(row, kind, export_format)
            problems = _problems(example, kind, export_format)
            if problems:
                result.rows_rejected += 1
                result.reasons.update(_reason(p) for p in problems)
                record = {"example_id": _example_id(row, number), "problems": problems}
                bad.write(json.dumps(record, ensure_ascii=False) + "\n")
            else:
                result.rows_written += 1
                good.write(json.dumps(example, ensure_ascii=False) + "\n")
            if number % BATCH_ROWS == 0:
                report(number, total)
    report(total, total)
    if result.rows_rejected == 0:
        rejected_path.unlink()
    result.bytes = out.stat().st_size
    return result


def _reason(problem: str) -> str:
    """A problem without its position, to count alike problems together."""
    words = problem.split()
    if len(words) > 2 and words[0] == "message" and words[1].isdigit():
        return " ".join(["message", *words[2:]])
    return problem


def _export_hf(
    snapshot: Snapshot, files: list[Path], kind: str, out: Path, total: int, report: Progress
) -> ExportResult:
    if out.exists() and any(out.iterdir()):
        raise TrellisError(f"{out} exists and is not empty: give a new folder for the hf export")
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    target = data / "train-00000-of-00001.parquet"
    result = ExportResult(snapshot.snapshot_id, out)
    rows: list[dict[str, Any]] = []
    for number, row in enumerate(_rows(files)):
        example = _example(row, kind, "trl")
        rows.append({**{k: v for k, v in row.items() if k not in example}, **example})
        if number % BATCH_ROWS == 0:
            report(number, total)
    table = pa.Table.from_pylist(rows) if rows else pa.table({})
    pq.write_table(table, target, compression="zstd")
    report(total, total)
    (out / "README.md").write_text(_card(snapshot, kind), encoding="utf-8")
    result.rows_written = len(rows)
    result.bytes = target.stat().st_size
    return result


def _card(snapshot: Snapshot, kind: str) -> str:
    return (
        "---\n"
        "configs:\n"
        "- config_name: default\n"
        "  data_files:\n"
        "  - split: train\n"
        "    path: data/train-*\n"
        "---\n\n"
        f"# {snapshot.dataset_name}\n\n"
        f"Frozen trellis snapshot `{snapshot.snapshot_id}` ({kind}, {snapshot.row_count} rows,"
        f" content hash `{snapshot.content_hash}`), created {snapshot.created_at:%Y-%m-%d %H:%M}"
        " UTC. Examples are de-identified; each row's provenance names its sources.\n"
    )
