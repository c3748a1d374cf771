"""Saved digests, proofs and receipts from real QLDB output: parsing and fold(dot, proof, leaf) == digest."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from journal.errors import JournalError, ProofParseError
from journal.merkle import dot
from journal.proofs import (
    GetBlockOutput,
    GetRevisionOutput,
    LedgerDigest,
    Proof,
    ProofKind,
    Receipt,
    check_proof,
    parse_get_block,
    parse_get_digest,
    parse_get_revision,
    parse_receipt,
    parse_saved_output,
)
from journal.records import BlockAddress

# Expected values typed from shared/testdata/qldb-real/VECTORS.md.
AWS_DIGEST = "6m6BMXobbJKpMhahwVthAEsN6awgnHK62Qq5McGP1Gk="
AWS_BLOCK_HASH = "NoChM92yKRuJAb/jeLd1VnYn4DHiWIf071ACfic9uHc="
AWS_REVISION_HASH = "mHVex/yjHAWjFPpwhBuH2GKXmKJjK2FBa9faqoUVNtg="
AWS_E0 = "eRSwnmAM7WWANWDd5iGOyK+T4tDXyzUq6HZ/0fgLHos="
AWS_E2_E3 = "VV1rdaNuf+yJZVGlmsM6gr2T52QvBO8Lg+KgpjcnWAU="
AWS_PREVIOUS = "7kewBXhpdbClcZKxhVmpoMHpUGOJtWQD0iY2LPfZkYA="
ROOT_BLOCKS_0_15 = "Tc3apBD1JIJKZ1df2y4vA/nwgNcGb4xnF79QrZd1l64="

RECEIPTS = [
    "amazon-qldb-rest-api/receipt_seq19_tip19.json",
    "amazon-qldb-rest-api/receipt_seq19_tip35.json",
    "amazon-qldb-rest-api/receipt_seq30_tip38.json",
    "amazon-qldb-rest-api/receipt_INVOICE001_seq90_tip91.json",
]


def b64(s: str) -> bytes:
    return base64.b64decode(s)


def load(qldb_real: Path, rel: str) -> bytes:
    return (qldb_real / rel).read_bytes()


@pytest.fixture
def aws_digest(qldb_real: Path) -> LedgerDigest:
    return parse_get_digest(load(qldb_real, "aws-cli/get-digest.output.json"), source="get-digest")


def test_get_digest(aws_digest: LedgerDigest) -> None:
    assert aws_digest.digest == b64(AWS_DIGEST)
    assert aws_digest.tip == BlockAddress("KmA3ZZca7vAIiJAK9S5Iwl", 123)


def test_get_block_proof_folds_to_the_digest(qldb_real: Path, aws_digest: LedgerDigest) -> None:
    out = parse_get_block(load(qldb_real, "aws-cli/get-block.output.json"), source="get-block")
    assert out.proof is not None
    assert out.block.block_hash == b64(AWS_BLOCK_HASH)
    assert (out.proof.kind, out.proof.leaf, len(out.proof.hashes)) == (
        ProofKind.BLOCK,
        b64(AWS_BLOCK_HASH),
        7,
    )
    assert out.proof.root() == b64(AWS_DIGEST)
    assert check_proof(out.proof, aws_digest)


def test_get_revision_proof_folds_to_the_digest(qldb_real: Path, aws_digest: LedgerDigest) -> None:
    out = parse_get_revision(load(qldb_real, "aws-cli/get-revision.output.json"), source="get-revision")
    block = parse_get_block(load(qldb_real, "aws-cli/get-block.output.json"), source="get-block")
    assert out.proof is not None
    assert block.proof is not None
    assert out.proof.leaf == b64(AWS_REVISION_HASH)
    assert len(out.proof.hashes) == 10
    assert check_proof(out.proof, aws_digest)
    # GetRevision proof = [entriesHashList[0], dot(e2,e3), previousBlockHash] + GetBlock proof
    assert out.proof.hashes == (b64(AWS_E0), b64(AWS_E2_E3), b64(AWS_PREVIOUS), *block.proof.hashes)
    assert (out.proof.doc_id, out.proof.version) == ("JUJgkIcNbhS2goq8RqLuZ4", 3)


@pytest.mark.parametrize("rel", RECEIPTS)
def test_receipts_verify(qldb_real: Path, rel: str) -> None:
    receipt = parse_receipt(load(qldb_real, rel), source=rel)
    saved = json.loads(load(qldb_real, rel))
    assert receipt.proof.digest is not None
    assert receipt.proof.digest.digest == b64(saved["LedgerDigest"]["Digest"])
    assert check_proof(receipt.proof, receipt.proof.digest)


def test_receipts_share_the_root_of_blocks_0_to_15(qldb_real: Path) -> None:
    # VECTORS.md: the root of blocks 0..15 appears in all three receipts of strand 1HqUNaR8u8s13eFiSzGZl9.
    for rel in RECEIPTS[:3]:
        assert b64(ROOT_BLOCKS_0_15) in parse_receipt(load(qldb_real, rel), source=rel).proof.hashes


def test_known_bad_ledger_info_proof_fails(qldb_real: Path) -> None:
    receipt = parse_receipt(load(qldb_real, "amazon-qldb-kvs-nodejs/sampleLedgerInfo.json"), source="info")
    assert receipt.proof.digest is not None
    assert not check_proof(receipt.proof, receipt.proof.digest)


@pytest.mark.parametrize(
    ("rel", "kind"),
    [
        ("aws-cli/get-digest.output.json", LedgerDigest),
        ("aws-cli/get-block.output.json", GetBlockOutput),
        ("aws-cli/get-revision.output.json", GetRevisionOutput),
        ("amazon-qldb-kvs-nodejs/sampleRevisionResponse.json", GetRevisionOutput),
        ("amazon-qldb-kvs-nodejs/sampleLedgerInfo.json", Receipt),
        ("unidentified-repos/revision_proof_BfvSL5DYUKE3spPDrWewCC-85.json", GetRevisionOutput),
        *((r, Receipt) for r in RECEIPTS),
    ],
)
def test_parse_saved_output_detects_the_shape(qldb_real: Path, rel: str, kind: type) -> None:
    assert isinstance(parse_saved_output(load(qldb_real, rel), source=rel), kind)


@pytest.mark.parametrize("proof_file", ["aws-cli/get-block.output.json", "aws-cli/get-revision.output.json"])
def test_every_proof_element_matters(qldb_real: Path, aws_digest: LedgerDigest, proof_file: str) -> None:
    out = parse_saved_output(load(qldb_real, proof_file), source=proof_file)
    assert isinstance(out, GetBlockOutput | GetRevisionOutput)
    assert out.proof is not None
    proof = out.proof
    for i in range(len(proof.hashes)):
        for byte in (0, 31):
            h = bytearray(proof.hashes[i])
            h[byte] ^= 0x01
            hashes = (*proof.hashes[:i], bytes(h), *proof.hashes[i + 1 :])
            tampered = Proof(
                kind=proof.kind, leaf=proof.leaf, hashes=hashes, address=proof.address, source="t"
            )
            assert not check_proof(tampered, aws_digest), (i, byte)


def test_a_tampered_leaf_or_digest_fails(qldb_real: Path, aws_digest: LedgerDigest) -> None:
    out = parse_get_block(load(qldb_real, "aws-cli/get-block.output.json"), source="b")
    assert out.proof is not None
    leaf = bytearray(out.proof.leaf)
    leaf[5] ^= 0x80
    bad_leaf = Proof(
        kind=ProofKind.BLOCK, leaf=bytes(leaf), hashes=out.proof.hashes, address=out.proof.address, source="t"
    )
    assert not check_proof(bad_leaf, aws_digest)
    digest = bytearray(aws_digest.digest)
    digest[0] ^= 1
    assert not check_proof(out.proof, LedgerDigest(bytes(digest), aws_digest.tip, "t"))


def test_a_proof_of_another_strand_never_checks(qldb_real: Path, aws_digest: LedgerDigest) -> None:
    out = parse_get_block(load(qldb_real, "aws-cli/get-block.output.json"), source="b")
    assert out.proof is not None
    other = LedgerDigest(aws_digest.digest, BlockAddress("other", 123), "t")
    assert not check_proof(out.proof, other)


def test_proof_is_the_fold_of_dot() -> None:
    a, b, c = bytes(32), bytes(range(32)), bytes(range(1, 33))
    proof = Proof(kind=ProofKind.BLOCK, leaf=a, hashes=(b, c), address=BlockAddress("s", 1), source="t")
    assert proof.root() == dot(dot(a, b), c)


def test_get_block_without_proof(qldb_real: Path) -> None:
    data = json.loads(load(qldb_real, "aws-cli/get-block.output.json"))
    del data["Proof"]
    out = parse_get_block(json.dumps(data).encode(), source="b")
    assert out.proof is None


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not json", "not JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"Foo": 1}', "expected get-digest"),
        (
            b'{"Digest": "!!", "DigestTipAddress": {"IonText": "{strandId:\\"s\\",sequenceNo:1}"}}',
            "not base64",
        ),
        (b'{"Digest": "AAAA", "DigestTipAddress": {"IonText": "{strandId:1}"}}', "DigestTipAddress"),
        (b'{"Block": {"IonText": "{"}}', "Block.IonText is not Ion"),
        (b'{"Block": {"IonText": "{a:1}"}}', "Block.IonText"),
        (b'{"Revision": {"IonText": "[1]"}}', "Revision.IonText"),
        (b'{"Revision": {"IonText": "{}"}, "Proof": {"IonText": "[1]"}}', "Revision.IonText"),
        (
            b'{"RevisionHash": "AAAA", "Proof": {"IonText": "[1]"}, '
            b'"BlockAddress": {"IonText": "{strandId:\\"s\\",sequenceNo:1}"}}',
            "is not a blob",
        ),
    ],
)
def test_malformed_outputs_name_the_source(payload: bytes, message: str) -> None:
    with pytest.raises(ProofParseError, match=message) as info:
        parse_saved_output(payload, source="out.json")
    assert isinstance(info.value, JournalError)
    assert info.value.source == "out.json"
    assert "out.json" in str(info.value)
