"""The `qldb-archive` command: parse arguments, call one library function, render the result."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from athena.deploy import DeployPlan

from journal.errors import QldbArchiveError
from qldb_archive.cli_support import (
    EndpointOption,
    ExitCode,
    JsonOption,
    QuietOption,
    Settings,
    cli_errors,
    echo_json,
    quiet_lambda_logs,
    render_summary,
)
from qldb_archive.progress import progress_for
from qldb_archive.table_output import FormatOption, OutputFormat, OutputOption, write_result

app = typer.Typer(
    name="qldb-archive",
    help=(
        "Archive, query, restore and verify Amazon QLDB journals.\n\n"
        "QLDB reached end of support on 2025-07-31; its stream archive and journal exports are "
        "now the system of record. Exit codes: 0 ok, 1 a check failed, 2 unusable input."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
) -> None:
    """Options shared by every command."""
    Settings.debug = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, stream=sys.stderr)


@app.command()
def simulate(
    out: Annotated[Path, typer.Argument(help="Folder to write into (created if missing).")],
    revisions: Annotated[int, typer.Option(min=1, help="Number of document revisions to generate.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives byte-identical output.")] = 1,
    shards: Annotated[int, typer.Option(min=1, help="Kinesis shards to spread stream records over.")] = 2,
    duplicate_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of Kinesis records delivered twice.")
    ] = 0.05,
    out_of_order_window: Annotated[
        int, typer.Option(min=0, help="Shuffle stream records within a window of this many (0 = in order).")
    ] = 16,
    aggregate: Annotated[bool, typer.Option(help="KPL-aggregate stream records, as QLDB streams do.")] = True,
    outputs: Annotated[
        str, typer.Option(help="Comma-separated: kinesis, firehose, export, truth.")
    ] = "kinesis,firehose,export,truth",
    export_format: Annotated[
        str, typer.Option(help="Journal export format: ION_TEXT, ION_BINARY or JSON.")
    ] = "ION_TEXT",
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Simulate a QLDB DMV ledger and write what it would have produced.

    Writes Kinesis record files (kinesis/), Firehose transformation events (firehose/), a
    journal export (export/) and the ground truth (truth/). See docs/files.md.

    Example: qldb-archive simulate ./sim --revisions 100000 --seed 7
    """
    from journal.simulate import SimulationConfig, export_format_from_str, write_simulation

    with cli_errors():
        config = SimulationConfig(
            revisions=revisions,
            seed=seed,
            shards=shards,
            duplicate_rate=duplicate_rate,
            out_of_order_window=out_of_order_window,
            aggregate=aggregate,
            export_format=export_format_from_str(export_format),
        )
        summary = write_simulation(
            out,
            config,
            outputs=_parse_outputs(outputs),
            progress=progress_for(sys.stderr, quiet=quiet),
        )
    if json_out:
        echo_json(summary.to_json())
    else:
        for line in summary.summary_lines():
            typer.echo(line)


def _parse_outputs(text: str) -> frozenset[str]:
    from journal.simulate import ALL_OUTPUTS

    chosen = frozenset(p.strip() for p in text.split(",") if p.strip())
    unknown = chosen - ALL_OUTPUTS
    if unknown or not chosen:
        typer.echo(
            f"error: unknown output {', '.join(sorted(unknown)) or '(none)'}; "
            f"choose from {', '.join(sorted(ALL_OUTPUTS))}",
            err=True,
        )
        raise typer.Exit(ExitCode.UNUSABLE_INPUT)
    return chosen


