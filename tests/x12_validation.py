"""Validate X12 text with pyx12 4.x through its Python API (a dev dependency, never used at run time).

pyx12's `x12valid` command exits 1 even on success, so tests and benchmarks call
`pyx12.x12n_document.x12n_document` directly. That function builds its own error handler and
offers no way to pass one in; the only complete, structured view of what it found is its JSON
error document (`fd_json`), which this helper walks. pyx12 checks structure, usage, repeat counts,
lengths and code values; balancing, NPI check digits and code-set membership are ours.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass

import pyx12.params
import pyx12.x12n_document


@dataclass(frozen=True)
class X12Finding:
    """One pyx12 error: where (segment id and position, X12 line number) and what."""

    segment: str
    segment_position: int | None
    line: int | None
    code: str
    message: str
    value: str | None = None

    def __str__(self) -> str:
        where = self.segment + (f"#{self.segment_position}" if self.segment_position else "")
        return f"{where} (line {self.line}): [{self.code}] {self.message}" + (f" ({self.value!r})" if self.value else "")


def pyx12_errors(x12_text: str) -> list[X12Finding]:
    """Validate `x12_text` with pyx12; return every error it reports (empty when clean).

    Also fails when pyx12 says the document is invalid without recording a finding (it should
    not happen, but an empty list must mean "pyx12 accepted it")."""
    logging.getLogger("pyx12").setLevel(logging.CRITICAL)  # findings come back as data, not log lines
    json_report = io.StringIO()
    valid = pyx12.x12n_document.x12n_document(
        param=pyx12.params.params(), src_file=io.StringIO(x12_text), fd_997=None, fd_html=None,
        fd_xmldoc=None, fd_json=json_report)
    findings = _findings(json.loads(json_report.getvalue()) if json_report.getvalue() else {})
    if not valid and not findings:
        findings.append(X12Finding("?", None, None, "?", "pyx12 reported the document invalid without details"))
    return findings


def _findings(report: dict) -> list[X12Finding]:
    findings: list[X12Finding] = []
    for interchange in report.get("interchanges", []):
        findings += _envelope_findings("ISA", interchange)
        for group in interchange.get("groups", []):
            findings += _envelope_findings("GS", group)
            for transaction in group.get("transactions", []):
                findings += _envelope_findings("ST", transaction)
                for segment in transaction.get("segments", []):
                    findings += _segment_findings(segment)
    return findings


def _envelope_findings(segment_id: str, node: dict) -> list[X12Finding]:
    return [X12Finding(segment_id, None, node.get("cur_line"), str(error["err_cde"]), error["err_str"])
            for error in node.get("errors", [])]


def _segment_findings(segment: dict) -> list[X12Finding]:
    segment_id = segment.get("seg_id") or "?"
    findings = [X12Finding(segment_id, segment.get("seg_count"), segment.get("cur_line"), str(error["err_cde"]),
                           error["err_str"], error.get("err_val"))
                for error in segment.get("errors", [])]
    for element in segment.get("elements", []):
        name = f"{segment_id}{element.get('ele_pos') or 0:02d}"
        findings += [X12Finding(name, segment.get("seg_count"), segment.get("cur_line"), str(error["err_cde"]),
                                error["err_str"], error.get("err_val"))
                     for error in element.get("errors", [])]
    return findings
