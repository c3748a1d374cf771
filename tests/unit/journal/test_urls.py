"""redact_url: passwords never survive, everything else is kept as written."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journal.urls import redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://user:secret@host/db", "postgresql://user:***@host/db"),
        (
            "postgresql://user:secret@host:5432/db?sslmode=require",
            "postgresql://user:***@host:5432/db?sslmode=require",
        ),
        ("mysql://root:pw@[::1]:3306/test", "mysql://root:***@[::1]:3306/test"),
        ("mysql://user:p%40ss@host/db", "mysql://user:***@host/db"),
        ("mysql://user:p@ss@host/db", "mysql://user:***@host/db"),
        ("mysql://user:p@ss/x@host/db", "mysql://user:***@host/db"),
        ("mysql://user:pw@host/db?app=a@b", "mysql://user:***@b"),  # over-redacted, by design
        ("postgresql://user:pa/ss@host/db", "postgresql://user:***@host/db"),
        ("postgresql://user:pa#ss@host/db", "postgresql://user:***@host/db"),
        ("postgresql://user:123/456@host/db", "postgresql://user:***@host/db"),
        ("postgresql://user:pa?ss@host/db?password=x", "postgresql://user:***@host/db?password=***"),
        ("postgresql://host/db?user=u&password=secret", "postgresql://host/db?user=u&password=***"),
        ("postgresql://host/db?PASSWORD=secret&a=1#frag", "postgresql://host/db?PASSWORD=***&a=1#frag"),
        ("postgresql://host/db?sslpassword=k&pwd=p", "postgresql://host/db?sslpassword=***&pwd=***"),
        ("postgresql://host/db?password=se#cret", "postgresql://host/db?password=***#***"),
        (
            "https://b.s3.amazonaws.com/k?X-Amz-Signature=abc&X-Amz-Security-Token=t&X-Amz-Expires=60",
            "https://b.s3.amazonaws.com/k?X-Amz-Signature=***&X-Amz-Security-Token=***&X-Amz-Expires=60",
        ),
        ("postgresql://user:@host/db", "postgresql://user:***@host/db"),
    ],
)
def test_secrets_are_hidden(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://user@host:5432/db",
        "sqlite:///tmp/restore.db",
        "sqlite:///:memory:",
        "s3://bucket/prefix/",
        "http://127.0.0.1:4566",
        "./archive",
        "qldb://ledger?region=us-east-1",
        "postgresql://host/db?passwordless=1",
        "",
    ],
)
def test_urls_without_secrets_are_unchanged(url: str) -> None:
    assert redact_url(url) == url


def test_unparseable_url_is_hidden_entirely() -> None:
    assert redact_url("postgresql://user:pw@[::1/db") == "***"


@given(
    user=st.text(alphabet="abcxyz_", min_size=1, max_size=8),
    password=st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ!$%^/?#@:", min_size=4, max_size=16),
    host=st.sampled_from(["db.example.com", "127.0.0.1", "[::1]", "localhost:5432"]),
)
def test_password_never_survives(user: str, password: str, host: str) -> None:
    # GIVEN a password from an alphabet of which at most 3 characters in a row occur elsewhere in the
    # URL ("://"), often with unencoded reserved characters
    url = f"postgresql://{user}:{password}@{host}/ledger"
    # THEN no 4 characters of it survive, in the user info or in a query parameter
    for redacted in (redact_url(url), redact_url(f"{url}?password={password}")):
        assert not any(password[i : i + 4] in redacted for i in range(len(password) - 3)), redacted
