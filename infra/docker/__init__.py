"""Files copied into the jobs' container image (infra/Dockerfile)."""

from __future__ import annotations

__all__: list[str] = []
