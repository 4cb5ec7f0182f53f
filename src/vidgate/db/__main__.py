"""``python -m vidgate.db``: migrate the database whose URL comes on standard input to the
newest schema, then exit (0 when done). ``vidgate serve`` runs it when its database is not
at the newest revision, so the serving process never loads Alembic (``engine.migrate``)."""

from __future__ import annotations

import asyncio
import sys

from vidgate.db.engine import migrate_url


def main() -> None:
    url = sys.stdin.read().strip()
    if not url:
        sys.exit("vidgate.db: no database URL on standard input")
    asyncio.run(migrate_url(url))


if __name__ == "__main__":
    main()
