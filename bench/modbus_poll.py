"""Modbus poll benchmark: one poll cycle of the whole register map against a bare pymodbus read
of the same registers, then a fast polling run of the real poller.

What it does, in one run:

1. starts the line simulator in this process (``start_simulator``, port 0, its own thread and
   event loop) and connects one ``AsyncModbusTcpClient`` to it;
2. times, interleaved ``--cycles`` times (the order alternating each round, after a warm-up):
   - **the poll cycle**: ``Poller.read_once(client)`` for the whole default map: every planned
     request, the decoding of every tag and the ``Reading`` (the plan itself is made once, when
     the ``Poller`` is built: it is timed apart, as is the decoding alone);
   - **the reference**: a bare ``await client.read_holding_registers(address, count=N,
     device_id=...)`` of the same registers (one call per planned block), nothing decoded;
   each as wall time (median, p99) and as CPU time of the calling thread (``time.thread_time``:
   the simulator's thread is not counted);
3. measures the waiting alone for up to 10 s: ``asyncio.wait_for(event.wait(), timeout)`` at the
   same rate, no Modbus (the CPU any asyncio loop ticking at that rate costs here);
4. runs the real ``Poller.run`` at ``--rate`` Hz (default 10) for ``--duration`` seconds (default
   60) against the simulator, by default in a subprocess (``python -m wash_ops_cli simulate``) so
   that this process's CPU is the poller's own (``--simulator thread`` keeps it in-process). The
   poller's clock and sink record when each cycle started and ended. It reports:
   - cycles expected (run time x rate) and done, good and bad readings;
   - **late cycles**: a cycle is late when it starts more than 10 % of the interval (10 ms at
     10 Hz) after its due time. Due times are the fixed grid ``t0 + k x interval`` from the
     first cycle's start: what "polling at 10 Hz" promises (the k-th reading, k intervals
     after the first). The same count against the poller's own plan (the previous cycle's
     start + one interval) is printed too: it shows jitter without the drift that builds up
     when every wait is counted from the previous start;
   - max lateness and the drift at the end of the run (last start - its due time);
   - CPU used: this process's ``time.process_time`` over the run's wall time and per cycle; the
     poller thread's ``time.thread_time`` per cycle, as a ratio to the bare read's CPU per call
     from step 2 and to the waiting alone from step 3; and the simulator's own CPU (from
     ``/proc`` for the subprocess, or the process minus the poller's thread in-process).

It prints the figures, the ratio of the poll cycle to the bare read, and a PASS/FAIL line for
"at 10 Hz, no more than 1 % of the cycles start late, and at least 99 % of the expected cycles
are done". It is a benchmark, not a test: it exits 0 whatever the figures, and non-zero only
when it crashes.

    .venv/bin/python bench/modbus_poll.py
    .venv/bin/python bench/modbus_poll.py --duration 10 --cycles 500
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pymodbus
from pymodbus.client import AsyncModbusTcpClient

from plc.poller import Poller
from plc.registers import ReadBlock, decode_block, plan_reads
from plc.simulator import start_simulator
from wash_ops.db import utcnow
from wash_ops.telemetry.ingest import Quality, Reading
from wash_ops.telemetry.register_map import RegisterMap, Table, load_register_map

WARM_UP = 50
LATE_FRACTION = 0.10  # a cycle is late when it starts later than this share of the interval
MAX_LATE_SHARE = 0.01  # PASS: at most 1 % of the cycles late ...
MIN_DONE_SHARE = 0.99  # ... and at least 99 % of the expected cycles done
STARTUP_S = 15.0
PURE_REPEAT = 2_000
IDLE_S = 10.0  # at most this long for the idle reference (the waiting alone)


# --- options ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    cycles: int
    duration: float
    rate: float
    simulator: str
    time_factor: float


def setup(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cycles", type=int, default=2_000, help="timed cycles of each kind in step 2 (2000)"
    )
    parser.add_argument(
        "--duration", type=float, default=60.0, help="seconds of the polling run (60)"
    )
    parser.add_argument("--rate", type=float, default=10.0, help="polls per second (10)")
    parser.add_argument(
        "--simulator",
        choices=("process", "thread"),
        default="process",
        help="where the simulator of the polling run lives (process: a subprocess, so that "
        "this process's CPU is the poller's own; thread: in this process)",
    )
    parser.add_argument(
        "--time-factor", type=float, default=60.0, help="simulated s per real s (60)"
    )
    args = parser.parse_args(argv)
    if args.cycles < 1 or args.duration <= 0 or not 0.05 <= 1 / args.rate <= 3600:
        parser.error("need --cycles >= 1, --duration > 0 and an interval 1/--rate of 0.05..3600 s")
    return Options(args.cycles, args.duration, args.rate, args.simulator, args.time_factor)


# --- timing -------------------------------------------------------------------------------


@dataclass
class Timing:
    """Wall and thread-CPU time per call, in ms."""

    label: str
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)

    async def time(self, action: Callable[[], Awaitable[object]]) -> object:
        cpu = time.thread_time_ns()
        started = time.perf_counter_ns()
        result = await action()
        self.wall_ms.append((time.perf_counter_ns() - started) / 1e6)
        self.cpu_ms.append((time.thread_time_ns() - cpu) / 1e6)
        return result

    @property
    def median(self) -> float:
        return statistics.median(self.wall_ms)

    @property
    def p99(self) -> float:
        return percentile(self.wall_ms, 99)

    @property
    def cpu_mean(self) -> float:
        return statistics.fmean(self.cpu_ms)


def percentile(values: Sequence[float], pct: int) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


# --- step 2: one cycle against a bare read --------------------------------------------------


@dataclass
class CycleFigures:
    blocks: list[ReadBlock]
    cycle: Timing
    bare: Timing
    plan_us: float
    decode_us: float
    reading: Reading | None = None


def compare_cycle(register_map: RegisterMap, options: Options) -> CycleFigures:
    with start_simulator(register_map, "127.0.0.1", 0, time_factor=options.time_factor) as sim:
        return asyncio.run(_compare_cycle(register_map, sim.port, options.cycles))


async def _compare_cycle(register_map: RegisterMap, port: int, cycles: int) -> CycleFigures:
    device = register_map.device
    poller = Poller(register_map, lambda _reading: None, host="127.0.0.1", port=port)
    figures = CycleFigures(
        blocks=poller.blocks,
        cycle=Timing("Poller.read_once, whole map"),
        bare=Timing("bare read_holding_registers (reference)"),
        plan_us=0.0,
        decode_us=0.0,
    )
    client = AsyncModbusTcpClient(
        "127.0.0.1", port=port, timeout=device.timeout_s, retries=0, reconnect_delay=0
    )
    if not await client.connect():
        raise RuntimeError(f"cannot connect to the simulator on port {port}")
    try:

        async def cycle() -> Reading:
            return await poller.read_once(client)

        async def bare() -> list[list[int]]:
            return [await _bare_read(client, block, device.device_id) for block in poller.blocks]

        for _ in range(WARM_UP):
            await cycle()
            await bare()
        for number in range(cycles):
            order = ((figures.cycle, cycle), (figures.bare, bare))
            for timing, action in order if number % 2 == 0 else reversed(order):
                result = await timing.time(action)
                if isinstance(result, Reading):
                    if result.quality is not Quality.GOOD:
                        raise RuntimeError(f"a bad reading in the benchmark: {result.error}")
                    figures.reading = result
        registers = await bare()
    finally:
        client.close()
    figures.plan_us = _pure_us(lambda: plan_reads(register_map))
    figures.decode_us = _pure_us(
        lambda: [decode_block(b, r) for b, r in zip(poller.blocks, registers, strict=True)]
    )
    return figures


async def _bare_read(client: AsyncModbusTcpClient, block: ReadBlock, device_id: int) -> list[int]:
    read = {
        Table.HOLDING: client.read_holding_registers,
        Table.INPUT: client.read_input_registers,
        Table.COIL: client.read_coils,
        Table.DISCRETE: client.read_discrete_inputs,
    }[block.table]
    response = await read(block.address, count=block.count, device_id=device_id)
    if response.isError():
        raise RuntimeError(f"{block}: exception response {response}")
    return response.bits if block.table.is_bits else response.registers


def _pure_us(action: Callable[[], object]) -> float:
    """Median µs of a pure-Python call, over batches (no socket involved)."""
    batches = []
    for _ in range(20):
        started = time.perf_counter_ns()
        for _ in range(PURE_REPEAT // 20):
            action()
        batches.append((time.perf_counter_ns() - started) / 1e3 / (PURE_REPEAT // 20))
    return statistics.median(batches)


# --- step 3: the polling run ----------------------------------------------------------------


@dataclass
class RunFigures:
    interval: float
    wall_s: float
    starts: list[float]
    ends: list[float]
    good: int
    bad: int
    process_cpu_s: float
    poller_cpu_s: float
    simulator_cpu_s: float | None
    simulator: str

    @property
    def expected(self) -> int:
        return int(self.wall_s / self.interval)

    @property
    def done(self) -> int:
        return len(self.starts)

    @property
    def grid_lateness(self) -> list[float]:
        """Seconds each cycle started after its due time on the fixed grid t0 + k x interval."""
        first = self.starts[0]
        return [start - (first + k * self.interval) for k, start in enumerate(self.starts)]

    @property
    def own_lateness(self) -> list[float]:
        """Seconds each cycle started after the previous start + one interval."""
        return [
            later - (earlier + self.interval)
            for earlier, later in zip(self.starts, self.starts[1:], strict=False)
        ]

    @property
    def limit(self) -> float:
        return LATE_FRACTION * self.interval

    def late(self, lateness: Sequence[float]) -> int:
        return sum(1 for seconds in lateness if seconds > self.limit)

    @property
    def cycle_ms(self) -> list[float]:
        return [(end - start) * 1e3 for start, end in zip(self.starts, self.ends, strict=False)]

    @property
    def passed(self) -> bool:
        late_ok = self.late(self.grid_lateness) <= MAX_LATE_SHARE * max(self.done, 1)
        return late_ok and self.done >= MIN_DONE_SHARE * self.expected


class Recorder:
    """The poller's clock and sink: when each cycle started (the clock is read first thing in
    ``read_once``) and when its reading was handed on."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.good = 0
        self.bad = 0

    def clock(self) -> datetime:
        self.starts.append(time.perf_counter())
        return utcnow()

    def sink(self, reading: Reading) -> None:
        self.ends.append(time.perf_counter())
        if reading.quality is Quality.GOOD:
            self.good += 1
        else:
            self.bad += 1


