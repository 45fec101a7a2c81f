"""Check every SQL statement the platform sends to BigQuery with Google's own analyzer (see .check)."""

from salesphere_tools.sqlcheck.check import StatementResult, analyze_all

__all__ = ["StatementResult", "analyze_all"]
