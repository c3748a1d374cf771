"""`JsonFloat`, in a module of its own: the transform's hot modules are compiled, this one never is.

mypyc (`infra.native`) compiles `firehose_transform.normalise` for the Lambda, and cannot
compile a subclass of a built-in type; kept here, the class is the same Python class whether
`normalise` runs compiled or not.
"""

from __future__ import annotations

__all__ = ["JsonFloat"]


class JsonFloat(float):
    """A projected float: a `float` that orjson refuses, so that `ion_to_json_text` writes it.

    orjson writes floats in a shorter form than Python (``1e-5`` against ``1e-05``), and the
    projection's text must never change: content hashes are taken of it (`restore.content`).
    """

    __slots__ = ()
