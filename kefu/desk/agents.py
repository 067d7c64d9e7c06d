"""Manage desk agents from the command line.

    python -m kefu.desk.agents add <username> --name <display name> [--max-chats 3]
    python -m kefu.desk.agents password <username>
    python -m kefu.desk.agents list

The password comes from KEFU_AGENT_PASSWORD or a prompt (asked twice); it is
stored only as a scrypt hash. The database is DATABASE_URL (migrated first).
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import List, Optional

from sqlalchemy.exc import IntegrityError

from kefu.core.config import load_settings
from kefu.store.db import make_engine, migrate
from kefu.store.desk import DeskStore

MIN_PASSWORD = 8


def _password() -> str:
    password = os.environ.get("KEFU_AGENT_PASSWORD")
    if password is None:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise SystemExit("the passwords differ")
    if len(password) < MIN_PASSWORD:
        raise SystemExit(f"a password needs at least {MIN_PASSWORD} characters")
    return password


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kefu.desk.agents", description="Kefu desk agents")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add an agent")
    add.add_argument("username")
    add.add_argument("--name", required=True, help="the name shoppers and colleagues see")
    add.add_argument("--max-chats", type=int, default=3, help="chats assigned at once (default 3)")
    password = commands.add_parser("password", help="set an agent's password")
    password.add_argument("username")
    commands.add_parser("list", help="list the agents")
    args = parser.parse_args(argv)

    url = load_settings().database_url
    migrate(url)
    store = DeskStore(make_engine(url))
    if args.command == "add":
        try:
            agent_id = store.add_agent(args.username, args.name, _password(), max_concurrent=args.max_chats)
        except IntegrityError:
            print(f"an agent called {args.username!r} exists already", file=sys.stderr)
            return 1
        store.audit(None, "agent_added", f"agent:{agent_id}", "cli")
        print(f"agent {agent_id} added: {args.username.strip().lower()}")
    elif args.command == "password":
        store.set_password(args.username, _password())
        print("password changed")
    else:
        for agent in store.agents():
            print(f"{agent.id}\t{agent.username}\t{agent.display_name}\tmax {agent.max_concurrent}"
                  f"\t{'online' if agent.online else 'offline'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
