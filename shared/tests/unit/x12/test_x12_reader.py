"""The streaming X12 tokenizer: delimiters from each ISA, any input shape, envelope checks, and
errors that name the segment number (ISA = 1) and element position."""

from __future__ import annotations

import io

import pytest

from openrcm_shared.x12.reader import (
    MAX_SEGMENT_LENGTH, Delimiters, X12EnvelopeError, X12Error, X12Reader, X12SyntaxError, X12TruncatedError, element,
    read_segments,
)
from shared.tests.unit.x12.x12_test_support import interchange, isa, sample

ONE_TRANSACTION = [["ST*999*0001", "AK1*HC*1", "AK9*A*1*1*1"]]
SIMPLE = interchange(*ONE_TRANSACTION, functional_code="FA", version="005010X231A1")
SIMPLE_SEGMENTS = [
    ["ISA", "00", " " * 10, "00", " " * 10, "ZZ", "SENDER         ", "ZZ", "RECEIVER       ", "260302", "1405", "^",
     "00501", "000000001", "0", "T", ":"],
    ["GS", "FA", "SENDER", "RECEIVER", "20260302", "1405", "1", "X", "005010X231A1"],
    ["ST", "999", "0001"], ["AK1", "HC", "1"], ["AK9", "A", "1", "1", "1"], ["SE", "4", "0001"], ["GE", "1", "1"],
    ["IEA", "1", "000000001"],
]


def segments(source, **options) -> list[list[str]]:
    return list(X12Reader(source, **options))


def test_reads_segments_as_element_lists_with_segment_id_first():
    assert segments(SIMPLE) == SIMPLE_SEGMENTS
    assert len(isa()) == 106  # the builder makes a fixed-width ISA, as the tests below assume


def test_delimiters_come_from_the_isa():
    text = interchange(["ST*835*0001", "SVC*HC:99213:25*100*80"], element="|", component="}", repetition="{",
                       terminator="!")
    reader = X12Reader(text)
    read = list(reader)
    assert reader.delimiters == Delimiters(element="|", component="}", repetition="{", segment="!")
    assert read[3] == ["SVC", "HC}99213}25", "100", "80"]
    assert reader.delimiters.components(read[3][1]) == ["HC", "99213", "25"]
    assert reader.delimiters.repetitions("A{B") == ["A", "B"]


@pytest.mark.parametrize("element_separator, component, repetition, terminator", [
    ("*", ":", "^", "~"), ("|", ">", "^", "\n"), ("\x1d", "\x1f", "\x1e", "\x1c"), ("~", "^", "{", "_"),
    (":", "*", "!", "'"),
])
def test_any_separators_and_terminator_are_accepted(element_separator, component, repetition, terminator):
    text = interchange(*ONE_TRANSACTION, functional_code="FA", version="005010X231A1", element=element_separator,
                       component=component, repetition=repetition, terminator=terminator)
    reader = X12Reader(text)
    read = list(reader)
    assert read[3] == ["AK1", "HC", "1"]
    assert [segment[0] for segment in read] == ["ISA", "GS", "ST", "AK1", "AK9", "SE", "GE", "IEA"]
    assert reader.delimiters == Delimiters(element_separator, component, repetition, terminator)


def test_newline_as_segment_terminator():
    text = interchange(*ONE_TRANSACTION, functional_code="FA", version="005010X231A1", terminator="\n")
    assert segments(text) == SIMPLE_SEGMENTS


@pytest.mark.parametrize("line_break", ["\n", "\r\n", "\r", "\r\n\r\n", "  \n"])
def test_line_breaks_and_blanks_between_segments_are_ignored(line_break):
    text = interchange(*ONE_TRANSACTION, functional_code="FA", version="005010X231A1", line_break=line_break)
    assert segments("\r\n" + text + "\n\n") == SIMPLE_SEGMENTS


def test_utf8_byte_order_mark_is_skipped_in_bytes_and_text():
    assert segments(b"\xef\xbb\xbf" + SIMPLE.encode()) == SIMPLE_SEGMENTS
    assert segments("\ufeff" + SIMPLE) == SIMPLE_SEGMENTS
    assert segments(io.BytesIO(b"\xef\xbb\xbf" + SIMPLE.encode()), chunk_size=2) == SIMPLE_SEGMENTS


