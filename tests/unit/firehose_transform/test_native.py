"""The transform compiled by mypyc (what the x86_64 Lambda bundle runs) answers exactly as the sources do.

`infra.native` compiles the transform's hot modules; the bundle ships them beside the sources.
Here both run on the same events (real records, simulated ledgers through a Kinesis source and
direct PUT, tricky Ion values, the bad-input corpus, thousands of mutated records) and every
response must be identical: results, data, partition keys, failures.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from amazon.ion import simpleion

from firehose_transform.handler import transform_event
from infra.native import NATIVE_MODULES, NativeBuild, NativeBuildError, build_native, host_architecture
from tests.unit.firehose_transform.conftest import Simulated, build_event
from tests.unit.firehose_transform.test_bad_input import corpus

EVENTS = Path(__file__).resolve().parents[2] / "events"

# Ion a revision's data may hold: every rule of the Ion text writer and of the JSON projection
TRICKY_DATA = [
    "{a: 9.0, b: 9., c: -0., d: 1.2d30, e: 0d-7, f: 123456789012345678901234567890.123}",
    "{t: [2007T, 2007-02T, 1963-08-19T, 2019-12-11T07:20Z, 2019-12-11T07:20:51.245Z]}",
    "{t: [2019-12-11T07:20:51.2450-00:00, 2019-12-11T07:20:51.123456789+05:45]}",
    "{s: ['b c', 'null', '$10', $x, '', sym], q: \"q\\\"\\\\\\n\\x01é\\u2028\"}",
    '{b: {{aGk=}}, c: {{"hi"}}, e: {{}}}',
    "a::'b c'::{x: m::1, 'y z': [null.int, (a b)], x: 2}",
    "{n: [null, null.struct, null.string, null.timestamp, null.decimal, null.blob, null.list]}",
    "{f: [1e0, nan, -inf, +inf, 1e-5, -0e0, 1.7976931348623157e308, 5e-324]}",
    "{i: [9007199254740991, 9007199254740993, -9007199254740993, 0x7f, 0b101, 12345678901234567890123]}",
    "{deep: {a: {b: {c: [1, [2, [3, {d: e::f::g}]]]}}}, 'with space': true, '': false}",
    "{repeated: 1, repeated: 2, $0: 3}",
    "{sexp: (+ 1 2 (a::b c)), list: a::[1, 2]}",
]


@pytest.fixture(scope="module")
def native() -> NativeBuild:
    try:
        return build_native()
    except NativeBuildError as exc:
        message = f"the compiled transform cannot be built here: {exc}"
        if os.environ.get("CI") == "true" and host_architecture() == "x86_64":
            pytest.fail(message)
        pytest.skip(message)


def with_data(real_revision_text: bytes, data: str) -> bytes:
    record = simpleion.loads(real_revision_text)
    record["payload"]["revision"]["data"] = simpleion.loads(data)
    return bytes(simpleion.dumps(record, binary=True))


def mutated(datas: list[bytes], count: int, seed: int) -> list[bytes]:
    """`count` records derived from `datas` by byte flips, cuts, insertions and splices."""
    rng = random.Random(seed)
    out: list[bytes] = []
    for _ in range(count):
        b = bytearray(rng.choice(datas))
        for _ in range(rng.randint(1, 3)):
            op = rng.randrange(4)
            i = rng.randrange(len(b)) if b else 0
            if op == 0 and b:
                b[i] ^= 1 << rng.randrange(8)
            elif op == 1:
                del b[i : i + rng.randint(1, 8)]
            elif op == 2:
                b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
            else:
                other = rng.choice(datas)
                j = rng.randrange(len(other))
                b[i:] = other[j:]
        out.append(bytes(b))
    return out


def all_events(real: Any, simulated: Simulated, simulated_direct_put: Simulated) -> list[dict[str, Any]]:
    events = [
        json.loads((EVENTS / n).read_text())
        for n in ("firehoseKinesisSourceEvent.json", "firehoseDirectPutEvent.json")
    ]
    events += simulated.events() + simulated_direct_put.events()
    tricky = [with_data(real.revision_text, d) for d in TRICKY_DATA]
    events.append(build_event([*tricky, real.revision_text, real.block_summary_text, real.wallet_text]))
    events.append(build_event(list(real.kpl_aggregates), kinesis=False))
    events.append(build_event([data for data, _ in corpus(real).values()]))
    seeds = [real.revision, real.block_summary, *real.kpl_aggregates, *tricky]
    bad = mutated(seeds, 3000, seed=20261204)
    events += [build_event(list[bytes | str](bad[i : i + 250])) for i in range(0, len(bad), 250)]
    return events


RUNNER = """
import json, sys
sys.path.insert(0, sys.argv[1])
import firehose_transform.handler as h
names = [m[:-3].replace("/", ".") for m in sys.argv[4].split(",")]
compiled = [n for n in names if sys.modules[n].__file__.endswith(".so")]
assert compiled == names, f"not compiled: {sorted(set(names) - set(compiled))}"
events = json.load(open(sys.argv[2]))
json.dump([h.transform_event(e) for e in events], open(sys.argv[3], "w"))
"""


def test_compiled_transform_answers_as_the_sources(
    native: NativeBuild, real: Any, simulated: Simulated, simulated_direct_put: Simulated, tmp_path: Path
) -> None:
    # GIVEN events of every kind the Lambda meets, good and bad
    events = all_events(real, simulated, simulated_direct_put)
    (tmp_path / "events.json").write_text(json.dumps(events))
    # WHEN the compiled modules transform them in a fresh interpreter
    env = dict(os.environ, POWERTOOLS_LOG_LEVEL="CRITICAL")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            RUNNER,
            str(native.path),
            str(tmp_path / "events.json"),
            str(tmp_path / "out.json"),
            ",".join(NATIVE_MODULES),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    compiled = json.loads((tmp_path / "out.json").read_text())
    # THEN every response equals the pure-Python transform's, record by record
    expected = [transform_event(e) for e in events]
    assert len(compiled) == len(expected)
    results = 0
    for event, got, want in zip(events, compiled, expected, strict=True):
        for rec, g, w in zip(event["records"], got["records"], want["records"], strict=True):
            assert g == w, rec["recordId"]
            results += 1
    outcomes = [r["result"] for resp in expected for r in resp["records"]]
    assert outcomes.count("Ok") > 1000  # both paths ran
    assert outcomes.count("ProcessingFailed") > 1000
    assert results == len(outcomes)


def test_compiled_modules_need_no_newer_glibc_than_lambdas(native: NativeBuild) -> None:
    from infra.native import LAMBDA_GLIBC, glibc_required

    assert len(native.files) == len(NATIVE_MODULES) + 1  # and mypyc's shared runtime library
    for rel in native.files:
        assert glibc_required(native.path / rel) <= LAMBDA_GLIBC, rel
