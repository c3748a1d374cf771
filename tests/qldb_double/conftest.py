"""The double imports ionhash, installed only in the qldb environment: elsewhere pytest skips its modules."""

from __future__ import annotations

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("ionhash") else ["*.py"]