@dataclass(frozen=True)
class IdleFigures:
    """The poller's waiting alone: the same ``asyncio.wait_for(stop.wait(), timeout)`` at the
    same rate, no Modbus: what any asyncio loop ticking at that rate costs on this machine."""

    seconds: float
    ticks: int
    cpu_s: float

    @property
    def cpu_per_tick_ms(self) -> float:
        return self.cpu_s / max(self.ticks, 1) * 1e3


def idle_ticks(options: Options) -> IdleFigures:
    interval = 1 / options.rate
    seconds = min(options.duration, IDLE_S)

    async def main() -> IdleFigures:
        stop = asyncio.Event()
        ticks, cpu, started = 0, time.process_time(), time.perf_counter()
        while time.perf_counter() - started < seconds:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
            ticks += 1
        return IdleFigures(time.perf_counter() - started, ticks, time.process_time() - cpu)

    return asyncio.run(main())


def polling_run(register_map: RegisterMap, options: Options) -> RunFigures:
    interval = 1 / options.rate
    device = register_map.device.model_copy(update={"poll_interval_s": interval})
    fast = register_map.model_copy(update={"device": device})
    if options.simulator == "thread":
        with start_simulator(fast, "127.0.0.1", 0, time_factor=options.time_factor) as sim:
            return _poll(fast, sim.port, options, None)
    with simulator_process(options.time_factor) as (port, pid):
        return _poll(fast, port, options, pid)


