"""Pieces dbt loads from the trellis package (adapter plugins)."""
