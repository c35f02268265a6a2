"""Telemetry from the network's MQTT publishers into the same ingest as the Modbus poller.

The bridge (``plc/mqtt_bridge.py``) hands over batches of raw messages; this module decides for
each one: stored (once, however often the broker delivers it), a duplicate, or a dead letter
with its reason. A batch is one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, insert, select
from sqlalchemy.orm import Session

from wash_ops.catalogue.models import Line, Site
from wash_ops.config import ConfigError, Settings
from wash_ops.db import bulk_insert, driver_time
from wash_ops.network.messages import DeadReason, Invalid, decode_json
from wash_ops.network.models import DeadLetter, NetworkSource, ReceivedMessage
from wash_ops.network.sparkplug import SPARKPLUG_NAMESPACE, Command, SparkplugDecoder
from wash_ops.telemetry.ingest import Quality, Reading, ingest_many
from wash_ops.telemetry.register_map import RegisterMap

JSON_KIND = "json"
IGNORED_SUFFIXES = ("status", "kpi")


@dataclass(frozen=True)
class Incoming:
    """A message as the broker delivered it."""

    topic: str
    payload: bytes
    received_at: datetime
    # The size as received (the bridge keeps only the start of an oversized payload).
    size: int = -1

    @property
    def payload_size(self) -> int:
        return self.size if self.size >= 0 else len(self.payload)


@dataclass
class BatchResult:
    stored: int = 0
    duplicates: int = 0
    dead: dict[str, int] = field(default_factory=dict)
    ignored: int = 0
    # Messages to publish in answer (Sparkplug rebirth requests).
    commands: list[Command] = field(default_factory=list)

    @property
    def dead_total(self) -> int:
        return sum(self.dead.values())

    def add(self, other: BatchResult) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.ignored += other.ignored
        self.commands.extend(other.commands)
        for reason, count in other.dead.items():
            self.dead[reason] = self.dead.get(reason, 0) + count


class _Accepted:
    """A reading to store; a JSON message's with its source and sequence number, to recognise
    it when it comes again."""

    __slots__ = ("line_code", "reading", "stream", "seq")

    def __init__(
        self, line_code: str, reading: Reading, stream: _JsonStream | None = None, seq: int = 0
    ) -> None:
        self.line_code = line_code
        self.reading = reading
        self.stream = stream
        self.seq = seq


def check_network_config(settings: Settings, register_map: RegisterMap) -> None:
    """What the settings alone cannot check: Sparkplug metrics must name register-map tags.
    Raises ConfigError naming the key."""
    tags = register_map.tags_by_name
    for index, entry in enumerate(settings.mqtt.sparkplug_metrics):
        if entry.tag not in tags:
            raise ConfigError(
                f"invalid configuration: mqtt.sparkplug_metrics.{index}.tag: "
                f"{entry.tag!r} is not a tag of the register map"
            )


class NetworkIngest:
    """Classifies, checks, de-duplicates and stores batches of MQTT messages."""

    def __init__(self, settings: Settings, register_map: RegisterMap) -> None:
        check_network_config(settings, register_map)
        self.settings = settings
        self.register_map = register_map
        self.root = settings.mqtt.topic_root
        self.max_payload = settings.mqtt.max_payload_bytes
        self.excerpt = settings.mqtt.dead_letter_excerpt_bytes
        self.stale_after = timedelta(seconds=settings.telemetry.stale_after_s)
        self.json_lines = {(e.site, e.line): e.line_code for e in settings.mqtt_lines}
        self.sparkplug = SparkplugDecoder(settings, register_map)

    def store(self, session: Session, messages: Sequence[Incoming]) -> BatchResult:
        """Store a batch in the session's transaction (the caller commits)."""
        result = BatchResult()
        dead_rows: list[dict[str, object]] = []
        accepted: list[_Accepted] = []
        sources = _Sources(session)
        for message in messages:
            try:
                self._one(session, message, sources, accepted, result)
            except Invalid as invalid:
                result.dead[invalid.reason] = result.dead.get(invalid.reason, 0) + 1
                dead_rows.append(self._dead_row(message, invalid))
        self._ingest(session, self._drop_duplicates(session, accepted, result))
        sources.write_back()
        if dead_rows:
            session.execute(insert(DeadLetter), dead_rows)
        session.flush()
        return result

    def _one(
        self,
        session: Session,
        message: Incoming,
        sources: _Sources,
        accepted: list[_Accepted],
        result: BatchResult,
    ) -> None:
        if message.payload_size > self.max_payload:
            raise Invalid(
                DeadReason.TOO_LARGE,
                f"{message.payload_size} bytes, more than the limit of {self.max_payload}",
            )
        parts = message.topic.split("/")
        if parts[0] == self.root and len(parts) == 4 and parts[3] == "telemetry":
            self._json(message, parts[1], parts[2], sources, accepted, result)
        elif parts[0] == self.root and len(parts) == 4 and parts[3] in IGNORED_SUFFIXES:
            result.ignored += 1
        elif parts[0] == SPARKPLUG_NAMESPACE:
            for line_code, reading in self.sparkplug.handle(session, message, sources, result):
                accepted.append(_Accepted(line_code, reading))
                result.stored += 1
        else:
            raise Invalid(DeadReason.UNKNOWN_TOPIC, f"no telemetry is expected on {message.topic}")

    def _json(
        self,
        message: Incoming,
        site: str,
        line: str,
        sources: _Sources,
        accepted: list[_Accepted],
        result: BatchResult,
    ) -> None:
        line_code = self.json_lines.get((site, line))
        if line_code is None:
            raise Invalid(
                DeadReason.UNKNOWN_SOURCE, f"site {site!r} line {line!r} is not in mqtt.lines"
            )
        decoded = decode_json(message.payload, self.register_map)
        stream = sources.json_stream(site, line, line_code)
        stream.last_seen_at = message.received_at
        reading = Reading(decoded.at, Quality.GOOD, decoded.metrics)
        accepted.append(_Accepted(line_code, reading, stream, decoded.seq))

    def _drop_duplicates(
        self, session: Session, accepted: list[_Accepted], result: BatchResult
    ) -> list[_Accepted]:
        """JSON messages already stored (or twice in this batch) are counted, not stored: by
        source, sequence number and time, whatever order they come in. The rest is recorded."""
        by_source: dict[int, list[int]] = {}
        for item in accepted:
            if item.stream is not None:
                by_source.setdefault(item.stream.source_id, []).append(item.seq)
        if not by_source:
            return accepted
        seen: set[tuple[int, int, datetime]] = set()
        for source_id, seqs in by_source.items():
            rows = session.execute(
                select(ReceivedMessage.seq, ReceivedMessage.at).where(
                    ReceivedMessage.source_id == source_id, _seq_among(seqs)
                )
            )
            seen.update((source_id, seq, at) for seq, at in rows)
        kept: list[_Accepted] = []
        new_rows: list[tuple[object, ...]] = []
        connection = session.connection()
        sqlite = connection.dialect.name == "sqlite"
        for item in accepted:
            stream = item.stream
            if stream is None:
                kept.append(item)
                continue
            at = item.reading.at
            key = (stream.source_id, item.seq, at)
            if key in seen:
                stream.duplicates += 1
                result.duplicates += 1
                continue
            seen.add(key)
            new_rows.append((stream.source_id, item.seq, driver_time(at, sqlite)))
            stream.messages += 1
            if stream.last_time is None or at >= stream.last_time:
                stream.last_seq, stream.last_time = item.seq, at
            result.stored += 1
            kept.append(item)
        bulk_insert(connection, ReceivedMessage.__tablename__, ("source_id", "seq", "at"), new_rows)
        return kept

    def _ingest(self, session: Session, accepted: list[_Accepted]) -> None:
        if not accepted:
            return
        codes = {item.line_code for item in accepted}
        lines = {
            line.code: line for line in session.scalars(select(Line).where(Line.code.in_(codes)))
        }
        missing = codes - set(lines)
        if missing:
            raise RuntimeError(
                f"mqtt maps onto line(s) {', '.join(sorted(missing))} that are not in the "
                "database: run `wash-ops db upgrade` or correct mqtt.lines"
            )
        for code, line in lines.items():
            readings = [item.reading for item in accepted if item.line_code == code]
            ingest_many(
                session,
                line,
                self.register_map,
                readings,
                self.settings.zone,
                self.stale_after,
                checked=True,
            )

    def _dead_row(self, message: Incoming, invalid: Invalid) -> dict[str, object]:
        return {
            "received_at": message.received_at,
            "topic": message.topic[:255],
            "reason": invalid.reason.value,
            "detail": invalid.detail,
            "payload_size": message.payload_size,
            "payload": bytes(message.payload[: self.excerpt]),
        }

    def dead_letter(
        self, session: Session, message: Incoming, reason: DeadReason, detail: str
    ) -> None:
        """Keep a message the bridge could not even queue (its queue was full)."""
        session.execute(insert(DeadLetter), [self._dead_row(message, Invalid(reason, detail))])


