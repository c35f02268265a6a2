"""The printable batch report and an order's hygiene certificate (A4 PDFs through fpdf2).

Text goes through the translation catalogue and dates are shown in the site's time zone. The
PDF core fonts cover Latin-1, which holds Dutch, English and °C; any other character prints as
a question mark rather than failing the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from flask_babel import format_datetime, format_decimal, gettext
from fpdf import FPDF

from wash_ops.orders.models import Order
from wash_ops.washing.eco import EcoFigures
from wash_ops.washing.models import WashBatch
from web.context import settings

GREEN, RED, INK, MUTED = (11, 110, 79), (160, 20, 20), (27, 43, 52), (74, 90, 99)


class _Document(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        self.title_text = title
        self.set_title(title)
        self.set_author("wash-ops")
        self.set_auto_page_break(auto=True, margin=18)
        self.alias_nb_pages()
        self.add_page()

    def header(self) -> None:
        self.set_font("Helvetica", "B", 9)
        self.set_text_color(*MUTED)
        site = settings().site
        self.cell(
            0, 5, _latin(f"wash-ops · {site.name} · {site.address}"), new_x="LMARGIN", new_y="NEXT"
        )
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(*MUTED)
        self.cell(
            0,
            5,
            _latin(gettext("Page %(page)s of %(pages)s", page=self.page_no(), pages="{nb}")),
            align="C",
        )

    def heading(self, text: str, size: int = 16) -> None:
        self.set_font("Helvetica", "B", size)
        self.set_text_color(*INK)
        self.multi_cell(0, size * 0.5, _latin(text), new_x="LMARGIN", new_y="NEXT")
        self.ln(2)

    def facts(self, rows: Sequence[tuple[str, str]]) -> None:
        self.set_text_color(*INK)
        for label, value in rows:
            self.set_font("Helvetica", "B", 10)
            self.cell(62, 6.5, _latin(label))
            self.set_font("Helvetica", "", 10)
            self.multi_cell(0, 6.5, _latin(value), new_x="LMARGIN", new_y="NEXT")
        self.ln(3)

    def verdict(self, passed: bool | None) -> None:
        colour = GREEN if passed else RED
        text = (
            gettext("PASSED: within the hygiene limits")
            if passed
            else gettext("FAILED: outside the hygiene limits, cups quarantined")
        )
        self.set_font("Helvetica", "B", 13)
        self.set_text_color(255, 255, 255)
        self.set_fill_color(*colour)
        self.cell(
            0,
            10,
            _latin(("[OK] " if passed else "[X] ") + text),
            fill=True,
            new_x="LMARGIN",
            new_y="NEXT",
        )
        self.ln(4)

    def table(
        self, header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float]
    ) -> None:
        self.set_font("Helvetica", "B", 8.5)
        self.set_text_color(*INK)
        self.set_fill_color(230, 240, 236)
        for text, width in zip(header, widths, strict=True):
            self.cell(width, 7, _latin(text), border=1, fill=True)
        self.ln()
        self.set_font("Helvetica", "", 8.5)
        for row in rows:
            for index, (text, width) in enumerate(zip(row, widths, strict=True)):
                self.cell(width, 6.5, _latin(text), border=1, align="L" if index < 2 else "R")
            self.ln()
        self.ln(3)

    def output_bytes(self) -> bytes:
        return bytes(self.output())


def batch_report_pdf(batch: WashBatch, locale: str) -> bytes:
    order = batch.order
    document = _Document(gettext("Wash batch %(batch)s", batch=batch.number))
    document.heading(gettext("Wash batch %(batch)s", batch=batch.number))
    document.verdict(batch.hygiene_passed)
    document.facts(
        [
            (gettext("Order"), order.reference),
            (gettext("Organisation"), order.organisation.name),
            (gettext("Event"), order.event.name),
            (gettext("Cup type"), f"{batch.cup_type.name(locale)} ({batch.cup_type.code})"),
            (gettext("Line"), batch.line.name),
            (gettext("Started"), f"{_when(batch.started_at)} · {batch.started_by.name}"),
            (
                gettext("Ended"),
                f"{_when(batch.ended_at)} · {batch.ended_by.name if batch.ended_by else ''}",
            ),
        ]
    )
    document.heading(gettext("Cups"), 12)
    document.facts(
        [
            (gettext("Put on the line"), _n(batch.cups_loaded)),
            (gettext("Washed (PLC count)"), _n(batch.cups_washed)),
            (gettext("Rejected (PLC count)"), _n(batch.cups_rejected)),
            (
                gettext("To clean stock") if batch.hygiene_passed else gettext("To quarantine"),
                _n(batch.cups_good),
            ),
            (gettext("Written off as broken"), _n(batch.cups_broken)),
            (gettext("Back to the dirty backlog"), _n(batch.cups_unwashed)),
        ]
    )
    document.heading(gettext("Hygiene record"), 12)
    document.table(*_temperature_table(batch))
    document.heading(gettext("Water and energy"), 12)
    document.facts(
        [
            (gettext("Water"), _amount(batch.water_l, "l")),
            (gettext("Energy"), _amount(batch.energy_kwh, "kWh")),
        ]
    )
    return document.output_bytes()


def _temperature_table(batch: WashBatch):
    header = [
        gettext("Zone"),
        gettext("Limit"),
        gettext("Lowest"),
        gettext("Highest"),
        gettext("Seconds below"),
        gettext("Allowed"),
    ]
    rows = [
        [
            gettext("Wash"),
            _c(batch.wash_limit_c),
            _c(batch.wash_lowest_c),
            _c(batch.wash_highest_c),
            _n(batch.wash_seconds_below),
            _n(batch.max_seconds_below),
        ],
        [
            gettext("Final rinse"),
            _c(batch.rinse_limit_c),
            _c(batch.rinse_lowest_c),
            _c(batch.rinse_highest_c),
            _n(batch.rinse_seconds_below),
            _n(batch.max_seconds_below),
        ],
    ]
    return header, rows, [36, 26, 26, 26, 36, 30]


def certificate_pdf(
    order: Order, batches: Sequence[WashBatch], eco: EcoFigures, locale: str
) -> bytes:
    document = _Document(gettext("Hygiene certificate %(reference)s", reference=order.reference))
    document.heading(
        gettext("Hygiene certificate for order %(reference)s", reference=order.reference)
    )
    document.facts(
        [
            (gettext("Organisation"), order.organisation.name),
            (gettext("Event"), order.event.name),
            (gettext("Batches"), _n(len(batches))),
        ]
    )
    passed = bool(batches) and all(batch.hygiene_passed for batch in batches)
    if batches:
        document.verdict(passed)
    else:
        document.heading(gettext("No batch of this order has been washed yet."), 11)
    rows = [
        [
            batch.number,
            f"{batch.cup_type.code} · {_when(batch.started_at)}",
            _n(batch.cups_washed),
            _n(batch.cups_rejected),
            f"{_c(batch.wash_lowest_c)} / {_c(batch.wash_limit_c)}",
            f"{_c(batch.rinse_lowest_c)} / {_c(batch.rinse_limit_c)}",
            _n(max(batch.wash_seconds_below or 0, batch.rinse_seconds_below or 0)),
            gettext("pass") if batch.hygiene_passed else gettext("FAIL"),
        ]
        for batch in batches
    ]
    if rows:
        document.table(
            [
                gettext("Batch"),
                gettext("Cup type, started"),
                gettext("Washed"),
                gettext("Rejected"),
                gettext("Wash min/limit"),
                gettext("Rinse min/limit"),
                gettext("Sec. below"),
                gettext("Result"),
            ],
            rows,
            [22, 46, 18, 18, 26, 26, 18, 16],
        )
    document.heading(gettext("Eco figures"), 12)
    document.facts(
        [
            (gettext("Cups reused"), _n(eco.cups_reused)),
            (gettext("Single-use cups avoided"), _n(eco.single_use_avoided)),
            (gettext("Water"), _amount(eco.water_l, "l")),
            (gettext("Energy"), _amount(eco.energy_kwh, "kWh")),
        ]
    )
    document.set_font("Helvetica", "", 9)
    document.set_text_color(*MUTED)
    document.multi_cell(
        0,
        5,
        _latin(
            gettext(
                "Each batch is held to its limits for the whole batch: the wash and final-rinse "
                "temperatures may be below the limit for at most the allowed seconds; time "
                "without readings counts as below. A failed batch goes to quarantine, not to "
                "clean stock."
            )
        ),
    )
    return document.output_bytes()


def _when(value: datetime | None) -> str:
    return "" if value is None else format_datetime(value, "short")


def _n(value: float | int | None) -> str:
    return "–" if value is None else format_decimal(value)


def _c(value: float | None) -> str:
    return "–" if value is None else f"{format_decimal(round(value, 1))} °C"


def _amount(value: float | None, unit: str) -> str:
    return "–" if value is None else f"{format_decimal(round(value, 2))} {unit}"


def _latin(text: str) -> str:
    """Core PDF fonts speak Latin-1: typographic dashes and dots become plain ones."""
    for wide, plain in (("–", "-"), ("’", "'"), ("…", "..."), ("\u202f", " "), ("\u2009", " ")):
        text = text.replace(wide, plain)
    return text.encode("latin-1", "replace").decode("latin-1")
