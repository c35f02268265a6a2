"""The line simulator: a Modbus TCP server whose registers behave like the washing line.

`LineSimulator` serves a `LineModel` in the layout of a register map. An updater task moves the
model on every tick (simulated time = real time x time factor) and builds a fresh image of all
registers in one synchronous step; requests are answered from the latest image, so a 32-bit
value is never seen half updated. The heartbeat counts real seconds.

Faults for tests (`reset_counters`, `jump_counter`, `pause`, `drop_connections`,
`freeze_heartbeat`, `answer_with_exceptions`, `garbage`) change what the registers say, never
the model's truth (`truth()`). They may be called from any thread: they run on the simulator's
event loop and return once the registers show their effect.

`start_simulator` runs it all on an event loop in a background thread; `main` is the command.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

from plc.line_model import ALARM_BITS, STOP_REASONS, LineModel, LineProfile
from plc.sim_registers import Layout, from_words, pattern_words, raw_value, to_words
from wash_ops.config import ConfigError
from wash_ops.telemetry.register_map import RegisterMap, Table, Tag, TagRole, load_register_map

log = logging.getLogger(__name__)

T = TypeVar("T")
FUNCTION_TABLES = {1: Table.COIL, 5: Table.COIL, 15: Table.COIL, 2: Table.DISCRETE, 4: Table.INPUT}
FUNCTION_TABLES.update({code: Table.HOLDING for code in (3, 6, 16, 22, 23)})
TABLE_ORDER = (Table.COIL, Table.DISCRETE, Table.HOLDING, Table.INPUT)  # pymodbus's tuple order
CALL_TIMEOUT_S = 5.0
WAIT_SLICE_S = 0.5


class LineSimulator:
    """A line model served through Modbus registers laid out by a register map."""

    def __init__(
        self,
        register_map: RegisterMap,
        model: LineModel,
        *,
        time_factor: float = 1.0,
        tick_s: float = 0.1,
        heartbeat_s: float = 1.0,
        paused: bool = False,
    ) -> None:
        if time_factor <= 0 or tick_s <= 0 or heartbeat_s <= 0:
            raise ValueError("time_factor, tick_s and heartbeat_s must be positive")
        self.register_map = register_map
        self.model = model
        self.time_factor = time_factor
        self.tick_s = tick_s
        self.heartbeat_s = heartbeat_s
        self.layout = Layout(register_map.tags)
        self.address: tuple[str, int] | None = None
        self._counters = {tag.name: tag for tag in register_map.with_role(TagRole.COUNTER)}
        self._offsets = dict.fromkeys(self._counters, 0)
        self._garbage: dict[str, int] = {}
        self._exception: ExcCodes | None = None
        self._heartbeat = 0
        self._beats_due = 0
        self._frozen = False
        self._paused = paused
        self._server: ModbusTcpServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_seen = self._observed()
        self._image = self._build_image()
        _warn_unsimulated(register_map, model)

    # --- serving -------------------------------------------------------------------------

    async def serve(
        self, host: str, port: int, *, ready: Callable[[tuple[str, int]], None] | None = None
    ) -> None:
        """Listen on host:port (0: any free port) and run the line until cancelled."""
        server = ModbusTcpServer(self.device(), address=(host, port))
        await server.serve_forever(background=True)  # RuntimeError when it cannot listen
        self._loop, self._server = asyncio.get_running_loop(), server
        try:
            self.address = server.transport.sockets[0].getsockname()[:2]  # type: ignore[attr-defined]
            log.info("line simulator listening on %s:%d", *self.address)
            self._log_state()
            if ready is not None:
                ready(self.address)
            await self._update_forever()
        finally:
            self._server = None
            await server.shutdown()
            self._loop = None

    def device(self) -> SimDevice:
        """The pymodbus device: one read-only block per table, answered by `_answer`."""
        blocks: list[list[SimData]] = []
        for table in TABLE_ORDER:
            blocks.append([self._block_data(table)])
        return SimDevice(
            id=self.register_map.device.device_id,
            simdata=(blocks[0], blocks[1], blocks[2], blocks[3]),
            action=self._answer,
        )

    def _block_data(self, table: Table) -> SimData:
        if table.is_bits:
            if table not in self.layout.blocks:  # pymodbus wants a block; reads get an error
                return SimData(0, values=False, datatype=SimType.BITS, readonly=True)
            first, count = self.layout.bit_span(table)
            return SimData(first, values=[False] * count, datatype=SimType.BITS, readonly=True)
        if table not in self.layout.blocks:
            return SimData(0, datatype=SimType.INVALID)
        start, size = self.layout.blocks[table]
        return SimData(start, count=size, values=0, datatype=SimType.REGISTERS, readonly=True)

    async def _answer(
        self,
        function_code: int,
        _start_address: int,
        _address: int,
        _count: int,
        registers: list[int],
        _set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """Called by pymodbus for each request, before it slices ``registers``: fill them in.

        No await here, so the copy and pymodbus's slice happen in one step of the loop.
        """
        if self._exception is not None:
            return self._exception
        image = self._image.get(FUNCTION_TABLES.get(function_code))  # type: ignore[arg-type]
        if image is None:
            return ExcCodes.ILLEGAL_ADDRESS
        registers[: len(image)] = image
        return None

    async def _update_forever(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        next_beat = last + self.heartbeat_s
        while True:
            await asyncio.sleep(self.tick_s)
            now = loop.time()
            while now >= next_beat:
                next_beat += self.heartbeat_s
                self._beat()
            self._tick(now - last)
            last = now

    def _beat(self) -> None:
        self._beats_due += 1
        if not self._frozen:
            self._heartbeat += 1

    def _tick(self, real_dt: float) -> None:
        if not self._paused:
            self.model.advance(real_dt * self.time_factor)
        self._publish()
        self._log_changes()

    def _publish(self) -> None:
        self._image = self._build_image()

    # --- the registers -------------------------------------------------------------------

    def _build_image(self) -> dict[Table, list[int]]:
        image = self.layout.blank()
        values = self.model.values()
        for tag in self.register_map.tags:
            self.layout.place(image, tag, self._words(tag, values))
        return image

    def _words(self, tag: Tag, values: dict[str, float | int]) -> list[int]:
        if tag.name in self._garbage:
            return pattern_words(tag, self._garbage[tag.name])
        if tag.role is TagRole.HEARTBEAT:
            return to_words(tag, self._heartbeat, wrap=True)
        if tag.role is TagRole.ALARM_WORD:
            return to_words(tag, self._alarm_word(), wrap=True)
        if tag.role is TagRole.COUNTER:
            return to_words(tag, self._true_raw(tag, values) + self._offsets[tag.name], wrap=True)
        if tag.table.is_bits:
            return [int(tag.name in self.model.active_alarms)]
        return to_words(tag, raw_value(tag, values.get(tag.name, 0)))

    def _alarm_word(self) -> int:
        """The model's alarms on the bits the register map gives their codes."""
        active = self.model.active_alarms
        return sum(1 << alarm.bit for alarm in self.register_map.alarms if alarm.code in active)

    def _true_raw(self, tag: Tag, values: dict[str, float | int]) -> int:
        return int(raw_value(tag, values.get(tag.name, 0)))

    # --- faults and inspection (any thread) ---------------------------------------------

    def reset_counters(self) -> None:
        """A PLC restart: counter registers and the heartbeat start again from 0."""

        def reset() -> None:
            values = self.model.values()
            for name, tag in self._counters.items():
                self._offsets[name] = -self._true_raw(tag, values)
            self._heartbeat = 0
            log.warning("fault: counters reset")

        self._apply(reset)

    def jump_counter(self, tag: str, raw_value: int) -> int:
        """Make a counter register read ``raw_value`` now (it counts on from there).

        Returns the true total at that moment, so a test can check continuity exactly.
        """
        counter = self._counter(tag)
        if not 0 <= raw_value < counter.counter_modulus:
            raise ValueError(f"{raw_value} does not fit counter {tag!r}")

        def jump() -> int:
            truth = self._true_raw(counter, self.model.values())
            self._offsets[tag] = raw_value - truth
            log.warning("fault: counter %s jumps to %d", tag, raw_value)
            return truth

        return self._apply(jump)

    def pause(self) -> None:
        """Stop simulated time: the line stays put (the heartbeat goes on)."""
        self._apply(lambda: setattr(self, "_paused", True))

    def resume(self) -> None:
        self._apply(lambda: setattr(self, "_paused", False))

    def drop_connections(self) -> int:
        """Close every client connection; the server keeps listening. Returns how many."""

        def drop() -> int:
            if self._server is None:
                return 0
            connections = list(self._server.active_connections.values())
            for connection in connections:
                connection.close()
            log.warning("fault: dropped %d connection(s)", len(connections))
            return len(connections)

        return self._apply(drop)

    def connection_count(self) -> int:
        return self._apply(lambda: len(self._server.active_connections) if self._server else 0)

    def freeze_heartbeat(self, frozen: bool = True) -> None:
        self._apply(lambda: setattr(self, "_frozen", frozen))

    def answer_with_exceptions(self, on: bool = True, code: int = ExcCodes.DEVICE_BUSY) -> None:
        """Answer every request with a Modbus exception response (default 6: device busy)."""
        exception = ExcCodes(code) if on else None
        self._apply(lambda: setattr(self, "_exception", exception))

    def garbage(self, tag: str, raw_value: int | None) -> None:
        """Make a tag's registers hold ``raw_value`` (a bit pattern) until called with None."""
        if tag not in {known.name for known in self.register_map.tags}:
            raise ValueError(f"{tag!r} is not a tag of the register map")

        def set_garbage() -> None:
            if raw_value is None:
                self._garbage.pop(tag, None)
            else:
                self._garbage[tag] = raw_value

        self._apply(set_garbage)

    def truth(self) -> dict[str, int]:
        """The true totals of the map's counters, raw and unwrapped, whatever the faults."""

        def totals() -> dict[str, int]:
            values = self.model.values()
            return {name: self._true_raw(tag, values) for name, tag in self._counters.items()}

        return self._apply(totals)

    def snapshot(self) -> dict[str, int | float | bool]:
        """The raw value of every tag as its registers hold it now (faults included)."""
        image = self._image
        return {
            tag.name: from_words(tag, self.layout.read(image, tag))
            for tag in self.register_map.tags
        }

    def heartbeats_due(self) -> int:
        """Heartbeat periods passed since serving began, frozen or not."""
        return self._beats_due

    def sim_time(self) -> datetime:
        return self._apply(lambda: self.model.now)

    def _counter(self, name: str) -> Tag:
        if name not in self._counters:
            raise ValueError(f"{name!r} is not a counter of the register map")
        return self._counters[name]

    def _apply(self, change: Callable[[], T]) -> T:
        """Run ``change`` on the loop (if one is serving), then publish the registers."""

        def run() -> T:
            result = change()
            self._publish()
            return result

        loop = self._loop
        if loop is None or _in_thread_of(loop):
            return run()
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def in_loop() -> None:
            try:
                future.set_result(run())
            except Exception as error:  # noqa: BLE001 - handed to the caller's thread
                future.set_exception(error)

        loop.call_soon_threadsafe(in_loop)
        return future.result(timeout=CALL_TIMEOUT_S)

    # --- logging -------------------------------------------------------------------------

    def _log_state(self) -> None:
        model = self.model
        reason = STOP_REASONS.get(model.stop_reason, "?")
        alarms = ", ".join(sorted(model.active_alarms)) or "none"
        log.info(
            "%s line %s (stop reason %d: %s), alarms: %s",
            f"{model.now:%Y-%m-%d %H:%M:%S}",
            model.state.name,
            model.stop_reason,
            reason,
            alarms,
        )

    def _observed(self) -> frozenset[str]:
        return self.model.active_alarms

    def _log_changes(self) -> None:
        changes = self.model.changes
        while changes:
            change = changes.popleft()
            log.info(
                "%s %s -> %s (stop reason %d: %s)",
                f"{change.at:%Y-%m-%d %H:%M:%S}",
                change.before.name,
                change.after.name,
                change.reason,
                STOP_REASONS.get(change.reason, "?"),
            )
        alarms, before = self.model.active_alarms, self._last_seen
        when = f"{self.model.now:%Y-%m-%d %H:%M:%S}"
        for code in sorted(alarms - before):
            log.info("%s alarm raised: %s", when, code)
        for code in sorted(before - alarms):
            log.info("%s alarm cleared: %s", when, code)
        self._last_seen = alarms


