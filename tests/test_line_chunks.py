"""The line reader: every input format becomes numbered lines, whatever the chunk size."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xxhash

from trellis import native as native_module
from trellis.errors import TrellisError
from trellis.services import line_chunks


@pytest.fixture(autouse=True, params=["python", "c"])
def native_split(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Each test once per line splitter and hash: the C ones (trellis._screen.split_lines,
    hash_strings) and Python's."""
    use_c: bool = request.param == "c"
    monkeypatch.setattr(line_chunks, "NATIVE_SPLIT", use_c)
    monkeypatch.setattr(native_module, "HASH_IN_C", use_c)
    return use_c


def line_hash(line: bytes, native: bool) -> str:
    """The hash of one line, hashed on its own (the reader hashes it in its chunk's buffer)."""
    if not native:
        return xxhash.xxh3_128_hexdigest(line)
    assert line_chunks._native is not None
    offsets = pa.array([0, len(line)], pa.int64()).buffers()[1]
    return line_chunks._native.hash_strings(line, offsets, 0, 1, True, True).decode()


def test_the_c_line_hash_is_pinned() -> None:
    """Line hashes are stored (record_hash of the lines the SQL decides): a later ingest
    must compute the same ones on any machine."""
    assert line_hash(b"", True) == "4690cd7b06a785f37bac36a011f7cb8d"
    assert line_hash(b'{"a": 1}', True) == "81decc25f3598f2ecbaf2442c6f1df96"
    assert line_hash(bytes(range(256)) * 3, True) == "ae82d96a18f825f60c474debd7754a55"
    lengths = [0, 1, 3, 4, 7, 8, 15, 16, 17, 63, 64, 65, 127, 128, 129, 1000]
    assert len({line_hash(b"x" * length, True) for length in lengths}) == len(lengths)


def _lines(seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for _ in range(400):
        body = "".join(rng.choice('ab é世🎉\\"{}') for _ in range(rng.randint(0, 300)))
        lines.append(body + ("\r" if rng.random() < 0.2 else ""))
    lines[17] = "z" * 9000  # longer than the smallest buffers below
    lines[18] = ""
    return lines


@pytest.mark.parametrize("chunk_bytes", [64, 1000, 4096, 1 << 20])
@pytest.mark.parametrize("layout", ["plain", "trailing-newline", "gzip"])
def test_chunks_hold_every_line_once_in_order_without_cr(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chunk_bytes: int,
    layout: str,
    native_split: bool,
) -> None:
    monkeypatch.setattr(line_chunks, "CHUNK_BYTES", chunk_bytes)
    lines = _lines(chunk_bytes)
    data = "\n".join(lines).encode()
    if layout == "trailing-newline":
        data += b"\n"
    path = tmp_path / ("in.jsonl.gz" if layout == "gzip" else "in.jsonl")
    path.write_bytes(gzip.compress(data) if layout == "gzip" else data)

    got, numbers, hashes = [], [], []
    for chunk in line_chunks.iter_file_chunks(path):
        assert chunk.schema == line_chunks.CHUNK_SCHEMA
        got += chunk.column("line").to_pylist()
        numbers += chunk.column("source_line").to_pylist()
        hashes += chunk.column("record_hash").to_pylist()

    expected = [line.rstrip("\r") for line in lines]
    assert got == expected
    assert numbers == list(range(1, len(expected) + 1))
    assert hashes == [line_hash(line.encode(), native_split) for line in expected]


def test_record_chunks_hash_the_line_they_serialize(native_split: bool) -> None:
    records = [{"request_id": f"r-{i}", "text": "é" * i} for i in range(5)]
    (chunk,) = line_chunks.iter_record_chunks(records)

    texts = chunk.column("line").to_pylist()
    assert texts == [line_chunks.record_to_json(record) for record in records]
    assert chunk.column("record_hash").to_pylist() == [
        line_hash(text.encode(), native_split) for text in texts
    ]


def test_batches_are_bounded_in_rows_and_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB holds a batch's parsed documents at once: big records make small batches."""
    monkeypatch.setattr(line_chunks, "BATCH_BYTES", 10_000)
    monkeypatch.setattr(line_chunks, "BATCH_ROWS", 50)
    lines = ["s" * 10] * 120 + ["b" * 4000] * 7 + ["h" * 25_000] + ["s"] * 3
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n")

    (chunk,) = line_chunks.iter_file_chunks(path)
    batches = chunk.to_batches()
    assert sum(batch.num_rows for batch in batches) == len(lines)
    for batch in batches:
        size = sum(len(text) for text in batch.column("line").to_pylist())
        assert batch.num_rows <= 50
        assert size <= 10_000 or batch.num_rows == 1  # a single line may exceed the bound
    (huge,) = [batch for batch in batches if "h" * 25_000 in batch.column("line").to_pylist()]
    assert huge.num_rows == 1
    assert max(batch.num_rows for batch in batches) == 50


def test_parquet_and_records_chunk_by_bytes_with_consecutive_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(line_chunks, "CHUNK_BYTES", 2_000)
    monkeypatch.setattr(line_chunks, "PARQUET_BATCH_ROWS", 7)
    rows = [{"request_id": f"r-{i}", "text": "x" * 90} for i in range(100)]
    path = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)

    for chunks in (
        list(line_chunks.iter_file_chunks(path)),
        list(line_chunks.iter_record_chunks(rows)),
    ):
        assert len(chunks) > 5
        assert all(sum(map(len, c.column("line").to_pylist())) < 2_000 + 200 for c in chunks)
        numbers = [n for chunk in chunks for n in chunk.column("source_line").to_pylist()]
        assert numbers == list(range(1, 101))


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_a_damaged_gzip_file_is_a_one_line_read_error(tmp_path: Path, damage: str) -> None:
    text = "\n".join(
        f'{{"n": {i}, "pad": "{random.Random(i).randbytes(40).hex()}"}}' for i in range(5000)
    )
    data = bytearray(gzip.compress(text.encode()))
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:  # flip bits inside the deflate stream
        for position in range(100, min(len(data) - 20, 6000), 7):
            data[position] ^= 0x5A
    path = tmp_path / "in.jsonl.gz"
    path.write_bytes(bytes(data))

    with pytest.raises(TrellisError, match=r"^cannot read .*in\.jsonl\.gz: ") as raised:
        for _ in line_chunks.iter_file_chunks(path):
            pass
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("layout", ["plain", "trailing-newline", "gzip"])
def test_reading_on_from_a_chunk_end_gives_the_rest_numbered_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    """What the screening process reads after the parent's first chunks (screen_worker)."""
    monkeypatch.setattr(line_chunks, "CHUNK_BYTES", 1000)
    monkeypatch.setattr(line_chunks, "FIRST_CHUNK_BYTES", 300)
    lines = _lines(7)
    data = "\n".join(lines).encode() + (b"\n" if layout == "trailing-newline" else b"")
    path = tmp_path / ("in.jsonl.gz" if layout == "gzip" else "in.jsonl")
    path.write_bytes(gzip.compress(data) if layout == "gzip" else data)

    def numbered(chunks: list[pa.Table]) -> list[tuple[int, str]]:
        return [
            pair
            for chunk in chunks
            for pair in zip(
                chunk.column("source_line").to_pylist(),
                chunk.column("line").to_pylist(),
                strict=True,
            )
        ]

    whole = list(line_chunks.iter_text_chunks(path, line_chunks.TextPosition()))
    everything = numbered([chunk for chunk, _ in whole])
    assert [line for _, line in everything] == [line.rstrip("\r") for line in lines]
    assert len(whole) > 10
    assert whole[0][0].column("line").nbytes < 300  # the short first chunk
    for number, (_, after) in enumerate(whole):
        rest = list(line_chunks.iter_file_chunks(path, after))
        assert numbered(rest) == numbered([chunk for chunk, _ in whole[number + 1 :]])
    assert whole[-1][1].offset == len(data)


