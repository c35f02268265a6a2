"""Plans that take a while: solved in a background thread with its own session, their progress
readable while they run (the planner's page polls it). One registry per process."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from wash_ops.accounts.models import User
from wash_ops.config import Settings
from wash_ops.db import unit_of_work, utcnow
from wash_ops.errors import N_, DomainError
from wash_ops.routing.services import prepare_plan, solve_prepared, store_plan

log = logging.getLogger(__name__)


@dataclass
class PlanJob:
    id: str
    day: date
    limit_s: float
    started: float
    state: str = "running"  # running | done | failed
    message: str = ""
    finished: float | None = None

    def progress(self) -> float:
        """Share of the time limit used (the solver searches for the whole limit)."""
        if self.state != "running":
            return 1.0
        # The solve may take up to twice the limit when it retries for a left-out stop.
        return min(0.99, (time.monotonic() - self.started) / max(self.limit_s, 0.1))


class PlanJobs:
    def __init__(self) -> None:
        self._jobs: dict[str, PlanJob] = {}
        self._lock = threading.Lock()

    def start(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        day: date,
        actor_id: int,
        synchronous: bool = False,
    ) -> PlanJob:
        with self._lock:
            running = [j for j in self._jobs.values() if j.day == day and j.state == "running"]
            if running:
                return running[0]
            job = PlanJob(uuid.uuid4().hex, day, settings.routing.time_limit_s, time.monotonic())
            self._jobs[job.id] = job
        if synchronous:
            self._run(job, factory, settings, actor_id)
        else:
            threading.Thread(
                target=self._run,
                args=(job, factory, settings, actor_id),
                name=f"route-plan-{day}",
                daemon=True,
            ).start()
        return job

    def get(self, job_id: str) -> PlanJob | None:
        return self._jobs.get(job_id)

    def _run(
        self, job: PlanJob, factory: sessionmaker[Session], settings: Settings, actor_id: int
    ) -> None:
        try:
            # Three steps, so that no transaction is open while the solver searches.
            with unit_of_work(factory) as session:
                actor = session.get(User, actor_id)
                prepared = prepare_plan(session, settings, job.day, utcnow(), actor)
            solution = solve_prepared(prepared)
            with unit_of_work(factory) as session:
                store_plan(session, settings, prepared, solution, utcnow())
            job.state = "done"
        except DomainError as error:
            job.state, job.message = "failed", error.first.message
        except Exception:  # noqa: BLE001 - the page shows the failure; the log has the details
            log.exception("planning routes for %s failed", job.day)
            job.state, job.message = "failed", N_("The plan could not be made.")
        job.finished = time.monotonic()


JOBS = PlanJobs()
