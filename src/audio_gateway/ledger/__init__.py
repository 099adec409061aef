"""The billing ledger: one durable row per request or job, read back through OpenAI's Usage and Costs shapes."""

from .model import DiscardingSink, Endpoint, LedgerAttempt, LedgerLine, LedgerRow, RowSink, RowStatus

__all__ = ["DiscardingSink", "Endpoint", "LedgerAttempt", "LedgerLine", "LedgerRow", "RowSink", "RowStatus"]
