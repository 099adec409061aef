"""The billing ledger: one durable row per request or job, read back through OpenAI's Usage and Costs shapes.

    model      LedgerRow (what a request ends as) and the RowSink protocol request code records into
    schema     tables (SQLAlchemy Core); migrations/ (Alembic) creates and evolves them; migrate runs it
    store      LedgerStore ABC + from_url → sqlite (default, a file in the data dir) | postgres
    writer     LedgerWriter, the RowSink: batched, off the hot path, spill files (spill) when the DB is down
    runtime    open_ledger(settings) → Ledger(sink, store): one per process (API lifespan, job worker)
    report     the Usage/Costs API shapes: buckets, page cursors, result objects (pure)
"""

from .model import DiscardingSink, Endpoint, LedgerAttempt, LedgerLine, LedgerRow, RowSink, RowStatus

__all__ = ["DiscardingSink", "Endpoint", "LedgerAttempt", "LedgerLine", "LedgerRow", "RowSink", "RowStatus"]