def _poll(register_map: RegisterMap, port: int, options: Options, pid: int | None) -> RunFigures:
    recorder = Recorder()
    poller = Poller(register_map, recorder.sink, host="127.0.0.1", port=port, clock=recorder.clock)

    async def main() -> tuple[float, float, float]:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(options.duration, stop.set)
        cpu, thread_cpu, started = time.process_time(), time.thread_time(), time.perf_counter()
        await poller.run(stop)
        return (
            time.perf_counter() - started,
            time.process_time() - cpu,
            time.thread_time() - thread_cpu,
        )

    simulator_before = _cpu_of(pid) if pid is not None else None
    wall, process_cpu, poller_cpu = asyncio.run(main())
    if pid is not None:
        after = _cpu_of(pid)
        simulator_cpu = (
            after - simulator_before if after is not None and simulator_before is not None else None
        )
    else:
        simulator_cpu = process_cpu - poller_cpu
    return RunFigures(
        interval=register_map.device.poll_interval_s,
        wall_s=wall,
        starts=recorder.starts,
        ends=recorder.ends,
        good=recorder.good,
        bad=recorder.bad,
        process_cpu_s=process_cpu,
        poller_cpu_s=poller_cpu,
        simulator_cpu_s=simulator_cpu,
        simulator=options.simulator,
    )


