#!/usr/bin/env python
import os
import sys

# Commands that need a server session of their own: the background worker LISTENs for new jobs, migrate
# builds indexes concurrently. Behind PgBouncer in transaction pooling (DATABASE_POOLER=pgbouncer) they
# connect to PostgreSQL at DATABASE_DIRECT_URL instead, and so do the processes they start (import jobs).
DIRECT_COMMANDS = {"procrastinate", "migrate"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "traitortrack.settings")
    direct_url = os.environ.get("DATABASE_DIRECT_URL")
    if sys.argv[1:2] and sys.argv[1] in DIRECT_COMMANDS and os.environ.get("DATABASE_POOLER") and direct_url:
        os.environ["DATABASE_URL"] = direct_url
        os.environ["DATABASE_POOLER"] = ""
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
