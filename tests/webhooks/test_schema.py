"""The 0004 migration creates exactly the webhook tables ``tables.py`` describes, and reverts."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect

from vidgate.db.engine import MIGRATIONS, migrate, open_database
from vidgate.db.tables import webhook_deliveries, webhook_endpoints


async def test_migration_matches_the_table_definitions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'v.db'}"
    db = open_database(url)
    await migrate(db)
    await db.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        schema = inspect(conn)
        for table in (webhook_endpoints, webhook_deliveries):
            columns = {c["name"]: c["nullable"] for c in schema.get_columns(table.name)}
            assert columns == {c.name: c.nullable for c in table.columns}, table.name
            indexes = {i["name"]: bool(i["unique"]) for i in schema.get_indexes(table.name)}
            expected = {i.name: bool(i.unique) for i in table.indexes}
            assert expected.items() <= indexes.items(), table.name

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.downgrade(config, "0003")
        assert not inspect(conn).has_table("webhook_deliveries")
        command.upgrade(config, "head")
        assert inspect(conn).has_table("webhook_deliveries")
    engine.dispose()
