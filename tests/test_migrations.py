"""The models and the migrations describe one schema: a database migrated to head has exactly
the tables, columns, types and indexes the models declare, so Alembic's autogenerate proposes
nothing (it would otherwise drop an index the code relies on)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core.db import get_engine
from migrations.models import metadata


def test_a_database_migrated_to_head_matches_the_models(dual_db: str) -> None:
    engine = get_engine()
    assert engine.dialect.name == dual_db
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == [], differences
