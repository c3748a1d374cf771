"""Code that runs in AWS, deployed as assets: each module is self-contained (stdlib and boto3 only)."""

from __future__ import annotations

__all__: list[str] = []
