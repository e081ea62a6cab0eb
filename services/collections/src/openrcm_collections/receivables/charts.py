"""PNG charts of the A/R reports (matplotlib's Agg canvas, no pyplot: no global figure state, safe
in the service's worker threads)."""

from __future__ import annotations

import io
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from openrcm_collections.receivables.aging import BUCKET_NAMES, AgingRow, totals
from openrcm_collections.receivables.kpis import MonthTrend

PNG_MEDIA_TYPE = "image/png"
_BUCKET_LABELS = {"0_30": "0-30", "31_60": "31-60", "61_90": "61-90", "91_120": "91-120", "over_120": "120+"}


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def aging_chart(rows: list[AgingRow], title: str) -> bytes:
    """Stacked bars: insurance and patient A/R in each age bucket (days)."""
    insurance, patient = totals(rows, "insurance"), totals(rows, "patient")
    figure = Figure(figsize=(8, 4.5))
    axes = figure.add_subplot()
    labels = [_BUCKET_LABELS[name] for name in BUCKET_NAMES]
    insured = [float(insurance[name]) for name in BUCKET_NAMES]
    owed = [float(patient[name]) for name in BUCKET_NAMES]
    axes.bar(labels, insured, label="Insurance", color="#2b6cb0")
    axes.bar(labels, owed, bottom=insured, label="Patient", color="#dd6b20")
    axes.set_xlabel("Age (days)")
    axes.set_ylabel("Balance ($)")
    axes.set_title(title)
    axes.legend()
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)


def trend_chart(trend: list[MonthTrend], title: str) -> bytes:
    """Monthly collections (insurance and patient, bars) and denied dollars (line)."""
    figure = Figure(figsize=(9, 4.5))
    axes = figure.add_subplot()
    months = [month.month for month in trend]
    insurance = [float(month.insurance_collections) for month in trend]
    patient = [float(month.patient_collections) for month in trend]
    axes.bar(months, insurance, label="Insurance collections", color="#2b6cb0")
    axes.bar(months, patient, bottom=insurance, label="Patient collections", color="#38a169")
    axes.plot(months, [float(month.denied_dollars) for month in trend], label="Denied", color="#c53030", marker="o")
    axes.set_ylabel("Dollars ($)")
    axes.set_title(title)
    axes.legend()
    axes.grid(axis="y", alpha=0.3)
    axes.tick_params(axis="x", labelrotation=45)
    return _png(figure)