@app.command()
def verify(
    paths: Annotated[
        list[str],
        typer.Argument(
            help=(
                "Stream record files (.ion, .10n, Kinesis .jsonl), Firehose event .json files, journal "
                "export folders, saved `aws qldb get-digest|get-block|get-revision` outputs, or folders "
                "holding any of these; or one Parquet archive (a folder or s3://) with saved get-digest "
                "outputs; or one postgresql:// URL of a ledger-mode restore."
            )
        ),
    ],
    archive: Annotated[
        str | None,
        typer.Option(help="With a postgresql:// URL: also compare it with this archive (folder or s3://)."),
    ] = None,
    digest: Annotated[
        list[Path] | None,
        typer.Option(help="A saved `aws qldb get-digest` output to check the digest against (repeatable)."),
    ] = None,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
    endpoint_url: EndpointOption = None,
) -> None:
    """Recompute every revision hash, block hash and chain link, and check digests and proofs.

    Given the Parquet archive, recomputes every hash from its revision_ion and block columns: the
    archive alone proves what QLDB committed. Given a postgresql:// URL, verifies a ledger-mode
    restore (restore ... postgresql://...?mode=ledger) from its rows: the same checks, plus every
    history and current row against its revision's Ion, and against the archive with --archive.
    Exit 0 when everything verified, 1 when a check failed, 2 when an input is unusable.

    Example: qldb-archive verify ./sim/kinesis ./sim/export get-digest.json

    Example: qldb-archive verify s3://my-archive/qldb/ get-digest.json

    Example: qldb-archive verify postgresql://app@db/ledger --archive ./archive --digest get-digest.json
    """
    from restore.verification import verify_inputs

    with cli_errors():
        result = verify_inputs(
            paths,
            archive=archive,
            digest_paths=digest or [],
            endpoint_url=endpoint_url,
            progress=progress_for(sys.stderr, quiet=quiet or json_out),
        )
    if json_out:
        echo_json(result.to_json())
    else:
        for line in result.summary_lines():
            typer.echo(line)
    raise typer.Exit(ExitCode.OK if result.ok else ExitCode.CHECK_FAILED)