class _TextSource:
    """Anything with read() that returns str (not an io.TextIOBase)."""

    def __init__(self, text: str) -> None:
        self._stream = io.StringIO(text)

    def read(self, size: int) -> str:
        return self._stream.read(size)


def test_every_input_shape_reads_the_same(tmp_path):
    path = tmp_path / "ack.x12"
    path.write_bytes(SIMPLE.encode())
    data = SIMPLE.encode()
    shapes = [SIMPLE, data, bytearray(data), memoryview(data), path, io.BytesIO(data), io.StringIO(SIMPLE),
              _TextSource(SIMPLE), iter([data[:50], data[50:]]), [SIMPLE[:10], SIMPLE[10:]]]
    for shape in shapes:
        assert segments(shape) == SIMPLE_SEGMENTS, type(shape)
    with open(path, "rb") as stream:
        assert segments(stream) == SIMPLE_SEGMENTS
    assert list(read_segments(SIMPLE)) == SIMPLE_SEGMENTS


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 105, 106, 107, 4096])
def test_chunk_boundaries_anywhere_do_not_change_the_segments(chunk_size):
    # A multi-byte character (É, 2 bytes in UTF-8) is split across chunks at chunk_size 1 and 3.
    text = interchange(["ST*835*0001", "NM1*QC*1*ÉLODIE*ZOË"], line_break="\r\n")
    expected = segments(text)
    assert expected[3] == ["NM1", "QC", "1", "ÉLODIE", "ZOË"]
    assert segments(io.BytesIO(text.encode()), chunk_size=chunk_size) == expected
    assert segments(text, chunk_size=chunk_size) == expected


def test_several_interchanges_each_with_its_own_delimiters_and_numbering():
    first = interchange(*ONE_TRANSACTION, control_number="000000001", functional_code="FA")
    second = interchange(["ST*835*0001", "BPR*I*10*C*CHK"], ["ST*835*0002", "BPR*I*20*C*CHK"],
                         control_number="000000002", element="|", component=">", terminator="\n")
    reader = X12Reader(io.BytesIO((first + "\r\n" + second).encode()), chunk_size=64)
    seen = [(reader.interchange_number, reader.segment_number, reader.interchange_control_number, segment[0],
             reader.transaction_segment_number) for segment in reader]
    assert seen[:3] == [(1, 1, "000000001", "ISA", 0), (1, 2, "000000001", "GS", 0), (1, 3, "000000001", "ST", 1)]
    assert seen[7] == (1, 8, "000000001", "IEA", 0)
    assert seen[8:] == [
        (2, 1, "000000002", "ISA", 0), (2, 2, "000000002", "GS", 0), (2, 3, "000000002", "ST", 1),
        (2, 4, "000000002", "BPR", 2), (2, 5, "000000002", "SE", 3), (2, 6, "000000002", "ST", 1),
        (2, 7, "000000002", "BPR", 2), (2, 8, "000000002", "SE", 3), (2, 9, "000000002", "GE", 0),
        (2, 10, "000000002", "IEA", 0)]
    assert reader.delimiters.element == "|"


def test_element_returns_blank_for_elements_the_sender_left_out():
    segment = ["CLP", "PCN1", "1", "100"]
    assert element(segment, 3) == "100"
    assert element(segment, 7) == ""


def test_a_reader_is_a_single_pass():
    reader = X12Reader(SIMPLE)
    list(reader)
    with pytest.raises(RuntimeError):
        iter(reader)


def test_pre_5010_isa11_is_not_a_repetition_separator():
    text = SIMPLE.replace("*1405*^*00501*", "*1405*U*00401*", 1)
    reader = X12Reader(text)
    list(reader)
    assert reader.delimiters.repetition is None
    assert reader.delimiters.repetitions("A^B") == ["A^B"]


def test_a_padding_error_in_isa_does_not_hide_the_delimiters():
    # ISA02 one character short (as in imsweb x12_bad_first_line.txt): separators are counted, not offset.
    text = SIMPLE.replace("*00*          *00*", "*00*         *00*", 1)
    assert segments(text)[3] == ["AK1", "HC", "1"]


# ---------------------------------------------------------------------------------------------- errors

GOOD_ST = "ST*999*0001~AK1*HC*1~"


def _envelope(body: str, *, se: str = "SE*3*0001~", ge: str = "GE*1*1~", iea: str = "IEA*1*000000001~",
              gs: str = "GS*FA*S*R*20260302*1405*1*X*005010X231A1~") -> str:
    return isa() + gs + body + se + ge + iea