def test_a_parquet_file_is_read_from_its_start_only(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist([{"request_id": "r-1"}]), path)
    assert line_chunks.is_parquet(path)
    with pytest.raises(ValueError, match="from its start"):
        list(line_chunks.iter_file_chunks(path, line_chunks.TextPosition(10, 2)))


def _split_reference(data: bytes) -> list[bytes]:
    """What a chunk of `data` holds: its lines, less the carriage returns ending them."""
    return [line.rstrip(b"\r") for line in data.split(b"\n")]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"a",
        b"\n",
        b"\n\n\n",
        b"a\r\n\r\r\nb\r\rc\r\r",  # several CRs end a line; one inside stays
        b"\r",
        b'{"x": "\xc3\xa9"}\n\xff\xfe bad\r\n{"y": 1}',  # a line of invalid UTF-8
        b"z" * 70_000 + b"\n" + b"y" * 3,
        b"a\n" * 3000 + b"\r\n" * 3000,  # many short lines: the C split grows its line ends
    ],
)
def test_a_buffer_splits_into_its_lines_whatever_follows_it(data: bytes) -> None:
    buffer = bytearray(data + b"\nnot\r\nread")  # bytes past `size` are not the chunk's
    chunk = line_chunks._table_from_bytes(buffer, len(data), 5)

    expected = _split_reference(data)
    lines = chunk.column("line").to_pylist()
    assert [line.encode("utf-8", "surrogateescape") for line in lines] == [
        raw.decode("utf-8", "replace").encode("utf-8", "surrogateescape") for raw in expected
    ]
    assert chunk.column("is_utf8").to_pylist() == [_is_utf8(raw) for raw in expected]
    assert chunk.column("source_line").to_pylist() == list(range(5, 5 + len(expected)))


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_both_splitters_make_the_same_chunks_of_random_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(11)
    alphabet = [b"a", b"{", b'"', b"\n", b"\n", b"\r", b"\xc3\xa9", b"\xff", b" "]
    for _ in range(300):
        data = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 200)))
        made = []
        for native in (False, True):
            monkeypatch.setattr(line_chunks, "NATIVE_SPLIT", native)
            made.append(line_chunks._table_from_bytes(bytearray(data + b"junk"), len(data), 1))
        assert made[0].equals(made[1]), data


def test_the_c_splitter_refuses_a_size_outside_its_buffer() -> None:
    from trellis import _screen

    with pytest.raises(ValueError, match="size outside the buffer"):
        _screen.split_lines(bytearray(b"ab\ncd"), 7)
    with pytest.raises(ValueError, match="size outside the buffer"):
        _screen.split_lines(b"ab", -1)
