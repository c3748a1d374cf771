"""Benchmark `journal.ion_hash` against ionhash 1.2.1 on amazon-ion 0.9.3, in the same run.

One revision = `ion_hash(metadata)` + `ion_hash(data)` of a DMV-like QLDB revision (the shape of
the VehicleRegistration documents in shared/testdata/qldb-real/aws-cli). Both sides parse the same
binary Ion (as QLDB streams deliver it) before the clock starts and hash every freshly parsed
object once per pass; the best of `--repeat` passes is reported. Time is the process's CPU time,
so that other load on a shared machine counts against neither side.

The baseline runs in a throwaway virtualenv (ionhash does not import with amazon-ion >= 0.12),
created on first use under ~/.cache/qldb-archive/, as a subprocess that prints its rate and
digests as JSON, so the script also checks that both implementations agree.

    python benchmarks/bench_ion_hash.py --size 20000 [--repeat 3] [--no-baseline] [--json]

Exit 0; 1 when the digests disagree; 2 when the baseline cannot be set up (see --no-baseline).
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TypedDict

from amazon.ion import simpleion

from journal.ion_hash import ion_hash

BASELINE_VENV = Path.home() / ".cache" / "qldb-archive" / "bench-ionhash-0.9.3"
BASELINE_PACKAGES = ("amazon.ion==0.9.3", "ionhash==1.2.1")
BASELINE_LABEL = "ionhash 1.2.1 on amazon-ion 0.9.3"
GOAL_RATIO = 2.0  # and >= 30,000 revisions/s on one core

# Runs inside the baseline venv: same documents, same work, same timing as `measure_ours`.
BASELINE_SCRIPT = """
import base64, json, sys, time
from amazon.ion import simpleion
import ionhash  # noqa: F401  (adds ion_hash() to the simpleion value classes)
data, repeat = open(sys.argv[1], "rb").read(), int(sys.argv[2])
best, digests = float("inf"), []
for _ in range(repeat):
    pairs = [(d["metadata"], d["data"]) for d in simpleion.loads(data, single_value=False)]
    start = time.process_time()
    digests = [(m.ion_hash("SHA256"), d.ion_hash("SHA256")) for m, d in pairs]
    best = min(best, time.process_time() - start)
