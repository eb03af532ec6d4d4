"""Types of the C screen and line split (python/trellis/_screen.c)."""

from typing import Any

from typing_extensions import Buffer

T_NULL: int
T_BOOL: int
T_NUM: int
T_STR: int
T_ARR: int
T_OBJ: int

class _Schema: ...

def compile_schema(node: tuple[Any, ...], /) -> _Schema: ...
def screen_lines(
    schema: _Schema,
    data: Buffer | None,
    offsets: Buffer,
    first: int,
    count: int,
    skip: Buffer | None,
    /,
) -> tuple[bytes, list[tuple[bytes | None, bytes, bytes, int] | None], bytes]: ...
def split_lines(buffer: Buffer, size: int, /) -> tuple[bytes, bytes]: ...
def hash_strings(
    data: Buffer | None, offsets: Buffer, first: int, count: int, large: bool, hex: bool = False, /
) -> bytes: ...
