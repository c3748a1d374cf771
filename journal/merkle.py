"""The QLDB hash operators: `dot` (the pair combiner) and `merkle` (a tree over an ordered list).

Both were confirmed against real QLDB digests (see shared/QLDB-FORMATS.md): of the eight
plausible orderings of `dot` only "compare as signed bytes from the last byte" reproduces them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_LENGTH = 32


# Adding 128 (mod 256) maps signed bytes -128..127 onto 0..255 in the same order, so reversed,
# translated hashes compare as plain bytes exactly as the signed, last-byte-first rule says.
_SIGNED_ORDER = bytes((b + 128) & 0xFF for b in range(256))


def _signed_key(h: bytes) -> bytes:
    """Sort key for a hash: its bytes as Java (signed) bytes, last byte first."""
    return h[::-1].translate(_SIGNED_ORDER)


def dot(a: bytes, b: bytes) -> bytes:
    """Combine two hashes the way QLDB does.

    An empty side returns the other side unchanged; otherwise the two are ordered by
    comparing them as signed bytes from the last byte to the first, and the smaller goes
    first into SHA-256.

    >>> dot(b"", b"x")
    b'x'
    >>> a, b = bytes(31) + bytes([1]), bytes(31) + bytes([255])  # 255 is -1 as a signed byte
    >>> dot(a, b) == hashlib.sha256(b + a).digest() == dot(b, a)
    True
    """
    if not a:
        return b
    if not b:
        return a
    if _signed_key(a) <= _signed_key(b):
        return hashlib.sha256(a + b).digest()
    return hashlib.sha256(b + a).digest()


def merkle(hashes: Sequence[bytes]) -> bytes:
    """Merkle root of an ordered list: pair left to right, an odd last node is carried up.

    >>> merkle([])
    b''
    >>> merkle([b"a" * 32]) == b"a" * 32
    True
    """
    level = list(hashes)
    if not level:
        return b""
    while len(level) > 1:
        nxt = [dot(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def fold_proof(leaf: bytes, proof: Iterable[bytes]) -> bytes:
    """Fold a QLDB proof (list of sibling hashes, innermost first) onto a leaf hash."""
    acc = leaf
    for sibling in proof:
        acc = dot(acc, sibling)
    return acc


class IncrementalMerkle:
    """Merkle root of a growing list in O(log n) memory (the journal digest over block hashes).

    Equivalent to `merkle(all_leaves)`: completed subtrees of size 2^k are kept on a stack and
    combined when two of the same size meet; `root()` then folds the ragged right edge the same
    way `merkle` carries an odd node up.
    """

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (subtree size, root), sizes strictly decreasing
        self.count = 0

    def add(self, leaf: bytes) -> None:
        """Append a leaf."""
        size, node = 1, leaf
        while self._stack and self._stack[-1][0] == size:
            _, left = self._stack.pop()
            node, size = dot(left, node), size * 2
        self._stack.append((size, node))
        self.count += 1

    def root(self) -> bytes:
        """Root over every leaf added so far (the same value `merkle` gives)."""
        if not self._stack:
            return b""
        # Right edge: the smallest subtree is carried up until it meets a subtree of equal
        # height; in `merkle` that is exactly combining from the right, smallest first.
        _, acc = self._stack[-1]
        for _, left in reversed(self._stack[:-1]):
            acc = dot(left, acc)
        return acc
