"""Reading plan and decoding for the register map: pure Python, no sockets.

Tags of one table that lie close together are read in one request (the protocol allows 125
registers or 2000 bits per request), so a 32-bit value's two registers always come from the
same read and can never straddle a PLC update.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from wash_ops.telemetry.register_map import (
    MAX_BITS_PER_READ,
    MAX_REGISTERS_PER_READ,
    DataType,
    RegisterMap,
    Table,
    Tag,
    TagRole,
)

STRUCT_CODES = {
    DataType.UINT16: ">H",
    DataType.INT16: ">h",
    DataType.UINT32: ">I",
    DataType.INT32: ">i",
    DataType.FLOAT32: ">f",
}


@dataclass(frozen=True)
class ReadBlock:
    table: Table
    address: int
    count: int
    tags: tuple[Tag, ...]

    def __str__(self) -> str:
        return f"{self.table.value} {self.address}..{self.address + self.count - 1}"


def plan_reads(register_map: RegisterMap) -> list[ReadBlock]:
    """As few requests as the protocol allows for the whole map."""
    blocks: list[ReadBlock] = []
    for table in Table:
        tags = sorted((t for t in register_map.tags if t.table is table), key=lambda t: t.address)
        limit = MAX_BITS_PER_READ if table.is_bits else MAX_REGISTERS_PER_READ
        current: list[Tag] = []
        for tag in tags:
            if current and _fits(current, tag, limit, register_map.device.max_gap):
                current.append(tag)
                continue
            if current:
                blocks.append(_block(table, current))
            current = [tag]
        if current:
            blocks.append(_block(table, current))
    return blocks


def _fits(current: list[Tag], tag: Tag, limit: int, max_gap: int) -> bool:
    start = current[0].address
    end = max(t.end for t in current)
    return tag.address - end <= max_gap and tag.end - start <= limit


def _block(table: Table, tags: list[Tag]) -> ReadBlock:
    start = tags[0].address
    return ReadBlock(table, start, max(t.end for t in tags) - start, tuple(tags))


def decode_block(block: ReadBlock, data: Sequence[int] | Sequence[bool]) -> dict[str, float | int]:
    """Engineering values by tag name; counters, states, alarm words and heartbeats stay raw
    integers (counter deltas must be exact; the domain scales counters itself)."""
    if len(data) < block.count:
        raise ValueError(f"{block}: got {len(data)} values, expected {block.count}")
    values: dict[str, float | int] = {}
    for tag in block.tags:
        offset = tag.address - block.address
        if tag.table.is_bits:
            values[tag.name] = bool(data[offset])
            continue
        raw = decode_registers(tag, [int(word) for word in data[offset : offset + tag.width]])
        if tag.role is TagRole.GAUGE:
            values[tag.name] = raw * tag.scale + tag.offset
        else:
            values[tag.name] = raw
    return values


def decode_registers(tag: Tag, words: list[int]) -> int | float:
    if tag.type.registers == 2 and tag.word_order == "little":
        words = [words[1], words[0]]
    packed = struct.pack(f">{len(words)}H", *words)
    code = STRUCT_CODES[tag.type]
    return struct.unpack(code, packed)[0]


def encode_value(tag: Tag, raw: int | float) -> list[int]:
    """Registers for a raw value, in the tag's word order (the inverse of decode_registers)."""
    code = STRUCT_CODES[tag.type]
    words = list(struct.unpack(f">{tag.type.registers}H", struct.pack(code, raw)))
    if tag.type.registers == 2 and tag.word_order == "little":
        words.reverse()
    return words
