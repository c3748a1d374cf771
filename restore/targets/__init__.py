"""Restore targets: one module per engine, chosen by the target URL's scheme.

Drivers are imported only when their target is opened, so SQLite needs nothing beyond the
standard library and a missing driver is an error that names the package to install.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from restore.errors import UnsupportedTargetError
from restore.targets.base import CurrentRow, HistoryRow, Target, TargetCapabilities

__all__ = ["CurrentRow", "HistoryRow", "Target", "TargetCapabilities", "open_target", "target_class"]

_SCHEMES = {
    "sqlite": "sqlite",
    "mysql": "mysql",
    "mariadb": "mysql",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "qldb": "qldb",
}


def target_class(url: str) -> type[Target]:
    """The Target class for a URL's scheme, without connecting.

    Raises:
        UnsupportedTargetError: an unknown scheme, or the engine's driver is not installed.
    """
    scheme = urlsplit(url).scheme.split("+", 1)[0].lower()
    engine = _SCHEMES.get(scheme)
    if engine is None:
        raise UnsupportedTargetError(
            f"no restore target for {scheme or 'a URL without a scheme'!r}; use sqlite:///file.db, "
            "mysql://user@host/db, postgresql://user@host/db (?mode=ledger for a ledger) or "
            "qldb://LEDGER?region=REGION"
        )
    try:
        if engine == "sqlite":
            from restore.targets.sqlite import SqliteTarget

            return SqliteTarget
        if engine == "mysql":
            from restore.targets.mysql import MysqlTarget

            return MysqlTarget
        if engine == "qldb":
            from restore.targets.qldb import QldbTarget

            return QldbTarget
        from restore.targets.postgresql_ledger import PostgresLedgerTarget, is_ledger_url

        if is_ledger_url(url):
            return PostgresLedgerTarget
        from restore.targets.postgresql import PostgresTarget

        return PostgresTarget
    except ImportError as exc:
        raise UnsupportedTargetError(
            f"the {engine} target needs a driver that is not installed ({exc.name}): "
            "pip install 'qldb-archive'"
        ) from None


def open_target(url: str) -> Target:
    """Connect to the target a URL names.

    Raises:
        UnsupportedTargetError: unknown scheme or missing driver.
        TargetError: the database cannot be reached.
    """
    return target_class(url)(url)