@pytest.mark.parametrize("text, error_class, segment_number, segment_id, element_position, reason", [
    pytest.param("", X12SyntaxError, 1, None, None, "holds no interchange", id="empty"),
    pytest.param(" \r\n ", X12SyntaxError, 1, None, None, "holds no interchange", id="only-whitespace"),
    pytest.param("GS*FA*S*R~", X12SyntaxError, 1, None, None, "expected an ISA segment", id="no-isa"),
    pytest.param(isa()[:60], X12TruncatedError, 1, None, None, "ends inside a segment", id="cut-inside-isa"),
    pytest.param(isa()[:105], X12TruncatedError, 1, None, None, "ends inside a segment", id="isa-without-terminator"),
    pytest.param("ISAA00", X12SyntaxError, 1, "ISA", None, "element separator", id="alphanumeric-separator"),
    pytest.param(isa(component="*"), X12SyntaxError, 1, "ISA", 16, "must all differ", id="component-equals-element"),
    pytest.param(isa(component="A"), X12SyntaxError, 1, "ISA", 16, "component separator", id="alphanumeric-component"),
    pytest.param(isa(repetition="~"), X12SyntaxError, 1, "ISA", 16, "must all differ",
                 id="repetition-equals-terminator"),
    pytest.param(isa(terminator="Z"), X12SyntaxError, 1, "ISA", None, "segment terminator",
                 id="alphanumeric-terminator"),
    pytest.param(isa("00000001X"), X12SyntaxError, 1, "ISA", 13, "nine digits", id="bad-isa13"),
    # With a 17th element the character after ISA16 is the element separator, not a terminator.
    pytest.param(isa().replace("~", "*EXTRA~"), X12SyntaxError, 1, "ISA", 16, "must all differ",
                 id="isa-17-elements"),
    pytest.param(isa().replace("*0*T*", "*0T*") + "X" * 600, X12SyntaxError, 1, "ISA", None, "only 15 elements",
                 id="isa-15-elements"),
    pytest.param(isa().replace("*0*T*", "*0T*"), X12TruncatedError, 1, None, None, "ends inside a segment",
                 id="isa-15-elements-at-end-of-input"),
    pytest.param(_envelope(GOOD_ST + "ak2*1~", se="SE*4*0001~"), X12SyntaxError, 5, "ak2", None,
                 "invalid segment identifier", id="lowercase-segment-id"),
    pytest.param(_envelope(GOOD_ST + "*HC*1~", se="SE*4*0001~"), X12SyntaxError, 5, None, None,
                 "without a segment identifier", id="missing-segment-id"),
    pytest.param(_envelope(GOOD_ST + "TOOLONG*1~", se="SE*4*0001~"), X12SyntaxError, 5, "TOO", None,
                 "invalid segment identifier", id="long-segment-id"),
    pytest.param(isa() + "AK1*HC*1~", X12EnvelopeError, 2, "AK1", None, "outside a transaction set",
                 id="segment-before-gs"),
    pytest.param(isa() + "ST*999*0001~", X12EnvelopeError, 2, "ST", None, "outside a functional group",
                 id="st-without-gs"),
    pytest.param(_envelope("ST*999*0001~ST*999*0002~"), X12EnvelopeError, 4, "ST", None,
                 "before the SE of transaction set 0001", id="st-inside-st"),
    pytest.param(_envelope(GOOD_ST, se="SE*2*0001~"), X12EnvelopeError, 5, "SE", 1,
                 "states 2 segments in the transaction set, counted 3", id="se01-count"),
    pytest.param(_envelope(GOOD_ST, se="SE*X*0001~"), X12EnvelopeError, 5, "SE", 1, "states X segments",
                 id="se01-not-a-number"),
    pytest.param(_envelope(GOOD_ST, se="SE*3*0002~"), X12EnvelopeError, 5, "SE", 2,
                 "control number 0002 does not match ST02 0001", id="se02-control-number"),
    pytest.param(_envelope(GOOD_ST, se="SE*3~"), X12EnvelopeError, 5, "SE", 2, "required envelope element",
                 id="se02-missing"),
    pytest.param(_envelope("ST*999~AK1*HC*1~"), X12EnvelopeError, 3, "ST", 2, "required envelope element",
                 id="st02-missing"),
    pytest.param(_envelope(GOOD_ST, se=""), X12EnvelopeError, 5, "GE", None, "GE inside a transaction set",
                 id="se-missing-before-ge"),
    pytest.param(_envelope(GOOD_ST, ge="GE*2*1~"), X12EnvelopeError, 6, "GE", 1,
                 "states 2 transaction sets in the group, counted 1", id="ge01-count"),
    pytest.param(_envelope(GOOD_ST, ge="GE*1*7~"), X12EnvelopeError, 6, "GE", 2,
                 "control number 7 does not match GS06 1", id="ge02-control-number"),
    pytest.param(_envelope(GOOD_ST, gs="GS*FA*S*R*20260302*1405~"), X12EnvelopeError, 2, "GS", 6,
                 "required envelope element", id="gs06-missing"),
    pytest.param(_envelope(GOOD_ST, ge=""), X12EnvelopeError, 6, "IEA", None, "group is open (GE missing)",
                 id="ge-missing-before-iea"),
    pytest.param(_envelope(GOOD_ST, ge="GE*1*1~GS*FA*S*R*1*1*2*X*1~"), X12EnvelopeError, 8, "IEA", None,
                 "GE missing", id="second-group-unclosed"),
    pytest.param(_envelope(GOOD_ST, iea="IEA*2*000000001~"), X12EnvelopeError, 7, "IEA", 1,
                 "states 2 functional groups in the interchange, counted 1", id="iea01-count"),
    pytest.param(_envelope(GOOD_ST, iea="IEA*1*000000002~"), X12EnvelopeError, 7, "IEA", 2,
                 "control number 000000002 does not match ISA13 000000001", id="iea02-control-number"),
    pytest.param(_envelope(GOOD_ST, ge="GS*FA*S*R*1*1*2*X*1~"), X12EnvelopeError, 6, "GS", None,
                 "before the GE of functional group 1", id="gs-inside-gs"),
    pytest.param(_envelope(GOOD_ST, iea="") + isa(), X12EnvelopeError, 7, "ISA", None,
                 "before the IEA of interchange 000000001", id="isa-inside-interchange"),
    pytest.param(isa() + "GS*FA*S*R*20260302*1405*1*X*1~" + GOOD_ST, X12TruncatedError, 5, None, None,
                 "inside transaction set 0001 (SE missing)", id="truncated-in-transaction"),
    pytest.param(_envelope(GOOD_ST, ge="", iea=""), X12TruncatedError, 6, None, None,
                 "inside functional group 1 (GE missing)", id="truncated-in-group"),
    pytest.param(_envelope(GOOD_ST, iea=""), X12TruncatedError, 7, None, None, "before the IEA",
                 id="truncated-before-iea"),
    pytest.param(_envelope(GOOD_ST)[:-5], X12TruncatedError, 7, None, None, "ends inside a segment",
                 id="truncated-mid-segment"),
    pytest.param(_envelope(GOOD_ST) + "\r\nGARBAGE", X12SyntaxError, 1, None, None, "expected an ISA segment",
                 id="garbage-after-iea"),
])
def test_errors_name_segment_number_and_element(text, error_class, segment_number, segment_id, element_position,
                                                reason):
    with pytest.raises(X12Error) as raised:
        segments(text)
    error = raised.value
    assert type(error) is error_class
    assert (error.segment_number, error.segment_id, error.element_position) == (
        segment_number, segment_id, element_position)
    assert reason in error.reason
    assert f"segment {segment_number}" in str(error)
    if element_position is not None:
        assert f"element {segment_id}{element_position:02d}" in str(error)


