"""The ``wash-ops`` command: the one place that wires the domain, the web app and the line.

Shaped ``main(argv)`` so that tests drive it like a user would.
"""

from __future__ import annotations

import argparse
import getpass
import json
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
    demo.add_argument(
        "--time-factor",
        type=float,
        default=1.0,
        help="simulated seconds per real second; 1 (the default) keeps the line in step with "
        "the clock. Above 1 the line runs faster than the clock for a quicker show, and rates "
        "and OEE computed on real timestamps are then compressed by that factor",
    )
    demo.add_argument(
        "--history-days",
        type=int,
        default=14,
        help="days of line history written before the simulator starts (0: none)",
    )

    worker = commands.add_parser("worker", help="poll the line's PLC and run the scheduled jobs")
    worker.add_argument("--host", default=None, help="PLC address (default: the register map's)")
    worker.add_argument("--port", type=int, default=None, help="PLC port (default: the map's)")
    worker.add_argument(
        "--no-poll",
        action="store_true",
        help="a central installation: no PLC here, only the MQTT bridge ([mqtt] enabled) and the jobs",
    )
    worker.add_argument(
        "--publish",
        action="store_true",
        help="edge mode: publish the readings to the MQTT broker ([mqtt]) instead of storing them",
    )
    commands.add_parser(
        "simulate", help="a Modbus TCP server that behaves like the line", add_help=False
    )

    serve = commands.add_parser(
        "serve", help="the web app on the development server (production: gunicorn)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5000)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["simulate"]:
        from plc.simulator import main as simulate

        return simulate(argv[1:])
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
    if args.command == "worker":
        return _worker(settings, args)
    if args.command == "serve":
        from web import create_app

        create_app({"SETTINGS": settings}).run(host=args.host, port=args.port)
        return 0
    raise AssertionError(args.command)


def _check_config(settings: Settings) -> int:
    shown = settings.model_dump(mode="json")
    shown["app"]["secret_key"] = "(set)" if settings.app.secret_key else "(not set)"
    print(json.dumps(shown, indent=2, ensure_ascii=False))
    return 0


def _upgrade(settings: Settings) -> int:
    from wash_ops.catalogue.services import sync_from_settings
    from wash_ops.db import make_engine, make_session_factory, unit_of_work
    from wash_ops.migrate import upgrade
    from wash_ops.routing.services import sync_vehicles

    _ensure_sqlite_folder(settings.app.database_url)
    upgrade(settings.app.database_url)
    engine = make_engine(settings.app.database_url)
    with unit_of_work(make_session_factory(engine)) as session:
        sync_from_settings(session, settings)
        sync_vehicles(session, settings)
    engine.dispose()
    print("database is at the newest schema; site, line, cup types and vehicles loaded from config")
    return 0


def _seed(settings: Settings) -> int:
    from wash_ops.db import make_engine, make_session_factory, unit_of_work, utcnow
    from wash_ops.demo import plan_demo_routes, seed_demo

    engine = make_engine(settings.app.database_url)
    with unit_of_work(make_session_factory(engine)) as session:
        logins = seed_demo(session, settings, utcnow())
    with unit_of_work(make_session_factory(engine)) as session:
        plans = plan_demo_routes(session, settings, utcnow())
        served = sum(len(plan.stops) - len(plan.unserved) for plan in plans)
        print(f"courier routes planned and published for {len(plans)} days ({served} stops)")
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


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from plc.worker import Worker
    from wash_ops.db import make_engine, make_session_factory
    from wash_ops.telemetry.register_map import load_register_map

    register_map = load_register_map()
    if args.no_poll and (args.publish or not settings.mqtt.enabled):
        raise ConfigError(
            "--no-poll runs only the MQTT bridge: set mqtt.enabled = true "
            "(WASH_OPS_MQTT__ENABLED=true), and do not combine it with --publish"
        )
    if args.publish:
        from plc.edge import EdgeWorker

        EdgeWorker(settings, register_map, host=args.host, port=args.port).run_until_signalled()
        return 0
    engine = make_engine(settings.app.database_url, pool_pre_ping=True)
    factory = make_session_factory(engine)
    bridge = None
    if settings.mqtt.enabled:
        from plc.mqtt_bridge import MqttBridge

        bridge = MqttBridge(settings, register_map, factory)
        bridge.start()
    try:
        Worker(
            settings, register_map, factory, host=args.host, port=args.port, poll=not args.no_poll
        ).run_until_signalled()
    finally:
        if bridge is not None:
            bridge.stop()
    engine.dispose()
    return 0


def _demo(args: argparse.Namespace) -> int:
    database = Path(args.database).resolve()
    database.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    settings = load_settings(overrides={"app": {"database_url": f"sqlite:///{database}"}})
    _upgrade(settings)
    _seed(settings)
    from plc.history import default_profile
    from wash_ops.db import make_engine, make_session_factory, utcnow
    from wash_ops.telemetry.register_map import load_register_map

    register_map = load_register_map()
    engine = make_engine(settings.app.database_url)
    history = _demo_history(
        settings, register_map, make_session_factory(engine), args.history_days, utcnow()
    )
    if args.no_serve:
        engine.dispose()
        return 0
    from plc.line_model import LineModel
    from plc.simulator import start_simulator
    from plc.worker import Worker
    from web import create_app

    if history is not None:  # the line goes on from where its history ends, now
        model = history.model
        model.use_step(1)
        model.advance(max(0.0, (utcnow() - model.now).total_seconds()))
    else:
        model = LineModel(default_profile(settings, also_on=_today(settings)))
    app = create_app(
        {
            "SETTINGS": settings,
            "DEMO": True,
            "REGISTER_MAP": register_map,
            "SESSION_FACTORY": make_session_factory(engine),
        }
    )
    with start_simulator(
        register_map, "127.0.0.1", 0, time_factor=args.time_factor, model=model
    ) as line:
        worker = Worker(
            settings, register_map, make_session_factory(engine), host=line.host, port=line.port
        )
        worker.start()
        network = _demo_mqtt(settings, register_map, engine, line.host, line.port, database)
        pace = (
            "in step with the clock"
            if args.time_factor == 1
            else f"{args.time_factor:g}x the clock: rates and OEE are compressed"
        )
        print(f"line simulator on {line.host}:{line.port} ({pace})")
        print(f"wash-ops demo: open http://{args.host}:{args.port}/ (Ctrl+C stops it)", flush=True)
        try:
            app.run(host=args.host, port=args.port, use_reloader=False)
        finally:
            for part in network:
                part.stop()
            worker.stop()
    engine.dispose()
    return 0


def _demo_mqtt(settings: Settings, register_map, engine, plc_host: str, plc_port: int, database):
    """When a broker answers at mqtt.host:port: a second line of the network ("L2") whose edge
    worker polls the simulator and publishes over MQTT, and the bridge that stores it. Returns
    what to stop; says so when no broker answers."""
    import os
    import socket

    from sqlalchemy import select

    from plc.edge import EdgePublisher, EdgeWorker
    from plc.mqtt_bridge import MqttBridge
    from wash_ops.catalogue.models import Line
    from wash_ops.config import MqttLineSettings
    from wash_ops.db import make_session_factory, unit_of_work

    host, port = settings.mqtt.host, settings.mqtt.port
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        print(f"MQTT: no broker at {host}:{port}; the demo runs without it (start mosquitto to see")
        print("      a second line arrive over MQTT on /network)")
        return []
    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        main = session.scalar(select(Line).where(Line.code == settings.line.code))
        if session.scalar(select(Line).where(Line.code == "L2")) is None:
            session.add(
                Line(
                    site_id=main.site_id,
                    code="L2",
                    name="Afwaslijn 2 (MQTT)",
                    capacity_per_day=50_000,
                )
            )
    tag = f"demo-{os.getpid()}"
    mqtt = settings.mqtt.model_copy(
        update={
            "client_id": f"wash-ops-{tag}",
            "topic_root": f"wash-ops-{tag}",
            # The demo runs in one process: its bridge stores in a thread.
            "store_process": False,
            "lines": (MqttLineSettings(site=settings.site.code, line="L2", line_code="L2"),),
        }
    )
    central = settings.model_copy(update={"mqtt": mqtt})
    edge_line = settings.line.model_copy(update={"code": "L2"})
    edge_settings = central.model_copy(update={"line": edge_line})
    buffer = database.with_name(database.stem + "-mqtt-buffer.sqlite")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{buffer}{suffix}").unlink(missing_ok=True)
    bridge = MqttBridge(central, register_map, factory)
    bridge.start()
    edge = EdgeWorker(
        edge_settings,
        register_map,
        host=plc_host,
        port=plc_port,
        publisher=EdgePublisher(edge_settings, buffer_path=buffer, register_map=register_map),
    )
    edge.start()
    print(
        f"MQTT: line L2 publishes over the broker at {host}:{port}; the bridge stores it (/network)"
    )
    return [edge, bridge]


def _today(settings: Settings):
    from datetime import datetime

    return datetime.now(settings.zone).date()


def _demo_history(settings: Settings, register_map, session_factory, days: int, now):
    """``days`` whole local days of line history before today, and today up to ``now``."""
    if days <= 0:
        return None
    from datetime import datetime, timedelta

    from plc.history import backfill, default_profile
    from wash_ops.catalogue.services import main_line
    from wash_ops.db import unit_of_work

    with unit_of_work(session_factory) as session:
        line_id = main_line(session, settings).id
    today = now.astimezone(settings.zone).date()
    start = datetime.combine(today - timedelta(days=days), datetime.min.time(), settings.zone)
    profile = default_profile(settings, also_on=today)
    result = backfill(session_factory, settings, register_map, line_id, start, now, profile=profile)
    cups = result.counter_totals.get("cups_washed", 0)
    print(
        f"line history: the last {days} days up to now backfilled "
        f"({cups:,} cups, {result.rows['state_periods']:,} state periods, "
        f"{result.rows['alarms']} alarms) in {result.seconds:.1f} s",
        flush=True,
    )
    return result


def _print_logins(logins) -> None:
    print("\nDemo logins (one per role):")
    for login in logins:
        print(f"  {login.role.value:<11} {login.email:<28} password: {login.password}")
    print(flush=True)


def _ensure_sqlite_folder(url: str) -> None:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + ":memory:"):
        Path(url[len(prefix) :]).parent.mkdir(parents=True, exist_ok=True)
