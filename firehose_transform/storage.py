"""Read and write archive objects under one URL: a local folder or ``s3://bucket/prefix``.

One small abstraction, on `pyarrow.fs`, so that the local Firehose, the backfill and the readers
write the same keys locally and in S3. Keys are always ``/``-separated and relative to the
location's root (``p_ledger=.../p_date=.../x.parquet``).

S3 goes through `pyarrow.fs.S3FileSystem`: credentials and region come from the usual AWS
environment (profile, ``AWS_ACCESS_KEY_ID``...). `endpoint_url` is the project's one S3 endpoint
setting (the CLI reads ``QLDB_ARCHIVE_S3_ENDPOINT_URL``): a full URL such as
``http://127.0.0.1:5000`` (a moto server, MinIO), split here into pyarrow's `endpoint_override`
and `scheme`.

Writes are whole-object: an S3 PUT is atomic, and a local write goes to a hidden temporary file
(``.<name>.partial``) renamed into place, so an object that exists is complete. That is what lets
writers skip an object that is already there (see `firehose_transform.local_firehose`).

Trap: pyarrow's streams (de)compress by file extension by default (a ``.gz`` key would be
inflated on read); objects are read and written here exactly as stored (``compression=None``).
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from botocore.exceptions import BotoCoreError, ClientError

from journal.errors import QldbArchiveError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Location", "StorageError", "open_location"]

PARTIAL_SUFFIX = ".partial"


class StorageError(QldbArchiveError):
    """An archive location that cannot be opened, read or written.

    Attributes:
        url: the location (or object) at fault.
        reason: what went wrong.
    """

    def __init__(self, reason: str, *, url: str) -> None:
        self.reason, self.url = reason, url
        super().__init__(f"cannot use {url}: {reason}; check the path, the bucket and the S3 endpoint")


@dataclass(frozen=True, slots=True)
class Location:
    """A folder or an S3 prefix, and the filesystem that reaches it.

    Attributes:
        url: the URL as given (a path or ``s3://bucket/prefix``).
        fs: the pyarrow filesystem.
        root: the root path inside `fs` (an absolute local path, or ``bucket/prefix``).
        endpoint_url: the S3 endpoint, for the boto3 calls pyarrow cannot make (see `delete`).
    """

    url: str
    fs: pafs.FileSystem
    root: str
    endpoint_url: str | None = None

    @property
    def is_s3(self) -> bool:
        """Whether this location is in S3."""
        return isinstance(self.fs, pafs.S3FileSystem)

    def path(self, key: str) -> str:
        """The filesystem path of `key`."""
        key = key.strip("/")
        if not self.root:
            return key
        return f"{self.root.rstrip('/')}/{key}" if key else self.root

    def describe(self, key: str) -> str:
        """`key` as a URL-like name for errors and reports."""
        return f"{self.url.rstrip('/')}/{key.strip('/')}"

    def exists(self, key: str) -> bool:
        """Whether the object `key` exists."""
        try:
            return bool(self.fs.get_file_info(self.path(key)).type == pafs.FileType.File)
        except OSError as exc:
            raise StorageError(str(exc), url=self.describe(key)) from None

    def write_bytes(self, key: str, data: bytes) -> None:
        """Write `data` to `key`, replacing it (atomic: see the module docstring)."""
        path = self.path(key)
        try:
            if self.is_s3:
                with self.fs.open_output_stream(path, compression=None) as out:
                    out.write(data)
                return
            parent, _, name = path.rpartition("/")
            self.fs.create_dir(parent, recursive=True)
            tmp = f"{parent}/.{name}.{uuid.uuid4().hex[:8]}{PARTIAL_SUFFIX}"
            with self.fs.open_output_stream(tmp, compression=None) as out:
                out.write(data)
            self.fs.move(tmp, path)
        except OSError as exc:
            raise StorageError(str(exc), url=self.describe(key)) from None

    def write_parquet(self, key: str, table: pa.Table, *, compression: str = "snappy") -> int:
        """Write `table` as one Parquet object at `key`; returns its size in bytes."""
        buf = io.BytesIO()
        pq.write_table(table, buf, compression=compression)
        data = buf.getvalue()
        self.write_bytes(key, data)
        return len(data)

    def read_bytes(self, key: str) -> bytes:
        """The bytes of the object `key`."""
        try:
            with self.fs.open_input_stream(self.path(key), compression=None) as src:
                return bytes(src.read())
        except (OSError, FileNotFoundError) as exc:
            raise StorageError(str(exc), url=self.describe(key)) from None

    def delete(self, key: str) -> None:
        """Delete the object `key`.

        Trap: in S3, pyarrow's `delete_file` then writes an empty ``<parent>/`` marker object so
        that the "directory" still exists; boto3's DeleteObject leaves no such litter.
        """
        try:
            if self.is_s3:
                import boto3

                bucket, _, path = self.path(key).partition("/")
                client = boto3.client("s3", endpoint_url=self.endpoint_url)
                client.delete_object(Bucket=bucket, Key=path)
                return
            self.fs.delete_file(self.path(key))
        except (OSError, BotoCoreError, ClientError) as exc:
            raise StorageError(str(exc), url=self.describe(key)) from None

    def move(self, src: str, dst: str) -> None:
        """Move `src` to `dst`: a rename locally; in S3 (no rename) a copy, then a delete."""
        if self.is_s3:
            self.write_bytes(dst, self.read_bytes(src))
            self.delete(src)
            return
        try:
            self.fs.create_dir(self.path(dst).rpartition("/")[0], recursive=True)
            self.fs.move(self.path(src), self.path(dst))
        except OSError as exc:
            raise StorageError(str(exc), url=self.describe(src)) from None

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        """Every object key under `prefix`, sorted; hidden partial files are skipped."""
        base = self.path(prefix)
        try:
            infos = self.fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
        except OSError as exc:
            raise StorageError(str(exc), url=self.describe(prefix)) from None
        root = self.root.rstrip("/")
        keys = []
        for info in infos:
            if info.type != pafs.FileType.File:
                continue
            rel = info.path[len(root) + 1 :] if root else info.path
            if rel.rpartition("/")[2].startswith(".") and rel.endswith(PARTIAL_SUFFIX):
                continue
            keys.append(rel)
        yield from sorted(keys)

    def list_keys(self, prefix: str = "") -> list[str]:
        """`iter_keys` as a list."""
        return list(self.iter_keys(prefix))


def _s3_filesystem(endpoint_url: str | None, region: str | None) -> pafs.S3FileSystem:
    if endpoint_url is None:
        return pafs.S3FileSystem(region=region) if region else pafs.S3FileSystem()
    parts = urlsplit(endpoint_url if "://" in endpoint_url else f"https://{endpoint_url}")
    if not parts.netloc:
        raise StorageError("the S3 endpoint URL has no host", url=endpoint_url)
    return pafs.S3FileSystem(
        endpoint_override=parts.netloc,
        scheme=parts.scheme or "https",
        region=region or "us-east-1",
    )


def open_location(url: str, *, endpoint_url: str | None = None, region: str | None = None) -> Location:
    """Open a local folder (a path or ``file://`` URL) or an S3 prefix (``s3://bucket/prefix``).

    Args:
        url: where the archive is.
        endpoint_url: the S3 endpoint (``http://127.0.0.1:5000``); None for AWS itself.
        region: the bucket's region; None reads it from the AWS environment.

    Raises:
        StorageError: an S3 URL without a bucket, or an unknown scheme.

    >>> loc = open_location("/tmp/archive")
    >>> loc.is_s3, loc.path("p_ledger=x/a.parquet")
    (False, '/tmp/archive/p_ledger=x/a.parquet')
    """
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise StorageError("an S3 URL needs a bucket: s3://bucket/prefix", url=url)
        root = f"{parts.netloc}/{parts.path.strip('/')}".rstrip("/")
        return Location(url, _s3_filesystem(endpoint_url, region), root, endpoint_url)
    if parts.scheme == "file":
        url_path = parts.path
    elif parts.scheme and len(parts.scheme) > 1:  # "c:" is a Windows drive, not a scheme
        raise StorageError(
            f"unknown scheme {parts.scheme!r}: use a folder path or s3://bucket/prefix", url=url
        )
    else:
        url_path = url
    return Location(url, pafs.LocalFileSystem(), str(Path(url_path).expanduser().absolute()))