def test_error_after_a_first_good_interchange_names_the_second():
    text = _envelope(GOOD_ST) + _envelope(GOOD_ST, iea="IEA*1*000000009~")
    with pytest.raises(X12EnvelopeError) as raised:
        segments(text)
    assert (raised.value.interchange_number, raised.value.segment_number, raised.value.element_position) == (2, 7, 2)
    assert str(raised.value).startswith("interchange 2, segment 7 (IEA), element IEA02: ")


def test_segments_before_an_error_are_still_yielded():
    reader = X12Reader(_envelope(GOOD_ST, se="SE*9*0001~"))
    seen = []
    with pytest.raises(X12EnvelopeError):
        for segment in reader:
            seen.append(segment[0])
    assert seen == ["ISA", "GS", "ST", "AK1"]  # SE is refused, not yielded


@pytest.mark.parametrize("chunk_size", [1, 16, 4096])
def test_undecodable_bytes_are_reported_at_their_segment(chunk_size):
    data = _envelope("ST*999*0001~AK1*HC*1~NM1*QC*1*D\xff\xfeE~", se="SE*4*0001~").encode("latin-1")
    with pytest.raises(X12SyntaxError) as raised:
        segments(io.BytesIO(data), chunk_size=chunk_size)
    assert raised.value.segment_number == 5
    assert "not valid utf-8" in raised.value.reason
    assert segments(data, encoding="latin-1")[4] == ["NM1", "QC", "1", "D\xff\xfeE"]


