"""The ingest's C extension (trellis._screen: the screen's JSON pass and the line split),
or None where it was not built (no C compiler at install: Python does that work)."""

from __future__ import annotations

import types

extension: types.ModuleType | None
try:
    import trellis._screen as extension
except ImportError:
    extension = None
