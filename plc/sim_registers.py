"""Tags as 16-bit words, laid out as the register map says: the simulator's side of the map.

A value becomes raw = round((value - offset) / scale); 32-bit values take two registers in the
tag's word order. Bits (coils, discrete inputs) are packed 16 to a register, bit 0 first, as
pymodbus keeps them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from plc.registers import decode_registers, encode_value
from wash_ops.telemetry.register_map import DataType, Table, Tag

SIGNED = frozenset({DataType.INT16, DataType.INT32})


def raw_value(tag: Tag, value: float) -> int | float:
    """The number the PLC stores for an engineering value (a float only for float32 tags)."""
    scaled = (value - tag.offset) / tag.scale
    return scaled if tag.type is DataType.FLOAT32 else round(scaled)


def to_words(tag: Tag, raw: float | bool, *, wrap: bool = False) -> list[int]:
    """Registers for a raw value. Counters ``wrap`` around; other integers saturate."""
    if tag.type is DataType.BOOL:
        return [1 if raw else 0]
    if tag.type is DataType.FLOAT32:
        return encode_value(tag, float(raw))
    return encode_value(tag, _wrapped(tag, int(raw)) if wrap else _saturated(tag, int(raw)))


def pattern_words(tag: Tag, pattern: int) -> list[int]:
    """Registers holding a bit pattern as it is, whatever the tag's type (for garbage)."""
    bits = 16 * tag.width
    return _ordered(tag, (pattern % 2**bits).to_bytes(bits // 8, "big"))


def from_words(tag: Tag, words: Sequence[int]) -> int | float | bool:
    """The raw value back from its registers (what a correct reader decodes before scaling)."""
    if tag.type is DataType.BOOL:
        return bool(words[0])
    return decode_registers(tag, list(words))


def _ordered(tag: Tag, data: bytes) -> list[int]:
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    return words[::-1] if tag.word_order == "little" else words


def _wrapped(tag: Tag, number: int) -> int:
    bits = 16 * tag.type.registers
    number %= 2**bits
    if tag.type in SIGNED and number >= 2 ** (bits - 1):
        number -= 2**bits
    return number


def _saturated(tag: Tag, number: int) -> int:
    bits = 16 * tag.type.registers
    low, high = (
        (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if tag.type in SIGNED else (0, 2**bits - 1)
    )
    return min(high, max(low, number))


class Layout:
    """One block of registers per table, from the first mapped address to the last.

    Gaps between tags are served as zeros, so a poller may read across them in one request.
    For bit tables the block is in packed registers: bit address a is register a // 16.
    """

    def __init__(self, tags: Iterable[Tag]) -> None:
        self.tags = tuple(tags)
        self.blocks: dict[Table, tuple[int, int]] = {}
        for table in Table:
            mapped = [tag for tag in self.tags if tag.table is table]
            if mapped:
                self.blocks[table] = _span(table, mapped)

    def bit_span(self, table: Table) -> tuple[int, int]:
        """First bit address and bit count of a bit table's mapped range."""
        mapped = [tag for tag in self.tags if tag.table is table]
        first = min(tag.address for tag in mapped)
        return first, max(tag.end for tag in mapped) - first

    def blank(self) -> dict[Table, list[int]]:
        return {table: [0] * size for table, (_, size) in self.blocks.items()}

    def place(self, image: dict[Table, list[int]], tag: Tag, words: Sequence[int]) -> None:
        start, _ = self.blocks[tag.table]
        registers = image[tag.table]
        if tag.table.is_bits:
            index, mask = tag.address // 16 - start, 1 << tag.address % 16
            registers[index] = registers[index] | mask if words[0] else registers[index] & ~mask
            return
        offset = tag.address - start
        registers[offset : offset + len(words)] = words

    def read(self, image: dict[Table, list[int]], tag: Tag) -> list[int]:
        start, _ = self.blocks[tag.table]
        registers = image[tag.table]
        if tag.table.is_bits:
            return [registers[tag.address // 16 - start] >> tag.address % 16 & 1]
        offset = tag.address - start
        return registers[offset : offset + tag.width]


def _span(table: Table, tags: list[Tag]) -> tuple[int, int]:
    first, end = min(tag.address for tag in tags), max(tag.end for tag in tags)
    if table.is_bits:
        first, end = first // 16, (end + 15) // 16
    return first, end - first
