"""Cost estimates for `--plan`, from the price table seed (seeds/model_prices.csv)."""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from trellis.config import PROJECT_DIR

PRICES_CSV = PROJECT_DIR / "seeds" / "model_prices.csv"


@dataclass(frozen=True)
class Price:
    pattern: str
    token_type: str
    usd_per_million: float
    valid_from: dt.date


class PriceTable:
    def __init__(self, prices: list[Price]) -> None:
        self.prices = prices
        self._rates: dict[tuple[str, str], float | None] = {}

    @classmethod
    def load(cls, path: Path = PRICES_CSV) -> PriceTable:
        if not path.exists():
            return cls([])
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        return cls(
            [
                Price(
                    pattern=row["model_pattern"],
                    token_type=row["token_type"],
                    usd_per_million=float(row["usd_per_million_tokens"]),
                    valid_from=dt.date.fromisoformat(row["valid_from"]),
                )
                for row in rows
                if row.get("usd_per_million_tokens")  # per-second (compute) prices: not estimable
            ]
        )

    def rate(self, model: str, token_type: str, on: dt.date | None = None) -> float | None:
        """USD per million tokens: the most specific pattern that matches the model (`^gpt-4o-mini`
        over `^gpt-4o`), then its latest price valid on the day."""
        day = on or dt.date.today()
        matching = [
            p
            for p in self.prices
            if p.token_type == token_type and p.valid_from <= day and re.search(p.pattern, model)
        ]
        if not matching:
            return None
        best = max(matching, key=lambda p: (len(p.pattern), p.valid_from))
        return best.usd_per_million

    def _cached(self, model: str, token_type: str) -> float | None:
        key = (model, token_type)
        if key not in self._rates:
            self._rates[key] = self.rate(model, token_type)
        return self._rates[key]

    def cost(self, model: str, input_tokens: int, output_tokens: int) -> float | None:
        rate_in = self._cached(model, "input")
        rate_out = self._cached(model, "output")
        if rate_in is None or rate_out is None:
            return None
        return (input_tokens * rate_in + output_tokens * rate_out) / 1_000_000
