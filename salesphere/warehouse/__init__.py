"""The warehouse (BigQuery): table definitions, setup, and the SQL that runs in it."""
