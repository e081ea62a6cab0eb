"""Streaming X12 tokenizer: ISA-driven delimiters, lazy segments, envelope validation.

The reader turns an interchange file into a stream of segments without ever building the whole
file in memory: input is consumed in chunks (8 KiB by default), each chunk is split on the segment
terminator and its segments are handed out one by one (iterate the reader) or as a list per chunk
(`X12Reader.runs`, for parsers that want a plain loop). Memory therefore stays flat in the size of
the file: only the current chunk's segments are held.

A segment is a plain ``list[str]``: index 0 is the segment id and index n is element XXnn, so CLP03
is ``segment[3]``. Trailing empty elements are often left out by senders (X12.6 allows it), so use
`element` to read an element that may be absent. Composites and repetitions are left joined; split
them with `Delimiters.components` / `Delimiters.repetitions` only where the implementation guide
defines a composite (lists rather than objects per segment and per element keep the hot path fast).

Delimiters come from each ISA (X12.5 "interchange control structures"): the element separator is the
fourth character, the repetition separator is ISA11 (5010 and later), the component separator is
ISA16 and the segment terminator is the character right after ISA16. Any characters are accepted, a
UTF-8 byte-order mark is skipped, and whitespace (CR/LF line breaks, blank lines) between segments
is ignored, so "~\\r\\n"-terminated files and newline-terminated files both read.

Envelopes (ISA/IEA, GS/GE, ST/SE) are checked as they close: IEA01 and GE01 counts, SE01 segment
counts, and IEA02/GE02/SE02 control numbers against ISA13/GS06/ST02. A file may hold several
interchanges, each with its own delimiters.

Work stays linear in the input whatever it holds: each piece of input is searched for a terminator
once and joined once; a segment is refused once `MAX_SEGMENT_LENGTH` characters have been read
without a terminator (a 64 MiB file with none is refused after its first 64 KiB, never buffered
whole); pieces of any size are cut to `chunk_size`; the pieces after an IEA are handed to the next
interchange as they are when its ISA ends on the same terminator (only a change of terminator makes
the rest of a piece be split again). A NUL character, which no X12 character set holds and
PostgreSQL text cannot store, stops the input like undecodable bytes.

Every problem is raised as a subclass of `X12Error` whose message and attributes name the segment
number (1-based position in its interchange, ISA = 1) and, where one element is at fault, its
position. Messages never carry element values beyond envelope counts and control numbers, because
an 835 or 837 element can be protected health information.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Union

__all__ = [
    "Delimiters",
    "X12EnvelopeError",
    "X12Error",
    "X12DataError",
    "X12Reader",
    "X12StructureError",
    "X12SyntaxError",
    "X12TruncatedError",
    "element",
    "read_segments",
]

X12Source = Union[str, bytes, bytearray, memoryview, os.PathLike, IO[bytes], IO[str], Iterable[Union[bytes, str]]]
"""What the reader accepts: the interchange text, its bytes, a path, a file object opened in binary
(or text) mode, or any iterable of byte/str chunks (an HTTP body, a generator)."""

DEFAULT_CHUNK_SIZE = 8 * 1024  # small runs keep few segment lists alive at once: cheaper cyclic GC

# The longest segment a reader accepts, in characters, terminator excluded. X12 itself sets no
# limit on a segment, but every segment of the transactions read here has a bounded number of
# elements of bounded length (X12.6 element attributes, the 005010 implementation guides): the
# longest, HI in an 837I (12 health care code information composites, each at most ~170
# characters), stays under 4 KiB. Sixteen times that leaves room for generous senders while a file
# that never terminates its segments is refused after 64 KiB instead of being buffered whole.
MAX_SEGMENT_LENGTH = 64 * 1024
# Envelope counts and control numbers are numeric elements of at most 10 digits (SE01 N0 1/10; GE01
# 1/6, IEA01 1/5, GS06 and ISA13 9); a longer run of digits is refused before int() reads it.
_MAX_ENVELOPE_NUMBER_DIGITS = 10

# ISA is fixed width (106 characters with its terminator); a little slack tolerates senders that pad
# ISA02/ISA04 wrongly. The header is searched for in this many characters before giving up.
_ISA_SEARCH_LIMIT = 512
_ISA_ELEMENT_COUNT = 16
# X12.5 (5010): in an ISA of standard width the separator before ISA16 is character 103 (0-based),
# ISA16 is character 104 and the segment terminator character 105.
_ISA_LAST_SEPARATOR = 103
# Line breaks and blanks that may separate segments. Not str.isspace(): that also matches the ASCII
# information separators 0x1C-0x1F, which some senders use as delimiters.
_BLANKS = " \t\r\n\v\f"
_ENVELOPE_SEGMENT_IDS = frozenset({"ISA", "GS", "ST", "SE", "GE", "IEA"})
# X12.6: a segment id is two or three uppercase letters or digits, starting with a letter.
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}\Z")
# Segment ids seen to be well-formed, envelope ids excluded, shared by every reader of the process:
# one set lookup per segment on the hot path decides "ordinary segment", and a reader of a small
# interchange (a real-time 271) does not check its ids again. Bounded: at most 26 * 36 * 37 ids exist.
_WELL_FORMED_SEGMENT_IDS: set[str] = set()
# Delimiter sets already checked (`_check_delimiters`), with whether plain str.strip() may be used
# between segments: most files of a process share one or two sets, so an interchange's header is
# checked once per set rather than once per interchange.
_CHECKED_DELIMITERS: dict[tuple[str, str, str | None, str], tuple[Delimiters, bool]] = {}
_MAX_CHECKED_DELIMITERS = 256


# --------------------------------------------------------------------------------------------- errors


class X12Error(ValueError):
    """Base of every X12 reading error; a ValueError so callers map it to a 4xx, never a 500.

    Attributes: ``segment_number`` (1-based position in the interchange, ISA = 1), ``segment_id``,
    ``element_position`` (1-based, None when the segment as a whole is at fault),
    ``interchange_number`` (1-based position of the interchange in the file) and ``reason`` (the
    message without the location prefix).
    """

    def __init__(self, reason: str, *, segment_number: int | None = None, segment_id: str | None = None,
                 element_position: int | None = None, interchange_number: int | None = None) -> None:
        self.reason = reason
        self.segment_number = segment_number
        self.segment_id = segment_id
        self.element_position = element_position
        self.interchange_number = interchange_number
        super().__init__(f"{self.location}: {reason}" if self.location else reason)

    def __reduce__(self):
        # Raised in a worker process (parallel posting), it must cross back whole: the default
        # pickling would keep only the message and lose where the error is.
        return _rebuild_error, (type(self), self.reason, self.segment_number, self.segment_id,
                                self.element_position, self.interchange_number)

    @property
    def location(self) -> str:
        """"interchange 1, segment 29 (SE), element SE01" — the parts that are known."""
        parts = []
        if self.interchange_number is not None:
            parts.append(f"interchange {self.interchange_number}")
        if self.segment_number is not None:
            parts.append(f"segment {self.segment_number}" + (f" ({self.segment_id})" if self.segment_id else ""))
        if self.element_position is not None:
            parts.append(f"element {self.segment_id or ''}{self.element_position:02d}")
        return ", ".join(parts)


def _rebuild_error(error_class: type[X12Error], reason: str, segment_number, segment_id, element_position,
                   interchange_number) -> X12Error:
    return error_class(reason, segment_number=segment_number, segment_id=segment_id,
                       element_position=element_position, interchange_number=interchange_number)


class X12SyntaxError(X12Error):
    """The text is not well-formed X12: no ISA, bad delimiters, bad segment id, undecodable bytes."""


class X12TruncatedError(X12SyntaxError):
    """The input ends inside an interchange (a segment without terminator, or no SE/GE/IEA)."""


class X12EnvelopeError(X12Error):
    """ISA/GS/ST envelopes do not nest or their trailer counts and control numbers do not match."""


class X12StructureError(X12Error):
    """A segment appears where the transaction's implementation guide does not allow it."""


