"""The worker of one line: the Modbus poller, a writer that stores readings in batches, and the
scheduled roll-up and retention jobs. It stops cleanly: the poller first, then the writer
drains what it holds, then the scheduler."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from plc.background import Inbox, PollingThread, wait_for_signal
from plc.poller import Poller
from wash_ops.catalogue.services import main_line
from wash_ops.config import Settings
from wash_ops.db import unit_of_work, utcnow
from wash_ops.network.services import network_line_ids, prune_dead_letters
from wash_ops.routing.services import plan_day
from wash_ops.telemetry.ingest import Reading, ingest_many
from wash_ops.telemetry.register_map import RegisterMap
from wash_ops.telemetry.rollups import prune_raw, roll_up

log = logging.getLogger(__name__)

BATCH_SIZE = 50
BATCH_WAIT_S = 0.1
QUEUE_LIMIT = 20_000


class ReadingWriter:
    """Stores readings off the poller's event loop, a batch per transaction."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        settings: Settings,
        register_map: RegisterMap,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.register_map = register_map
        self.inbox: Inbox[Reading] = Inbox(QUEUE_LIMIT)
        self.thread = threading.Thread(target=self._run, name="wash-ops-writer", daemon=True)
        self.written = 0
        self.failed_batches = 0

    def start(self) -> None:
        self.thread.start()

    def put(self, reading: Reading) -> None:
        if not self.inbox.put(reading):
            log.error(
                "writer queue full: a reading from %s is dropped (counters stay exact)", reading.at
            )

    def stop(self) -> None:
        """Store everything queued, then end the thread."""
        self.inbox.close()
        self.thread.join()

    def _run(self) -> None:
        while True:
            batch, stopping = self.inbox.take(BATCH_SIZE, BATCH_WAIT_S)
            if batch:
                self._store(batch)
            if stopping:
                return

    def _store(self, batch: list[Reading]) -> None:
        stale_after = timedelta(seconds=self.settings.telemetry.stale_after_s)
        try:
            with unit_of_work(self.session_factory) as session:
                line = main_line(session, self.settings)
                ingest_many(
                    session, line, self.register_map, batch, self.settings.zone, stale_after
                )
            self.written += len(batch)
        except Exception:  # noqa: BLE001 - the worker must keep running; the next read recounts
            self.failed_batches += 1
            log.exception(
                "storing %s readings failed; counters resume from the last stored value", len(batch)
            )


class Worker:
    def __init__(
        self,
        settings: Settings,
        register_map: RegisterMap,
        session_factory: sessionmaker[Session],
        *,
        host: str | None = None,
        port: int | None = None,
        schedule: bool = True,
        poll: bool = True,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.writer = ReadingWriter(session_factory, settings, register_map)
        self.poller = Poller(register_map, self.writer.put, host=host, port=port)
        self.scheduler = BackgroundScheduler(timezone=settings.site.timezone) if schedule else None
        self.polling = PollingThread(self.poller) if poll else None

    def start(self) -> None:
        """Run in background threads (the demo and tests); ``stop()`` ends them."""
        self.writer.start()
        self._start_jobs()
        if self.polling is not None:  # None: a central installation fed over MQTT only
            self.polling.start()

    def stop(self) -> None:
        if self.polling is not None:
            self.polling.stop()
        self.writer.stop()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        log.info("worker stopped: %s readings stored", self.writer.written)

    def run_until_signalled(self) -> None:
        """The ``wash-ops worker`` process: runs until SIGTERM or Ctrl+C."""
        done = wait_for_signal()
        self.start()
        log.info(
            "worker polling %s:%s every %ss"
            if self.polling is not None
            else "worker without polling (%s:%s, %ss)",
            self.poller.host,
            self.poller.port,
            self.poller.device.poll_interval_s,
        )
        done.wait()
        log.info("stopping the worker")
        self.stop()

    def run_jobs_now(self) -> None:
        self._roll_up()

    def _start_jobs(self) -> None:
        if self.scheduler is None:
            return
        interval = self.settings.telemetry.rollup_interval_s
        self.scheduler.add_job(
            self._roll_up,
            "interval",
            seconds=interval,
            id="rollups",
            max_instances=1,
            coalesce=True,
            next_run_time=utcnow(),
        )
        self.scheduler.add_job(
            self._prune, "cron", hour=3, minute=17, id="retention", max_instances=1, coalesce=True
        )
        if self.settings.routing.plan_hour >= 0:
            self.scheduler.add_job(
                self.plan_tomorrow,
                "cron",
                hour=self.settings.routing.plan_hour,
                minute=0,
                id="route-planning",
                max_instances=1,
                coalesce=True,
            )
        self.scheduler.start()

    def _roll_up(self) -> None:
        self._job(
            "roll-up",
            lambda session, line_id: roll_up(session, line_id, utcnow(), self.settings.zone),
        )

    def plan_tomorrow(self) -> None:
        """Plan tomorrow's courier routes (a draft the planner reviews and publishes); a plan
        already published is re-planned only for what is not done or locked."""
        day = utcnow().astimezone(self.settings.zone).date() + timedelta(days=1)
        try:  # once for the site, not once per line of the network
            with unit_of_work(self.session_factory) as session:
                plan_day(session, self.settings, day, utcnow())
        except Exception:  # noqa: BLE001 - retried at the next run
            log.exception("route planning job failed")

    def _prune(self) -> None:
        keep = self.settings.telemetry.raw_retention_days
        self._job("retention", lambda session, line_id: prune_raw(session, line_id, utcnow(), keep))
        try:
            with unit_of_work(self.session_factory) as session:
                prune_dead_letters(session, utcnow() - timedelta(days=keep))
        except Exception:  # noqa: BLE001 - tried again at the next run
            log.exception("dead-letter retention failed")

    def _job(self, name: str, action: Callable[[Session, int], object]) -> None:
        """Run ``action`` for this worker's line and, with the bridge on, the network's lines."""
        try:
            with unit_of_work(self.session_factory) as session:
                line_ids = {main_line(session, self.settings).id}
                if self.settings.mqtt.enabled:
                    line_ids.update(network_line_ids(session, self.settings))
            for line_id in sorted(line_ids):
                with unit_of_work(self.session_factory) as session:
                    result = action(session, line_id)
                log.debug("%s done for line %s: %s", name, line_id, result)
        except Exception:  # noqa: BLE001 - a failed job is retried at its next run
            log.exception("%s job failed", name)
