"""Demo LLM-gateway traffic with known true lineage (`trellis generate`).

Records are built by construction (each scenario knows the tree it makes);
the truth files are computed from the written valid records by the
independent reference resolver (trellis.services.lineage_reference), and the
two are compared on every run: `GenerateSummary.truth_mismatches` must be 0.

Output layout of OUT/ (files are read in name order; the truth does not
depend on that order):

    requests/requests-<date>.jsonl[.gz]  one shard per week, sorted by created_at;
                                         every other shard is gzip-compressed
    requests/requests-late.jsonl         late arrivals, newest first (children
                                         before parents), re-sent and
                                         conflicting copies
    feedback/feedback.jsonl              feedback, sorted by created_at
    truth/lineage.jsonl                  one line per valid unique request
    truth/ingest.json                    expected ingest counts
    truth/summary.json                   options, scenarios and counts of the run

Same seed and options, same bytes.
"""

from __future__ import annotations

import gc
import gzip
import json
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

from trellis.errors import TrellisError
from trellis.services.generate import faults, scenarios
from trellis.services.generate.builder import (
    Conversation,
    Generator,
    JsonMemo,
    Node,
    dumps_record,
)
from trellis.services.generate.catalog import TENANTS
from trellis.services.generate.feedback import feedback_for
from trellis.services.generate.writer import SpoolFile
from trellis.services.lineage_reference import (
    CanonicalMemo,
    RecordFacts,
    TruthNode,
    extract,
    resolve_extracted,
)

Profile = Literal["demo", "chats", "agent-loops"]
PROFILES: tuple[str, ...] = ("demo", "chats", "agent-loops")
DEFAULT_START = date(2026, 1, 1)
_DAY_MS = 86_400_000
_MARKER = "truth/ingest.json"


@dataclass
class GenerateSummary:
    """What one run wrote."""

    out_dir: str
    requests: int = 0
    feedback: int = 0
    conversations: int = 0
    exact_duplicates: int = 0
    conflicts: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    scenarios: dict[str, int] = field(default_factory=dict)
    truth_mismatches: int = 0
    files: list[str] = field(default_factory=list)
    bytes_written: int = 0
    seconds: float = 0.0

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class _Construction:
    """The lineage a node was built to have (compared with the resolver)."""

    parent: str | None
    kind: str
    source: str
    orphan: bool
    group: str | None
    scenario: str
    root: str
    depth: int
    session_key: str