class X12DataError(X12Error):
    """An element is missing or cannot be read as its type (amount, date, quantity)."""


# ----------------------------------------------------------------------------------------- delimiters


@dataclass(frozen=True, slots=True)
class Delimiters:
    """The four separators of one interchange, as read from its ISA."""

    element: str = "*"
    component: str = ":"
    repetition: str | None = "^"  # ISA11; None before 5010 (ISA11 was the standards id "U")
    segment: str = "~"

    def components(self, value: str) -> list[str]:
        """A composite element split into its components ("HC:99213:25" -> ["HC", "99213", "25"])."""
        return value.split(self.component)

    def repetitions(self, value: str) -> list[str]:
        """A repeating element split into its repeats (the whole value when there is no separator)."""
        return value.split(self.repetition) if self.repetition else [value]


def element(segment: list[str], position: int) -> str:
    """Element XXnn of a segment by its 1-based position; "" when the sender left it out."""
    return segment[position] if position < len(segment) else ""


# ------------------------------------------------------------------------------------------- reading


class _UnreadableInput(Exception):
    """Raised by the chunk source after the readable prefix of a chunk has been handed out (bytes
    that do not decode, a NUL character)."""


@dataclass(slots=True)
class _Envelope:
    """Open envelope state of the current interchange; checked as each trailer arrives."""

    interchange_control_number: str = ""
    group_count: int = 0
    group_control_number: str | None = None  # set while a GS is open
    group_transaction_count: int = 0
    transaction_control_number: str | None = None  # set while an ST is open
    transaction_start: int = 0  # segment number of the open ST