def _seq_among(seqs: list[int]) -> ColumnElement[bool]:
    """SQL for "seq is one of these": a range when they lie close together, as a stream's do
    (a list of thousands of values costs the database more to plan than to look up), else the
    list; a range may find a few seqs of other times too, which the caller matches exactly."""
    low, high = min(seqs), max(seqs)
    if high - low < 2 * len(seqs):
        return ReceivedMessage.seq.between(low, high)
    return ReceivedMessage.seq.in_(sorted(set(seqs)))


class _JsonStream:
    """A JSON source's share of a batch in plain attributes, set on its row once at the end
    (an ORM attribute costs several times a plain one to set, per message)."""

    __slots__ = (
        "source",
        "source_id",
        "line_id",
        "messages",
        "duplicates",
        "last_seq",
        "last_time",
        "last_seen_at",
    )

    def __init__(self, source: NetworkSource, line_id: int | None) -> None:
        self.source = source
        self.source_id = source.id
        self.line_id = line_id
        self.messages = 0
        self.duplicates = 0
        self.last_seq = source.last_seq
        self.last_time = source.last_time
        self.last_seen_at = source.last_seen_at

    def write_back(self) -> None:
        source = self.source
        source.messages += self.messages
        source.duplicates += self.duplicates
        source.last_seq, source.last_time = self.last_seq, self.last_time
        source.last_seen_at = self.last_seen_at
        source.line_id = self.line_id