class _Run:
    """Collects lines, facts and construction truth as conversations finish."""

    def __init__(
        self, out_dir: Path, gen: Generator, requests: int, shards: int, faults_on: bool
    ) -> None:
        self.gen = gen
        self.budget = requests
        self.shards = shards
        self.faults_on = faults_on
        self.request_files: list[SpoolFile] = []
        for index in range(shards):
            day = datetime.fromtimestamp((gen.start_ms + index * gen.span_ms // shards) / 1000, UTC)
            suffix = ".jsonl.gz" if index % 2 else ".jsonl"
            name = f"requests-{day.date().isoformat()}{suffix}"
            self.request_files.append(SpoolFile(out_dir / "requests" / name))
        self.late = SpoolFile(out_dir / "requests/requests-late.jsonl", newest_first=True)
        self.feedback_file = SpoolFile(out_dir / "feedback/feedback.jsonl")
        self.facts: list[RecordFacts] = []
        self.construction: dict[str, _Construction] = {}
        self.emitted: list[tuple[str, int, int]] = []  # request_id, created, completed
        self.seq = 0
        self.requests = 0
        self.feedback = 0
        self.conversations = 0
        self.exact_duplicates = Counter[str]()
        self.conflicts = Counter[str]()
        self.quarantined = {"requests": Counter[str](), "feedback": Counter[str]()}
        self.scenarios = Counter[str]()

    @property
    def remaining(self) -> int:
        return self.budget - self.requests

    def add(self, target: SpoolFile, created_ms: int, text: str) -> None:
        self.seq += 1
        target.add(created_ms, self.seq, text)

    def shard_of(self, created_ms: int) -> SpoolFile:
        offset = (created_ms - self.gen.start_ms) * self.shards // self.gen.span_ms
        return self.request_files[max(0, min(self.shards - 1, offset))]

    def emit(self, conv: Conversation) -> None:
        nodes = conv.nodes[: max(0, self.remaining)]
        if not nodes:
            return
        rng = self.gen.rng
        memo = CanonicalMemo()
        json_memo = JsonMemo()
        self.conversations += 1
        for node in nodes:
            record = node.record
            text = dumps_record(record, json_memo)
            self.facts.append(extract(record, memo))
            self._construct(node)
            self.scenarios[node.scenario] += 1
            roll = rng.random()
            created_ms = node.created_ms
            if roll < 0.015 or (roll < 0.03 and node.children):
                self.add(self.late, created_ms, text)
            else:
                self.add(self.shard_of(created_ms), created_ms, text)
                if self.faults_on and roll > 0.997:
                    conflict = faults.dumps(faults.conflicting(record))
                    self.add(self.late, created_ms, conflict)
                    self.conflicts["requests"] += 1
            if self.faults_on and 0.99 < roll <= 0.995:
                # the log shipper re-sends a line, in place or much later
                target = self.late if rng.random() < 0.5 else self.shard_of(created_ms)
                self.add(target, created_ms, text)
                self.exact_duplicates["requests"] += 1
            for created, feedback in feedback_for(self.gen, node):
                line = faults.dumps(feedback)
                self.add(self.feedback_file, created, line)
                self.feedback += 1
                if self.faults_on and rng.random() < 0.01:
                    self.add(self.feedback_file, created + 1, line)
                    self.exact_duplicates["feedback"] += 1
                elif self.faults_on and rng.random() < 0.003:
                    changed = dict(feedback, comment="edited")
                    self.add(self.feedback_file, created + 60_000, faults.dumps(changed))
                    self.conflicts["feedback"] += 1
            self.emitted.append((node.request_id, node.created_ms, node.completed_ms))
            self.requests += 1
        for node in conv.nodes:
            # Written: drop the history, and break the node -> leader cycles the
            # disabled garbage collector would never reclaim.
            node.record, node.context = {}, []
            node.parent = node.leader = None

    def _construct(self, node: Node) -> None:
        parent = node.parent.request_id if node.parent is not None else None
        if parent is None:
            root, depth, session = node.request_id, 0, node.session_id or node.request_id
        else:
            up = self.construction[parent]
            root, depth, session = up.root, up.depth + 1, up.session_key
        self.construction[node.request_id] = _Construction(
            parent=parent,
            kind=node.kind,
            source=node.source,
            orphan=node.orphan,
            group=node.leader.request_id if node.leader is not None else None,
            scenario=node.scenario,
            root=root,
            depth=depth,
            session_key=session,
        )

    def quarantine_request(self, reason: str, created_ms: int, text: str) -> None:
        self.add(self.shard_of(created_ms), created_ms, text)
        self.quarantined["requests"][reason] += 1


def generate(
    out_dir: Path,
    requests: int,
    seed: int,
    *,
    tenants: int = 3,
    profile: str = "demo",
    start: date = DEFAULT_START,
    days: int = 30,
    max_loop_depth: int = 400,
    malformed: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> GenerateSummary:
    """Write `requests` valid unique request records (plus feedback, faults and
    truth) into `out_dir`. Deterministic for a seed and options."""
    if requests < 1:
        raise TrellisError("--requests must be at least 1")
    if profile not in PROFILES:
        raise TrellisError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if not 1 <= tenants <= len(TENANTS):
        raise TrellisError(f"--tenants must be between 1 and {len(TENANTS)}")
    if days < 1:
        raise TrellisError("--days must be at least 1")
    if max_loop_depth < 100:
        raise TrellisError("--max-loop-depth must be at least 100")
    began = time.perf_counter()
    _prepare(out_dir)
    # Millions of long-lived small objects and no cycles worth collecting: the
    # cyclic GC would rescan them all again and again (a third of the run time).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        summary = _generate(
            out_dir,
            requests,
            seed,
            tenants,
            profile,
            start,
            days,
            max_loop_depth,
            malformed,
            progress,
        )
    finally:
        if was_enabled:
            gc.enable()
    summary.seconds = time.perf_counter() - began
    _write_summary(
        out_dir,
        summary,
        seed=seed,
        profile=profile,
        tenants=tenants,
        start=start,
        days=days,
        max_loop_depth=max_loop_depth,
        malformed=malformed,
    )
    return summary


def _generate(
    out_dir: Path,
    requests: int,
    seed: int,
    tenants: int,
    profile: str,
    start: date,
    days: int,
    max_loop_depth: int,
    malformed: bool,
    progress: Callable[[int, int], None] | None,
) -> GenerateSummary:
    start_ms = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp() * 1000)
    gen = Generator(random.Random(seed), start_ms, days * _DAY_MS, TENANTS[:tenants])
    run = _Run(out_dir, gen, requests, shards=max(1, min(4, days // 7)), faults_on=malformed)
    for conv in _conversations(gen, run, profile, max_loop_depth):
        run.emit(conv)
        if progress is not None:
            progress(run.requests, requests)
        if run.remaining <= 0:
            break
    if malformed:
        _add_faults(gen, run)
    summary = GenerateSummary(out_dir=str(out_dir))
    _write(out_dir, run, summary)
    return summary


def _prepare(out_dir: Path) -> None:
    """Create OUT/, or clear the output of a previous run; never other files."""
    if out_dir.exists() and not out_dir.is_dir():
        raise TrellisError(f"{out_dir} exists and is not a directory")
    if out_dir.exists() and any(out_dir.iterdir()):
        if not (out_dir / _MARKER).exists():
            raise TrellisError(f"{out_dir} is not empty and holds no earlier generate output")
        for sub in ("requests", "feedback", "truth"):
            shutil.rmtree(out_dir / sub, ignore_errors=True)
    for sub in ("requests", "feedback", "truth"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)


def _conversations(
    gen: Generator, run: _Run, profile: str, max_loop_depth: int
) -> Iterator[Conversation]:
    rng = gen.rng
    tenants = gen.tenants
    if profile == "chats":
        while True:
            yield scenarios.chat(
                gen, rng.choice(tenants), turns=10, variants=False, scenario="chat_10"
            )
    if profile == "agent-loops":
        while True:
            yield scenarios.deep_loop(
                gen,
                rng.choice(tenants),
                turns=min(500, run.remaining),
                variants=False,
                scenario="agent_loop",
                tiny=True,
            )
    if run.budget >= 300:
        yield from _edge_cases(gen)
    if run.budget >= 1_000:
        for _ in range(max(1, run.budget // 10_000)):
            turns = min(rng.randint(100, max_loop_depth), run.remaining)
            yield scenarios.deep_loop(gen, rng.choice(tenants), turns=turns)
    while True:
        tenant = rng.choice(tenants)
        roll = rng.random()
        # conversation shares, so that requests split roughly 35% chat, 25% IDE,
        # 20% code agent, 12% batch (the rest are deep loops and edge cases)
        if roll < 0.66:
            yield scenarios.chat(gen, tenant)
        elif roll < 0.85:
            yield scenarios.ide_loop(gen, tenant)
        elif roll < 0.97:
            yield scenarios.code_agent(gen, tenant)
        else:
            yield scenarios.batch_eval(gen, tenant)


def _edge_cases(gen: Generator) -> Iterator[Conversation]:
    tenants = gen.tenants
    first, other = tenants[0], tenants[-1]
    yield from scenarios.cache_hits(gen, first)
    if len(tenants) > 1:
        yield from scenarios.cross_tenant_copy(gen, first, other)
        yield from scenarios.explicit_cross_tenant(gen, first, other)
    yield scenarios.orphan_resumed(gen, first)
    yield scenarios.explicit_missing(gen, first)
    yield scenarios.explicit_cycles(gen, other)
    yield scenarios.replay(gen, first)
    conv, broken = scenarios.quarantined_parent(gen, other)
    gen.pending_quarantine.append(("negative_tokens", conv.nodes[0].created_ms - 1, broken))
    yield conv
    yield scenarios.default_tenant(gen)
    yield scenarios.explicit_error_parent(gen, other)


def _add_faults(gen: Generator, run: _Run) -> None:
    rng = gen.rng
    per_reason = max(2, run.budget // 4_000)
    for reason, created, record in gen.pending_quarantine:
        run.quarantine_request(reason, created, faults.dumps(record))
    for reason in faults.REQUEST_REASONS:
        for _ in range(per_reason):
            created = gen.start_ms + rng.randrange(gen.span_ms)
            run.quarantine_request(reason, created, faults.broken_request(gen, reason, created))
    for reason in faults.FEEDBACK_REASONS:
        for _ in range(per_reason):
            request_id, _created, completed = rng.choice(run.emitted)
            created = completed + rng.randint(1_000, 600_000)
            line = faults.broken_feedback(gen, reason, request_id, created)
            run.add(run.feedback_file, created, line)
            run.quarantined["feedback"][reason] += 1


def _write(out_dir: Path, run: _Run, summary: GenerateSummary) -> None:
    for spool in [*run.request_files, run.late, run.feedback_file]:
        summary.bytes_written += spool.finish()
        summary.files.append(str(spool.path.relative_to(out_dir)))

    truth = resolve_extracted(run.facts)
    summary.truth_mismatches = sum(
        1 for node_id, node in truth.items() if not _agrees(node, run.construction[node_id])
    )
    summary.bytes_written += _write_lines(
        out_dir / "truth/lineage.jsonl",
        (
            faults.dumps({**node.as_dict(), "scenario": run.construction[node.node_id].scenario})
            for node in truth.values()
        ),
    )
    summary.files.append("truth/lineage.jsonl")

    summary.requests = run.requests
    summary.feedback = run.feedback
    summary.conversations = run.conversations
    summary.exact_duplicates = sum(run.exact_duplicates.values())
    summary.conflicts = sum(run.conflicts.values())
    totals = Counter[str]()
    for kind in ("requests", "feedback"):
        totals.update(run.quarantined[kind])
        totals["conflict"] += run.conflicts[kind]
    summary.quarantined = {reason: totals[reason] for reason in faults.ALL_REASONS}
    summary.scenarios = dict(sorted(run.scenarios.items()))
    ingest: dict[str, Any] = {
        "valid_unique_requests": run.requests,
        "valid_unique_feedback": run.feedback,
        "exact_duplicate_lines": summary.exact_duplicates,
        "conflicting_duplicates": summary.conflicts,
        "quarantined_by_reason": summary.quarantined,
    }
    for kind, valid in (("requests", run.requests), ("feedback", run.feedback)):
        reasons = Counter(run.quarantined[kind])
        reasons["conflict"] = run.conflicts[kind]
        ingest[kind] = {
            "valid_unique": valid,
            "exact_duplicates": run.exact_duplicates[kind],
            "conflicting_duplicates": run.conflicts[kind],
            "quarantined_by_reason": {reason: reasons[reason] for reason in faults.ALL_REASONS},
            "lines": valid + run.exact_duplicates[kind] + sum(reasons.values()),
        }
    ingest["files"] = summary.files[:-1]
    text = json.dumps(ingest, indent=2) + "\n"
    (out_dir / "truth/ingest.json").write_text(text)
    summary.bytes_written += len(text)
    summary.files.append("truth/ingest.json")


def _agrees(node: TruthNode, built: _Construction) -> bool:
    return (
        node.parent_node_id == built.parent
        and node.branch_kind == built.kind
        and node.lineage_source == built.source
        and node.is_orphan == built.orphan
        # The builder makes each conversation on its own, so only the resolver
        # sees which first turns of a tenant repeat one another.
        and (node.parent_node_id is None or node.response_group_key == built.group)
        and node.root_node_id == built.root
        and node.depth == built.depth
        and node.session_key == built.session_key
    )


def _write_lines(path: Path, lines: Iterable[str]) -> int:
    """Write lines in chunks; gzip without name or time, so bytes are reproducible."""
    with path.open("wb") as raw:
        sink: BinaryIO | gzip.GzipFile = raw
        if path.name.endswith(".gz"):
            sink = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0)
        chunk: list[str] = []
        for line in lines:
            chunk.append(line)
            if len(chunk) >= 2_000:
                sink.write(("\n".join(chunk) + "\n").encode())
                chunk.clear()
        if chunk:
            sink.write(("\n".join(chunk) + "\n").encode())
        if sink is not raw:
            sink.close()
    return path.stat().st_size


def _write_summary(out_dir: Path, summary: GenerateSummary, **options: Any) -> None:
    body = asdict(summary)
    body.pop("seconds")  # keep the file byte-identical across runs and places
    body.pop("out_dir")
    body["options"] = {key: str(value) for key, value in options.items()}
    path = out_dir / "truth/summary.json"
    path.write_text(json.dumps(body, indent=2) + "\n")
    summary.files.append("truth/summary.json")


__all__ = ["DEFAULT_START", "PROFILES", "GenerateSummary", "Profile", "generate"]
