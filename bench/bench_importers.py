"""Importer throughput: the mapping alone, and end to end into a fresh DuckDB file.

    python bench/bench_importers.py --calls 100000                 # every format
    python bench/bench_importers.py --calls 100000 --format litellm

For each format a source file of `--calls` calls with full message lists
(the messages of bench_ingest.synthetic_request, about 2 KB a call) is
written in that format's shape, then timed twice: mapping only (every
SourceItem made, nothing stored), and `import_files` into a new DuckDB
file (mapping + the ingest path). Target: >= 20k calls/s end to end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import synthetic_request

T0 = 1_717_000_000.0


def _litellm(index: int, record: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": record["request_id"],
        "trace_id": f"trace-{index}",
        "call_type": "acompletion",
        "status": "success",
        "stream": True,
        "custom_llm_provider": "openai",
        "startTime": T0 + index,
        "endTime": T0 + index + 1.2,
        "completionStartTime": T0 + index + 0.3,
        "model": "gpt-4o-2024-08-06",
        "model_group": "gpt-4o",
        "api_base": "https://api.openai.com/v1",
        "response_cost": 0.001,
        "metadata": {
            "user_api_key_alias": "ide-agent",
            "user_api_key_team_alias": f"team-{index % 7}",
            "spend_logs_metadata": {"session_id": record["session_id"]},
        },
        "messages": record["request"]["messages"],
        "response": record["response"],
        "model_parameters": {"temperature": 0.7, "max_tokens": 512},
    }


def _otel(index: int, record: dict[str, Any]) -> dict[str, Any]:
    messages = [
        {"role": m["role"], "parts": [{"type": "text", "content": m["content"]}]}
        for m in record["request"]["messages"]
    ]
    reply = record["response"]["choices"][0]["message"]
    start = int((T0 + index) * 1e9)

    def attr(key: str, value: Any) -> dict[str, Any]:
        if isinstance(value, int):
            return {"key": key, "value": {"intValue": str(value)}}
        return {"key": key, "value": {"stringValue": value}}

    span = {
        "traceId": f"{index:032x}",
        "spanId": f"{index:016x}",
        "name": "chat gpt-4o",
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 1_200_000_000),
        "attributes": [
            attr("gen_ai.operation.name", "chat"),
            attr("gen_ai.request.model", "gpt-4o"),
            attr("gen_ai.usage.input_tokens", 120),
            attr("gen_ai.usage.output_tokens", 40),
            attr("gen_ai.input.messages", json.dumps(messages)),
            attr(
                "gen_ai.output.messages",
                json.dumps(
                    [
                        {
                            "role": "assistant",
                            "parts": [{"type": "text", "content": reply["content"]}],
                        }
                    ]
                ),
            ),
        ],
    }
    return {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [span]}]}]}


def _langfuse(index: int, record: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": record["request_id"],
        "traceId": f"trace-{index}",
        "type": "GENERATION",
        "name": "answer",
        "startTime": "2024-05-29T16:26:40.000Z",
        "endTime": "2024-05-29T16:26:41.000Z",
        "model": "gpt-4o",
        "input": record["request"]["messages"],
        "output": record["response"]["choices"][0]["message"],
        "usageDetails": {"input": 120, "output": 40, "total": 160},
        "costDetails": {"total": 0.001},
    }


def write_source(format_name: str, path: Path, calls: int) -> list[Path]:
    rng = random.Random(7)
    records = (synthetic_request(index, rng) for index in range(calls))
    if format_name == "chatgpt":
        return [_chatgpt(path, calls, rng)]
    if format_name == "openai-batch":
        source, output = path.with_suffix(".in.jsonl"), path.with_suffix(".out.jsonl")
        with source.open("w") as ins, output.open("w") as outs:
            for index, record in enumerate(records):
                custom = f"task-{index}"
                body = {"model": "gpt-4o", "messages": record["request"]["messages"]}
                ins.write(
                    json.dumps(
                        {
                            "custom_id": custom,
                            "method": "POST",
                            "url": "/v1/chat/completions",
                            "body": body,
                        }
                    )
                    + "\n"
                )
                answer = {**record["response"], "created": int(T0) + index, "model": "gpt-4o"}
                outs.write(json.dumps({"id": f"batch_req_{index}", "custom_id": custom,
                                       "response": {"status_code": 200, "body": answer},
                                       "error": None}) + "\n")  # fmt: skip
        return [source, output]
    shape: Callable[[int, dict[str, Any]], dict[str, Any]] = {
        "litellm": _litellm,
        "otel": _otel,
        "langfuse": _langfuse,
    }[format_name]
    with path.open("w") as handle:
        for index, record in enumerate(records):
            handle.write(json.dumps(shape(index, record)) + "\n")
    return [path]


def _chatgpt(path: Path, calls: int, rng: random.Random) -> Path:
    """Conversations of 10 turns each: `calls` assistant messages in all."""
    turns = 10
    with path.open("w") as handle:
        handle.write("[")
        for number in range(max(1, calls // turns)):
            mapping: dict[str, Any] = {"root": {"id": "root", "message": None, "parent": None,
                                                "children": []}}  # fmt: skip
            parent = "root"
            for turn in range(turns):
                for role in ("user", "assistant"):
                    key = f"c{number}-{turn}-{role[0]}"
                    words = " ".join(
                        rng.choice(["alpha", "beta", "gamma", "delta"]) for _ in range(60)
                    )
                    mapping[key] = {
                        "id": key,
                        "parent": parent,
                        "children": [],
                        "message": {
                            "id": key,
                            "author": {"role": role},
                            "create_time": T0 + number * 100 + turn * 2 + (role == "assistant"),
                            "content": {"content_type": "text", "parts": [words]},
                            "metadata": {"model_slug": "gpt-4o"},
                            "recipient": "all",
                        },
                    }
                    mapping[parent]["children"].append(key)
                    parent = key
            conversation = {"id": f"conv-{number}", "create_time": T0, "mapping": mapping}
            handle.write(("," if number else "") + json.dumps(conversation))
        handle.write("]")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument(
        "--format",
        action="append",
        choices=["litellm", "otel", "langfuse", "openai-batch", "chatgpt"],
    )
    args = parser.parse_args()
    from trellis.importers import FORMATS, ImportOptions, import_files
    from trellis.storage import open_store

    options = ImportOptions()
    for format_name in args.format or ["litellm", "otel", "langfuse", "openai-batch", "chatgpt"]:
        with tempfile.TemporaryDirectory() as tmp:
            files = write_source(format_name, Path(tmp) / "source.jsonl", args.calls)
            size = sum(path.stat().st_size for path in files) / 2**20
            started, cpu = time.perf_counter(), time.process_time()
            mapped = sum(1 for stream in FORMATS[format_name](files, options) for _ in stream.items)
            mapping, mapping_cpu = time.perf_counter() - started, time.process_time() - cpu
            os.environ["TRELLIS_DUCKDB_PATH"] = str(Path(tmp) / "bench.duckdb")
            with open_store("duckdb") as store:
                started, cpu = time.perf_counter(), time.process_time()
                result = import_files(store, format_name, files, options)
                whole, whole_cpu = time.perf_counter() - started, time.process_time() - cpu
            loaded = result.reports["requests"].loaded
            print(
                f"{format_name:13} {mapped:,} calls ({size:,.0f} MB)\n"
                f"  mapping only: {mapped / mapping:,.0f} calls/s wall, "
                f"{mapping_cpu / mapped * 1e6:,.0f} us CPU a call\n"
                f"  end to end:   {loaded / whole:,.0f} calls/s wall ({whole:.2f} s, "
                f"{loaded:,} loaded), {whole_cpu / loaded * 1e6:,.0f} us CPU a call "
                f"(all threads)",
                flush=True,
            )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
