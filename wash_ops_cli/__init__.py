"""The ``wash-ops`` command: the one place that wires the domain, the web app and the line.

Shaped ``main(argv)`` so that tests drive it like a user would.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from wash_ops.config import ConfigError, Settings, load_settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wash-ops", description="Operations of a cup washing line."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="database schema and data")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser(
        "upgrade", help="migrate to the newest schema and load site, line and cup types from config"
    )
    db_commands.add_parser("seed-demo", help="fill an empty database with demo data")

    commands.add_parser(
        "check-config", help="validate the configuration and print it (without secrets)"
    )

    user = commands.add_parser(
        "create-user", help="create a staff user (password from WASH_OPS_NEW_PASSWORD or a prompt)"
    )
    user.add_argument("--email", required=True)
    user.add_argument("--name", required=True)
    user.add_argument(
        "--role", required=True, choices=["planner", "admin", "supervisor", "courier"]
    )

    demo = commands.add_parser(
        "demo", help="the embedded demo: SQLite, seeded data and the web app in one process"
    )
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=5000)
    demo.add_argument(
        "--database", default="instance/demo.sqlite", help="SQLite file, made anew at each start"
    )
    demo.add_argument(
        "--no-serve",
        action="store_true",
        help="prepare the database and print the logins, then stop",
    )

    serve = commands.add_parser(
        "serve", help="the web app on the development server (production: gunicorn)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5000)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return _run(args)
    except ConfigError as error:
        print(f"wash-ops: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        return _demo(args)
    settings = load_settings()
    if args.command == "check-config":
        return _check_config(settings)
    if args.command == "db":
        if args.db_command == "upgrade":
            return _upgrade(settings)
        return _seed(settings)
    if args.command == "create-user":
        return _create_user(settings, args)
    if args.command == "serve":
        from web import create_app

        create_app({"SETTINGS": settings}).run(host=args.host, port=args.port)
        return 0
    raise AssertionError(args.command)


def _check_config(settings: Settings) -> int:
    shown = settings.model_dump(mode="json")
    shown["app"]["secret_key"] = "(set)" if settings.app.secret_key else "(not set)"
    import json

    print(json.dumps(shown, indent=2, ensure_ascii=False))
    return 0


def _upgrade(settings: Settings) -> int:
    from wash_ops.catalogue.services import sync_from_settings
    from wash_ops.db import make_engine, make_session_factory, unit_of_work
    from wash_ops.migrate import upgrade

    _ensure_sqlite_folder(settings.app.database_url)
    upgrade(settings.app.database_url)
    engine = make_engine(settings.app.database_url)
    with unit_of_work(make_session_factory(engine)) as session:
        sync_from_settings(session, settings)
    engine.dispose()
    print("database is at the newest schema; site, line and cup types loaded from config")
    return 0


def _seed(settings: Settings) -> int:
    from wash_ops.db import make_engine, make_session_factory, unit_of_work, utcnow
    from wash_ops.demo import seed_demo

    engine = make_engine(settings.app.database_url)
    with unit_of_work(make_session_factory(engine)) as session:
        logins = seed_demo(session, settings, utcnow())
    engine.dispose()
    _print_logins(logins)
    return 0


def _create_user(settings: Settings, args: argparse.Namespace) -> int:
    from wash_ops.accounts.models import Role
    from wash_ops.accounts.services import create_user
    from wash_ops.db import make_engine, make_session_factory, unit_of_work
    from wash_ops.errors import InvalidInput

    password = os.environ.get("WASH_OPS_NEW_PASSWORD") or getpass.getpass("Password: ")
    engine = make_engine(settings.app.database_url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            create_user(
                session, email=args.email, name=args.name, password=password, role=Role(args.role)
            )
    except InvalidInput as error:
        print(
            "wash-ops: " + "; ".join(p.message % p.params for p in error.problems), file=sys.stderr
        )
        return 2
    finally:
        engine.dispose()
    print(f"created {args.role} {args.email}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    database = Path(args.database).resolve()
    database.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    settings = load_settings(overrides={"app": {"database_url": f"sqlite:///{database}"}})
    _upgrade(settings)
    _seed(settings)
    if args.no_serve:
        return 0
    from web import create_app

    app = create_app({"SETTINGS": settings, "DEMO": True})
    print(f"wash-ops demo: open http://{args.host}:{args.port}/ (Ctrl+C stops it)", flush=True)
    app.run(host=args.host, port=args.port, use_reloader=False)
    return 0


def _print_logins(logins) -> None:
    print("\nDemo logins (one per role):")
    for login in logins:
        print(f"  {login.role.value:<11} {login.email:<28} password: {login.password}")
    print(flush=True)


def _ensure_sqlite_folder(url: str) -> None:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + ":memory:"):
        Path(url[len(prefix) :]).parent.mkdir(parents=True, exist_ok=True)