_NO_ENVELOPE = _Envelope()  # read-only: envelopes are only changed once an ISA has opened one


class X12Reader:
    """Iterate the segments of every interchange in `source`, lazily and with envelope checks.

    Guarantees:
    - segments are yielded in file order, one at a time; the input is read in `chunk_size` pieces
      so memory does not grow with the file;
    - envelope segments (ISA, GS, ST, SE, GE, IEA) are yielded too, and a trailer is yielded only
      after its counts and control number have been checked, so a consumer that acts on SE acts
      on a complete, counted transaction set;
    - while a segment is being consumed, `segment_number`, `delimiters`,
      `interchange_control_number` and friends describe it (use `error` to raise at it);
    - any problem raises an `X12Error` subclass naming the segment number and element position;
    - time and memory are linear in the input, however hostile: a segment longer than
      `max_segment_length` is refused as soon as that much has been read without a terminator.

    A reader is one pass over its input: iterate it once.
    """

    def __init__(self, source: X12Source, *, chunk_size: int = DEFAULT_CHUNK_SIZE, encoding: str = "utf-8",
                 max_segment_length: int = MAX_SEGMENT_LENGTH) -> None:
        if chunk_size < 1 or max_segment_length < 1:
            raise ValueError("chunk_size and max_segment_length must be positive")
        self._source = source
        # Pieces of text are cut to at most this: the work redone after an IEA (the rest of the
        # piece, read again for the next interchange's delimiters) stays bounded, and a segment
        # longer than max_segment_length always spans reads, where it is measured.
        self._chunk_size = min(chunk_size, max_segment_length)
        self._max_segment_length = max_segment_length
        self._encoding = encoding
        self._started = False
        self._envelope = _NO_ENVELOPE  # until the first ISA opens one
        self._plain_strip = True  # str.strip() suits the current interchange's delimiters
        self._unreadable: str | None = None  # why the input stopped being readable, once it has
        self.delimiters: Delimiters | None = None
        """Delimiters of the current interchange."""
        self.segment_number = 0
        """Position of the segment last yielded in its interchange (ISA = 1)."""
        self.interchange_number = 0
        """1-based position of the current interchange in the input."""
        self.interchange_control_number: str | None = None
        self.interchange_version: str | None = None  # ISA12, e.g. "00501"
        self.group_control_number: str | None = None  # GS06 of the open (or last) functional group
        self.group_version: str | None = None  # GS08, e.g. "005010X221A1"
        self.transaction_control_number: str | None = None  # ST02 of the open (or last) transaction set

    # -- public helpers -----------------------------------------------------------------------------

    @property
    def transaction_segment_number(self) -> int:
        """Position of the current segment inside its transaction set (ST = 1), 0 outside one.

        This is the position a 999 IK3 reports."""
        start = self._envelope.transaction_start
        return self.segment_number - start + 1 if start else 0

    def error(self, error_class: type[X12Error], reason: str, element_position: int | None = None,
              segment_id: str | None = None) -> X12Error:
        """An error located at the segment last yielded (raise it: ``raise reader.error(...)``)."""
        return error_class(reason, segment_number=self.segment_number, segment_id=segment_id,
                           element_position=element_position, interchange_number=self.interchange_number)

    def __iter__(self) -> Iterator[list[str]]:
        """Each segment in file order; `segment_number` and the envelope attributes describe it."""
        return self._segments(self.runs())

    def _segments(self, runs: Iterator[tuple[list[list[str]], int]]) -> Iterator[list[str]]:
        for run, first_number in runs:
            number = first_number
            for segment in run:
                self.segment_number = number
                number += 1
                yield segment

    def runs(self, *, envelopes_in_runs: bool = False) -> Iterator[tuple[list[list[str]], int]]:
        """The segments in consecutive runs, each with the segment number of its first segment.

        For parsers that want a plain loop over lists rather than a generator step per segment.
        A run holds at most one envelope segment, as its first, so while a run is being consumed the
        envelope attributes (`delimiters`, `group_control_number`, ...) describe all its segments;
        `segment_number` is only kept current by `__iter__`. A run is handed out only once all its
        segments passed the reader's checks; at a problem, the segments before it come as a run of
        their own and the error is raised on the next request, so errors surface in file order.

        With `envelopes_in_runs`, GS, ST, SE, GE and IEA stay in the run they arrive in (an ISA
        still comes alone, first of its interchange): a single-answer interchange is two runs instead
        of six. Checks and the order of errors are the same, but the envelope attributes then
        describe the run's last envelope segment: for parsers that read only `delimiters` (at ISA).
        """
        if self._started:
            raise RuntimeError("an X12Reader is a single pass over its input; create a new one")
        self._started = True
        return self._runs(envelopes_in_runs)

    # -- the segment loop ---------------------------------------------------------------------------

    def _runs(self, envelopes_in_runs: bool) -> Iterator[tuple[list[list[str]], int]]:
        # The hot path of every X12 parser built on the reader: per segment, strip, split, three
        # membership tests and an append. Anything unusual (an envelope segment, an unknown
        # segment id, a segment outside ST..SE) ends the current run and is handled on its own.
        source = self._source
        if isinstance(source, str) and len(source) <= self._chunk_size and "\x00" not in source:
            # A text of one piece (a real-time 271 is under 2 KiB) is all there from the start.
            chunks, pending, exhausted = iter(()), source[1:] if source[:1] == "\ufeff" else source, True
        else:
            chunks, pending, exhausted = self._text_chunks(), "", False
        # After an IEA: the pieces not yet read, already split on the terminator (see _next_isa).
        carried: Iterator[str] = iter(())
        envelope_ids, known_ids, blanks = _ENVELOPE_SEGMENT_IDS, _WELL_FORMED_SEGMENT_IDS, _BLANKS
        while True:
            isa, carried, pending = self._next_isa(carried, pending)
            if isa is None:
                isa, pending, exhausted = self._interchange_header(chunks, pending, exhausted)
            if isa is None:
                return
            yield [isa], 1
            terminator, separator = self.delimiters.segment, self.delimiters.element
            plain_strip = self._plain_strip
            # `number` is the segment number of the last segment put in `run` (or handed out).
            number, in_transaction, interchange_open = 1, False, True
            pieces = carried  # what followed this ISA in the text already split, if anything
            while interchange_open:
                if pieces is None:
                    cut = pending.rfind(terminator)
                    if cut < 0:
                        pending, cut = self._read_past_terminator(chunks, pending, exhausted, number, terminator)
                    pieces = iter(pending[:cut].split(terminator))
                    pending = pending[cut + 1:]
                run: list[list[str]] = []
                append = run.append
                for raw in pieces:
                    raw = raw.strip() if plain_strip else raw.strip(blanks)  # CR/LF between segments
                    if not raw:
                        continue
                    segment = raw.split(separator)
                    segment_id = segment[0]
                    number += 1
                    if segment_id in known_ids and in_transaction:
                        append(segment)
                        continue
                    if envelopes_in_runs and segment_id in envelope_ids and segment_id != "ISA":
                        self.segment_number = number
                        try:
                            in_transaction = self._close_or_open(segment)
                        except X12Error:
                            if run:  # consumed before the error, as below
                                yield run, number - len(run)
                            raise
                        append(segment)
                        if segment_id == "IEA":
                            carried, interchange_open = pieces, False
                            break
                        continue
                    # Unusual: hand out the run so far, so that it is consumed before this segment
                    # changes the envelope state or raises.
                    if run:
                        yield run, number - len(run)
                    run = [segment]
                    append = run.append
                    self.segment_number = number
                    if segment_id in envelope_ids:
                        in_transaction = self._close_or_open(segment)
                        if segment_id == "IEA":
                            # What follows belongs to the next interchange, whose delimiters may
                            # differ: _next_isa looks at it before any of it is read as segments.
                            carried, interchange_open = pieces, False
                            break
                    elif not in_transaction:
                        raise self.error(X12EnvelopeError, "segment outside a transaction set (ST..SE)",
                                         segment_id=self._printable_id(segment_id))
                    else:
                        self._check_segment_id(segment_id)
                if run:  # end of a chunk: hand out what was read before reading more
                    yield run, number - len(run) + 1
                    run = []
                pieces = None

    def _read_past_terminator(self, chunks: Iterator[str], pending: str, exhausted: bool, number: int,
                              terminator: str) -> tuple[str, int]:
        """Read on until a segment terminator arrives: (the text, the position of its last terminator).

        Linear in what is read: each new piece is searched once and the pieces are joined once.
        Refuses a segment longer than the maximum as soon as that many characters came without a
        terminator, instead of buffering a file that never terminates its segments."""
        pieces, length = [pending], len(pending)  # `length`: characters since the last terminator
        while True:
            text = None if exhausted else self._next_text(chunks)
            if text is None:
                self._raise_truncated(number, "".join(pieces))
            pieces.append(text)
            cut = text.rfind(terminator)
            if cut >= 0:
                if length + text.find(terminator) > self._max_segment_length:
                    self._raise_too_long(number)
                return "".join(pieces), length + cut
            length += len(text)
            if length > self._max_segment_length:
                self._raise_too_long(number)

    def _raise_too_long(self, number: int) -> None:
        raise X12SyntaxError(f"no segment terminator within {self._max_segment_length} characters (the longest "
                             f"segment accepted)", segment_number=number + 1, interchange_number=self.interchange_number)

    def _next_isa(self, carried: Iterator[str], pending: str) -> tuple[list[str] | None, Iterator[str] | None, str]:
        """The next interchange's ISA from the pieces left after an IEA, when it ends on the same
        terminator (the usual case): the pieces after it are then read on as they are, so text after
        an IEA is split only once however many interchanges a piece holds. Otherwise (None, None, the
        pieces joined back onto `pending`) and `_interchange_header` reads the ISA from the text."""
        terminator = self.delimiters.segment if self.delimiters else None
        for raw in carried:
            piece = raw.lstrip(_BLANKS)
            if not piece:
                continue
            isa = self._isa_ending_on(piece, terminator)
            if isa is not None:
                return isa, carried, pending
            return None, None, terminator.join([piece, *carried]) + terminator + pending
        return None, None, pending

    def _isa_ending_on(self, piece: str, terminator: str) -> list[str] | None:
        """`piece` as an ISA, if it is one whose own terminator is `terminator`; None otherwise
        (including when it is malformed: `_interchange_header` reads it again and says why)."""
        # Cheap refusals first: an ISA ending the piece holds exactly its 16 element separators.
        if not piece.startswith("ISA") or len(piece) < 4 or piece.count(piece[3]) != _ISA_ELEMENT_COUNT:
            return None
        try:
            delimiters, isa, isa_length = self._read_delimiters(piece + terminator, True)
        except X12Error:
            return None
        if delimiters.segment != terminator or isa_length != len(piece):
            return None
        return self._start_interchange(delimiters, isa)

    def _start_interchange(self, delimiters: Delimiters, isa: list[str]) -> list[str]:
        self.interchange_number += 1
        self.segment_number = 1
        self.delimiters = delimiters
        self._open_interchange(isa)
        return isa

    def _interchange_header(self, chunks: Iterator[str], pending: str,
                            exhausted: bool) -> tuple[list[str] | None, str, bool]:
        """Read the next ISA and set the interchange's delimiters; (None, ...) at the end of input."""
        # Between interchanges only whitespace may appear. Read enough for a whole ISA.
        pending = pending.lstrip(_BLANKS)
        while not exhausted and len(pending) < _ISA_SEARCH_LIMIT:
            text = self._next_text(chunks)
            if text is None:
                exhausted = True
            else:
                pending = (pending + text).lstrip(_BLANKS)
        if not pending:
            if self._unreadable:
                self._raise_truncated(0, pending)
            if self.interchange_number == 0:
                raise X12SyntaxError("the input holds no interchange (expected an ISA segment)",
                                     segment_number=1, interchange_number=1)
            return None, pending, exhausted
        self.interchange_number += 1
        self.segment_number = 1
        delimiters, isa, isa_length = self._read_delimiters(pending, exhausted)
        self.delimiters = delimiters
        self._open_interchange(isa)
        return isa, pending[isa_length + 1:], exhausted

    # -- envelopes ----------------------------------------------------------------------------------

    def _open_interchange(self, isa: list[str]) -> None:
        # `isa` has exactly 16 elements: `_read_delimiters` cut it after ISA16.
        control_number = isa[13]
        if not (control_number.isdigit() and len(control_number) == 9):
            raise self.error(X12SyntaxError, "interchange control number must be nine digits",
                             element_position=13, segment_id="ISA")
        self._envelope = _Envelope(control_number)
        self.interchange_control_number = control_number
        self.interchange_version = isa[12]
        self.group_control_number = self.group_version = self.transaction_control_number = None

    def _close_or_open(self, segment: list[str]) -> bool:
        """Apply GS/ST/SE/GE/IEA (or a stray ISA) to the envelope state; True while inside ST..SE."""
        segment_id = segment[0]
        envelope = self._envelope
        if segment_id == "ST":
            if envelope.group_control_number is None:
                raise self.error(X12EnvelopeError, "ST outside a functional group (GS..GE)", segment_id="ST")
            if envelope.transaction_control_number is not None:
                raise self.error(X12EnvelopeError, f"ST before the SE of transaction set "
                                 f"{envelope.transaction_control_number}", segment_id="ST")
            control_number = segment[2].strip() if len(segment) > 2 else ""
            if not control_number or not segment[1].strip():  # _required says which is missing
                control_number = self._required(segment, 2)
                self._required(segment, 1)
            envelope.transaction_control_number = control_number
            envelope.transaction_start = self.segment_number
            self.transaction_control_number = control_number
            return True
        if segment_id == "SE":
            if envelope.transaction_control_number is None:
                raise self.error(X12EnvelopeError, "SE without an open transaction set", segment_id="SE")
            counted = self.segment_number - envelope.transaction_start + 1
            if not (len(segment) > 2 and segment[2] == envelope.transaction_control_number  # see _states
                    and segment[1] == str(counted)):
                self._check_count(segment, counted, "segments in the transaction set")
                self._check_control_number(segment, envelope.transaction_control_number, "ST02")
            envelope.transaction_control_number = None  # transaction_start stays: SE is the set's last segment
            envelope.group_transaction_count += 1
            return False
        if segment_id == "GS":
            if envelope.transaction_control_number is not None:
                raise self.error(X12EnvelopeError, "GS inside a transaction set (SE missing)", segment_id="GS")
            if envelope.group_control_number is not None:
                raise self.error(X12EnvelopeError, f"GS before the GE of functional group "
                                 f"{envelope.group_control_number}", segment_id="GS")
            control_number = segment[6].strip() if len(segment) > 6 else ""
            if not control_number:
                control_number = self._required(segment, 6)
            envelope.group_control_number = control_number
            envelope.group_transaction_count = 0
            envelope.group_count += 1
            self.group_control_number = control_number
            self.group_version = segment[8] if len(segment) > 8 else ""
            return False
        if segment_id == "GE":
            if envelope.transaction_control_number is not None:
                raise self.error(X12EnvelopeError, "GE inside a transaction set (SE missing)", segment_id="GE")
            if envelope.group_control_number is None:
                raise self.error(X12EnvelopeError, "GE without an open functional group", segment_id="GE")
            if not _states(segment, envelope.group_transaction_count, envelope.group_control_number):
                self._check_count(segment, envelope.group_transaction_count, "transaction sets in the group")
                self._check_control_number(segment, envelope.group_control_number, "GS06")
            envelope.group_control_number = None
            envelope.transaction_start = 0
            return False
        if segment_id == "IEA":
            if envelope.transaction_control_number is not None or envelope.group_control_number is not None:
                missing = "SE" if envelope.transaction_control_number is not None else "GE"
                raise self.error(X12EnvelopeError, f"IEA while a {'transaction set' if missing == 'SE' else 'group'}"
                                 f" is open ({missing} missing)", segment_id="IEA")
            if not _states(segment, envelope.group_count, envelope.interchange_control_number):
                self._check_count(segment, envelope.group_count, "functional groups in the interchange")
                self._check_control_number(segment, envelope.interchange_control_number, "ISA13")
            return False
        # An ISA inside an interchange: the previous one was never closed.
        raise self.error(X12EnvelopeError, f"ISA before the IEA of interchange {envelope.interchange_control_number}",
                         segment_id="ISA")

    def _required(self, segment: list[str], position: int) -> str:
        value = element(segment, position).strip()
        if not value:
            raise self.error(X12EnvelopeError, "required envelope element is missing", element_position=position,
                             segment_id=segment[0])
        return value

    def _check_count(self, segment: list[str], counted: int, what: str) -> None:
        stated = self._required(segment, 1)
        if not _is_envelope_number(stated) or int(stated) != counted:
            raise self.error(X12EnvelopeError, f"states {stated} {what}, counted {counted}", element_position=1,
                             segment_id=segment[0])

    def _check_control_number(self, segment: list[str], expected: str, opened_by: str) -> None:
        stated = self._required(segment, 2)
        same = stated == expected or (_is_envelope_number(stated) and _is_envelope_number(expected)
                                      and int(stated) == int(expected))
        if not same:
            raise self.error(X12EnvelopeError, f"control number {stated} does not match {opened_by} {expected}",
                             element_position=2, segment_id=segment[0])

    def _check_segment_id(self, segment_id: str) -> None:
        if not segment_id:
            raise self.error(X12SyntaxError, "segment without a segment identifier")
        if not _SEGMENT_ID.match(segment_id):
            raise self.error(X12SyntaxError, "invalid segment identifier (expected 2-3 uppercase letters or "
                             "digits)", segment_id=self._printable_id(segment_id))
        _WELL_FORMED_SEGMENT_IDS.add(segment_id)

    @staticmethod
    def _printable_id(segment_id: str) -> str:
        # Only the first characters: a garbled "segment id" may really be payload text.
        return segment_id[:3] if segment_id.isprintable() else repr(segment_id[:3])

    # -- ISA header ---------------------------------------------------------------------------------

    def _read_delimiters(self, text: str, exhausted: bool) -> tuple[Delimiters, list[str], int]:
        """Delimiters from the ISA at the start of `text`, the ISA as a segment (its id and 16 elements)
        and its length before the terminator.

        The component separator is the one after the 16th element separator, wherever that is (see
        `_last_isa_separator`); the fixed offset 104 is only the quick way to find it."""
        if not text.startswith("ISA"):
            raise X12SyntaxError(f"expected an ISA segment, found {self._printable_id(text[:3])!s}",
                                 segment_number=1, interchange_number=self.interchange_number)
        if len(text) < 4:
            self._raise_truncated(0, text)
        separator = text[3]
        if separator.isalnum() or separator in _BLANKS:
            raise self.error(X12SyntaxError, "the element separator (4th character of ISA) must not be a letter, "
                             "digit or whitespace", segment_id="ISA")
        last = _ISA_LAST_SEPARATOR
        if text[last:last + 1] == separator and len(text) > last + 2 and \
                text.count(separator, 4, last) == _ISA_ELEMENT_COUNT - 2:
            # Standard width: the 16th separator is where X12.5 puts it, which is what the search
            # below would find (the 14 between the first and the last are counted, not located).
            position = last
        else:
            position = self._last_isa_separator(text, separator, exhausted)
        # `position` is the separator before ISA16; ISA16 is one character, the terminator follows it.
        if len(text) < position + 3:
            self._raise_truncated(0, text)
        component, terminator = text[position + 1], text[position + 2]
        elements = text[:position + 2].split(separator)
        repetition = elements[11]
        if len(repetition) != 1 or repetition.isalnum():
            repetition = None  # before 5010 ISA11 held the standards identifier ("U"), not a separator
        key = (separator, component, repetition, terminator)
        checked = _CHECKED_DELIMITERS.get(key)
        if checked is None:
            self._check_delimiters(separator, component, repetition, terminator)
            delimiters = Delimiters(element=separator, component=component, repetition=repetition,
                                    segment=terminator)
            # str.strip() with no argument is the fastest, but it also strips the ASCII information
            # separators 0x1C-0x1F; use it only when none of them is a delimiter here.
            plain_strip = not any(character.isspace() and character not in _BLANKS for character in key if character)
            if len(_CHECKED_DELIMITERS) >= _MAX_CHECKED_DELIMITERS:
                _CHECKED_DELIMITERS.clear()
            checked = _CHECKED_DELIMITERS[key] = (delimiters, plain_strip)
        self._plain_strip = checked[1]
        return checked[0], elements, position + 2

    def _last_isa_separator(self, text: str, separator: str, exhausted: bool) -> int:
        """Where the element separator before ISA16 is, located by counting separators, so an ISA
        whose fixed-width fields are mis-padded still reads."""
        position = 3
        for element_number in range(2, _ISA_ELEMENT_COUNT + 1):
            position = text.find(separator, position + 1, _ISA_SEARCH_LIMIT)
            if position < 0:
                if exhausted and len(text) < _ISA_SEARCH_LIMIT:
                    self._raise_truncated(0, text)
                raise self.error(X12SyntaxError, f"ISA has only {element_number - 1} elements, expected "
                                 f"{_ISA_ELEMENT_COUNT}", segment_id="ISA")
        return position

    def _check_delimiters(self, separator: str, component: str, repetition: str | None, terminator: str) -> None:
        if component.isalnum() or component in _BLANKS:
            raise self.error(X12SyntaxError, "the component separator (ISA16) must not be a letter, digit or "
                             "whitespace", element_position=16, segment_id="ISA")
        if terminator.isalnum():
            raise self.error(X12SyntaxError, "the segment terminator (the character after ISA16) must not be a "
                             "letter or digit", segment_id="ISA")
        chosen = [separator, component, terminator] + ([repetition] if repetition else [])
        if len(set(chosen)) != len(chosen):
            raise self.error(X12SyntaxError, "element, component, repetition separators and segment terminator "
                             "must all differ", element_position=16, segment_id="ISA")

    # -- input --------------------------------------------------------------------------------------

    def _raise_truncated(self, number: int, pending: str) -> None:
        """The input stopped (or stopped decoding) after segment `number`: raise at the next one."""
        if self._unreadable:
            raise X12SyntaxError(self._unreadable, segment_number=number + 1,
                                 interchange_number=self.interchange_number or 1)
        envelope = self._envelope
        if pending.strip(_BLANKS):
            reason = "the input ends inside a segment (no segment terminator)"
        elif envelope.transaction_control_number is not None:
            reason = f"the input ends inside transaction set {envelope.transaction_control_number} (SE missing)"
        elif envelope.group_control_number is not None:
            reason = f"the input ends inside functional group {envelope.group_control_number} (GE missing)"
        else:
            reason = "the input ends before the IEA of the interchange"
        raise X12TruncatedError(reason, segment_number=number + 1, interchange_number=self.interchange_number or 1)

    def _next_text(self, chunks: Iterator[str]) -> str | None:
        """The next piece of text, or None at the end of the input or where it stops being readable
        (the segments before that point are still read; `_raise_truncated` then reports it)."""
        if self._unreadable:
            return None
        try:
            return next(chunks, None)
        except _UnreadableInput as unreadable:
            self._unreadable = str(unreadable)
            return None

    def _text_chunks(self) -> Iterator[str]:
        """The input as str pieces of at most `chunk_size` characters, byte-order mark removed; at a
        NUL character the text before it is handed out and the input stops (`_UnreadableInput`)."""
        first, size = True, self._chunk_size
        for text in self._raw_text_chunks():
            if first and text:
                first = False
                if text[0] == "\ufeff":
                    text = text[1:]
            nul = text.find("\x00")
            if nul >= 0:
                yield from _pieces(text[:nul], size)
                raise _UnreadableInput("a NUL character, which X12 text cannot hold")
            if len(text) <= size:
                yield text
            else:  # an iterable source may hand over a whole file at once
                yield from _pieces(text, size)

    def _raw_text_chunks(self) -> Iterator[str]:
        source, size = self._source, self._chunk_size
        if isinstance(source, str):
            for start in range(0, len(source), size):
                yield source[start:start + size]
        elif isinstance(source, (bytes, bytearray, memoryview)):
            view = memoryview(source)
            yield from self._decoded(view[start:start + size] for start in range(0, len(view), size))
        elif isinstance(source, os.PathLike):
            with open(source, "rb") as stream:
                yield from self._decoded(_read_until_empty(stream, size))
        elif hasattr(source, "read"):
            # Binary or text mode alike: `_decoded` passes str pieces through.
            yield from self._decoded(_read_until_empty(source, size))
        else:
            yield from self._decoded(source)

    def _decoded(self, pieces: Iterable[bytes | str]) -> Iterator[str]:
        """Decode byte pieces incrementally (a multi-byte character may straddle two pieces)."""
        decoder = codecs.getincrementaldecoder(self._encoding)()
        for piece in pieces:
            if isinstance(piece, str):
                yield piece
                continue
            try:
                yield decoder.decode(piece)
            except UnicodeDecodeError as problem:
                # Hand out what decodes, so the error lands on the segment holding the bad byte.
                yield problem.object[:problem.start].decode(self._encoding)
                raise _UnreadableInput(f"bytes that are not valid {self._encoding}") from None
        try:
            yield decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise _UnreadableInput(f"the input ends inside a multi-byte {self._encoding} character") from None


def _pieces(text: str, size: int) -> Iterator[str]:
    for start in range(0, len(text), size):
        yield text[start:start + size]


def _states(trailer: list[str], counted: int, control_number: str) -> bool:
    """The trailer states exactly the count and the control number its header opened with, as
    senders write them: it passes `_check_count` and `_check_control_number` without either being
    run (they also accept padding and leading zeros, and say what is wrong). Written out inline
    for SE, the one trailer per transaction set."""
    return len(trailer) > 2 and trailer[2] == control_number and trailer[1] == str(counted)


def _is_envelope_number(text: str) -> bool:
    return text.isdigit() and len(text) <= _MAX_ENVELOPE_NUMBER_DIGITS


def _read_until_empty(stream: IO, size: int) -> Iterator[bytes | str]:
    while piece := stream.read(size):
        yield piece


def read_segments(source: X12Source, **options) -> Iterator[list[str]]:
    """Shorthand for ``iter(X12Reader(source))`` when the position attributes are not needed."""
    return iter(X12Reader(source, **options))