@contextlib.contextmanager
def simulator_process(time_factor: float) -> Iterator[tuple[int, int]]:
    """``wash-ops simulate`` on a free port in a subprocess; yields (port, pid)."""
    port = _free_port()
    command = [sys.executable, "-m", "wash_ops_cli", "simulate", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--time-factor", str(time_factor)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process)
        yield port, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the simulator exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the simulator did not listen on port {port} within {STARTUP_S:.0f} s")


def _cpu_of(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux /proc), None where that is unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


# --- the run ------------------------------------------------------------------------------


@dataclass
class Report:
    register_map: RegisterMap
    cycle: CycleFigures
    idle: IdleFigures
    run: RunFigures


def run(options: Options) -> Report:
    register_map = load_register_map(environ={})
    cycle = compare_cycle(register_map, options)
    idle = idle_ticks(options)
    return Report(register_map, cycle, idle, polling_run(register_map, options))


# --- printing -----------------------------------------------------------------------------


def print_report(report: Report, options: Options) -> None:
    cycle, polled = report.cycle, report.run
    registers = sum(block.count for block in cycle.blocks)
    print(
        f"wash-ops Modbus poll benchmark - pymodbus {pymodbus.__version__}, Python "
        f"{platform.python_version()}"
    )
    print(
        f"machine: {platform.machine()}, {_cpus()} CPUs, {platform.platform(terse=True)}, "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    tags = len(report.register_map.tags)
    spans = ", ".join(str(block) for block in cycle.blocks)
    print(
        f"map: the default register map, {tags} tags in {registers} registers, "
        f"{len(cycle.blocks)} request(s) per cycle ({spans})"
    )
    print(
        f"one cycle against a bare read, simulator in this process over 127.0.0.1, "
        f"{options.cycles:,} interleaved cycles each (ms):"
    )
    bare = cycle.bare
    _line(bare, f"CPU {bare.cpu_mean:.3f} ms per call")
    _line(
        cycle.cycle,
        f"x{cycle.cycle.median / bare.median:.2f} bare read; CPU {cycle.cycle.cpu_mean:.3f} ms "
        f"per call, x{cycle.cycle.cpu_mean / bare.cpu_mean:.2f}",
    )
    print(
        f"  of which pure Python: decode_block of the whole map {cycle.decode_us:.1f} µs per "
        f"cycle; plan_reads {cycle.plan_us:.1f} µs, once per Poller"
    )
    interval_ms = polled.interval * 1e3
    where = "a subprocess" if polled.simulator == "process" else "this process"
    print(
        f"polling run: Poller.run at {options.rate:g} Hz ({interval_ms:.0f} ms) for "
        f"{polled.wall_s:.1f} s, simulator in {where}"
    )
    print(
        f"  cycles: {polled.expected:,} expected, {polled.done:,} done "
        f"({polled.done - polled.expected:+,}), {polled.good:,} good, {polled.bad:,} bad"
    )
    grid, own = polled.grid_lateness, polled.own_lateness
    limit_ms = polled.limit * 1e3
    print(
        f"  late (start > {limit_ms:.0f} ms after due), fixed {options.rate:g} Hz grid: "
        f"{polled.late(grid):,} of {polled.done:,}; max lateness {max(grid) * 1e3:.1f} ms, "
        f"{grid[-1] * 1e3:.1f} ms behind at the end"
    )
    if own:
        mean_step = statistics.fmean(own) * 1e3
        print(
            f"  late against the previous start + {interval_ms:.0f} ms: {polled.late(own):,}; "
            f"max {max(own) * 1e3:.1f} ms, mean {mean_step:+.2f} ms per cycle "
            f"(the drift), p99 {percentile(own, 99) * 1e3:+.2f} ms"
        )
    durations = polled.cycle_ms
    print(
        f"  cycle (read_once to sink): median {statistics.median(durations):.2f} ms, "
        f"p99 {percentile(durations, 99):.2f} ms, max {max(durations):.2f} ms"
    )
    per_cycle = polled.process_cpu_s / max(polled.done, 1) * 1e3
    print(
        f"  CPU of this process: {polled.process_cpu_s:.2f} s in {polled.wall_s:.1f} s = "
        f"{polled.process_cpu_s / polled.wall_s:.1%} of one core, {per_cycle:.3f} ms per cycle"
    )
    idle = report.idle
    poller_per_cycle = polled.poller_cpu_s / max(polled.done, 1) * 1e3
    print(
        f"  CPU of the poller's thread: {polled.poller_cpu_s:.2f} s = "
        f"{polled.poller_cpu_s / polled.wall_s:.1%} of one core, {poller_per_cycle:.3f} ms per "
        f"cycle (x{poller_per_cycle / bare.cpu_mean:.2f} a bare read's CPU in step 2, "
        f"x{poller_per_cycle / idle.cpu_per_tick_ms:.2f} the waiting alone)"
    )
    print(
        f"  the waiting alone, asyncio.wait_for at {options.rate:g} Hz without Modbus for "
        f"{idle.seconds:.0f} s: {idle.cpu_per_tick_ms:.3f} ms CPU per tick, "
        f"{idle.cpu_s / idle.seconds:.1%} of one core"
    )
    if polled.simulator_cpu_s is not None:
        print(
            f"  CPU of the simulator ({where}): {polled.simulator_cpu_s:.2f} s = "
            f"{polled.simulator_cpu_s / polled.wall_s:.1%}"
        )
    late = polled.late(grid)
    print(
        f"{'PASS' if polled.passed else 'FAIL'}: at {options.rate:g} Hz, {late:,} of "
        f"{polled.done:,} cycles late (limit {MAX_LATE_SHARE:.0%}), {polled.done:,} of "
        f"{polled.expected:,} expected cycles done (limit {MIN_DONE_SHARE:.0%})"
    )


def _line(timing: Timing, note: str = "") -> None:
    print(
        f"  {timing.label:<42} median {timing.median:7.3f}  p99 {timing.p99:7.3f}"
        + (f"  ({note})" if note else "")
    )


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def main(argv: Sequence[str] | None = None) -> int:
    options = setup(argv)
    print_report(run(options), options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
