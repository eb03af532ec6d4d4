"""The price in force for a plan's estimate, read from the warehouse.

The rules (windows, which pattern wins, the cached-input fallback) are those
of the costs marts and are stated once, in the dbt model
`intermediate.int_model_prices_ranked`; this module only asks it, for each
token type, for the row of the highest-priority pattern that matches the
model, in force now. No price table is read or ranked in Python.

An estimate assumes no cached prompt tokens (an upper bound) and cannot
price compute (per-second) rates before the calls are made: a model priced
by the second is reported as unpriced rather than estimated as free.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from trellis.runners.kit.db import Db, table_exists

PRICES_SCHEMA = "intermediate"
PRICES_MODEL = "int_model_prices_ranked"

# The regex test of macros/regex_matches.sql, on the two targets.
_MATCHES = {"duckdb": "regexp_matches(?, model_pattern)", "postgres": "? ~ model_pattern"}


@dataclass(frozen=True)
class Rates:
    """USD per million tokens in force for one model (None: no price)."""

    input: float | None
    output: float | None
    compute_per_second: float | None

    def cost(self, input_tokens: int, output_tokens: int) -> float | None:
        if self.input is None or self.output is None or self.compute_per_second:
            return None
        return (input_tokens * self.input + output_tokens * self.output) / 1_000_000


class PriceBook:
    """Rates per model, looked up once each; `available` is False before the prices are built."""

    def __init__(self, db: Db | None, at: dt.datetime | None = None) -> None:
        self.db = db
        self.at = (at or dt.datetime.now(dt.UTC)).replace(tzinfo=None)
        self.available = db is not None and table_exists(db, PRICES_SCHEMA, PRICES_MODEL)
        self._rates: dict[str, Rates] = {}

    def rates(self, model: str) -> Rates:
        if model not in self._rates:
            self._rates[model] = self._lookup(model)
        return self._rates[model]

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float | None:
        return self.rates(model).cost(input_tokens, output_tokens)

    def _lookup(self, model: str) -> Rates:
        if not self.available or self.db is None:
            return Rates(None, None, None)
        # The best pattern per token type (lowest priority), then its row in force now:
        # the order int_request_costs_priced applies them in.
        rows = self.db.query(
            f"""
            with best as (
                select token_type, min(pattern_priority) as pattern_priority
                from {PRICES_SCHEMA}.{PRICES_MODEL}
                where {_MATCHES[self.db.target]}
                group by token_type
            )
            select prices.token_type, prices.usd_per_million_tokens, prices.usd_per_second
            from {PRICES_SCHEMA}.{PRICES_MODEL} as prices
            inner join best
                on prices.token_type = best.token_type
                and prices.pattern_priority = best.pattern_priority
            where prices.valid_from_utc <= ?
                and (prices.valid_to_utc is null or ? < prices.valid_to_utc)
            """,
            [model, self.at, self.at],
        )
        by_type = {str(r[0]): (r[1], r[2]) for r in rows}

        def per_million(token_type: str) -> float | None:
            value = by_type.get(token_type, (None, None))[0]
            return None if value is None else float(value)

        compute = by_type.get("compute", (None, None))[1]
        return Rates(
            per_million("input"),
            per_million("output"),
            None if compute is None else float(compute),
        )


def unpriced(book: PriceBook, models: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({m for m in models if book.cost(m, 0, 0) is None}))
