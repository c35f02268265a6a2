"""What the worker, the edge worker and the MQTT bridge share to run in background threads:
the poller's event loop in a thread of its own, an inbox that hands items over in batches, and
waiting for SIGTERM or Ctrl+C."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections import deque
from typing import Generic, TypeVar

from plc.poller import Poller

POLL_S = 0.005  # how often a batch being collected looks for more

T = TypeVar("T")


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


class Inbox(Generic[T]):
    """Items from producer threads (the poller, paho's network threads) on their way to one
    consumer that takes them in batches: a bounded deque, whose append and popleft are atomic in
    CPython, so an item costs no lock and wakes nobody; the consumer is woken only when the
    inbox goes from empty to not empty, and looks every few milliseconds while it collects a
    batch. (A ``queue.Queue`` woke it, and took the GIL from the producer, for every item.)"""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: deque[T] = deque()
        self._arrived = threading.Event()
        self._closed = False

    def put(self, item: T) -> bool:
        """False when the inbox is full (the item is not taken)."""
        items = self._items
        if len(items) >= self.size:
            return False
        items.append(item)
        if len(items) == 1:
            self._arrived.set()
        return True

    def empty(self) -> bool:
        return not self._items

    def close(self) -> None:
        """What is in the inbox now is still taken; then ``take`` says it is closed."""
        self._closed = True
        self._arrived.set()

    def take(self, size: int, wait_s: float) -> tuple[list[T], bool]:
        """Wait for an item, then take what arrives within ``wait_s``, at most ``size``; the
        flag says the inbox is closed and empty."""
        items = self._items
        while not items:
            if self._closed:
                return [], True
            self._arrived.clear()
            if not items:
                self._arrived.wait(1.0)
        batch: list[T] = []
        deadline = time.monotonic() + wait_s
        while len(batch) < size:
            if items:
                batch.append(items.popleft())
            elif self._closed or time.monotonic() >= deadline:
                break
            else:
                time.sleep(POLL_S)
        return batch, False


def wait_for_signal() -> threading.Event:
    """An event set by SIGTERM or Ctrl+C (call from the main thread, before starting)."""
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    return done