def test_input_ending_inside_a_multibyte_character_is_reported():
    data = _envelope(GOOD_ST).encode() + "É".encode()[:1]
    with pytest.raises(X12SyntaxError) as raised:
        segments(data)
    assert "multi-byte" in raised.value.reason


def test_error_messages_carry_no_element_values():
    # Element values can be PHI: a bad segment id must not echo the rest of the segment.
    text = _envelope(GOOD_ST + "zz*DOE*JANE*19800517~", se="SE*4*0001~")
    with pytest.raises(X12SyntaxError) as raised:
        segments(text)
    assert "DOE" not in str(raised.value) and "19800517" not in str(raised.value)


# ---------------------------------------------------------------------------------------- sample files


def test_sample_with_newline_terminator_and_no_iea_is_truncated():
    # badx12/errors/segment_terminator.edi: an ISA terminated by a newline, then nothing.
    with pytest.raises(X12TruncatedError) as raised:
        segments(sample("badx12/errors/segment_terminator.edi"))
    assert (raised.value.segment_number, raised.value.reason) == (2, "the input ends before the IEA of the interchange")


@pytest.mark.parametrize("relative_path", ["badx12/errors/bad_file.edi", "imsweb/837_5010/x12_no_isa_line.txt"])
def test_sample_without_isa_is_a_syntax_error_at_segment_1(relative_path):
    with pytest.raises(X12SyntaxError) as raised:
        segments(sample(relative_path))
    assert (raised.value.segment_number, raised.value.segment_id) == (1, None)
    assert "expected an ISA segment" in raised.value.reason


def test_sample_with_a_segment_before_st_is_an_envelope_error():
    # badx12/errors/unknown_segment_error.edi: HL and NM1 between GS and ST.
    with pytest.raises(X12EnvelopeError) as raised:
        segments(sample("badx12/errors/unknown_segment_error.edi"))
    assert (raised.value.segment_number, raised.value.segment_id) == (3, "HL")


def test_sample_with_tilde_element_separator_and_underscore_terminator():
    # imsweb x12_valid_different_separators.txt: ISA~...~U~00501~...~^_ with "_\n" after each
    # segment. Its SE01 says 25 where the set has 34 segments, as in most imsweb 837 samples.
    reader = X12Reader(sample("imsweb/837_5010/x12_valid_different_separators.txt"))
    seen = []
    with pytest.raises(X12EnvelopeError) as raised:
        for segment in reader:
            seen.append(segment)
    assert reader.delimiters == Delimiters(element="~", component="^", repetition=None, segment="_")
    assert seen[3] == ["BHT", "0019", "00", "0123", "19960918", "0932", "CH"]
    assert (raised.value.segment_number, raised.value.element_position) == (36, 1)
    assert raised.value.reason == "states 25 segments in the transaction set, counted 34"


def test_sample_with_wrong_se02_is_an_envelope_error():
    with pytest.raises(X12EnvelopeError) as raised:
        segments(sample("lfh/271_005010X279A1/subscriber-health-benefit-check-error.271"))
    assert (raised.value.segment_number, raised.value.element_position) == (10, 2)
    assert raised.value.reason == "control number 4323 does not match ST02 4321"


def test_clean_samples_read_to_their_segment_counts():
    for relative_path, count in [("badx12/X221-multiple-claims-single-check.edi", 194),
                                 ("badx12/X222-ambulance.edi", 56),
                                 ("lfh/835_005010X221A1/medicare-part-a.835", 32),
                                 ("imsweb/837_5010/x12_999_rejected.txt", 11)]:
        assert len(segments(sample(relative_path))) == count, relative_path


