"""One construct per concern of the stack; `infra.app` composes them.

Not called ``constructs``: run from ``infra/``, that name would shadow the constructs library.
"""

from __future__ import annotations

__all__: list[str] = []
