"""firehose_transform: see DESIGN.md; filled by later issues."""

from __future__ import annotations

__all__: list[str] = []