class _Sources:
    """The batch's sources, loaded once per key and created when new."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[str, NetworkSource] = {}
        self.lines: dict[str, int] = {}
        self.streams: dict[tuple[str, str], _JsonStream] = {}

    def json_stream(self, site: str, line: str, line_code: str) -> _JsonStream:
        stream = self.streams.get((site, line))
        if stream is None:
            source = self.get(JSON_KIND, f"{site}/{line}")
            if source.id is None:
                self.session.flush()  # its id, for the record of messages received
            stream = self.streams[(site, line)] = _JsonStream(source, self.line_id(line_code))
        return stream

    def write_back(self) -> None:
        for stream in self.streams.values():
            stream.write_back()

    def line_id(self, code: str) -> int | None:
        if code not in self.lines:
            self.lines[code] = self.session.scalar(select(Line.id).where(Line.code == code))
        return self.lines[code]

    def get(self, kind: str, key: str) -> NetworkSource:
        full = f"{kind}:{key}"
        source = self.cache.get(full)
        if source is None:
            source = self.session.scalar(select(NetworkSource).where(NetworkSource.key == full))
            if source is None:
                source = NetworkSource(kind=kind, key=full, messages=0, duplicates=0)
                self.session.add(source)
            self.cache[full] = source
        return source


# --- what the office sees ----------------------------------------------------------------


@dataclass(frozen=True)
class SourceView:
    kind: str
    key: str
    line_code: str | None
    site_code: str | None
    last_seen_at: datetime | None
    messages: int
    duplicates: int
    stale: bool
    dead: bool


def network_sources(session: Session, now: datetime, stale_after: timedelta) -> list[SourceView]:
    """Every publisher seen, with its line and whether its data is stale."""
    rows = session.execute(
        select(NetworkSource, Line.code, Site.code)
        .outerjoin(Line, Line.id == NetworkSource.line_id)
        .outerjoin(Site, Site.id == Line.site_id)
        .order_by(NetworkSource.key)
    )
    views = []
    for source, line_code, site_code in rows:
        dead = source.dead_since is not None
        seen = source.last_seen_at
        views.append(
            SourceView(
                kind=source.kind,
                key=source.key.split(":", 1)[1],
                line_code=line_code,
                site_code=site_code,
                last_seen_at=seen,
                messages=source.messages,
                duplicates=source.duplicates,
                stale=dead or seen is None or now - seen > stale_after,
                dead=dead,
            )
        )
    return views


def dead_letter_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(DeadLetter.reason, func.count())
        .group_by(DeadLetter.reason)
        .order_by(DeadLetter.reason)
    )
    return {reason: count for reason, count in rows}


def recent_dead_letters(
    session: Session, reason: str | None = None, limit: int = 100, before_id: int | None = None
) -> list[DeadLetter]:
    query = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
    if reason:
        query = query.where(DeadLetter.reason == reason)
    if before_id is not None:
        query = query.where(DeadLetter.id < before_id)
    return list(session.scalars(query))


def network_line_ids(session: Session, settings: Settings) -> list[int]:
    """The ids of the lines the bridge feeds (JSON and Sparkplug mappings) that exist."""
    codes = {entry.line_code for entry in settings.mqtt_lines} | {
        entry.line_code for entry in settings.mqtt.sparkplug_nodes
    }
    return list(session.scalars(select(Line.id).where(Line.code.in_(codes))))


def prune_dead_letters(session: Session, before: datetime) -> int:
    """Delete dead letters received before ``before``, and the record of messages sent before
    it (a message redelivered after that long would be stored again); returns how many."""
    result = session.execute(delete(DeadLetter).where(DeadLetter.received_at < before))
    received = session.execute(delete(ReceivedMessage).where(ReceivedMessage.at < before))
    return (result.rowcount or 0) + (received.rowcount or 0)
