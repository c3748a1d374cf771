"""The verifier on every verifying case of VECTORS.md, the known-bad samples, tampering and streams.

Expected hashes are the base64 strings of shared/testdata/qldb-real/VECTORS.md, typed here.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from amazon.ion import simpleion
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journal.errors import JournalError
from journal.ion_framing import ion_bytes_problem
from journal.ion_hash import ion_hash
from journal.merkle import dot, merkle
from journal.proofs import LedgerDigest, parse_get_revision
from journal.records import (
    Block,
    BlockAddress,
    BlockSummaryRecord,
    Revision,
    RevisionDetailsRecord,
    RevisionKind,
    block_from_ion,
    parse_stream_records,
    revision_from_ion,
)
from journal.simulate import SimulationConfig, simulate_blocks, write_simulation
from journal.simulate.stream import block_stream_records
from journal.sources import Item, UnreadableRecord
from journal.verify import (
    BLOCK_RULES,
    DELETED_CANDIDATES,
    REVISION_RULES,
    ChainLink,
    Check,
    Outcome,
    Result,
    Status,
    VerificationReport,
    check_chain_link,
    check_revision_hash,
    verify_items,
    verify_paths,
)

if TYPE_CHECKING:
    from journal.ion_values import IonValue

DMV = "amazon-qldb-streams-dmv-sample-lambda-python"
BLOCK_100 = "aws-cli/block-KmA3ZZca7vAIiJAK9S5Iwl-100.ion"


def b64(s: str) -> bytes:
    return base64.b64decode(s)


def enc(h: bytes) -> str:
    return base64.b64encode(h).decode()


def ion_copy(value: IonValue) -> IonValue:
    """A deep copy of a parsed Ion value (deepcopy breaks amazon-ion timestamps)."""
    return simpleion.loads(simpleion.dumps(value, binary=True))


def outcomes(results: list[Result]) -> list[Outcome]:
    return [r.outcome for r in results]


def run_rules(block: Block) -> list[Result]:
    out = [r for rule in BLOCK_RULES for r in rule(block)]
    return out + [r for rev in block.revisions for rule in REVISION_RULES for r in rule(rev)]


def stream_record(qldb_real: Path, rel: str) -> BlockSummaryRecord | RevisionDetailsRecord:
    (rec,) = parse_stream_records((qldb_real / rel).read_bytes(), source=rel)
    assert isinstance(rec, BlockSummaryRecord | RevisionDetailsRecord)
    return rec


def load_block(qldb_real: Path, rel: str = BLOCK_100) -> Block:
    return block_from_ion(simpleion.loads((qldb_real / rel).read_text()), revisions_field="revisions")


# ---- aws-cli block 100 -------------------------------------------------------------------------


def test_aws_cli_block_100_intermediate_values(qldb_real: Path) -> None:
    block = load_block(qldb_real)
    (rev,) = block.revisions
    e = block.entries_hash_list
    assert ion_hash(rev.metadata) == b64("vNbkf63AqIvow6E3VraH1FfPrZxyU0OkJucmJGWte1s=")
    assert ion_hash(rev.data) == b64("ykAB8EB0tXxIGmJ9Y9mwppjP1Z9S3Iw+vKN1L9ZXW3A=")
    assert dot(ion_hash(rev.metadata), ion_hash(rev.data)) == b64(
        "mHVex/yjHAWjFPpwhBuH2GKXmKJjK2FBa9faqoUVNtg="
    )
    assert rev.revision_hash == e[1] == b64("mHVex/yjHAWjFPpwhBuH2GKXmKJjK2FBa9faqoUVNtg=")
    assert ion_hash(block.transaction_info) == e[3] == b64("TvTXygML1bMe6NvEZtGkX+KR+W/EJl4qD1mmV77KZQg=")
    statement = block.transaction_info["statements"][0] if block.transaction_info is not None else None
    assert statement is not None
    assert ion_hash(statement["statement"]) == b64("jcgPX2vsOJ0waum4qmDYtn1pCAT9xKNIzA+2k4R+mxA=")
    assert bytes(statement["statementDigest"]) == b64("jcgPX2vsOJ0waum4qmDYtn1pCAT9xKNIzA+2k4R+mxA=")
    assert dot(e[0], e[1]) == b64("FcYGbPfJCvZcTmLD4AcZ2BGlLJX0P/mfzdkdsRKR1w0=")
    assert dot(e[2], e[3]) == b64("VV1rdaNuf+yJZVGlmsM6gr2T52QvBO8Lg+KgpjcnWAU=")
    assert merkle(e) == block.entries_hash == b64("l05LOsiKV14SDbuaYnH7uwXzUvqzIwUiRLXGbTyj/nY=")
    assert dot(block.entries_hash, block.previous_block_hash) == b64(
        "NoChM92yKRuJAb/jeLd1VnYn4DHiWIf071ACfic9uHc="
    )
    assert block.block_hash == b64("NoChM92yKRuJAb/jeLd1VnYn4DHiWIf071ACfic9uHc=")


def test_aws_cli_block_100_passes_every_rule(qldb_real: Path) -> None:
    results = run_rules(load_block(qldb_real))
    assert {r.check for r in results} >= {
        Check.REVISION_HASH,
        Check.STATEMENT_DIGEST,
        Check.TRANSACTION_INFO,
        Check.REVISIONS_ROOT,
        Check.ENTRIES_HASH,
        Check.BLOCK_HASH,
        Check.REVISION_IN_BLOCK,
    }
    assert set(outcomes(results)) == {Outcome.PASSED}


def test_aws_cli_folder_verifies_with_both_proofs(qldb_real: Path) -> None:
    report = verify_paths([qldb_real / "aws-cli"])
    assert report.ok, report.summary_lines()
    assert report.check(Check.PROOF).counts[Outcome.PASSED] == 2  # get-block and get-revision -> digest
    assert report.check(Check.BLOCK_HASH).status is Status.PASSED
    assert report.check(Check.REVISION_HASH).status is Status.PASSED
    # blocks 0-99 are not here: the digest at tip 123 cannot be recomputed, and the report says why
    digest = report.check(Check.DIGEST)
    assert digest.status is Status.NOT_CHECKABLE
    assert digest.note is not None
    assert "starts at block 100" in digest.note


# ---- stream BLOCK_SUMMARY block 3 + REVISION_DETAILS -------------------------------------------


def test_stream_block_3_intermediate_values(qldb_real: Path) -> None:
    rec = stream_record(qldb_real, f"{DMV}/block_summary_record.ion")
    assert isinstance(rec, BlockSummaryRecord)
    block = rec.block
    e = block.entries_hash_list
    assert merkle(e) == block.entries_hash == b64("RNGQGcOKCGLCo5S+hs1eboanNrocIzRiqzzq1s99G/Q=")
    assert dot(block.entries_hash, block.previous_block_hash) == b64(
        "lu425dAWsmvzxuNHTbn4ID4mLo0bWKkjLP2Uel4wrPQ="
    )
    assert block.block_hash == b64("lu425dAWsmvzxuNHTbn4ID4mLo0bWKkjLP2Uel4wrPQ=")
    assert ion_hash(block.transaction_info) == e[3] == b64("Lz3XWBwtWyBA/Lhj+UoLhbajPQ8Mk9N4j0HJlrm2OTg=")
    leaves = [s.revision_hash for s in block.summaries]
    assert merkle(leaves) == e[1] == b64("vJFOcsNRM14gsIBSEnwPhMVgRAWf/4EUW5gPYbtmDv0=")
    assert block.transaction_info is not None
    statement = block.transaction_info["statements"][0]["statement"]
    assert ion_hash(statement) == b64("t5wbRW+wIi/X0n3iPhFJtbt2qpzzgWkOXIFC4xJHp4o=")
    assert set(outcomes(run_rules(block))) == {Outcome.PASSED}


def test_stream_reconstructed_revision_details(qldb_real: Path) -> None:
    rec = stream_record(qldb_real, f"{DMV}/revision_details_record.reconstructed.ion")
    assert isinstance(rec, RevisionDetailsRecord)
    rev = rec.revision
    assert ion_hash(rev.metadata) == b64("W4Vu08IPmm+RN14ckrCKKtFaDMhGRF04l1Xm/JUh4R4=")
    assert ion_hash(rev.data) == b64("vqwGYhSd4cV7G4YnxaJJk9CaYWFm8LFIu9zFNlAxzHs=")
    assert dot(ion_hash(rev.metadata), ion_hash(rev.data)) == b64(
        "vJFOcsNRM14gsIBSEnwPhMVgRAWf/4EUW5gPYbtmDv0="
    )
    assert outcomes(check_revision_hash(rev)) == [Outcome.PASSED]


def test_stream_block_and_revision_verify_together(qldb_real: Path) -> None:
    paths = [
        qldb_real / DMV / "revision_details_record.reconstructed.ion",
        qldb_real / DMV / "block_summary_record.ion",
    ]
    report = verify_paths(paths)
    assert report.ok, report.summary_lines()
    assert report.check(Check.REVISION_IN_BLOCK).status is Status.PASSED
    assert report.check(Check.STATEMENT_DIGEST).status is Status.PASSED
    assert report.datasets[0].first_block == BlockAddress("HbD9IggL584EPHmfwjmVz0", 3)


def test_block_summary_alone_is_incomplete(qldb_real: Path) -> None:
    report = verify_paths([qldb_real / DMV / "block_summary_record.ion"])
    assert not report.ok
    assert report.check(Check.REVISION_IN_BLOCK).status is Status.INCOMPLETE
    assert report.check(Check.BLOCK_HASH).status is Status.PASSED  # a gap is not a hash failure
    (finding,) = report.findings
    assert (finding.outcome, finding.doc_id) == (Outcome.GAP, "D35qd3e2prnJYmtKW6kok1")
    assert "not in the input" in finding.message


# ---- proof-only receipts -----------------------------------------------------------------------


def test_receipts_verify(qldb_real: Path) -> None:
    folder = qldb_real / "amazon-qldb-rest-api"
    report = verify_paths(sorted(folder.glob("receipt_*.json")))
    assert report.ok
    assert report.check(Check.PROOF).counts[Outcome.PASSED] == 4
    assert report.check(Check.PROOF).counts[Outcome.FAILED] == 0


# ---- revision-hash-only vectors ----------------------------------------------------------------


def revision_from_history(entry: dict[str, Any], data_ion: str | None = None) -> Revision:
    """A JSON-converted history entry back to Ion: txTime as an Ion timestamp (ms precision, Z)."""
    h = entry["hash"]
    hash_bytes = bytes(h[str(i)] for i in range(32)) if isinstance(h, dict) else b64(h)
    md = entry["metadata"]
    if data_ion is None:
        data_ion = "{" + ",".join(f"{k}:{json.dumps(v)}" for k, v in entry["data"].items()) + "}"
    addr = entry["blockAddress"]
    text = (
        f'{{blockAddress:{{strandId:"{addr["strandId"]}",sequenceNo:{addr["sequenceNo"]}}},'
        f"hash:{{{{{enc(hash_bytes)}}}}},data:{data_ion},"
        f'metadata:{{id:"{md["id"]}",version:{md["version"]},txTime:{md["txTime"]},txId:"{md["txId"]}"}}}}'
    )
    return revision_from_ion(simpleion.loads(text))


def test_kvs_nodejs_sample_revision(qldb_real: Path) -> None:
    out = parse_get_revision(
        (qldb_real / "amazon-qldb-kvs-nodejs/sampleRevisionResponse.json").read_bytes(), source="s"
    )
    assert (out.revision.doc_id, out.revision.version) == ("5vHoYG5m0OZCsqdYCs8XLH", 13)
    assert outcomes(check_revision_hash(out.revision)) == [Outcome.PASSED]


def test_unidentified_revision_proof(qldb_real: Path) -> None:
    rel = "unidentified-repos/revision_proof_BfvSL5DYUKE3spPDrWewCC-85.json"
    out = parse_get_revision((qldb_real / rel).read_bytes(), source=rel)
    assert outcomes(check_revision_hash(out.revision)) == [Outcome.PASSED]


def test_qldb_wallet_user1_v0(qldb_real: Path) -> None:
    rec = stream_record(qldb_real, "qldb-wallet/revision_details_user1_v0.ion")
    assert isinstance(rec, RevisionDetailsRecord)
    assert rec.revision.revision_hash == b64("KGQhnyXb/BltXwCY9WPc0y1B8JLk/ok6w5YiaKweOvc=")
    assert outcomes(check_revision_hash(rec.revision)) == [Outcome.PASSED]


@pytest.mark.parametrize(
    ("rel", "count"),
    [("amazon-qldb-rest-api/history_INV01.json", 2), ("amazon-qldb-rest-api/history_INVOICE001.json", 1)],
)
def test_rest_api_histories_with_txtime_retyped(qldb_real: Path, rel: str, count: int) -> None:
    entries = json.loads((qldb_real / rel).read_text())
    assert len(entries) == count
    for entry in entries:
        assert outcomes(check_revision_hash(revision_from_history(entry))) == [Outcome.PASSED]


def test_history_movies_with_rating_retyped_as_decimal(qldb_real: Path) -> None:
    entries = json.loads((qldb_real / "unidentified-repos/history_movies_json_converted.json").read_text())
    data = [
        '{Name:"Interstellar",Rating:8.7,Rank:32,Producer:"Christopher Nolan"}',
        '{Name:"Interstellar",Rank:32,Producer:"Christopher Nolan",Rating:9.0}',
        '{Name:"Interstellar",Rating:8.7,Rank:32}',
    ]
    for entry, ion in zip(entries, data, strict=True):
        assert outcomes(check_revision_hash(revision_from_history(entry, ion))) == [Outcome.PASSED]
    # as JSON gave them (a float, an int 9) the types are wrong and the hashes do not match
    assert outcomes(check_revision_hash(revision_from_history(entries[1]))) == [Outcome.FAILED]
    assert outcomes(check_revision_hash(revision_from_history(entries[0]))) == [Outcome.FAILED]


# ---- known-bad samples -------------------------------------------------------------------------


def test_revision_details_as_published_fails(qldb_real: Path) -> None:
    report = verify_paths(
        [
            qldb_real / DMV / "block_summary_record.ion",
            qldb_real / DMV / "revision_details_record.as_published.ion",
        ]
    )
    assert not report.ok
    assert report.check(Check.REVISION_HASH).status is Status.FAILED
    first = report.findings[0]
    assert (first.check, first.doc_id, first.version, first.block) == (
        Check.REVISION_HASH,
        "D35qd3e2prnJYmtKW6kok1",
        0,
        BlockAddress("HbD9IggL584EPHmfwjmVz0", 3),
    )
    assert "vJFOcsNRM14gsIBSEnwPhMVgRAWf/4EUW5gPYbtmDv0=" in first.message


def test_qldb_wallet_user2_v7_fails(qldb_real: Path) -> None:
    report = verify_paths([qldb_real / "qldb-wallet/revision_details_user2_v7.ion"])
    assert not report.ok
    assert report.findings[0].doc_id == "KWBzbimkHYSBjEgqiAFfIc"
    assert report.findings[0].version == 7


def test_kvs_nodejs_ledger_info_proof_fails(qldb_real: Path) -> None:
    report = verify_paths([qldb_real / "amazon-qldb-kvs-nodejs/sampleLedgerInfo.json"])
    assert not report.ok
    assert report.check(Check.PROOF).status is Status.FAILED
    assert report.findings[0].block == BlockAddress("KbW0e2QaN2uBUWzRYGeOCe", 21)


# ---- deleted and redacted revisions (no real data: candidates from VECTORS.md) ----------------


def stream_revision_without_data(
    qldb_real: Path, *, revision_hash: bytes, data_hash: bytes | None
) -> Revision:
    rec = stream_record(qldb_real, f"{DMV}/revision_details_record.reconstructed.ion")
    assert isinstance(rec, RevisionDetailsRecord)
    ion = ion_copy(rec.revision.ion)
    del ion["data"]
    ion["hash"] = simpleion.loads("{{" + enc(revision_hash) + "}}")
    if data_hash is not None:
        ion["dataHash"] = simpleion.loads("{{" + enc(data_hash) + "}}")
    return revision_from_ion(ion)


def test_deleted_candidates_match_vectors(qldb_real: Path) -> None:
    rec = stream_record(qldb_real, f"{DMV}/revision_details_record.reconstructed.ion")
    md = ion_hash(rec.ion["payload"]["revision"]["metadata"])
    prefixes = ["KIJwWntf", "W4Vu08IP", "sGcheIFC"]  # VECTORS.md: H1 / H2 / H3 for the stream sample metadata
    values = [formula(md) for _, formula in DELETED_CANDIDATES]
    assert [enc(v)[:8] for v in values] == prefixes
    assert enc(values[1]) == "W4Vu08IPmm+RN14ckrCKKtFaDMhGRF04l1Xm/JUh4R4="  # H2 is H(metadata)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_deleted_revision_is_never_a_plain_pass(qldb_real: Path, index: int) -> None:
    rec = stream_record(qldb_real, f"{DMV}/revision_details_record.reconstructed.ion")
    md = ion_hash(rec.ion["payload"]["revision"]["metadata"])
    name, formula = DELETED_CANDIDATES[index]
    rev = stream_revision_without_data(qldb_real, revision_hash=formula(md), data_hash=None)
    assert rev.kind is RevisionKind.DELETED
    (result,) = check_revision_hash(rev)
    assert result.outcome is Outcome.UNCONFIRMED
    assert result.tag == name
    for candidate, _ in DELETED_CANDIDATES:  # the three candidates are named
        assert candidate in result.reason
    report = verify_items([rev])
    assert report.ok  # unconfirmed is reported, not failed
    assert report.check(Check.REVISION_HASH).status is Status.UNCONFIRMED
    assert report.check(Check.REVISION_HASH).note is not None
    assert name in (report.check(Check.REVISION_HASH).note or "")


def test_deleted_revision_matching_no_candidate_fails(qldb_real: Path) -> None:
    rev = stream_revision_without_data(qldb_real, revision_hash=bytes(32), data_hash=None)
    (result,) = check_revision_hash(rev)
    assert result.outcome is Outcome.FAILED
    assert "matches none of the candidates" in result.reason
    assert all(name in result.reason for name, _ in DELETED_CANDIDATES)


def test_redacted_revision_uses_data_hash(qldb_real: Path) -> None:
    data_hash = b64("vqwGYhSd4cV7G4YnxaJJk9CaYWFm8LFIu9zFNlAxzHs=")  # H(data) of the stream sample
    good = b64("vJFOcsNRM14gsIBSEnwPhMVgRAWf/4EUW5gPYbtmDv0=")
    rev = stream_revision_without_data(qldb_real, revision_hash=good, data_hash=data_hash)
    assert rev.kind is RevisionKind.REDACTED
    assert outcomes(check_revision_hash(rev)) == [Outcome.PASSED]
    bad = stream_revision_without_data(qldb_real, revision_hash=good, data_hash=bytes(32))
    assert outcomes(check_revision_hash(bad)) == [Outcome.FAILED]


# ---- tampering with the aws-cli block -----------------------------------------------------------


def _set(path: list[str | int], value: str) -> Callable[[IonValue], None]:
    def mutate(ion: IonValue) -> None:
        node = ion
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = simpleion.loads(value)

    return mutate


def _flip(path: list[str | int], byte: int) -> Callable[[IonValue], None]:
    def mutate(ion: IonValue) -> None:
        node = ion
        for key in path[:-1]:
            node = node[key]
        h = bytearray(bytes(node[path[-1]]))
        h[byte] ^= 0x01
        node[path[-1]] = simpleion.loads("{{" + enc(bytes(h)) + "}}")

    return mutate


FieldPath = list[str | int]
REV: FieldPath = ["revisions", 0]
STATEMENT: FieldPath = ["transactionInfo", "statements", 0]
HASH_FIELDS: dict[str, FieldPath] = {
    "blockHash": ["blockHash"],
    "entriesHash": ["entriesHash"],
    "previousBlockHash": ["previousBlockHash"],
    "entriesHashList[0]": ["entriesHashList", 0],
    "entriesHashList[1]": ["entriesHashList", 1],
    "entriesHashList[2]": ["entriesHashList", 2],
    "entriesHashList[3]": ["entriesHashList", 3],
    "revision hash": [*REV, "hash"],
    "statementDigest": [*STATEMENT, "statementDigest"],
}
TAMPERING: dict[str, Callable[[IonValue], None]] = {
    "data string": _set([*REV, "data", "VIN"], '"1N4AL11D75C109152"'),
    "data decimal precision 90.25 -> 90.250": _set([*REV, "data", "PendingPenaltyTicketAmount"], "90.250"),
    "data timestamp precision": _set([*REV, "data", "ValidFromDate"], "2017-08-21T00:00Z"),
    "data nested": _set([*REV, "data", "Owners", "PrimaryOwner", "PersonId"], '"BFJKdXhnLRT27sXBnojNGX"'),
    "data string -> symbol": _set([*REV, "data", "City"], "Everett"),
    "metadata version": _set([*REV, "metadata", "version"], "4"),
    "metadata txTime": _set([*REV, "metadata", "txTime"], "2019-09-16T19:37:05.345Z"),
    "metadata txId": _set([*REV, "metadata", "txId"], '"FnQeJBAicTX0Ah32ZnVtSY"'),
    "metadata id": _set([*REV, "metadata", "id"], '"JUJgkIcNbhS2goq8RqLuZ5"'),
    "revision blockAddress": _set([*REV, "blockAddress", "sequenceNo"], "101"),
    "block sequenceNo": _set(["blockAddress", "sequenceNo"], "99"),
    "transactionId": _set(["transactionId"], '"FnQeJBAicTX0Ah32ZnVtSY"'),
    "statement text": _set([*STATEMENT, "statement"], '"DELETE FROM VehicleRegistration"'),
    "statement startTime": _set([*STATEMENT, "startTime"], "2019-09-16T19:37:05.303Z"),
    "documents tableName": _set(
        ["transactionInfo", "documents", "JUJgkIcNbhS2goq8RqLuZ4", "tableName"], '"Person"'
    ),
    **{
        f"{name} byte {byte}": _flip(path, byte) for name, path in HASH_FIELDS.items() for byte in (0, 17, 31)
    },
}


@pytest.mark.parametrize("name", sorted(TAMPERING))
def test_any_change_to_the_block_fails(qldb_real: Path, tmp_path: Path, name: str) -> None:
    ion = simpleion.loads((qldb_real / BLOCK_100).read_text())
    TAMPERING[name](ion)
    path = tmp_path / "block.10n"
    path.write_bytes(simpleion.dumps(ion, binary=True))
    report = verify_paths([path])
    assert not report.ok, name
    assert report.findings[0].outcome is Outcome.FAILED
    assert report.findings[0].block is not None
    assert report.findings[0].block.block_seq in (99, 100, 101)


@pytest.mark.parametrize(
    ("rel", "count"), [("aws-cli/get-block.output.json", 7), ("aws-cli/get-revision.output.json", 10)]
)
def test_any_change_to_a_proof_element_fails(qldb_real: Path, tmp_path: Path, rel: str, count: int) -> None:
    original = json.loads((qldb_real / rel).read_text())
    digest = tmp_path / "get-digest.json"
    digest.write_bytes((qldb_real / "aws-cli/get-digest.output.json").read_bytes())
    proof = simpleion.loads(original["Proof"]["IonText"])
    assert len(proof) == count
    for i in range(count):
        h = bytearray(bytes(proof[i]))
        h[i % 32] ^= 0x40
        hashes = [enc(bytes(x)) if j != i else enc(bytes(h)) for j, x in enumerate(proof)]
        tampered = dict(original, Proof={"IonText": "[" + ",".join("{{" + x + "}}" for x in hashes) + "]"})
        out = tmp_path / f"out{i}.json"
        out.write_text(json.dumps(tampered))
        report = verify_paths([out, digest])
        assert report.check(Check.PROOF).status is Status.FAILED, i
        assert not report.ok


# ---- random byte flips in the Ion binary of simulated blocks ------------------------------------


@cache
def simulated_blocks() -> tuple[Block, ...]:
    return tuple(b.block for b in simulate_blocks(SimulationConfig(revisions=60, seed=11)))


@cache
def rich_block_binary() -> bytes:
    """A user block with several revisions, transactionInfo and (if any) a deleted revision."""
    blocks = [b for b in simulated_blocks() if b.transaction_info is not None and len(b.revisions) >= 2]
    blocks.sort(key=lambda b: (any(r.kind is RevisionKind.DELETED for r in b.revisions), len(b.revisions)))
    return bytes(simpleion.dumps(blocks[-1].ion, binary=True))


def _without_timestamp(value: IonValue) -> bytes:
    copied = ion_copy(value)
    del copied["blockTimestamp"]
    return bytes(simpleion.dumps(copied, binary=True))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_byte_flips_are_detected(data: st.DataObject) -> None:
    original = rich_block_binary()
    pos = data.draw(st.integers(min_value=0, max_value=len(original) - 1), label="position")
    xor = data.draw(st.integers(min_value=1, max_value=255), label="xor")
    flipped = bytearray(original)
    flipped[pos] ^= xor
    if ion_bytes_problem(bytes(flipped)) is not None:
        return  # refused before parsing (amazon-ion's C reader can loop forever on such bytes)
    try:
        value = simpleion.loads(bytes(flipped))
        block = block_from_ion(value, revisions_field="revisions")
    except Exception:  # unparseable: the verifier reports such a record as unreadable
        return
    report = verify_items([block])
    if report.ok:
        # the only field no hash covers: blockTimestamp (QLDB keeps it outside the hashed entries)
        assert _without_timestamp(value) == _without_timestamp(simpleion.loads(original)), (pos, xor)


def test_a_flip_in_a_kinesis_record_is_a_finding_not_an_exception(tmp_path: Path) -> None:
    original = rich_block_binary()
    line = {"shardId": "shardId-000000000000", "sequenceNumber": "1", "partitionKey": "k", "data": ""}
    lines = []
    for pos in (0, 4, len(original) // 2):
        flipped = bytearray(original)
        flipped[pos] ^= 0xFF
        lines.append(json.dumps(dict(line, data=base64.b64encode(bytes(flipped)).decode())))
    lines.append("not json")
    path = tmp_path / "shard-0.jsonl"
    path.write_text("\n".join(lines) + "\n")
    report = verify_paths([path])
    assert not report.ok
    assert report.check(Check.RECORD_PARSE).status is Status.FAILED
    assert report.check(Check.RECORD_PARSE).counts[Outcome.FAILED] >= 2
    assert any("shard-0.jsonl:4" in f.message for f in report.findings)


# ---- streams: duplicates, order, gaps, conflicts -----------------------------------------------


def stream_items(blocks: tuple[Block, ...]) -> list[Block | Revision]:
    items: list[Block | Revision] = []
    for block in blocks:
        for user in block_stream_records(block, stream_arn="arn:aws:qldb:us-east-1:1:stream/l/s"):
            for rec in parse_stream_records(user.data, source="sim"):
                if isinstance(rec, BlockSummaryRecord):
                    items.append(rec.block)
                elif isinstance(rec, RevisionDetailsRecord):
                    items.append(rec.revision)
    return items


def shuffled(items: list[Any], seed: int = 5) -> list[Any]:
    out = list(items)
    random.Random(seed).shuffle(out)
    return out


def test_stream_items_duplicated_and_out_of_order_verify() -> None:
    blocks = simulated_blocks()
    items = stream_items(blocks)
    report = verify_items(shuffled(items + items[::3]))
    assert report.ok, report.summary_lines()
    (ds,) = report.datasets
    assert ds.blocks == len(blocks)
    assert ds.revisions == sum(len(b.revisions) for b in blocks)
    assert ds.duplicate_blocks + ds.duplicate_revisions == len(items[::3])
    assert ds.first_block is not None
    assert ds.first_block.block_seq == 0
    assert report.check(Check.CHAIN).counts[Outcome.PASSED] == len(blocks) - 1
    assert report.check(Check.DUPLICATES).status is Status.PASSED
    # the same journal read in order, as an export, gives the same digest
    export = verify_items(list(blocks), ordered=True)
    assert export.ok
    assert export.datasets[0].digest == ds.digest is not None


def test_a_missing_revision_is_a_gap_naming_it() -> None:
    items = stream_items(simulated_blocks())
    dropped = next(i for i in items if isinstance(i, Revision) and i.block_seq > 5)
    report = verify_items(shuffled([i for i in items if i is not dropped]))
    assert not report.ok
    assert report.check(Check.REVISION_IN_BLOCK).status is Status.INCOMPLETE
    assert report.check(Check.REVISION_HASH).status in (Status.PASSED, Status.UNCONFIRMED)
    gap = next(f for f in report.findings if f.outcome is Outcome.GAP)
    assert (gap.doc_id, gap.block) == (dropped.doc_id, dropped.address)


def test_a_missing_block_is_a_chain_gap() -> None:
    items = stream_items(simulated_blocks())
    report = verify_items([i for i in items if not (isinstance(i, Block) and i.block_seq == 7)])
    assert not report.ok
    assert report.check(Check.CHAIN).status is Status.INCOMPLETE
    gap = next(f for f in report.findings if f.check is Check.CHAIN)
    assert gap.block is not None
    assert gap.block.block_seq == 8
    assert gap.message == "block 7 missing"


def test_a_tampered_revision_in_the_stream_names_it() -> None:
    items = stream_items(simulated_blocks())
    target = next(
        i for i in items if isinstance(i, Revision) and i.kind is RevisionKind.LIVE and i.block_seq > 5
    )
    ion = ion_copy(target.ion)
    first_field = next(iter(ion["data"]))
    ion["data"][first_field] = simpleion.loads('"tampered"')
    tampered = revision_from_ion(ion, table_name=target.table_name, table_id=target.table_id)
    report = verify_items(shuffled([tampered if i is target else i for i in items]))
    assert not report.ok
    first = report.findings[0]
    assert (first.check, first.doc_id, first.version, first.block) == (
        Check.REVISION_HASH,
        target.doc_id,
        target.version,
        target.address,
    )


def test_a_tampered_duplicate_is_caught_even_when_the_first_copy_is_good() -> None:
    items = stream_items(simulated_blocks())
    target = next(i for i in items if isinstance(i, Revision) and i.kind is RevisionKind.LIVE)
    ion = ion_copy(target.ion)
    ion["metadata"]["txTime"] = simpleion.loads("2000-01-01T00:00:00.000Z")
    report = verify_items([*items, revision_from_ion(ion)])
    assert not report.ok
    assert report.findings[0].doc_id == target.doc_id


def test_conflicting_duplicate_revision_with_another_hash() -> None:
    items = stream_items(simulated_blocks())
    target = next(i for i in items if isinstance(i, Revision))
    ion = ion_copy(target.ion)
    ion["hash"] = simpleion.loads("{{" + enc(bytes(32)) + "}}")
    report = verify_items([*items, revision_from_ion(ion)])
    assert not report.ok
    assert report.check(Check.REVISION_IN_BLOCK).status is Status.FAILED
    assert any("conflicting copy" in f.message for f in report.findings)


def test_conflicting_duplicate_revisions_without_their_block() -> None:
    items = [i for i in stream_items(simulated_blocks()) if isinstance(i, Revision)]
    ion = ion_copy(items[0].ion)
    ion["hash"] = simpleion.loads("{{" + enc(bytes(32)) + "}}")
    report = verify_items([*items, items[0], revision_from_ion(ion)])
    assert not report.ok
    assert report.check(Check.DUPLICATES).counts[Outcome.FAILED] == 1
    assert report.check(Check.DUPLICATES).counts[Outcome.PASSED] == 1
    assert report.check(Check.REVISION_IN_BLOCK).status is Status.NOT_CHECKABLE


def test_conflicting_duplicate_block() -> None:
    blocks = simulated_blocks()
    target = blocks[10]
    ion = ion_copy(target.ion)
    ion["blockHash"] = simpleion.loads("{{" + enc(bytes(32)) + "}}")
    copy_block = block_from_ion(ion, revisions_field="revisions")
    report = verify_items([*blocks, copy_block])
    assert not report.ok
    assert report.check(Check.DUPLICATES).status is Status.FAILED
    assert report.findings[0].block == target.address


def test_export_order_is_checked() -> None:
    blocks = list(simulated_blocks())
    blocks[3], blocks[4] = blocks[4], blocks[3]
    report = verify_items(blocks, ordered=True)
    assert not report.ok
    assert report.check(Check.CHAIN).status is Status.FAILED


def test_a_broken_link_names_the_block() -> None:
    a = ChainLink(BlockAddress("s", 1), b"\x01" * 32, b"")
    b = ChainLink(BlockAddress("s", 2), b"\x03" * 32, b"\x02" * 32)
    (result,) = check_chain_link(a, b)
    assert (result.outcome, result.block) == (Outcome.FAILED, BlockAddress("s", 2))
    assert check_chain_link(None, b) == []


def test_digest_compares_with_a_saved_digest() -> None:
    blocks = simulated_blocks()
    clean = verify_items(list(blocks), ordered=True)
    computed = clean.datasets[0].digest
    tip = blocks[-1].address
    assert computed is not None
    good = LedgerDigest(computed, tip, "saved")
    assert (
        verify_items(list(blocks), ordered=True, digests=[good]).check(Check.DIGEST).status is Status.PASSED
    )
    bad = LedgerDigest(bytes(32), tip, "saved")
    report = verify_items(shuffled(list(blocks)), digests=[bad])
    assert report.check(Check.DIGEST).status is Status.FAILED
    beyond = LedgerDigest(computed, BlockAddress(tip.strand_id, tip.block_seq + 5), "saved")
    note = verify_items(list(blocks), ordered=True, digests=[beyond]).check(Check.DIGEST).note
    assert note is not None
    assert "ends at block" in note


def test_findings_are_capped_and_ordered() -> None:
    blocks = simulated_blocks()
    items: list[Item] = [UnreadableRecord(f"file:{n}", "garbage") for n in range(30)]
    report = verify_items([*reversed(blocks), *items], max_findings=5)
    assert len(report.findings) == 5
    assert report.check(Check.RECORD_PARSE).counts[Outcome.FAILED] == 30
    unconfirmed = report.check(Check.REVISION_HASH).counts[Outcome.UNCONFIRMED]  # deleted revisions
    assert report.findings_total == 30 + unconfirmed
    assert [f.message for f in report.findings] == [f"file:{n}: garbage" for n in range(5)]  # failures first
    lines = report.summary_lines()
    assert lines[-1] == f"  ... and {25 + unconfirmed} more (--json lists up to 5)"
    assert lines[0].startswith("FAILED: record_parse")


def test_report_json_shape(qldb_real: Path) -> None:
    report = verify_paths([qldb_real / "aws-cli"])
    data = json.loads(json.dumps(report.to_json()))
    assert data["ok"] is True
    assert set(data["checks"]) == {c.value for c in Check}
    assert data["checks"]["proof"] == {"status": "passed", "counts": {"passed": 2}, "note": None}
    assert data["datasets"][0]["first_block"] == "KmA3ZZca7vAIiJAK9S5Iwl:100"
    assert data["findings_omitted"] == 0


def test_json_export_blocks_report_not_checkable_hashes(qldb_real: Path) -> None:
    block = load_block(qldb_real)
    json_block = block_from_ion(block.ion, revisions_field="revisions", ion_exact=False)
    report = verify_items([json_block], ordered=True)
    assert report.ok
    assert report.check(Check.REVISION_HASH).status is Status.NOT_CHECKABLE
    assert report.check(Check.TRANSACTION_INFO).status is Status.NOT_CHECKABLE
    assert "JSON" in (report.check(Check.REVISION_HASH).note or "")
    for check in (Check.REVISIONS_ROOT, Check.ENTRIES_HASH, Check.BLOCK_HASH, Check.STATEMENT_DIGEST):
        assert report.check(check).status is Status.PASSED


def test_unusable_input_raises(tmp_path: Path) -> None:
    with pytest.raises(JournalError):
        verify_paths([tmp_path / "missing"])


def test_verified_report_lines(qldb_real: Path) -> None:
    report: VerificationReport = verify_paths([qldb_real / "aws-cli"])
    lines = report.summary_lines()
    assert lines[0] == "VERIFIED"
    assert any(line.startswith("  proof") and "2 passed" in line for line in lines)


def _blocks_iter(blocks: tuple[Block, ...]) -> Iterator[Block]:
    yield from blocks


def test_items_may_be_a_generator() -> None:
    assert verify_items(_blocks_iter(simulated_blocks()), ordered=True).ok


# ---- a simulated run, written to files as docs/files.md describes ------------------------------


def simulate(out: Path, **overrides: Any) -> dict[str, Any]:
    """Write a small simulation; return its truth summary (the expected values)."""
    write_simulation(out, SimulationConfig(revisions=150, seed=4, export_blocks_per_object=20, **overrides))
    summary: dict[str, Any] = json.loads((out / "truth" / "summary.json").read_text())
    return summary


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("sim")
    return out, simulate(out)


def deleted_in(summary: dict[str, Any]) -> int:
    return sum(kinds["deleted"] for kinds in summary["counts"].values())


def test_a_simulated_run_verifies_in_every_output(sim: tuple[Path, dict[str, Any]]) -> None:
    out, truth = sim
    report = verify_paths([out])
    assert report.ok, report.summary_lines()
    assert [d.kind for d in report.datasets] == ["kinesis", "firehose", "export"]
    for ds in report.datasets:
        assert ds.blocks == truth["blocks"]
        assert ds.revisions == truth["revisions"]
        assert ds.last_block == BlockAddress(truth["tip"]["strandId"], truth["tip"]["sequenceNo"])
        assert ds.digest is not None
        assert enc(ds.digest) == truth["digest"]
    assert report.datasets[0].duplicate_blocks + report.datasets[0].duplicate_revisions > 0
    # every deleted revision is reported unconfirmed (H1, as the simulator writes them), once per copy
    revision_hash = report.check(Check.REVISION_HASH)
    assert revision_hash.status is Status.UNCONFIRMED
    assert revision_hash.counts[Outcome.UNCONFIRMED] == 3 * deleted_in(truth)
    assert revision_hash.counts[Outcome.FAILED] == 0


def test_a_saved_digest_is_compared(sim: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out, truth = sim
    tip = truth["tip"]
    ion_tip = f'{{strandId:"{tip["strandId"]}",sequenceNo:{tip["sequenceNo"]}}}'
    saved = tmp_path / "get-digest.json"
    saved.write_text(json.dumps({"Digest": truth["digest"], "DigestTipAddress": {"IonText": ion_tip}}))
    report = verify_paths([out / "export", saved])
    assert report.check(Check.DIGEST).status is Status.PASSED
    saved.write_text(json.dumps({"Digest": enc(bytes(32)), "DigestTipAddress": {"IonText": ion_tip}}))
    report = verify_paths([out / "kinesis", saved])
    assert not report.ok
    assert report.check(Check.DIGEST).status is Status.FAILED


@pytest.mark.parametrize("fmt", ["ION_BINARY", "JSON"])
def test_simulated_exports_in_other_formats(tmp_path: Path, fmt: str) -> None:
    truth = simulate(tmp_path, export_format=fmt)
    report = verify_paths([tmp_path / "export"])
    assert report.ok, report.summary_lines()
    assert report.datasets[0].digest is not None
    assert enc(report.datasets[0].digest) == truth["digest"]
    if fmt == "JSON":
        assert report.check(Check.REVISION_HASH).status is Status.NOT_CHECKABLE
        assert report.check(Check.REVISIONS_ROOT).status is Status.PASSED


@pytest.mark.parametrize(
    "overrides",
    [
        {"aggregate": False, "firehose_mode": "direct_put"},
        {"aggregate": True, "firehose_mode": "kinesis_aggregated", "shards": 3, "duplicate_rate": 0.3},
    ],
)
def test_simulated_streams_in_other_modes(tmp_path: Path, overrides: dict[str, Any]) -> None:
    truth = simulate(tmp_path, **overrides)
    report = verify_paths([tmp_path / "kinesis", tmp_path / "firehose"])
    assert report.ok, report.summary_lines()
    assert {enc(d.digest or b"") for d in report.datasets} == {truth["digest"]}


def _tamper_kinesis(folder: Path, doc_pick: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Change the data of one REVISION_DETAILS (every delivered copy); return that revision's truth row."""
    for path in sorted(folder.glob("*.jsonl")):
        lines = path.read_text().splitlines()
        for line in lines:
            data = base64.b64decode(json.loads(line)["data"])
            value = simpleion.loads(data)
            if str(value["recordType"]) != "REVISION_DETAILS":
                continue
            rev = value["payload"]["revision"]
            if rev.get("data") is None or not doc_pick({"doc_id": str(rev["metadata"]["id"])}):
                continue
            field = next(iter(rev["data"]))
            rev["data"][field] = simpleion.loads('"tampered"')
            new = base64.b64encode(simpleion.dumps(value, binary=True)).decode()
            old = json.loads(line)["data"]
            for p in sorted(folder.glob("*.jsonl")):
                p.write_text(p.read_text().replace(old, new))
            md = rev["metadata"]
            return {
                "doc_id": str(md["id"]),
                "version": int(md["version"]),
                "block_seq": int(rev["blockAddress"]["sequenceNo"]),
            }
    raise AssertionError("no revision to tamper with")


