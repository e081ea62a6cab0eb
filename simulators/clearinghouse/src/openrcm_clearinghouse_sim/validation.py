"""Front-end validation of one 837 interchange with pyx12 4.0, mapped to 999 content.

pyx12's `x12n_document` builds its own error handler and takes none from the caller; its complete
structured output is the JSON error document (`fd_json`), which this module walks. Its `callback`
(called with every segment and the map node it matched) gives the loop each segment sits in, which
pyx12's JSON lacks and the 999's IK303 wants. pyx12 checks structure, usage, repeats, lengths and
code values; it is the whole "front end" of this simulated clearinghouse.

Mapping to 005010X231A1:
- segment error codes pyx12 uses that are IK304 codes pass through; its private ones (SEG1, HL1,
  HL2, LX: a problem inside the segment) become IK304=8;
- element errors become IK4s under an IK3 with IK304=8;
- a transaction set with any error is rejected (IK501=R); IK502 carries pyx12's ST/SE error codes
  and 5 when segments are in error;
- GS/GE errors become AK905.. codes.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pyx12.errors
import pyx12.map_if
import pyx12.map_index
import pyx12.params
import pyx12.x12n_document

from openrcm_shared.x12.ack_999 import (
    ELEMENT_ERROR_CODES,
    SEGMENT_ERROR_CODES,
    SEGMENT_HAS_ELEMENT_ERRORS,
    SEGMENTS_IN_ERROR,
    ElementError,
    SegmentError,
)

# IK502 transaction set syntax error codes (X231A1, element 618) and AK905 functional group codes (716).
TRANSACTION_SET_ERROR_CODES = frozenset({"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13",
                                         "15", "16", "17", "18", "19", "23", "24", "25", "26", "27", "I5", "I6"})
GROUP_ERROR_CODES = frozenset({"1", "2", "3", "4", "5", "6", "16", "17", "18", "19", "20", "21", "22", "23",
                               "24", "25", "26"})
MAX_BAD_VALUE_LENGTH = 99  # IK404, data element 724: AN 1/99

_pyx12_lock = threading.Lock()  # pyx12 keeps module-level state (logging, maps loaded here); one validation at a time
_PYX12_PARAMS = pyx12.params.params()  # the defaults; every map below was loaded with them
_pyx12_load_map_file = pyx12.map_if.load_map_file
_loaded_maps: dict[tuple[str, str | None], pyx12.map_if.map_if] = {}


def _load_map_once(map_file: str, param: pyx12.params.ParamsBase, map_path: str | None = None) -> pyx12.map_if.map_if:
    """pyx12's `load_map_file`, once per map and process.

    pyx12 4.0 parses the control map and the transaction set's map from XML for every document:
    ~0.2 s of CPU per 837 file, as much as ~60 claims' validation. Validation does not change a
    loaded map: in pyx12 4.0 the loop and segment counts live in the walker's `NodeCounter`
    (map_if's own counter methods raise DeprecationWarning), and what the nodes set after
    construction are memoised paths. So one loaded map serves every document; the tests check
    that findings are the same with and without it, map after map.
    """
    if param is not _PYX12_PARAMS:
        return _pyx12_load_map_file(map_file, param, map_path)
    key = (map_file, map_path)
    if key not in _loaded_maps:
        _loaded_maps[key] = _pyx12_load_map_file(map_file, param, map_path)
    return _loaded_maps[key]


@contextlib.contextmanager
def _maps_loaded_once() -> Iterator[None]:
    # x12n_document looks `pyx12.map_if.load_map_file` up at each call; it is swapped only while
    # this module validates (under _pyx12_lock), so anyone else using pyx12 in the process (the
    # project's tests use it as their independent validator) gets pyx12 unchanged.
    pyx12_loader = pyx12.map_if.load_map_file
    pyx12.map_if.load_map_file = _load_map_once
    try:
        yield
    finally:
        pyx12.map_if.load_map_file = pyx12_loader


@dataclass(frozen=True)
class TransactionSetFindings:
    control_number: str  # ST02
    error_codes: tuple[str, ...]  # IK502..
    segment_errors: tuple[SegmentError, ...]

    @property
    def accepted(self) -> bool:
        return not self.error_codes and not self.segment_errors


@dataclass(frozen=True)
class GroupFindings:
    group_control_number: str  # GS06
    error_codes: tuple[str, ...]  # AK905..
    transaction_sets: list[TransactionSetFindings]  # in file order


@dataclass(frozen=True)
class InterchangeFindings:
    interchange_errors: tuple[str, ...]  # TA1-level (ISA/IEA) findings, kept for the batch record
    groups: list[GroupFindings]  # in file order


def pyx12_can_validate(functional_id: str, version: str) -> bool:
    """A claim group (GS01=HC) whose GS08 pyx12 carries a map for (005010X222A1, 005010X223A2, ...)."""
    return functional_id == "HC" and pyx12.map_index.map_index(None).get_filename("00501", version, "HC") is not None


def validate_interchange(x12_text: str) -> InterchangeFindings:
    """Run pyx12 over one interchange (ISA..IEA) and map what it finds to 999 terms.

    Blocking and CPU-bound: call it from a worker thread. Raises `pyx12.errors.X12Error` when the
    text is not X12 at all and `pyx12.errors.EngineError` for a GS08 pyx12 has no map for.
    """
    loops: dict[tuple[str | None, int], str] = {}

    def remember_loop(segment, source, node, valid) -> None:  # noqa: ANN001 - pyx12 callback signature
        if node is not None and node.get_parent() is not None:
            loops[(source.get_st_id(), source.get_seg_count())] = node.get_parent().id

    json_report = io.StringIO()
    with _pyx12_lock, _maps_loaded_once():
        logging.getLogger("pyx12").setLevel(logging.CRITICAL)  # findings come back as data, not log lines
        pyx12.x12n_document.x12n_document(
            param=_PYX12_PARAMS, src_file=io.StringIO(x12_text), fd_997=None, fd_html=None,
            fd_xmldoc=None, fd_json=json_report, callback=remember_loop)
    report = json.loads(json_report.getvalue() or '{"interchanges": []}')
    interchanges = report.get("interchanges", [])
    if not interchanges:
        raise pyx12.errors.X12Error("pyx12 found no interchange")
    return _interchange_findings(interchanges[0], loops)


def _interchange_findings(interchange: dict, loops: dict[tuple[str | None, int], str]) -> InterchangeFindings:
    groups = []
    for group in interchange.get("groups", []):
        transaction_sets = []
        for transaction in group.get("transactions", []):
            control_number = (transaction.get("trn_set_control_num") or "").strip()
            segment_errors = tuple(error for segment in transaction.get("segments", [])
                                   for error in _segment_errors(segment, control_number, loops))
            codes = [str(e["err_cde"]) for e in transaction.get("errors", [])]
            if segment_errors:
                codes.append(SEGMENTS_IN_ERROR)
            transaction_sets.append(TransactionSetFindings(
                control_number, _unique(c for c in codes if c in TRANSACTION_SET_ERROR_CODES), segment_errors))
        group_codes = _unique(code for code in (str(e["err_cde"]) for e in group.get("errors", []))
                              if code in GROUP_ERROR_CODES)
        groups.append(GroupFindings(str(group.get("gs_control_num") or "").strip(), group_codes, transaction_sets))
    interchange_errors = tuple(f"{e['err_cde']}: {e['err_str']}" for e in interchange.get("errors", []))
    return InterchangeFindings(interchange_errors, groups)


def _segment_errors(segment: dict, control_number: str, loops: dict[tuple[str | None, int], str]) -> list[SegmentError]:
    segment_id = _segment_identifier(segment.get("seg_id"))
    if segment_id is None:
        return []  # nothing to name it by; IK502=5 still says segments were in error
    position = int(segment.get("seg_count") or 0)
    codes = _unique(code if code in SEGMENT_ERROR_CODES else SEGMENT_HAS_ELEMENT_ERRORS
                    for code in (str(e["err_cde"]) for e in segment.get("errors", [])))
    # pyx12 notices a missing segment (IK304=3) at the next segment it reads, which may already sit
    # in another loop; the loop is reported only when the segment itself is there.
    loop_id = None if codes == ("3",) else _loop_identifier(loops.get((control_number, position)))
    element_errors = tuple(_element_errors(segment.get("elements", [])))
    if element_errors and SEGMENT_HAS_ELEMENT_ERRORS not in codes:
        codes += (SEGMENT_HAS_ELEMENT_ERRORS,)
    return [SegmentError(segment_id=segment_id, position=position, loop_id=loop_id, error_code=code,
                         element_errors=element_errors if code == SEGMENT_HAS_ELEMENT_ERRORS else ())
            for code in codes]


def _element_errors(elements: list[dict]) -> list[ElementError]:
    found = []
    for element in elements:
        for error in element.get("errors", []):
            code = str(error["err_cde"])
            if code not in ELEMENT_ERROR_CODES:
                continue
            found.append(ElementError(
                position=int(element.get("ele_pos") or 0), error_code=code,
                component_position=element.get("subele_pos"), repeat_position=element.get("repeat_pos"),
                reference_number=str(element["ele_ref_num"]) if element.get("ele_ref_num") else None,
                bad_value=_copy_of_bad_value(error.get("err_val"))))
    return found


def _copy_of_bad_value(value: str | None) -> str | None:
    # IK404 echoes the bad data; leave it out when it cannot be written back safely (it holds one of
    # our delimiters, or is longer than the element allows).
    if not value or len(value) > MAX_BAD_VALUE_LENGTH or any(d in value for d in "*:^~\r\n"):
        return None
    return value


def _segment_identifier(raw: str | None) -> str | None:
    # IK301 is ID 2/3. An unrecognized segment id is echoed as far as it fits (NM31 -> NM3).
    cleaned = "".join(character for character in (raw or "").upper() if character.isalnum())[:3]
    return cleaned if len(cleaned) >= 2 else None


def _loop_identifier(loop_id: str | None) -> str | None:
    # IK303 is AN 1/4: TR3 loops like 2010BA are reported by their numeric part (2010), the common
    # practice for 5010 999s; envelope and header "loops" (ST_LOOP, HEADER) are not reported.
    if not loop_id or not loop_id[:1].isdigit():
        return None
    return loop_id[:4]


def _unique(codes) -> tuple[str, ...]:  # noqa: ANN001
    return tuple(dict.fromkeys(codes))


def envelope_findings(groups) -> InterchangeFindings:  # noqa: ANN001 - intake.ReceivedGroup (no import cycle)
    """Findings for groups the strict reader has read without a finding: every transaction set
    accepted, and AK905=5 when GE01 does not count the transaction sets. Nothing else is
    checked (no usage, code values or loop structure): this is the benchmark-only "envelope"
    front end (settings.FRONT_END_VALIDATORS), not what a clearinghouse does."""
    found = []
    for group in groups:
        codes = ("5",) if group.declared_transaction_sets not in (None, len(group.transaction_sets)) else ()
        found.append(GroupFindings(group.control_number.strip(), codes,
                                   [TransactionSetFindings(ts.control_number.strip(), (), ())
                                    for ts in group.transaction_sets]))
    return InterchangeFindings((), found)