def test_runs_start_at_envelope_segments_and_number_every_segment():
    text = interchange(["ST*835*0001", "BPR*I*10*C*CHK", "TRN*1*T1*1"], ["ST*835*0002", "BPR*I*20*C*CHK"])
    reader = X12Reader(text, chunk_size=40)
    runs = [([segment[0] for segment in run], first, reader.group_control_number) for run, first in reader.runs()]
    numbered = [(first + offset, segment_id) for ids, first, _ in runs for offset, segment_id in enumerate(ids)]
    assert numbered == list(enumerate(
        ["ISA", "GS", "ST", "BPR", "TRN", "SE", "ST", "BPR", "SE", "GE", "IEA"], start=1))
    for ids, _, _ in runs:  # an envelope segment only ever opens a run
        assert not any(segment_id in ("ISA", "GS", "ST", "SE", "GE", "IEA") for segment_id in ids[1:])
    assert [group for ids, _, group in runs if ids[0] == "ST"] == ["1", "1"]


def test_envelopes_in_runs_leave_only_the_isa_alone_and_number_every_segment():
    text = interchange(["ST*835*0001", "BPR*I*10*C*CHK"], ["ST*835*0002", "BPR*I*20*C*CHK"])
    runs = [([segment[0] for segment in run], first) for run, first in X12Reader(text).runs(envelopes_in_runs=True)]
    assert runs == [(["ISA"], 1), (["GS", "ST", "BPR", "SE", "ST", "BPR", "SE", "GE", "IEA"], 2)]


def test_envelopes_in_runs_still_hand_out_the_segments_before_an_envelope_error_first():
    reader = X12Reader(_envelope(GOOD_ST + "AK2*1~", se="SE*9*0001~"))
    seen = []
    with pytest.raises(X12EnvelopeError) as raised:
        for run, _first in reader.runs(envelopes_in_runs=True):
            seen += [segment[0] for segment in run]
    assert seen == ["ISA", "GS", "ST", "AK1", "AK2"]
    assert (raised.value.segment_number, raised.value.segment_id) == (6, "SE")


def test_runs_before_an_error_are_handed_out_first():
    reader = X12Reader(_envelope(GOOD_ST + "AK2*1~bad~", se="SE*5*0001~"))
    seen = []
    with pytest.raises(X12SyntaxError) as raised:
        for run, _first in reader.runs():
            seen += [segment[0] for segment in run]
    assert seen == ["ISA", "GS", "ST", "AK1", "AK2"]
    assert raised.value.segment_number == 6


# ------------------------------------------------------------------------------------- hostile input
# Behaviour only: how long these take is measured by bench/x12_hostile.py, not asserted here.


class _EndlessSource:
    """An input that never ends and never terminates its segment, counting what is read from it."""

    def __init__(self, head: str, piece: str) -> None:
        self.head, self.piece, self.pieces_read = head, piece, 0

    def __iter__(self):
        yield self.head
        while True:
            self.pieces_read += 1
            yield self.piece


@pytest.mark.parametrize("chunk_size", [1000, 8192, 1 << 20])
def test_input_without_a_segment_terminator_is_refused_after_the_longest_segment(chunk_size):
    source = _EndlessSource(isa() + "GS*FA*S*R*20260302*1405*1*X*005010X231A1", "A" * 1000)
    with pytest.raises(X12SyntaxError) as raised:
        segments(source, chunk_size=chunk_size, max_segment_length=10_000)
    assert (raised.value.interchange_number, raised.value.segment_number) == (1, 2)
    assert "no segment terminator within 10000 characters" in raised.value.reason
    assert source.pieces_read <= 11  # stopped at the bound, never read the rest of the input


def test_a_segment_longer_than_the_maximum_is_refused_even_when_it_is_terminated():
    long_segment = "AK2*1*" + "9" * 2000 + "~"
    with pytest.raises(X12SyntaxError) as raised:
        segments(_envelope(GOOD_ST + long_segment, se="SE*4*0001~"), chunk_size=16, max_segment_length=1000)
    assert raised.value.segment_number == 5
    assert "no segment terminator within 1000 characters" in raised.value.reason


def test_a_segment_of_the_maximum_length_is_read():
    longest = "AK2*1*" + "9" * 994  # 1000 characters
    read = segments(_envelope(GOOD_ST + longest + "~", se="SE*4*0001~"), chunk_size=16, max_segment_length=1000)
    assert read[4] == ["AK2", "1", "9" * 994]