def test_tampering_one_stream_record_fails_naming_it(tmp_path: Path) -> None:
    simulate(tmp_path, aggregate=False)
    target = _tamper_kinesis(tmp_path / "kinesis", lambda _: True)
    report = verify_paths([tmp_path / "kinesis"])
    assert not report.ok
    first = report.findings[0]
    assert (first.check, first.doc_id, first.version) == (
        Check.REVISION_HASH,
        target["doc_id"],
        target["version"],
    )
    assert first.block is not None
    assert first.block.block_seq == target["block_seq"]
    assert verify_paths([tmp_path / "export"]).ok  # the other copy is still good


def test_tampering_one_export_revision_fails_naming_it(tmp_path: Path) -> None:
    simulate(tmp_path)
    history = [json.loads(line) for line in (tmp_path / "truth" / "history.jsonl").read_text().splitlines()]
    target = next(r for r in history if r["kind"] == "live" and r["block_seq"] > 30)
    objects = sorted((tmp_path / "export").rglob("*.ion"))
    for path in objects:
        values = simpleion.loads(path.read_bytes(), single_value=False)
        for block in values:
            for rev in block["revisions"]:
                md = rev.get("metadata")
                if (
                    md is not None
                    and str(md["id"]) == target["doc_id"]
                    and int(md["version"]) == target["version"]
                ):
                    rev["metadata"]["txTime"] = simpleion.loads("2019-12-11T07:00:00.001Z")
                    text = "\n".join(
                        simpleion.dumps(v, binary=False, omit_version_marker=True) for v in values
                    )
                    path.write_text(text + "\n")
                    break
    report = verify_paths([tmp_path / "export"])
    assert not report.ok
    first = report.findings[0]
    assert (first.doc_id, first.version) == (target["doc_id"], target["version"])
    assert first.block is not None
    assert first.block.block_seq == target["block_seq"]
