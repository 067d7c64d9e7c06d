"""Manage desk agents from the command line.

    python -m kefu.desk.agents add <username> --name <display name> [--max-chats 3]
        [--skills presale,aftersale] [--shifts "mon-fri 09:00-18:00"]
    python -m kefu.desk.agents skills <username> presale,aftersale   (empty: every group)
    python -m kefu.desk.agents shifts <username> "mon-fri 09:00-18:00, sat 10:00-16:00"   (empty: off the roster)
    python -m kefu.desk.agents password <username>
    python -m kefu.desk.agents list
    python -m kefu.desk.agents demo      (the demo shop's team, kefu/desk/demo_team.yml)

The password comes from KEFU_AGENT_PASSWORD or a prompt (asked twice); it is
stored only as a scrypt hash. The database is DATABASE_URL (migrated first).
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import List, Optional

import yaml
from sqlalchemy.exc import IntegrityError

from kefu.core.config import load_settings
from kefu.routing.roster import parse_shifts
from kefu.store.db import make_engine, migrate
from kefu.store.desk import DeskStore

MIN_PASSWORD = 8
DEMO_TEAM = Path(__file__).with_name("demo_team.yml")


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
    add.add_argument("--skills", default="", help="skill groups of routing.yml, comma-separated (default: every group)")
    add.add_argument("--shifts", default="", help='the roster, e.g. "mon-fri 09:00-18:00" (default: off the roster)')
    skills = commands.add_parser("skills", help="set an agent's skill groups")
    skills.add_argument("username")
    skills.add_argument("groups", nargs="?", default="")
    shifts = commands.add_parser("shifts", help="set an agent's shifts")
    shifts.add_argument("username")
    shifts.add_argument("shifts", nargs="?", default="")
    password = commands.add_parser("password", help="set an agent's password")
    password.add_argument("username")
    commands.add_parser("list", help="list the agents")
    commands.add_parser("demo", help="add the demo shop's team (one password for all)")
    args = parser.parse_args(argv)

    url = load_settings().database_url
    migrate(url)
    store = DeskStore(make_engine(url))
    try:
        return _run(store, args)
    except ValueError as error:  # an unknown group, a mistyped shift
        print(str(error), file=sys.stderr)
        return 2


def _run(store: DeskStore, args: argparse.Namespace) -> int:
    if args.command == "add":
        return _add(store, args.username, args.name, args.max_chats, args.skills, args.shifts, _password())
    if args.command == "demo":
        team = yaml.safe_load(DEMO_TEAM.read_text(encoding="utf-8"))["agents"]
        secret = _password()
        for member in team:
            _add(store, member["username"], member["name"], int(member.get("max_chats", 3)),
                 ",".join(member.get("skills") or ()), member.get("shifts") or "", secret)
        return 0
    if args.command in ("skills", "shifts"):
        agent_id = _agent_id(store, args.username)
        if agent_id is None:
            print(f"no agent called {args.username!r}", file=sys.stderr)
            return 1
        if args.command == "skills":
            print("skills:", ",".join(store.set_skills(agent_id, args.groups.split(","))) or "every group")
        else:
            store.set_shifts(agent_id, parse_shifts(args.shifts))
            view = store.agent(agent_id)
            print("shifts:", (view.shifts if view else "") or "off the roster")
        return 0
    if args.command == "password":
        store.set_password(args.username, _password())
        print("password changed")
        return 0
    for agent in store.agents():
        print(f"{agent.id}\t{agent.username}\t{agent.display_name}\tmax {agent.max_concurrent}"
              f"\t{'online' if agent.online else 'offline'}\t{','.join(agent.skills) or 'every group'}"
              f"\t{agent.shifts or 'off the roster'}")
    return 0


def _add(store: DeskStore, username: str, name: str, max_chats: int, skills: str, shifts: str, secret: str) -> int:
    roster = parse_shifts(shifts)  # refused before anything is written
    try:
        agent_id = store.add_agent(username, name, secret, max_concurrent=max_chats)
    except IntegrityError:
        print(f"an agent called {username!r} exists already", file=sys.stderr)
        return 1
    store.set_skills(agent_id, skills.split(","))
    store.set_shifts(agent_id, roster)
    store.audit(None, "agent_added", f"agent:{agent_id}", "cli")
    print(f"agent {agent_id} added: {username.strip().lower()}")
    return 0


def _agent_id(store: DeskStore, username: str) -> Optional[int]:
    wanted = username.strip().lower()
    return next((a.id for a in store.agents() if a.username == wanted), None)


if __name__ == "__main__":
    raise SystemExit(main())
