"""Run the real `dbt` against a target, the way a user does."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]


def dbt_command() -> list[str]:
    return [str(Path(sys.executable).with_name("dbt"))]


def run_dbt(
    args: Sequence[str],
    env: Mapping[str, str],
    target: str,
    target_path: Path,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run dbt in the project with its own target folder (tests run side by side)."""
    full_env = {
        **os.environ,
        **env,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        "DBT_TARGET_PATH": str(target_path),
        "DBT_LOG_PATH": str(target_path / "logs"),
    }
    result = subprocess.run(
        [*dbt_command(), *args, "--target", target, "--project-dir", str(PROJECT_DIR)],
        env=full_env,
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"dbt {' '.join(args)} failed:\n{result.stdout[-8000:]}\n{result.stderr[-4000:]}"
        )
    return result
