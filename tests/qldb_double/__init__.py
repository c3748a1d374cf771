"""A local TEST DOUBLE of the QLDB session API, for the ``qldb://`` restore target's tests.

QLDB reached end of support on 2025-07-31, so the target cannot be tested against the service.
This double stands in for it: an HTTP server speaking the QLDB Session JSON protocol
(``QLDBSession.SendCommand``: StartSession, StartTransaction, ExecuteStatement, FetchPage,
CommitTransaction with its CommitDigest check, AbortTransaction, EndSession; Ion values as
``IonBinary``), reached by the real pyqldb driver through ``endpoint_url``. It keeps an in-memory
ledger (tables, indexes, documents with their revisions, a block per commit), checks optimistic
concurrency at commit, enforces QLDB's per-transaction quotas, and executes only the PartiQL
subset the target emits (`tests.qldb_double.partiql`): anything else is refused, so the subset is
explicit. It is test code; it is not QLDB.

It runs in the qldb environment (amazon.ion 0.9.3 and ionhash, pyqldb's own dependencies):
`tests.qldb_double.server.start_double` starts it in this process, ``python -m tests.qldb_double``
as a process that prints its URL. Tests read its state and inject faults through ``/double/...``.
This package imports nothing itself, so the main environment can see it without ionhash.
"""
