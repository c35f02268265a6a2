"""The MQTT bridge's storing side: batches of raw messages into the database, each batch in
one transaction, through ``wash_ops.network.services.NetworkIngest``.

By default it runs in a process of its own (``StoreProcess``), so that decoding, checking and
storing run beside paho's network thread instead of taking turns with it under one GIL: with
both in one process, paho waits for the GIL at every socket read while a batch is being stored,
and the two halves run one after the other (docs/BENCHMARKS.md, "MQTT ingest").
``mqtt.store_process = false`` stores in a thread of the bridge's process instead
(``StoreThread``: the embedded demo, which runs in one process).

Both take ``Batch`` es and hand back ``Stored`` outcomes in the order the batches were sent;
the bridge acknowledges a batch's QoS 1 messages only when its outcome arrives, that is once
its transaction has committed.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any, NamedTuple

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from wash_ops.config import Settings
from wash_ops.db import make_engine, make_session_factory, unit_of_work, utcnow
from wash_ops.network.messages import DeadReason
from wash_ops.network.services import BatchResult, Incoming, NetworkIngest
from wash_ops.telemetry.register_map import RegisterMap

log = logging.getLogger(__name__)

# A message as it travels to the store: topic, payload (cut after the size limit), the time
# the bridge received it (seconds since the epoch), and its size as received.
Raw = tuple[str, bytes, float, int]


class Batch(NamedTuple):
    number: int
    messages: list[Raw]
    # QoS 0 messages the bridge dropped (its queue was full) since it last reported them.
    dropped: int = 0


@dataclass
class Stored:
    """What became of a batch."""

    number: int
    result: BatchResult = field(default_factory=BatchResult)
    # Attempts that failed before the batch was stored (database away, a message that broke
    # the batch and was then stored alone).
    failed_attempts: int = 0
    # CPU time the storing took (its thread's), for the benchmark.
    cpu_s: float = 0.0


class BatchStorer:
    """Stores a batch in one transaction; while the database is away it waits and tries again;
    a batch that fails otherwise is stored message by message, and a message that still fails
    becomes a dead letter."""

    def __init__(
        self,
        settings: Settings,
        register_map: RegisterMap,
        session_factory: sessionmaker[Session],
        status_topic: str,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self.ingest = NetworkIngest(settings, register_map)
        self.session_factory = session_factory
        self.status_topic = status_topic
        self.stopping = stopping

    def store(self, batch: Batch) -> Stored:
        started = time.thread_time()
        outcome = self._store(batch)
        outcome.cpu_s = time.thread_time() - started
        return outcome

    def _store(self, batch: Batch) -> Stored:
        messages = [
            Incoming(topic, payload, datetime.fromtimestamp(at, UTC), size)
            for topic, payload, at, size in batch.messages
        ]
        outcome = Stored(batch.number)
        delay = 0.1
        while True:
            try:
                with unit_of_work(self.session_factory) as session:
                    outcome.result = self.ingest.store(session, messages)
                    self._report_dropped(session, batch.dropped)
                return outcome
            except (OperationalError, InterfaceError):
                # The database is away: keep the batch (unacknowledged) and try again.
                outcome.failed_attempts += 1
                if self.stopping():
                    raise
                log.exception("storing %s MQTT messages failed; retrying", len(messages))
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            except Exception:  # noqa: BLE001 - one bad message must not stop the bridge
                outcome.failed_attempts += 1
                log.exception(
                    "a batch of %s MQTT messages failed; storing one by one", len(messages)
                )
                outcome.result = self._one_by_one(messages, batch.dropped)
                return outcome

    def _one_by_one(self, messages: list[Incoming], dropped: int) -> BatchResult:
        total = BatchResult()
        with unit_of_work(self.session_factory) as session:
            self._report_dropped(session, dropped)
        for message in messages:
            try:
                with unit_of_work(self.session_factory) as session:
                    result = self.ingest.store(session, [message])
            except (OperationalError, InterfaceError):
                raise
            except Exception as error:  # noqa: BLE001 - kept with its reason instead
                with unit_of_work(self.session_factory) as session:
                    self.ingest.dead_letter(
                        session,
                        message,
                        DeadReason.STORE_FAILED,
                        f"{type(error).__name__}: {error}",
                    )
                total.dead[DeadReason.STORE_FAILED] = total.dead.get(DeadReason.STORE_FAILED, 0) + 1
                continue
            total.add(result)
        return total

    def _report_dropped(self, session: Session, dropped: int) -> None:
        if dropped:
            self.ingest.dead_letter(
                session,
                Incoming(self.status_topic, b"", utcnow()),
                DeadReason.OVERFLOW,
                f"{dropped} QoS 0 messages dropped: the queue was full",
            )


class StoreGone(Exception):
    """The store process has ended (its failure, when it said one)."""


class StoreThread:
    """Stores each batch in the calling thread (``send`` returns once it is stored)."""

    def __init__(self, storer: BatchStorer, deliver: Callable[[Stored], None]) -> None:
        self.storer = storer
        self.deliver = deliver

    def start(self) -> None:
        pass

    def send(self, batch: Batch) -> None:
        self.deliver(self.storer.store(batch))

    def close(self, timeout: float) -> bool:
        return True

    def kill(self) -> None:
        pass


class StoreProcess:
    """Stores batches in a child process; ``deliver`` is called from a thread of this process
    with each outcome, in order. At most ``in_flight`` batches are sent and not yet stored:
    ``send`` waits for a free place."""

    def __init__(
        self,
        settings: Settings,
        register_map: RegisterMap,
        database_url: str,
        status_topic: str,
        deliver: Callable[[Stored], None],
        in_flight: int = 4,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self._requests_out: Connection
        requests_in, self._requests_out = context.Pipe(duplex=False)
        self._outcomes_in, outcomes_out = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_serve,
            args=(settings, register_map, database_url, status_topic, requests_in, outcomes_out),
            name="wash-ops-mqtt-store",
            daemon=True,
        )
        self._child_ends = (requests_in, outcomes_out)
        self._deliver = deliver
        self._slots = threading.BoundedSemaphore(in_flight)
        self._reader = threading.Thread(target=self._read, name="wash-ops-mqtt-stored", daemon=True)
        self.failed: BaseException | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def start(self) -> None:
        self._process.start()
        for end in self._child_ends:
            end.close()
        self._reader.start()

    def send(self, batch: Batch) -> None:
        """Raises ``StoreGone`` when the child process has ended."""
        while not self._slots.acquire(timeout=0.5):
            if not self._reader.is_alive():
                raise StoreGone(self.failed)
        try:
            self._requests_out.send(batch)
        except OSError as error:
            raise StoreGone(error) from None

    def close(self, timeout: float) -> bool:
        """No more batches: wait until those sent are stored and delivered, then end; False
        when that takes longer than ``timeout`` seconds (the child is still at work)."""
        with contextlib.suppress(OSError):
            self._requests_out.send(None)
        self._reader.join(timeout)
        if self._reader.is_alive():
            return False
        self._process.join(timeout=10)
        self._requests_out.close()
        return True

    def kill(self) -> None:
        """End the child at once, as a crash would: what it had not committed is not stored."""
        self._process.kill()
        self._process.join(timeout=10)
        self._requests_out.close()
        self._reader.join(timeout=10)

    def _read(self) -> None:
        while True:
            try:
                outcome: Any = self._outcomes_in.recv()
            except (EOFError, OSError):
                break
            if isinstance(outcome, BaseException):
                self.failed = outcome
                log.error("the MQTT store process failed: %s", outcome)
                break
            self._deliver(outcome)
            self._slots.release()
        self._outcomes_in.close()


def _serve(
    settings: Settings,
    register_map: RegisterMap,
    database_url: str,
    status_topic: str,
    requests: Connection,
    outcomes: Connection,
) -> None:
    """The child process: store each batch that arrives and send back its outcome, until the
    bridge says there are no more (None) or goes away (the pipe closes)."""
    # Ctrl+C and SIGTERM reach the whole process group: the bridge decides when storing ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    engine = make_engine(database_url, pool_pre_ping=True)
    parent = multiprocessing.parent_process()
    try:
        storer = BatchStorer(
            settings,
            register_map,
            make_session_factory(engine),
            status_topic,
            # Waiting for the database ends when the bridge is gone: nobody would hear of it.
            stopping=lambda: parent is not None and not parent.is_alive(),
        )
        while True:
            try:
                batch = requests.recv()
            except (EOFError, OSError):
                return
            if batch is None:
                return
            try:
                outcome: Stored | Exception = storer.store(batch)
            except Exception as error:  # noqa: BLE001 - said to the bridge, which logs it
                outcome = RuntimeError(f"{type(error).__name__}: {error}")
            try:
                outcomes.send(outcome)
            except OSError:
                return  # the bridge is gone
            if isinstance(outcome, Exception):
                return
    finally:
        outcomes.close()
        engine.dispose()
