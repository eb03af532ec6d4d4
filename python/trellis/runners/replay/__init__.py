"""Controlled re-execution of logged LLM calls (`trellis replay`).

The runner reads nodes from the lineage marts, calls OpenAI-compatible
endpoints and appends what happened as contract-v1 request records through
ingest, so the next `dbt build` folds replays into the trees as siblings.
"""
