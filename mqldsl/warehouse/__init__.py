"""The SQL back end: a checked policy compiled into one SQL query (built as a
sqlglot expression tree and generated for each dialect), run on an embedded
DuckDB or printed for Spark and the warehouses.

:mod:`~mqldsl.warehouse.compiler` is the front (``compile_sql``); it shares the work
out to ``support``, ``expressions``, ``timeline`` and ``query``.
:mod:`~mqldsl.warehouse.engine` runs the query on DuckDB, over the tables that
``tables`` loads, and reads its rows back with ``rows``."""
