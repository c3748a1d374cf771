"""Make URLs safe to log: `redact_url` hides passwords in the user info and in query parameters.

Every external resource is a URL (targets, archives, endpoints), and URLs end up in logs, error
messages and progress output; a password must never follow them there.
"""

from __future__ import annotations

from urllib.parse import unquote_plus, urlsplit

__all__ = ["SECRET_QUERY_KEYS", "redact_url"]

SECRET_QUERY_KEYS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "sslpassword",  # libpq: the client key's passphrase
        "secret",
        "token",
        "access_token",
        "x-amz-security-token",  # presigned S3 URLs
        "x-amz-signature",
    }
)
"""Query parameters whose value is hidden (compared case-insensitively)."""

MASK = "***"


def redact_url(url: str) -> str:
    """Return `url` with its password and secret query parameters replaced by `***`.

    Everything else is kept as written, so the result still says which server and database.

    Trap: a password with an unencoded `/`, `?` or `#` ends the authority early when the URL is
    split, so part of it would pass for a host, path or query. So when the authority starts with
    `name:` and an `@` follows it, everything from that colon to the last `@` is hidden. A URL that
    legitimately has an `@` in its path or query is then over-redacted: the safe way to be wrong.
    If the hidden part held a secret query parameter, what follows the last `@` is hidden as well.

    >>> redact_url("postgresql://user:secret@host:5432/db")
    'postgresql://user:***@host:5432/db'
    >>> redact_url("mysql://root@127.0.0.1/test?password=secret&charset=utf8mb4")
    'mysql://root@127.0.0.1/test?password=***&charset=utf8mb4'
    >>> redact_url("postgresql://user:12/34@host/db"), redact_url("postgresql://user:p@w/x@host/db")
    ('postgresql://user:***@host/db', 'postgresql://user:***@host/db')
    >>> redact_url("sqlite:///tmp/restore.db"), redact_url("s3://bucket/prefix")
    ('sqlite:///tmp/restore.db', 's3://bucket/prefix')
    """
    try:
        parts = urlsplit(url)
    except ValueError:  # for example an unbalanced "[" in an IPv6 host
        return MASK
    netloc = parts.netloc
    first = netloc.partition("@")[0]
    after_authority = url.partition("//")[2][len(netloc) :] if netloc else ""
    if ":" in first and not first.startswith("[") and "@" in after_authority:
        user = first.partition(":")[0]
        hidden, _, tail = url.partition("//")[2].rpartition("@")
        if any(f"{key}=" in hidden.lower() for key in SECRET_QUERY_KEYS):
            tail = MASK  # the last "@" was inside a secret query value: the tail is part of it
        return redact_url(f"{parts.scheme}://{user}:{MASK}@{tail}")
    userinfo, at, hostport = netloc.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    if at and colon:
        netloc = f"{user}:{MASK}@{hostport}"
    params = [_redact_param(param) for param in parts.query.split("&")] if parts.query else []
    query, fragment = "&".join(params), parts.fragment
    if fragment and params and params[-1].endswith(f"={MASK}"):
        fragment = MASK  # an unencoded "#" in that secret starts a fragment: hide the rest too
    if netloc == parts.netloc and query == parts.query and fragment == parts.fragment:
        return url
    scheme = f"{parts.scheme}:" if parts.scheme else ""
    authority = f"//{netloc}" if netloc or url[len(scheme) :].startswith("//") else ""
    return (
        f"{scheme}{authority}{parts.path}"
        + (f"?{query}" if query else "")
        + (f"#{fragment}" if fragment else "")
    )


def _redact_param(param: str) -> str:
    key, eq, _ = param.partition("=")
    if eq and unquote_plus(key).lower() in SECRET_QUERY_KEYS:
        return f"{key}={MASK}"
    return param
