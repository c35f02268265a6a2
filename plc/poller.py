"""The Modbus TCP poller: reads the register map at an interval and hands each reading on.

A reading is whole or nothing: if any request of a cycle fails, the reading is marked bad and
carries no values. The client never retries a failed call on its own; the poller reconnects
with backoff and simply reads again at the next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from datetime import datetime

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from plc.registers import ReadBlock, decode_block, plan_reads
from wash_ops.db import utcnow
from wash_ops.telemetry.ingest import Quality, Reading
from wash_ops.telemetry.register_map import RegisterMap, Table

log = logging.getLogger(__name__)

Sink = Callable[[Reading], None]
BACKOFF_START_S = 0.2
BACKOFF_MAX_S = 10.0


class Poller:
    def __init__(
        self,
        register_map: RegisterMap,
        sink: Sink,
        *,
        host: str | None = None,
        port: int | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.register_map = register_map
        self.device = register_map.device
        self.host = host or self.device.host
        self.port = port or self.device.port
        self.sink = sink
        self.clock = clock
        self.blocks = plan_reads(register_map)
        self.cycles = 0
        self.connects = 0
        self.connected = False

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; every tick hands exactly one reading to the sink."""
        client = AsyncModbusTcpClient(
            self.host, port=self.port, timeout=self.device.timeout_s, retries=0, reconnect_delay=0
        )
        backoff = BACKOFF_START_S
        interval = self.device.poll_interval_s
        due = time.monotonic()
        try:
            while not stop.is_set():
                if not client.connected and not await self._connect(client):
                    self._emit(
                        Reading.failed(self.clock(), f"cannot connect to {self.host}:{self.port}")
                    )
                    await _wait(stop, backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX_S)
                    due = time.monotonic()
                    continue
                backoff = BACKOFF_START_S
                reading = await self.read_once(client)
                self._emit(reading)
                if reading.quality is Quality.BAD and not client.connected:
                    self._lost(reading.error)
                due = next_tick(due, interval, time.monotonic())
                await _wait(stop, due - time.monotonic())
        finally:
            client.close()

    async def _connect(self, client: AsyncModbusTcpClient) -> bool:
        try:
            ok = await client.connect()
        except (ModbusException, OSError) as error:
            log.debug("connect failed: %s", error)
            ok = False
        if ok:
            self.connects += 1
        if ok and not self.connected:
            log.info("connected to PLC at %s:%s", self.host, self.port)
        self.connected = bool(ok)
        return self.connected

    def _lost(self, reason: str) -> None:
        if self.connected:
            log.warning("lost the PLC at %s:%s: %s", self.host, self.port, reason)
        self.connected = False

    def _emit(self, reading: Reading) -> None:
        self.cycles += 1
        self.sink(reading)

    async def read_once(self, client: AsyncModbusTcpClient) -> Reading:
        at = self.clock()
        values: dict[str, float | int] = {}
        for block in self.blocks:
            try:
                response = await _reader(client, block.table)(
                    block.address, count=block.count, device_id=self.device.device_id
                )
            except (TimeoutError, ModbusException, OSError) as error:
                client.close()
                return Reading.failed(at, f"{block}: {error or type(error).__name__}")
            if response.isError():
                log.warning("%s: exception response %s", block, response)
                return Reading.failed(at, f"{block}: exception response {response}")
            data = response.bits if block.table.is_bits else response.registers
            try:
                values.update(decode_block(block, data))
            except ValueError as error:
                return Reading.failed(at, str(error))
        return Reading(at=at, quality=Quality.GOOD, values=values)


def _reader(client: AsyncModbusTcpClient, table: Table) -> Callable:
    return {
        Table.HOLDING: client.read_holding_registers,
        Table.INPUT: client.read_input_registers,
        Table.COIL: client.read_coils,
        Table.DISCRETE: client.read_discrete_inputs,
    }[table]


def next_tick(due: float, interval: float, now: float) -> float:
    """The next start on a fixed grid, so that waits never add up to drift; ticks that an
    overrun missed are skipped rather than read in a burst."""
    due += interval
    if now > due:
        due += math.ceil((now - due) / interval) * interval
    return due


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))


__all__ = ["Poller", "ReadBlock", "Sink"]
