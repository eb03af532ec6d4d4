"""Thin runners that call LLM endpoints and append what happened as raw facts.

`kit` holds what every runner shares (job log, leases, worker, HTTP client,
rate limits, ids, manifests, prices, the Jinja sandbox, `run_cohort`);
`replay` and `judge` are planners and executors on top of it.
"""
