"""What the worker, the edge worker and the MQTT bridge share to run in background threads:
the poller's event loop in a thread of its own, batches taken off a queue, and waiting for
SIGTERM or Ctrl+C."""

from __future__ import annotations

import asyncio
import queue
import signal
import threading
import time
from typing import Any

from plc.poller import Poller

STOP = object()  # put on a queue to end its consumer once what came before is taken
POLL_S = 0.005


class PollingThread:
    """A poller's asyncio loop in a background thread; ``stop()`` ends it and waits."""

    def __init__(self, poller: Poller) -> None:
        self.poller = poller
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 5.0) -> None:
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), name="wash-ops-poller")
        self._thread.start()
        started.wait(timeout=timeout)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self, started: threading.Event) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            started.set()
            await self.poller.run(self._stop)

        asyncio.run(main())


def next_batch(source: queue.Queue[Any], size: int, wait_s: float) -> tuple[list[Any], bool]:
    """Block for one item, then take what arrives within ``wait_s`` of it, at most ``size``;
    the flag says STOP was taken (the batch holds everything queued before it).

    Between looks at the queue it sleeps a few milliseconds rather than waiting on it: a
    consumer that waits is woken (and takes the GIL from the producer) for every single item,
    which at thousands of items a second costs more than the items themselves."""
    first = source.get()
    if first is STOP:
        return [], True
    batch = [first]
    deadline = time.monotonic() + wait_s
    while len(batch) < size:
        try:
            item = source.get_nowait()
        except queue.Empty:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(left, POLL_S))
            continue
        if item is STOP:
            return batch, True
        batch.append(item)
    return batch, False


def wait_for_signal() -> threading.Event:
    """An event set by SIGTERM or Ctrl+C (call from the main thread, before starting)."""
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    return done
