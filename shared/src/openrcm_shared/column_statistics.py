"""Planner statistics of the columns nothing filters on, for service migrations.

Autovacuum's ANALYZE samples up to 30 000 rows of a table and, per column, sorts the sample to
find its common values and histogram. For a JSONB column that is one `jsonb` comparison per
step of the sort, the costliest part of analysing the tables a claim grows (a claim's timeline,
lines, facts): measured on the intake benchmark at 300 claims/s, ~8 % of a core in bursts of
0.2-0.3 s of CPU, at the API's priority, each lifting the API's latency. Statistics of a column
no query compares serve no plan, so those columns get none (`SET STATISTICS 0`, PostgreSQL's
"ALTER TABLE": the planner then uses its defaults for that column, as for an expression).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def _statements(columns: Mapping[str, Sequence[str]], target: int) -> list[str]:
    return [f"ALTER TABLE {table} ALTER COLUMN {column} SET STATISTICS {target}"
            for table, names in columns.items() for column in names]


def without_statistics(op, columns: Mapping[str, Sequence[str]]) -> None:  # noqa: ANN001
    """Collect no planner statistics for these columns ({table: [column, ...]})."""
    for statement in _statements(columns, 0):
        op.execute(statement)


def with_default_statistics(op, columns: Mapping[str, Sequence[str]]) -> None:  # noqa: ANN001
    """Undo `without_statistics` (-1: the server's default_statistics_target)."""
    for statement in _statements(columns, -1):
        op.execute(statement)
