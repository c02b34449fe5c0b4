"""The SQL back end: a checked policy compiled into one SQL query (built as a
sqlglot expression tree), run on an embedded DuckDB or transpiled for Spark
and the warehouses."""