b64 = lambda b: base64.b64encode(b).decode()
print(json.dumps({"rate": len(pairs) / best, "digests": [[b64(m), b64(d)] for m, d in digests]}))
"""

_DOCUMENT = (
    '{{blockAddress:{{strandId:"KmA3ZZca7vAIiJAK9S5Iwl",sequenceNo:{block}}},'
    "hash:{{{{mHVex/yjHAWjFPpwhBuH2GKXmKJjK2FBa9faqoUVNtg=}}}},"
    'data:{{VIN:"{vin}",LicensePlateNumber:"{plate}",State:"WA",PendingPenaltyTicketAmount:{amount},'
    "ValidFromDate:{valid_from},ValidToDate:{valid_to},"
    'Owners:{{PrimaryOwner:{{PersonId:"{owner}"}},SecondaryOwners:[{{PersonId:"{second}"}}]}},'
    'City:"{city}"}},'
    'metadata:{{id:"{doc_id}",version:{version},txTime:{tx_time},txId:"{tx_id}"}}}}'
)
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class Figures(TypedDict):
    """What `--json` prints."""

    size: int
    repeat: int
    ours_per_s: float
    baseline: str | None
    baseline_per_s: float | None
    ratio: float | None
    goal_ratio: float
    digests_agree: int | None


def make_documents(size: int, seed: int = 100) -> bytes:
    """`size` distinct DMV-like revisions as a binary Ion stream (deterministic)."""
    rng = random.Random(seed)

    def ident(n: int) -> str:
        return "".join(rng.choice(_ALPHABET) for _ in range(n))

    lines = []
    for i in range(size):
        lines.append(
            _DOCUMENT.format(
                block=100 + i,
                vin=ident(17).upper(),
                plate=ident(11).upper(),
                amount=f"{rng.randrange(0, 100000) / 100:.2f}",
                valid_from=f"20{rng.randrange(10, 20)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
                valid_to=f"20{rng.randrange(20, 30)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
                owner=ident(22),
                second=ident(22),
                city=rng.choice(["Everett", "Seattle", "Tacoma", "Olympia", "Spokane"]),
                doc_id=ident(22),
                version=rng.randrange(0, 40),
                tx_time=f"2019-09-16T19:{rng.randrange(60):02d}:{rng.randrange(60):02d}.{rng.randrange(1000):03d}Z",
                tx_id=ident(22),
            )
        )
    return bytes(
        simpleion.dumps(simpleion.loads("\n".join(lines), single_value=False), sequence_as_stream=True)
    )


def measure_ours(data: bytes, repeat: int) -> tuple[float, list[tuple[bytes, bytes]]]:
    """Best revisions/s over `repeat` passes, each over freshly parsed objects; and the digests."""
    best, digests = float("inf"), []
    for _ in range(repeat):
        pairs = [(d["metadata"], d["data"]) for d in simpleion.loads(data, single_value=False)]
        start = time.process_time()
        digests = [(ion_hash(m), ion_hash(d)) for m, d in pairs]
        best = min(best, time.process_time() - start)
    return len(digests) / best, digests


def ensure_baseline_venv() -> Path:
    """The baseline's interpreter, creating its virtualenv on first use."""
    python = BASELINE_VENV / "bin" / "python"
    check = [str(python), "-c", "import ionhash, amazon.ion.simpleion"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"setting up the baseline in {BASELINE_VENV} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(BASELINE_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *BASELINE_PACKAGES], check=True)
    subprocess.run(check, check=True)
    return python


def measure_baseline(data: bytes, repeat: int) -> tuple[float, list[tuple[bytes, bytes]]]:
    """The baseline's revisions/s and digests, from its own interpreter."""
    python = ensure_baseline_venv()
    with tempfile.NamedTemporaryFile("wb", suffix=".10n") as docs:
        docs.write(data)
        docs.flush()
        out = subprocess.run(
            [str(python), "-c", BASELINE_SCRIPT, docs.name, str(repeat)],
            check=True,
            capture_output=True,
            text=True,
        )
    result: dict[str, Any] = json.loads(out.stdout)
    digests = [(base64.b64decode(m), base64.b64decode(d)) for m, d in result["digests"]]
    return float(result["rate"]), digests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=20000, help="revisions per pass (default 20000)")
    parser.add_argument("--repeat", type=int, default=3, help="passes; the best is kept (default 3)")
    parser.add_argument("--no-baseline", action="store_true", help="skip ionhash 1.2.1 / amazon-ion 0.9.3")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    data = make_documents(args.size)
    ours, our_digests = measure_ours(data, args.repeat)
    figures = Figures(
        size=args.size,
        repeat=args.repeat,
        ours_per_s=round(ours),
        baseline=None,
        baseline_per_s=None,
        ratio=None,
        goal_ratio=GOAL_RATIO,
        digests_agree=None,
    )
    if not args.no_baseline:
        try:
            baseline, base_digests = measure_baseline(data, args.repeat)
        except (subprocess.CalledProcessError, OSError) as exc:
            detail = getattr(exc, "stderr", None) or ""
            print(
                f"error: cannot run the baseline ({BASELINE_LABEL}) in {BASELINE_VENV}: {exc}\n{detail}"
                "hint: check network access to PyPI, delete that folder to rebuild it, or pass --no-baseline",
                file=sys.stderr,
            )
            return 2
        figures["baseline"] = BASELINE_LABEL
        figures["baseline_per_s"] = round(baseline)
        figures["ratio"] = round(ours / baseline, 2)
        figures["digests_agree"] = sum(a == b for a, b in zip(our_digests, base_digests, strict=True))

    if args.json:
        print(json.dumps(figures))
    else:
        print(f"ours (journal.ion_hash, amazon-ion 0.15): {figures['ours_per_s']:>10,.0f} revisions/s")
        if figures["baseline_per_s"] is not None:
            print(f"baseline ({BASELINE_LABEL}): {figures['baseline_per_s']:>10,.0f} revisions/s")
            print(f"ratio ours/baseline: {figures['ratio']:.2f} (goal >= {GOAL_RATIO:.2f})")
            print(f"digests agree: {figures['digests_agree']}/{args.size}")
    if figures["digests_agree"] is not None and figures["digests_agree"] != args.size:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