@app.command()
def archive(
    source: Annotated[
        Path,
        typer.Argument(
            help="A simulator output folder, a folder of Firehose events (*.json) or Kinesis record "
            "files (*.jsonl), or one such file."
        ),
    ],
    dest: Annotated[str, typer.Argument(help="Archive folder or s3://bucket/prefix.")],
    endpoint_url: EndpointOption = None,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Run a recorded or simulated stream through the local Firehose into the Parquet archive.

    Calls the real transformation Lambda handler on each event, converts its rows to Parquet
    (Snappy) and writes them under the Firehose key layout; failed records go under
    processing-failed/ with their original bytes. Re-running writes nothing twice.

    Example: qldb-archive archive ./sim ./archive
    """
    from firehose_transform.local_firehose import events_from_path, run_local_firehose

    with quiet_lambda_logs(), cli_errors():
        summary = run_local_firehose(
            events_from_path(source),
            dest,
            endpoint_url=endpoint_url,
            progress=progress_for(sys.stderr, quiet=quiet),
        )
    render_summary(summary, as_json=json_out)
    raise typer.Exit(ExitCode.CHECK_FAILED if summary.failed else ExitCode.OK)


@app.command()
def backfill(
    src: Annotated[
        str, typer.Argument(help="Folder or s3:// prefix of raw Firehose objects and/or journal exports.")
    ],
    dest: Annotated[str, typer.Argument(help="Archive folder or s3://bucket/prefix.")],
    ledger: Annotated[
        str | None, typer.Option(help="Ledger name for exports (their blocks do not name it).")
    ] = None,
    endpoint_url: EndpointOption = None,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Convert raw stream archives and QLDB journal exports into the same Parquet archive.

    Raw objects are what a Firehose with no transformation wrote (concatenated Kinesis records,
    possibly KPL-aggregated, possibly gzipped); exports are found by their completed manifests
    (ION_TEXT, ION_BINARY or JSON). Idempotent per source object: re-running adds no duplicates.

    Example: qldb-archive backfill s3://old-bucket/qldb/ ./archive --ledger vehicle-registration
    """
    from firehose_transform.backfill import backfill as run_backfill

    with quiet_lambda_logs(), cli_errors():
        summary = run_backfill(
            src,
            dest,
            endpoint_url=endpoint_url,
            ledger=ledger,
            progress=progress_for(sys.stderr, quiet=quiet),
        )
    render_summary(summary, as_json=json_out)
    raise typer.Exit(ExitCode.CHECK_FAILED if summary.failed or summary.problems else ExitCode.OK)


@app.command("reprocess-errors")
def reprocess_errors(
    dest: Annotated[
        str, typer.Argument(help="Archive folder or s3://bucket/prefix holding processing-failed/.")
    ],
    endpoint_url: EndpointOption = None,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Re-run the records under processing-failed/ through the handler, after a fix.

    Recovered rows are archived; an error object is moved to processing-failed-reprocessed/
    only once every record of it is archived or carried into a new error object.

    Example: qldb-archive reprocess-errors ./archive
    """
    from firehose_transform.local_firehose import reprocess_errors as run_reprocess

    with quiet_lambda_logs(), cli_errors():
        summary = run_reprocess(
            dest, endpoint_url=endpoint_url, progress=progress_for(sys.stderr, quiet=quiet)
        )
    render_summary(summary, as_json=json_out)
    raise typer.Exit(ExitCode.CHECK_FAILED if summary.still_failed else ExitCode.OK)


ArchiveArgument = Annotated[
    str,
    typer.Argument(
        envvar="QLDB_ARCHIVE_URL",
        show_envvar=True,
        help="The Parquet archive: a folder or s3://bucket/prefix.",
    ),
]
TARGET_ENVVAR = "QLDB_ARCHIVE_TARGET_URL"
"""Where restore and parity read the database URL when no argument gives it: so a job runner can
inject it from a secret without it ever appearing on a command line."""

PARITY_CACHE_ENVVAR = "QLDB_ARCHIVE_PARITY_CACHE"
"""Where parity keeps the archive side's index when no --cache option gives it (the scheduled job)."""

ArchiveOption = Annotated[
    str,
    typer.Option(
        "--archive",
        "-a",
        envvar="QLDB_ARCHIVE_URL",
        help="The Parquet archive: a folder or s3://bucket/prefix (or set QLDB_ARCHIVE_URL).",
    ),
]


@app.command()
def query(
    sql: Annotated[
        str,
        typer.Argument(
            help="Athena (Trino) SQL over the views history, history_conflicts, current, committed "
            "and the table revisions, named without a database (as with Athena's query context)."
        ),
    ],
    archive: ArchiveOption,
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Run Athena SQL on the local engine (DuckDB) over the Parquet archive.

    The SQL is transpiled from the Athena dialect with sqlglot, so a query that works here
    works on Athena over the same archive.

    Example: qldb-archive query --archive ./archive "SELECT table_name, count(*) FROM current GROUP BY 1"
    """
    from athena.local import LocalEngine

    with cli_errors(), LocalEngine.open(archive, endpoint_url=endpoint_url) as engine:
        write_result(engine.query(sql), fmt, output)


@app.command()
def history(
    table: Annotated[str, typer.Argument(help="QLDB table name, e.g. VehicleRegistration.")],
    doc_id: Annotated[str, typer.Argument(help="QLDB document id (metadata.id).")],
    archive: ArchiveOption,
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Every revision of one document, oldest first, de-duplicated, with deleted and redacted flags.

    Example: qldb-archive history Person D35qd3e2prnJYmtKW6kok1 --archive ./archive
    """
    from athena.local import history as load_history

    with cli_errors():
        write_result(load_history(archive, table, doc_id, endpoint_url=endpoint_url), fmt, output)


@app.command()
def current(
    archive: ArchiveOption,
    table: Annotated[str | None, typer.Argument(help="QLDB table name; all tables when omitted.")] = None,
    as_of_block: Annotated[
        int | None, typer.Option(min=0, help="State after this block sequence number (inclusive).")
    ] = None,
    as_of_time: Annotated[
        str | None,
        typer.Option(
            help="State at this transaction time, ISO 8601 (e.g. 2019-12-11T08:00:00Z); UTC if no zone."
        ),
    ] = None,
    fmt: FormatOption = OutputFormat.TABLE,
    output: OutputOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """The user view: the latest revision of each live document, now or at a point in time.

    Example: qldb-archive current Vehicle --as-of-block 5000 --format csv --archive ./archive
    """
    from athena.local import current as load_current

    with cli_errors():
        if as_of_block is not None and as_of_time is not None:
            raise QldbArchiveError("give --as-of-block or --as-of-time, not both")
        moment = None if as_of_time is None else _parse_time(as_of_time)
        result = load_current(
            archive, table, as_of_block=as_of_block, as_of_time=moment, endpoint_url=endpoint_url
        )
        write_result(result, fmt, output)


def _parse_time(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QldbArchiveError(
            f"--as-of-time {text!r} is not an ISO 8601 time (e.g. 2019-12-11T08:00:00Z)"
        ) from None
    return moment if moment.tzinfo is None else moment.astimezone(dt.UTC).replace(tzinfo=None)


def _memory_limits(limit: str | None) -> tuple[str, str]:
    """--memory-limit as RestoreOptions' engine_memory and bulk_memory (none given: their defaults)."""
    from athena.local import check_memory_limit
    from restore.runner import RestoreOptions

    if limit is None:
        defaults = RestoreOptions()
        return defaults.engine_memory, defaults.bulk_memory
    try:
        check_memory_limit(limit)
    except ValueError as exc:
        raise QldbArchiveError(f"--memory-limit: {exc}") from None
    return limit, limit


@app.command()
def restore(
    archive: ArchiveArgument,
    target: Annotated[
        str,
        typer.Argument(
            envvar=TARGET_ENVVAR,
            show_envvar=True,
            help="sqlite:///file.db (embedded), mysql://user:pass@host:3306/db, "
            "postgresql://user:pass@host:5432/db (add ?mode=ledger for a verifiable ledger) or a new "
            "ledger qldb://LEDGER?region=REGION (needs `make qldb-env`). Prefer passwords from the "
            "environment (PGPASSWORD, or the whole URL in QLDB_ARCHIVE_TARGET_URL) over the command line.",
        ),
    ],
    table: Annotated[
        list[str] | None, typer.Option("--table", "-t", help="Restore only this QLDB table (repeatable).")
    ] = None,
    table_map: Annotated[
        list[str] | None,
        typer.Option(
            help="QLDB_NAME=target_name, for a QLDB table name the target cannot hold (repeatable)."
        ),
    ] = None,
    with_history: Annotated[
        bool, typer.Option("--history", help="Also write TABLE_history with every revision.")
    ] = False,
    as_of_block: Annotated[
        int | None, typer.Option(min=0, help="Restore the state after this block sequence number.")
    ] = None,
    as_of_time: Annotated[
        str | None, typer.Option(help="Restore the state at this time, ISO 8601; UTC if no zone.")
    ] = None,
    shard: Annotated[
        str, typer.Option(help="i/n: apply only the documents of hash range i of n (one worker each).")
    ] = "1/1",
    allow_gaps: Annotated[
        bool, typer.Option(help="Restore even when revisions or block summaries are missing (reported).")
    ] = False,
    resume: Annotated[
        bool, typer.Option(help="Continue an interrupted restore from the target's checkpoint.")
    ] = False,
    incremental: Annotated[
        bool, typer.Option(help="Apply only blocks newer than the checkpoint of a completed restore.")
    ] = False,
    settle_minutes: Annotated[
        float | None,
        typer.Option(min=0, help="With --incremental: only revisions older than this many minutes."),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Revisions per transaction (whole blocks; about).")
    ] = 5_000,
    connections: Annotated[
        int,
        typer.Option(
            min=1,
            max=16,
            help="Connections a first restore into empty MySQL/PostgreSQL tables loads over at once "
            "(its bulk load; each slice is its own transaction).",
        ),
    ] = 2,
    memory_limit: Annotated[
        str | None,
        typer.Option(
            help="The local engine's (DuckDB's) memory limit, e.g. 512MB or 2GB; past it, it spills to "
            "a temporary folder. Default 320MB, and 640MB for a bulk load. Lower it on a small "
            "machine; raise it to spill less on a large archive.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Print the plan (counts per table, gaps, target DDL); write nothing.")
    ] = False,
    typed: Annotated[
        bool,
        typer.Option(
            help="Also add a generated column per top-level document field, typed as the Athena "
            "typed views infer it (computed by the database from data; indexable)."
        ),
    ] = False,
    report: Annotated[Path | None, typer.Option(help="Also write the final report as JSON here.")] = None,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
    endpoint_url: EndpointOption = None,
) -> None:
    """Rebuild current tables (and history tables) in a database from the archive.

    De-duplicates by (document id, version), orders by block, refuses conflicting revisions and
    (unless --allow-gaps) missing ones, then applies whole blocks in transactions with a
    version guard and tombstones: any re-run converges, and --resume continues a killed run.
    Into empty MySQL or PostgreSQL tables, a first restore loads each table's final rows in bulk
    (COPY / LOAD DATA); killed midway, --resume finishes it through the guarded apply.
    Exit 0 restored, 1 refused (gaps or conflicts; nothing written) or, for a new QLDB ledger, a
    current document whose data hash differs from the archive's, 2 unusable input or a database
    error (the message names the blocks; the checkpoint says where to resume).

    Example: qldb-archive restore ./archive sqlite:///restored.db --history --as-of-block 5000
    """
    from restore.errors import ConflictError, GapError
    from restore.identifiers import parse_table_map
    from restore.plan import parse_shard
    from restore.runner import RestoreOptions, run_restore

    with cli_errors():
        if as_of_block is not None and as_of_time is not None:
            raise QldbArchiveError("give --as-of-block or --as-of-time, not both")
        if settle_minutes is not None and not incremental:
            raise QldbArchiveError("--settle-minutes goes with --incremental")
        engine_memory, bulk_memory = _memory_limits(memory_limit)
        options = RestoreOptions(
            tables=tuple(table or ()),
            table_map=parse_table_map(table_map or ()),
            history=with_history,
            as_of_block=as_of_block,
            as_of_time=None if as_of_time is None else _parse_time(as_of_time),
            shard=parse_shard(shard),
            allow_gaps=allow_gaps,
            resume=resume,
            incremental=incremental,
            settle=None if settle_minutes is None else dt.timedelta(minutes=settle_minutes),
            batch_revisions=batch_size,
            bulk_connections=connections,
            dry_run=dry_run,
            typed=typed,
            engine_memory=engine_memory,
            bulk_memory=bulk_memory,
        )
        try:
            result = run_restore(
                archive,
                target,
                options,
                endpoint_url=endpoint_url,
                progress=progress_for(sys.stderr, quiet=quiet or json_out),
            )
        except (ConflictError, GapError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(ExitCode.CHECK_FAILED) from None
    doc = result.to_json()
    if report is not None:
        report.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    if json_out:
        echo_json(doc)
    else:
        for line in result.summary_lines():
            typer.echo(line)
    hashes_differ = result.data_hashes is not None and not result.data_hashes.ok
    raise typer.Exit(ExitCode.CHECK_FAILED if result.refused or hashes_differ else ExitCode.OK)


@app.command("restore-split")
def restore_split(
    output: Annotated[
        str,
        typer.Argument(
            help="An empty folder or s3://bucket/prefix for the shards and their manifest (on Athena: "
            "s3:// only)."
        ),
    ],
    shards: Annotated[int, typer.Option(min=1, max=100, help="How many workers will restore (1-100).")],
    archive: Annotated[
        str | None,
        typer.Option(
            "--archive",
            "-a",
            envvar="QLDB_ARCHIVE_URL",
            help="Plan here, on DuckDB: the Parquet archive, a folder or s3://bucket/prefix.",
        ),
    ] = None,
    athena_database: Annotated[
        str | None,
        typer.Option(
            envvar="QLDB_ARCHIVE_ATHENA_DATABASE",
            help="Plan on Athena instead, over this Glue database (made by `qldb-archive athena deploy`).",
        ),
    ] = None,
    athena_workgroup: Annotated[
        str,
        typer.Option(
            envvar="QLDB_ARCHIVE_ATHENA_WORKGROUP",
            help="With --athena-database: the workgroup (its results location, encryption).",
        ),
    ] = "qldb-archive",
    table: Annotated[
        list[str] | None, typer.Option("--table", "-t", help="Include only this QLDB table (repeatable).")
    ] = None,
    as_of_block: Annotated[
        int | None, typer.Option(min=0, help="Include the blocks up to this block sequence number.")
    ] = None,
    as_of_time: Annotated[
        str | None, typer.Option(help="Include the blocks committed by this time, ISO 8601; UTC if no zone.")
    ] = None,
    allow_gaps: Annotated[
        bool, typer.Option(help="Split even when revisions or block summaries are missing (reported).")
    ] = False,
    memory_limit: Annotated[
        str, typer.Option(help="With --archive: the local engine's (DuckDB's) memory limit.")
    ] = "640MB",
    dry_run: Annotated[
        bool, typer.Option(help="Plan only (on Athena too): print what the split would hold; write nothing.")
    ] = False,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
    endpoint_url: EndpointOption = None,
    athena_endpoint_url: Annotated[
        str | None, typer.Option(help="Athena endpoint (tests); the AWS default otherwise.")
    ] = None,
) -> None:
    """Plan a restore once and split the archive into shards, one per worker, for large archives.

    Asks the plan's questions of the whole archive (tables, conflicts, gaps, the point in time)
    and refuses as restore would; then writes each shard's revisions (a document-id hash range)
    and the block summaries under OUTPUT, and the manifest last. The plan runs on DuckDB here
    (--archive) or on Athena (--athena-database: the same SQL, written by UNLOAD, so no machine
    reads the whole archive). Then run one restore per shard, in parallel, into the same
    database: qldb-archive restore OUTPUT TARGET --shard i/N. Each reads only its shard.
    Exit 0 split, 1 refused (gaps or conflicts; nothing written), 2 unusable input.

    Example: qldb-archive restore-split s3://restore-work/split/ --shards 8 --athena-database qldb_archive
    """
    from athena.local import LocalEngine, check_memory_limit
    from firehose_transform.storage import open_location
    from restore.errors import ConflictError, GapError
    from restore.split import AthenaSplitEngine, LocalSplitEngine, SplitOptions, split_archive

    with cli_errors():
        if (archive is None) == (athena_database is None):
            raise QldbArchiveError(
                "give --archive (plan here) or --athena-database (plan on Athena), one of them"
            )
        if as_of_block is not None and as_of_time is not None:
            raise QldbArchiveError("give --as-of-block or --as-of-time, not both")
        options = SplitOptions(
            shards=shards,
            tables=tuple(table or ()),
            as_of_block=as_of_block,
            as_of_time=None if as_of_time is None else _parse_time(as_of_time),
            allow_gaps=allow_gaps,
            dry_run=dry_run,
        )
        location = open_location(output, endpoint_url=endpoint_url)
        progress = progress_for(sys.stderr, quiet=quiet or json_out)
        try:
            if athena_database is not None:
                import boto3

                from athena.remote import AthenaEngine
                from athena.views import check_database_name

                if not location.is_s3:
                    raise QldbArchiveError(f"Athena writes to S3 only: give an s3:// OUTPUT, not {output!r}")
                client = boto3.client("athena", endpoint_url=athena_endpoint_url)
                athena = AthenaEngine(client, athena_workgroup, check_database_name(athena_database))
                manifest = split_archive(
                    AthenaSplitEngine(athena, location),
                    location,
                    options,
                    archive=f"athena:{athena_database}",
                    progress=progress,
                )
            else:
                assert archive is not None
                with LocalEngine.open(
                    archive, endpoint_url=endpoint_url, memory_limit=check_memory_limit(memory_limit)
                ) as engine:
                    engine.index_history()
                    manifest = split_archive(
                        LocalSplitEngine(engine, location),
                        location,
                        options,
                        archive=archive,
                        progress=progress,
                    )
        except (ConflictError, GapError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(ExitCode.CHECK_FAILED) from None
    exit_code = ExitCode.CHECK_FAILED if manifest.refused else ExitCode.OK
    if json_out:
        echo_json(manifest.to_json())
        raise typer.Exit(exit_code)
    cut = "every block" if manifest.block_cut is None else f"blocks up to {manifest.block_cut}"
    done = "would split" if dry_run else "split"
    typer.echo(
        f"{done} {manifest.archive} ({cut}, planned on {manifest.engine}) into {shards} shard(s) at {output}"
    )
    for t in manifest.tables:
        typer.echo(f"  {t.table_name}: {t.documents} documents, {t.revisions} revisions, {t.deletes} deletes")
    if manifest.gaps:
        for gap in manifest.gaps[:10]:
            typer.echo(f"  gap: {gap.describe()}")
        if len(manifest.gaps) > 10:
            typer.echo(f"  ... and {len(manifest.gaps) - 10} more gap(s)")
    if manifest.refused:
        typer.echo(f"error: refused: {manifest.refused}", err=True)
    elif not dry_run:
        typer.echo(
            "restore each shard (in parallel, into one database): "
            f"qldb-archive restore {output} TARGET --shard i/{shards}"
        )
    raise typer.Exit(exit_code)


@app.command()
def parity(
    archive: ArchiveArgument,
    target: Annotated[
        str,
        typer.Argument(
            envvar=TARGET_ENVVAR,
            show_envvar=True,
            help="The restored or replicated database: sqlite:///, mysql:// or postgresql:// URL.",
        ),
    ],
    table: Annotated[
        list[str] | None, typer.Option("--table", "-t", help="Check only this QLDB table (repeatable).")
    ] = None,
    table_map: Annotated[
        list[str] | None, typer.Option(help="QLDB_NAME=target_name, as given to restore (repeatable).")
    ] = None,
    deep: Annotated[
        bool,
        typer.Option(
            help="Also compare every document's JSON (canonical: key order and spaces ignored), to catch "
            "data changed without its content_hash. Reads every row: slower."
        ),
    ] = False,
    max_ids: Annotated[int, typer.Option(min=0, help="Differences listed per table in the report.")] = 100,
    report: Annotated[Path | None, typer.Option(help="Also write the JSON report here.")] = None,
    cache: Annotated[
        str | None,
        typer.Option(
            envvar=PARITY_CACHE_ENVVAR,
            show_envvar=True,
            help="Keep the archive side's index here (a folder or s3://bucket/prefix, as protected as "
            "the archive) so the next run reads only new archive objects. See docs/parity.md.",
        ),
    ] = None,
    no_cache: Annotated[
        bool,
        typer.Option("--no-cache", help="Ignore the cache (even from the environment): read everything."),
    ] = False,
    rebuild_cache: Annotated[
        bool,
        typer.Option(help="Read every archive object and rewrite the cache (run so now and then)."),
    ] = False,
    rebuild_after_days: Annotated[
        float | None,
        typer.Option(
            min=0,
            envvar="QLDB_ARCHIVE_PARITY_REBUILD_DAYS",
            show_envvar=True,
            help="Rebuild the cache when its last full read is older than this many days.",
        ),
    ] = None,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
    endpoint_url: EndpointOption = None,
) -> None:
    """Prove TARGET equals the archive's current state. Exit 0 equal, 1 differs, 2 unusable input.

    Compares counts, then checksums of 256 hash buckets of document ids computed inside each
    database, then only the rows of buckets that differ: missing, extra, stale version, content
    differs, newer in the target. What the scheduled parity job runs. With --cache, a run whose
    cached archive objects are all still there unchanged is warm (reads only the new ones);
    anything else is cold (reads every object, rewrites the cache); the report says which.

    Example: qldb-archive parity ./archive postgresql://postgres@127.0.0.1/test --json

    Example: qldb-archive parity s3://bucket/archive "$URL" --cache s3://bucket/parity-cache/
    """
    from restore.identifiers import parse_table_map
    from restore.parity import check_parity

    with cli_errors():
        result = check_parity(
            archive,
            target,
            tables=tuple(table or ()),
            table_map=parse_table_map(table_map or ()),
            deep=deep,
            max_ids=max_ids,
            endpoint_url=endpoint_url,
            cache=None if no_cache else cache or None,
            rebuild_cache=rebuild_cache,
            rebuild_after_days=rebuild_after_days,
            progress=progress_for(sys.stderr, quiet=quiet or json_out),
        )
    doc = result.to_json()
    if report is not None:
        report.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    if json_out:
        echo_json(doc)
    else:
        for line in result.summary_lines():
            typer.echo(line)
    raise typer.Exit(ExitCode.OK if result.equal else ExitCode.CHECK_FAILED)


athena_app = typer.Typer(
    help="Athena: print or deploy the tables, views and named queries.", no_args_is_help=True
)
app.add_typer(athena_app, name="athena")


DatabaseOption = Annotated[str, typer.Option(help="Glue database name (lower-case, digits, _).")]
LocationOption = Annotated[
    str, typer.Option(help="s3:// location of the archive (the Firehose destination prefix).")
]
WorkgroupOption = Annotated[str, typer.Option(help="Athena workgroup to create or update.")]
ResultsOption = Annotated[str, typer.Option(help="s3:// prefix for Athena query results (encrypted).")]


def _plan(database: str, location: str, workgroup: str, results: str, kms_key: str | None) -> DeployPlan:
    from athena.deploy import DeployPlan

    return DeployPlan(
        database=database,
        location=location,
        workgroup=workgroup,
        results_location=results,
        encryption="SSE_KMS" if kms_key else "SSE_S3",
        kms_key=kms_key,
    )


@athena_app.command("sql")
def athena_sql(
    database: DatabaseOption = "qldb_archive",
    location: LocationOption = "s3://YOUR-ARCHIVE-BUCKET/archive/",
    workgroup: WorkgroupOption = "qldb-archive",
    results: ResultsOption = "s3://YOUR-RESULTS-BUCKET/athena/",
) -> None:
    """Print the DDL, views and named queries exactly as `athena deploy` would run them.

    Example: qldb-archive athena sql --database dmv --location s3://my-archive/qldb/
    """
    from athena.deploy import render_plan, steps_sql

    with cli_errors():
        typer.echo(steps_sql(render_plan(_plan(database, location, workgroup, results, None))))


@athena_app.command("typed")
def athena_typed(
    table: Annotated[str, typer.Argument(help="QLDB table name, as in QLDB (case-sensitive).")],
    archive: ArchiveOption,
    database: DatabaseOption = "qldb_archive",
    endpoint_url: EndpointOption = None,
) -> None:
    """Infer a QLDB table's columns from the archive and print its typed view (regenerate on demand).

    Scalar fields become typed columns, nested structs and lists stay JSON text, decimals stay
    varchar so no digit is lost. Run the printed SQL in Athena, or pass the table to deploy.

    Example: qldb-archive athena typed VehicleRegistration --database dmv --archive ./archive
    """
    from athena.local import LocalEngine
    from athena.typed import infer_table_columns, render_typed_view

    with cli_errors(), LocalEngine.open(archive, endpoint_url=endpoint_url) as engine:
        columns = infer_table_columns(engine, table)
        typer.echo(render_typed_view(table, columns, database=database).strip().rstrip(";") + ";")


@athena_app.command("deploy")
def athena_deploy(
    location: LocationOption,
    results: ResultsOption,
    database: DatabaseOption = "qldb_archive",
    workgroup: WorkgroupOption = "qldb-archive",
    kms_key: Annotated[
        str | None, typer.Option(help="KMS key for query results (SSE_KMS); SSE_S3 when omitted.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print every step and its SQL; call no AWS API.")
    ] = False,
    endpoint_url: Annotated[
        str | None, typer.Option(help="Athena/Glue endpoint (tests); the AWS default otherwise.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Create or update the workgroup, database, tables, views and named queries. Idempotent.

    Uses the standard AWS credential chain (environment, profile, role).

    Example: qldb-archive athena deploy --location s3://archive/qldb/ --results s3://results/ --dry-run
    """
    from athena.deploy import clients_from_session, deploy, render_plan, steps_sql

    with cli_errors():
        plan = _plan(database, location, workgroup, results, kms_key)
        if dry_run:
            steps = render_plan(plan)
        else:
            athena_client, glue_client = clients_from_session(endpoint_url=endpoint_url)
            steps = deploy(plan, athena=athena_client, glue=glue_client)
    if json_out:
        echo_json([{"kind": s.kind, "name": s.name, "action": s.action, "sql": s.sql} for s in steps])
    elif dry_run:
        for step in steps:
            if step.sql is None:  # an API call (workgroup): show the request instead
                typer.echo(
                    f"-- {step.kind} {step.name}: API request\n-- {json.dumps(step.request, default=str)}\n"
                )
        typer.echo(steps_sql(steps))
    else:
        for step in steps:
            typer.echo(f"{step.action:<10} {step.kind:<12} {step.name}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for everything the demo writes.")] = Path("demo-output"),
    revisions: Annotated[int, typer.Option(min=1, help="Revisions the simulated ledger commits.")] = 20_000,
    quiet: QuietOption = False,
) -> None:
    """Run the whole pipeline locally, with no AWS and no server.

    Simulates a DMV ledger (with duplicates, reordering and KPL aggregation), archives its stream
    through the real Firehose Lambda handler into Parquet, queries the archive's views on DuckDB,
    restores it into SQLite (current and history tables), proves the database equals the archive
    (parity), and verifies the archive and the journal export against the ledger's digest: every
    revision hash, block hash and chain link. Everything it writes is under --out.

    Example: qldb-archive demo --out ./demo-output --revisions 5000
    """
    from qldb_archive.demo import run_demo

    with quiet_lambda_logs(), cli_errors():
        ok = run_demo(
            out, revisions=revisions, echo=typer.echo, progress=progress_for(sys.stderr, quiet=quiet)
        )
    raise typer.Exit(ExitCode.OK if ok else ExitCode.CHECK_FAILED)


def main() -> None:
    """Console script entry point."""
    app()