def test_default_maximum_segment_length_is_far_above_the_longest_legitimate_segment():
    # HI of an 837I: 12 composites at the longest the guide allows for each component.
    composite = ":".join(["ABF", "X" * 30, "D8", "X" * 35, "9" * 18, "9" * 15, "X" * 30, "X" * 30, "Y"])
    hi = "HI*" + "*".join([composite] * 12)
    assert len(hi) < 4096 < MAX_SEGMENT_LENGTH
    assert segments(_envelope(GOOD_ST + hi + "~", se="SE*4*0001~"))[4][0] == "HI"


@pytest.mark.parametrize("chunk_size", [1, 16, 4096])
def test_a_nul_character_stops_the_input_at_its_segment(chunk_size):
    text = _envelope("ST*999*0001~AK1*HC*1~NM1*QC*1*DO\x00E~", se="SE*4*0001~")
    reader = X12Reader(io.BytesIO(text.encode()), chunk_size=chunk_size)
    seen = []
    with pytest.raises(X12SyntaxError) as raised:
        for segment in reader:
            seen.append(segment[0])
    assert seen == ["ISA", "GS", "ST", "AK1"]
    assert raised.value.segment_number == 5
    assert "NUL" in raised.value.reason


@pytest.mark.parametrize("se", ["SE*" + "9" * 5000 + "*0001~", "SE*3*" + "0" * 5000 + "1~"])
def test_envelope_numbers_too_long_to_be_counts_are_envelope_errors(se):
    # int() of a 5000-digit string raises a plain ValueError (Python's digit limit): refused first.
    with pytest.raises(X12EnvelopeError) as raised:
        segments(_envelope(GOOD_ST, se=se))
    assert raised.value.segment_id == "SE"


def test_many_interchanges_in_one_piece_read_like_the_same_text_in_small_pieces():
    # One piece holding every interchange (an iterable source may hand over a whole file at once),
    # blank lines between them, one with other delimiters in the middle: read like small chunks.
    first = interchange(*ONE_TRANSACTION, functional_code="FA", version="005010X231A1")
    other = interchange(*ONE_TRANSACTION, functional_code="FA", version="005010X231A1", element="|",
                        terminator="\n", control_number="000000002")
    text = "\r\n".join([first] * 50 + [other] + [first] * 50)
    expected = segments(text, chunk_size=7)
    assert len(expected) == 101 * 8
    assert segments([text.encode()]) == expected
    reader = X12Reader([text])
    assert sum(1 for segment in reader if segment[0] == "ISA") == 101
    assert reader.interchange_number == 101


@pytest.mark.parametrize("second", ["ISA*00*short~GS*FA~", "ISA*00*short", isa("12345") + "GS*FA~",
                                    isa(terminator="\n") + "GS*FA~"])
def test_a_bad_isa_after_an_iea_in_the_same_piece_fails_as_it_does_in_small_pieces(second):
    text = _envelope(GOOD_ST) + second
    with pytest.raises(X12Error) as in_small_pieces:
        segments(text, chunk_size=3)
    with pytest.raises(X12Error) as in_one_piece:
        segments([text])
    assert type(in_one_piece.value) is type(in_small_pieces.value)
    assert str(in_one_piece.value) == str(in_small_pieces.value)
    assert in_one_piece.value.interchange_number == 2


@pytest.mark.parametrize("isa02, isa04", [
    pytest.param(" " * 10, " " * 10, id="standard-width"),
    pytest.param(" " * 9, " " * 11, id="mis-padded-but-standard-length"),
    pytest.param(" " * 9, " " * 10, id="one-short"),
    pytest.param(" " * 11, " " * 10, id="one-long"),
])
def test_isa16_and_the_terminator_follow_the_16th_separator_whatever_the_isa_width(isa02, isa04):
    text = SIMPLE.replace("*00*          *00*          *", f"*00*{isa02}*00*{isa04}*", 1)
    reader = X12Reader(text)
    read = list(reader)
    assert read[0][2] == isa02 and read[0][4] == isa04 and read[0][16] == ":"
    assert read[3] == ["AK1", "HC", "1"]
    assert reader.delimiters == Delimiters("*", ":", "^", "~")
