"""trellis: a dbt-centric analytics warehouse for LLM gateway traffic."""

__version__ = "0.1.0"
