"""The Alembic history builds exactly the schema the models describe."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from portal import create_app
from portal.extensions import db
from tests.conftest import _create_database


def test_migrations_match_the_models(app):
    with app.app_context(), db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_every_migration_goes_down_and_up_again_and_still_matches(backend, tmp_path, pki_dir):
    """The history must work on the embedded default (SQLite) and on PostgreSQL, both ways."""
    from flask_migrate import downgrade, upgrade

    if backend == "sqlite":
        url, drop = f"sqlite:///{tmp_path / 'roundtrip.db'}", lambda: None
    else:
        url, drop = _create_database(tmp_path, "roundtrip")
        if url.startswith("sqlite"):
            pytest.skip("PostgreSQL is not reachable (CI always has it)")
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, "DEV_PKI_DIR": str(pki_dir)})
    try:
        with app.app_context():
            upgrade()
            downgrade(revision="base")
            assert sa.inspect(db.engine).get_table_names() in ([], ["alembic_version"])
            upgrade()
            with db.engine.connect() as connection:
                assert compare_metadata(MigrationContext.configure(connection), db.metadata) == []
            db.engine.dispose()
    finally:
        drop()