def _in_thread_of(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _warn_unsimulated(register_map: RegisterMap, model: LineModel) -> None:
    known = set(model.values()) | set(ALARM_BITS)
    by_role = (TagRole.HEARTBEAT, TagRole.ALARM_WORD)
    for tag in register_map.tags:
        if tag.name not in known and tag.role not in by_role:
            log.warning("tag %r is not simulated: it reads 0", tag.name)


# --- running in a background thread ----------------------------------------------------------


class RunningSimulator:
    """A simulator serving on its own event loop in a background thread; a context manager."""

    def __init__(self, simulator: LineSimulator, host: str, port: int) -> None:
        self.simulator = simulator
        self.host = host
        self.port = port
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, name="line-simulator", daemon=True)

    def start(self) -> RunningSimulator:
        """Start serving; returns once the port accepts connections (raises if it cannot)."""
        self.thread.start()
        if not self._ready.wait(CALL_TIMEOUT_S):
            self.stop()
            raise TimeoutError("the simulator did not start listening")
        if self._error is not None:
            self.thread.join(CALL_TIMEOUT_S)
            raise OSError(f"the simulator cannot serve on {self.host}:{self.port}: {self._error}")
        return self

    def stop(self) -> None:
        """Stop the server and wait for the thread to end."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and self.thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(stop.set)
        if self.thread.is_alive():
            self.thread.join(CALL_TIMEOUT_S)

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # noqa: BLE001 - reported to the starting thread
            self._error = error
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        serving = asyncio.create_task(
            self.simulator.serve(self.host, self.port, ready=self._on_ready)
        )
        stopping = asyncio.create_task(self._stop.wait())
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        serving.cancel()
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        await asyncio.sleep(0)  # let closed transports finish closing before the loop goes

    def _on_ready(self, address: tuple[str, int]) -> None:
        self.host, self.port = address
        self._ready.set()


def start_simulator(
    register_map: RegisterMap,
    host: str = "127.0.0.1",
    port: int | None = None,
    *,
    time_factor: float = 1.0,
    seed: int = 0,
    start: datetime | None = None,
    profile: LineProfile | None = None,
    tick_s: float = 0.1,
    heartbeat_s: float = 1.0,
    paused: bool = False,
    model: LineModel | None = None,
) -> RunningSimulator:
    """Serve a new line on host:port (default: the map's port; 0: a free one) in a thread.

    ``start`` is the simulated local time to begin at (default: now); ``paused`` holds the
    line still until ``resume()``, so that a reader can take its baseline first. ``model``
    serves a line model that is under way (a backfilled history's) instead of a new one.
    """
    if model is None:
        model = LineModel(profile, seed=seed, start=start)
    simulator = LineSimulator(
        register_map,
        model,
        time_factor=time_factor,
        tick_s=tick_s,
        heartbeat_s=heartbeat_s,
        paused=paused,
    )
    port = register_map.device.port if port is None else port
    return RunningSimulator(simulator, host, port).start()


# --- the command --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wash-ops simulate", description="A Modbus TCP server that behaves like the line."
    )
    parser.add_argument("--host", default=None, help="address to listen on (default: the map's)")
    parser.add_argument("--port", type=int, default=None, help="port (default: the map's)")
    parser.add_argument("--time-factor", type=float, default=1.0, help="simulated s per real s")
    parser.add_argument("--register-map", type=Path, default=None, help="register map (TOML)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the day's events")
    parser.add_argument(
        "--start", type=datetime.fromisoformat, default=None, help="simulated start, ISO"
    )
    parser.add_argument("--duration", type=float, default=None, help="stop after this many s")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until Ctrl+C, SIGTERM or --duration; logs the line's state changes."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        register_map = load_register_map(args.register_map)
    except ConfigError as error:
        print(f"wash-ops simulate: {error}", file=sys.stderr)
        return 2
    host = args.host or register_map.device.host
    try:
        running = start_simulator(
            register_map,
            host,
            args.port,
            time_factor=args.time_factor,
            seed=args.seed,
            start=args.start,
        )
    except (OSError, TimeoutError) as error:
        print(f"wash-ops simulate: {error}", file=sys.stderr)
        return 1
    with running:
        log.info(
            "time factor %g, device id %d; Ctrl+C stops",
            args.time_factor,
            register_map.device.device_id,
        )
        _wait_for_stop(args.duration)
    return 0


def _wait_for_stop(duration: float | None) -> None:
    """Block until SIGINT/SIGTERM (when on the main thread) or ``duration`` seconds."""
    stop = threading.Event()
    restore = None
    if threading.current_thread() is threading.main_thread():
        restore = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    deadline = None if duration is None else time.monotonic() + duration
    try:
        while not stop.is_set():
            left = (
                WAIT_SLICE_S if deadline is None else min(WAIT_SLICE_S, deadline - time.monotonic())
            )
            if left <= 0:
                break
            stop.wait(left)  # in slices, so that Ctrl+C gets through on every platform
    except KeyboardInterrupt:
        log.info("interrupted")
    finally:
        if restore is not None:
            signal.signal(signal.SIGTERM, restore)
