"""The 835 parser against every public sample that holds an 835 (expected outcomes written out by
hand, per file), against hand-built transactions for each loop and each refusal, and in streaming
mode against synthetic files of many claims."""

from __future__ import annotations

import io
import tracemalloc
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from bench.x12_835 import SyntheticTotals, synthetic_835
from openrcm_shared.x12.balancing import BalancingLevel, RemittanceBalancer, balance_remittance
from openrcm_shared.x12.reader import (
    X12DataError, X12EnvelopeError, X12Error, X12StructureError, X12TruncatedError,
)
from openrcm_shared.x12.remittance_835 import (
    Adjustment, AmountReference, ProcedureCode, ProviderAdjustment, QuantityReference, Reference, RemarkCode,
    parse_835, parse_claim_fragment, stream_835, stream_835_fragments,
)
from shared.tests.unit.x12.x12_test_support import (
    CLAIM_835, HEADER_835, files_holding_an_835, interchange, sample, transaction_835,
)

D = Decimal
SL, CL, TX = BalancingLevel.SERVICE_LINE, BalancingLevel.CLAIM, BalancingLevel.TRANSACTION


@dataclass(frozen=True)
class Parsed:
    """What a readable sample holds: claim and service-line counts, sum of CLP04, BPR02, sum of
    PLB amounts, BPR16, and the balancing differences as (level, CLP01, claim index, line index,
    expected, actual)."""

    claims: int
    service_lines: int
    total_paid: str
    payment: str
    provider_adjustments: str
    payment_date: date | None
    differences: tuple = ()


@dataclass(frozen=True)
class Refused:
    """What a broken sample raises: the exception class and where (segment number, id, element)."""

    error: type[X12Error]
    segment_number: int
    segment_id: str
    element_position: int | None
    reason: str


# Worked out by reading each file (arithmetic checked by hand; see the notes). Not computed by the parser.
EXPECTED = {
    # 2 claims: 800 - (CO-A2 50 + PR-1 300) = 450; 1200 - (55 + 600 + 50) = 495. 450 + 495 = 945 = BPR02.
    "badx12/X221-dollars-and-data-sent-separate.edi": Parsed(2, 2, "945", "945", "0", date(2002, 3, 16)),
    # No service lines: 211366.97 - 73348.57 = 138018.40; 15000 - 3019.67 = 11980.33.
    # 138018.40 + 11980.33 = 149998.73; minus PLB CV -1.27 = 150000 = BPR02.
    "badx12/X221-dollars-and-data-sent-together.edi": Parsed(2, 0, "149998.73", "150000", "-1.27", date(2002, 9, 13)),
    # Dental, 5 lines: charges 46+25+22+60+73 = 226, CO-131 21+11+12+26+24 = 94, 226 - 94 = 132 = BPR02.
    "badx12/X221-era-sample.edi": Parsed(1, 5, "132", "132", "0", date(2014, 3, 31)),
    # 9 claims (all CLP01 7722337): 132+74+108+14+16.8+132+108+82+144 = 810.8 = BPR02; 5+2+5+3+3+5+3+3+4 lines.
    "badx12/X221-multiple-claims-single-check.edi": Parsed(9, 33, "810.8", "810.8", "0", date(2014, 3, 31)),
    # 541 - (OA-23 516 + OA-94 -9) = 34 at line and claim level; BPR02 34.00.
    "badx12/X221-secondary-payment-with-higher-fee-schedule.edi": Parsed(1, 1, "34", "34.00", "0",
                                                                         date(2005, 3, 18)),
    # 10323.64 - OA-23 9411.64 = 912 (no lines); 751.50 - (136.50 + 150 + 70 + 85) = 310; 912 + 310 = 1222.
    "badx12/X221-secondary-payments.edi": Parsed(2, 2, "1222", "1222", "0", date(2005, 4, 12)),
    # 1766.5 - OA-23 1579 = 187.50.
    "badx12/X221-tertiary-payments.edi": Parsed(1, 1, "187.50", "187.50", "0", date(2005, 4, 12)),
    # The separate-payment example with SE*30 (27 segments from ST to SE), SE02 112223, GE*2, IEA*2.
    "badx12/errors/error_validation.edi": Refused(X12EnvelopeError, 29, "SE", 1,
                                                  "states 30 segments in the transaction set, counted 27"),
    # BPR has BPR15 = 20050318 and no BPR16 (one '*' short); SVC01 "HC>55669" uses '>' although
    # ISA16 is ':', so it reads as a qualifier without a code. Arithmetic as the badx12 original.
    "lfh/835_005010X221A1/cob-contractural-adjustment.835": Parsed(1, 1, "34.00", "34.00", "0", None),
    # BPR16 = 20002316: month 23.
    "lfh/835_005010X221A1/managed-care.835": Refused(X12DataError, 4, "BPR", 16, "not a date (CCYYMMDD)"),
    "lfh/835_005010X221A1/medicare-part-a.835": Parsed(2, 0, "149998.73", "150000.00", "-1.27", date(2002, 9, 13)),
    # BPR16 missing as in cob-contractural-adjustment; '>' in SVC01 again. Balances like the original.
    "lfh/835_005010X221A1/secondary-payment.835": Parsed(2, 2, "1222.00", "1222.00", "0", None),
    # "SVC*HC*24599.00*1766.50*187.50**1": the procedure code moved into SVC02, so SVC02 reads 24599.00
    # and SVC03 1766.50: 24599.00 - OA-23 1579.00 = 23020.00, not 1766.50. The claim level still
    # balances (1766.50 - 1579.00 = 187.50 = CLP04) because it does not use SVC02.
    "lfh/835_005010X221A1/tertiary-payment.835": Parsed(1, 1, "187.50", "187.50", "0", None, differences=(
        (SL, "0001000054", 1, 1, D("23020.00"), D("1766.50")),)),
}


def test_every_sample_holding_an_835_has_an_expected_outcome():
    # Found by content (ST<sep>835<sep>, any separator) across badx12, imsweb and lfh, so a new
    # sample cannot be skipped silently. imsweb holds no 835.
    assert files_holding_an_835() == sorted(EXPECTED)


@pytest.mark.parametrize("relative_path", sorted(EXPECTED))
def test_sample_835(relative_path):
    expected = EXPECTED[relative_path]
    path = sample(relative_path)
    if isinstance(expected, Refused):
        with pytest.raises(X12Error) as raised:
            list(parse_835(path))
        error = raised.value
        assert type(error) is expected.error
        assert (error.segment_number, error.segment_id, error.element_position, error.reason) == (
            expected.segment_number, expected.segment_id, expected.element_position, expected.reason)
        return
    (remittance,) = parse_835(path)
    assert len(remittance.claims) == expected.claims
    assert sum(len(claim.service_lines) for claim in remittance.claims) == expected.service_lines
    assert remittance.total_claim_payment == D(expected.total_paid)
    assert str(remittance.payment.amount) == expected.payment  # exactly as sent, no float, no rounding
    assert remittance.total_provider_adjustment == D(expected.provider_adjustments)
    assert remittance.payment.payment_date == expected.payment_date
    differences = [(difference.level, difference.patient_control_number, difference.claim_index,
                    difference.line_index, difference.expected, difference.actual)
                   for difference in balance_remittance(remittance)]
    assert differences == list(expected.differences)


@pytest.mark.parametrize("relative_path", [path for path, outcome in EXPECTED.items() if isinstance(outcome, Parsed)])
def test_streaming_a_sample_in_tiny_chunks_gives_the_same_result(relative_path):
    (whole,) = parse_835(sample(relative_path))
    streams = stream_835(io.BytesIO(sample(relative_path).read_bytes()), chunk_size=5)
    stream = next(streams)
    claims = list(stream.claims)
    assert next(streams, None) is None
    assert stream.finished
    assert claims == whole.claims
    assert stream.remittance.provider_adjustments == whole.provider_adjustments
    assert stream.remittance.payment == whole.payment


def test_multiple_claims_single_check_claim_by_claim():
    (remittance,) = parse_835(sample("badx12/X221-multiple-claims-single-check.edi"))
    assert [(claim.patient_control_number, claim.status_code, claim.charge, claim.paid, claim.patient_responsibility,
             len(claim.service_lines)) for claim in remittance.claims] == [
        ("7722337", "1", D("226"), D("132"), None, 5),
        ("7722337", "1", D("119"), D("74"), None, 2),
        ("7722337", "1", D("226"), D("108"), D("24"), 5),
        ("7722337", "1", D("1145"), D("14"), D("902"), 3),
        ("7722337", "1", D("348"), D("16.8"), D("44.2"), 3),
        ("7722337", "1", D("226"), D("132"), None, 5),
        ("7722337", "1", D("179"), D("108"), None, 3),
        ("7722337", "1", D("129"), D("82"), None, 3),
        ("7722337", "1", D("221"), D("144"), None, 4),
    ]
    fifth = remittance.claims[4]
    assert [(line.procedure.code, line.charge, line.paid, [(a.group_code, a.reason_code, a.amount)
                                                           for a in line.adjustments])
            for line in fifth.service_lines] == [
        ("D4342", D("125"), D("0"), [("CO", "131", D("125"))]),
        ("D4381", D("43"), D("0"), [("PR", "3", D("33")), ("CO", "131", D("10"))]),
        ("D2950", D("180"), D("16.8"), [("PR", "3", D("11.2")), ("CO", "131", D("152"))]),
    ]
    # AMT*B6*28 after the third line's CAS is that line's allowed amount (16.8 paid + 11.2 PR-3).
    assert fifth.service_lines[2].allowed_amount == D("28") and fifth.amounts == [AmountReference("AU", D("28"))]
    assert fifth.service_lines[0].service_date == date(2014, 3, 13)
    assert remittance.claims[1].insured.identifier == "123456"
    assert remittance.claims[0].service_provider.identifier == "1811901945"


def test_header_parties_and_trace():
    (remittance,) = parse_835(sample("badx12/X221-dollars-and-data-sent-separate.edi"))
    payment = remittance.payment
    assert (payment.transaction_handling_code, payment.amount, payment.credit_debit_flag, payment.payment_method,
            payment.payment_format) == ("I", D("945"), "C", "ACH", "CCP")
    assert (payment.sender_dfi_qualifier, payment.sender_dfi_number, payment.sender_account_number,
            payment.payer_identifier, payment.receiver_dfi_number, payment.receiver_account_number) == (
        "01", "888999777", "24681012", "1935665544", "111333555", "144444")
    assert (remittance.trace.trace_type_code, remittance.trace.trace_number, remittance.trace.payer_identifier) == (
        "1", "71700666555", "1935665544")
    assert remittance.production_date == date(2002, 3, 14)
    assert (remittance.transaction_set_control_number, remittance.group_control_number,
            remittance.interchange_control_number, remittance.version) == ("112233", "20213", "000010216",
                                                                            "005010X221A1")
    assert (remittance.interchange_sender_id, remittance.application_receiver_code) == ("123456789012345",
                                                                                         "1234567981")
    payer, payee = remittance.payer, remittance.payee
    assert (payer.name, payer.address.line1, payer.address.city, payer.address.state, payer.address.postal_code) == (
        "RUSHMORE LIFE", "10 SOUTH AVENUE", "RAPID CITY", "SD", "55111")
    assert [(contact.function_code, contact.name, contact.communications) for contact in payer.contacts] == [
        ("BL", "JOHN WAYNE", (("TE", "8005551212"), ("EX", "123")))]
    assert (payee.name, payee.identification_qualifier, payee.identifier, payee.references) == (
        "ACME MEDICAL CENTER", "XX", "5544667733", [Reference("TJ", "777667755")])
    first = remittance.claims[0]
    assert (first.claim_filing_indicator, first.payer_claim_control_number, first.patient.last_name,
            first.patient.identification_qualifier, first.patient.identifier) == (
        "12", "94060555410000", "BUDD", "MI", "33344555510")
    assert first.adjustments == [Adjustment("CO", "A2", D("50"))]
    assert (first.service_lines[0].service_start_date, first.service_lines[0].service_end_date) == (
        date(2002, 3, 1), date(2002, 3, 4))


def test_institutional_claims_mia_moa_and_plb():
    (remittance,) = parse_835(sample("badx12/X221-dollars-and-data-sent-together.edi"))
    inpatient, outpatient = remittance.claims
    assert (inpatient.facility_type_code, inpatient.frequency_code, inpatient.claim_filing_indicator) == (
        "11", "1", "MA")
    assert (inpatient.inpatient.covered_days_or_visits, inpatient.inpatient.claim_drg_amount) == (D("0"), D("138018.4"))
    assert inpatient.quantities == [QuantityReference("CA", D("8"))]
    assert (inpatient.statement_from, inpatient.statement_to) == (date(2002, 8, 16), date(2002, 8, 24))
    assert outpatient.outpatient.remark_codes == ("MA02",)
    assert outpatient.patient.identifier == "996669999B"
    assert remittance.provider_adjustments == [
        ProviderAdjustment("6543210903", date(2002, 12, 31), "CV", D("-1.27"), "CP")]
    assert remittance.payer.references == [Reference("2U", "999")]


def test_secondary_payment_line_details():
    (remittance,) = parse_835(sample("badx12/X221-secondary-payments.edi"))
    line = remittance.claims[1].service_lines[1]
    assert line.procedure == ProcedureCode("HC", "66543", ("26",))
    assert (line.charge, line.paid, line.revenue_code, line.units, line.allowed_amount) == (
        D("585"), D("280"), "220", D("1"), D("500"))
    # CAS*PR*1*150**2*70: two triplets in one segment, the first without a quantity.
    assert line.adjustments == [Adjustment("PR", "1", D("150")), Adjustment("PR", "2", D("70")),
                                Adjustment("CO", "42", D("85"))]
    assert line.references == [Reference("1B", "43285")]


def test_lfh_component_separator_mismatch_is_read_literally():
    (remittance,) = parse_835(sample("lfh/835_005010X221A1/secondary-payment.835"))
    assert remittance.claims[1].service_lines[0].procedure == ProcedureCode("HC>12345>26", "")
    assert remittance.payment.payment_date is None
    assert remittance.payment.receiver_account_number == "20050412"  # the date landed in BPR15


# ------------------------------------------------------------------------------------ hand-built 835s


def parse_one(*transactions: list[str], **options):
    (remittance,) = parse_835(interchange(*transactions), **options)
    return remittance


def test_all_cas_triplets_and_all_plb_pairs_are_kept():
    remittance = parse_one(transaction_835(
        "LX*1", "CLP*PCN1*1*100*79**12*ICN1", "SVC*HC:99213*100*79",
        "CAS*CO*45*1*1*253*2**A2*3*2*59*4**B10*5**94*6",
        "PLB*1234567893*20261231*L6:INT1*-1*WO:ICN9*2*FB:X*3*72*4*CS*5*J1*6"))
    (line,) = remittance.claims[0].service_lines
    assert line.adjustments == [
        Adjustment("CO", "45", D("1"), D("1")), Adjustment("CO", "253", D("2")), Adjustment("CO", "A2", D("3"), D("2")),
        Adjustment("CO", "59", D("4")), Adjustment("CO", "B10", D("5")), Adjustment("CO", "94", D("6"))]
    assert [(adjustment.reason_code, adjustment.reference, adjustment.amount)
            for adjustment in remittance.provider_adjustments] == [
        ("L6", "INT1", D("-1")), ("WO", "ICN9", D("2")), ("FB", "X", D("3")), ("72", None, D("4")),
        ("CS", None, D("5")), ("J1", None, D("6"))]
    assert remittance.total_provider_adjustment == D("19")


def test_line_control_number_allowed_amount_remarks_and_original_procedure():
    remittance = parse_one(transaction_835(
        "LX*1", "CLP*PCN1*1*100*80**12*ICN1", "SVC*HC:99214:25:59*100*80**2*HC:99215*3", "DTM*150*20260201",
        "DTM*151*20260203", "CAS*CO*45*20", "REF*6R*PCN1-1", "REF*LU*11", "AMT*B6*80", "AMT*KH*1.5", "QTY*ZK*2",
        "LQ*HE*N130", "LQ*HE*M15"))
    line = remittance.claims[0].service_lines[0]
    assert line.procedure == ProcedureCode("HC", "99214", ("25", "59"))
    assert (line.original_procedure, line.units, line.original_units) == (ProcedureCode("HC", "99215"), D("2"), D("3"))
    assert (line.service_date, line.service_start_date, line.service_end_date) == (
        None, date(2026, 2, 1), date(2026, 2, 3))
    assert (line.line_control_number, line.allowed_amount) == ("PCN1-1", D("80"))
    assert line.references == [Reference("LU", "11")]
    assert line.amounts == [AmountReference("KH", D("1.5"))]
    assert line.quantities == [QuantityReference("ZK", D("2"))]
    assert line.remark_codes == [RemarkCode("HE", "N130"), RemarkCode("HE", "M15")]


def test_claims_without_lx_and_several_transactions_and_interchanges():
    first = transaction_835("CLP*A*1*10*10**12", "CLP*B*4*20*0**12", "CAS*CO*50*20",
                            header=["ST*835*0001", "BPR*I*10*C*CHK************20260302", "TRN*1*T1*1512345678",
                                    "N1*PR*PAYER", "N1*PE*PAYEE"])
    second = transaction_835(header=["ST*835*0002", *HEADER_835[1:]])
    text = interchange(first, second) + "\n" + interchange(second, control_number="000000002", element="|",
                                                            component=">", terminator="\n")
    remittances = list(parse_835(text))
    assert [(remittance.interchange_control_number, remittance.transaction_set_control_number,
             [claim.patient_control_number for claim in remittance.claims]) for remittance in remittances] == [
        ("000000001", "0001", ["A", "B"]), ("000000001", "0002", ["PCN1"]), ("000000002", "0002", ["PCN1"])]
    assert remittances[2].claims[0].service_lines[0].procedure == ProcedureCode("HC", "99213")
    assert all(balance_remittance(remittance) == [] for remittance in remittances)


def test_currency_receiver_and_version_references():
    remittance = parse_one(transaction_835(header=[
        "ST*835*0001", "BPR*I*80*C*CHK************20260302", "TRN*1*CHK1001*1512345678", "CUR*PR*CAD",
        "REF*EV*RECEIVER01", "REF*F2*V5", "DTM*405*20260301", "N1*PR*ACME*XV*PLAN1", "N3*1 MAIN ST*FLOOR 2",
        "N4*TORONTO*ON*M5V1A1*CA", "REF*2U*PAYER2", "PER*CX*CLAIMS*TE*8005550100", "PER*IC**UR*WWW.EXAMPLE.COM",
        "N1*PE*CLINIC*XX*1234567893", "N3*2 SIDE ST", "N4*MIAMI*FL*33101", "REF*TJ*123456789", "RDM*BM*CLINIC"]))
    assert (remittance.currency_code, remittance.receiver_identifier, remittance.version_identification,
            remittance.production_date) == ("CAD", "RECEIVER01", "V5", date(2026, 3, 1))
    assert (remittance.payer.identification_qualifier, remittance.payer.identifier) == ("XV", "PLAN1")
    address = remittance.payer.address
    assert (address.line1, address.line2, address.city, address.state, address.postal_code, address.country_code) == (
        "1 MAIN ST", "FLOOR 2", "TORONTO", "ON", "M5V1A1", "CA")
    assert [contact.function_code for contact in remittance.payer.contacts] == ["CX", "IC"]
    assert remittance.payee.references == [Reference("TJ", "123456789")]


def test_amounts_keep_their_exact_decimal_form():
    remittance = parse_one(transaction_835(
        "CLP*PCN1*1*100.10*.10*-0*12", "CAS*CO*45*100.00", header=["ST*835*0001", "BPR*I*0.1*C*NON",
                                                                  *HEADER_835[2:]]))
    claim = remittance.claims[0]
    assert (str(claim.charge), str(claim.paid), str(claim.patient_responsibility)) == ("100.10", "0.10", "-0")
    assert claim.paid == D("0.1")
    assert remittance.payment.payment_date is None


# The hand-built interchange numbers its segments ISA 1, GS 2, ST 3, BPR 4, TRN 5, N1*PR 6, N1*PE 7,
# then the body from 8.
@pytest.mark.parametrize("transaction, error_class, segment_number, segment_id, element_position, reason", [
    pytest.param(["ST*837*0001", "BHT*0019*00*1*20260302*1405*CH"], X12StructureError, 3, "ST", 1,
                 "transaction set is not an 835", id="not-an-835"),
    pytest.param(["ST*835*0001", *HEADER_835[2:], *CLAIM_835], X12StructureError, 4, "TRN", None,
                 "an 835 must start with BPR after ST", id="no-bpr"),
    pytest.param(["ST*835*0001", HEADER_835[1], *HEADER_835[3:], *CLAIM_835], X12StructureError, 7, "LX", None,
                 "the 835 header has no TRN (reassociation trace)", id="no-trn"),
    pytest.param([*HEADER_835[:4], *CLAIM_835], X12StructureError, 7, "LX", None,
                 "the 835 has no N1*PE (loop 1000B payee)", id="no-payee"),
    pytest.param(transaction_835(header=["ST*835*0001", "BPR*I*12.3.4*C*CHK", *HEADER_835[2:]]), X12DataError,
                 4, "BPR", 2, "not a decimal number", id="bpr02-two-points"),
    pytest.param(transaction_835(header=["ST*835*0001", "BPR*I*1E3*C*CHK", *HEADER_835[2:]]), X12DataError,
                 4, "BPR", 2, "not a decimal number", id="bpr02-exponent"),
    pytest.param(transaction_835(header=["ST*835*0001", "BPR*I**C*CHK", *HEADER_835[2:]]), X12DataError,
                 4, "BPR", 2, "required number is missing", id="bpr02-missing"),
    pytest.param(transaction_835(header=["ST*835*0001", "BPR*I*80*X*CHK", *HEADER_835[2:]]), X12DataError,
                 4, "BPR", 3, "credit/debit flag must be C or D", id="bpr03-flag"),
    pytest.param(transaction_835(header=["ST*835*0001", "BPR*I*80*C", *HEADER_835[2:]]), X12DataError,
                 4, "BPR", 4, "required element is missing", id="bpr04-missing"),
    pytest.param(transaction_835(header=["ST*835*0001", "BPR*I*80*C*CHK************20260231", *HEADER_835[2:]]),
                 X12DataError, 4, "BPR", 16, "not a date (CCYYMMDD)", id="bpr16-february-31"),
    pytest.param(transaction_835(header=[*HEADER_835[:3], "N1*ZZ*SOMEONE", *HEADER_835[3:]]), X12DataError,
                 6, "N1", 1, "N1 entity code must be PR (payer) or PE (payee) in an 835", id="n1-entity-code"),
    pytest.param(transaction_835(header=[*HEADER_835, "N1*PR*AGAIN"]), X12StructureError, 8, "N1", 1,
                 "second N1 loop for the same party", id="second-payer"),
    pytest.param(transaction_835(header=[*HEADER_835[:3], "TS3*1*11*20261231*1*100", *HEADER_835[3:]]),
                 X12StructureError, 6, "TS3", None, "segment not allowed in the 835 header", id="ts3-in-header"),
    pytest.param(transaction_835("LX*1", "CLP*PCN1*1*100"), X12DataError, 9, "CLP", 4,
                 "required number is missing", id="clp04-missing"),
    pytest.param(transaction_835("LX*1", "CLP**1*100*80"), X12DataError, 9, "CLP", 1,
                 "required element is missing", id="clp01-missing"),
    pytest.param(transaction_835("LX*1", "SVC*HC:99213*100*80"), X12StructureError, 9, "SVC", None,
                 "SVC before any CLP (loop 2110 outside 2100)", id="svc-before-clp"),
    pytest.param(transaction_835("CLP*PCN1*1*100*80", "SVC*HC:99213*100*eighty"), X12DataError, 9, "SVC", 3,
                 "not a decimal number", id="svc03-text"),
    pytest.param(transaction_835("CLP*PCN1*1*100*80", "SVC**100*80"), X12DataError, 9, "SVC", 1,
                 "procedure composite is missing", id="svc01-missing"),
    pytest.param(transaction_835("CLP*PCN1*1*100*80", "SVC*HC:99213*100*80", "DTM*999*20260220"), X12DataError,
                 10, "DTM", 1, "DTM qualifier not used in loop 2110", id="dtm-qualifier-2110"),
    pytest.param(transaction_835("CLP*PCN1*1*100*80", "DTM*472*20260220"), X12DataError, 9, "DTM", 1,
                 "DTM qualifier not used in loop 2100", id="dtm-qualifier-2100"),
    pytest.param(transaction_835("CLP*PCN1*1*100*80", "SVC*HC:99213*100*80", "DTM*472*2026022"), X12DataError,
                 10, "DTM", 2, "not a date (CCYYMMDD)", id="dtm-short-date"),
    pytest.param(transaction_835("CLP*PCN1*1*100*80", "SVC*HC:99213*100*80", "DTM*472"), X12DataError,
                 10, "DTM", 2, "required date is missing", id="dtm-date-missing"),
    pytest.param(transaction_835("CLP*PCN1*1*100*80", "CAS*CO*45"), X12DataError, 9, "CAS", 3,
                 "required number is missing", id="cas-amount-missing"),
    pytest.param(transaction_835("CLP*PCN1*1*100*80", "CAS*CO*45*10***5"), X12DataError, 9, "CAS", 5,
                 "CAS amount without a reason code", id="cas-amount-without-reason"),
    pytest.param(transaction_835("CLP*PCN1*1*100*80", "CAS**45*20"), X12DataError, 9, "CAS", 1,
                 "required element is missing", id="cas-group-missing"),
    pytest.param(transaction_835("CLP*PCN1*1*100*80", "CAS*CO" + "*45*1*1" * 7), X12DataError, 9, "CAS", 20,
                 "CAS holds at most six adjustments (CAS02-CAS19)", id="cas-seven-triplets"),
    pytest.param(transaction_835("PLB*1234567893*20261231" + "*L6*1" * 7), X12DataError, 8, "PLB", 15,
                 "PLB holds at most six adjustments (PLB03-PLB14)", id="plb-seven-pairs"),
    pytest.param(transaction_835("LX*1", "CAS*CO*45*20"), X12StructureError, 9, "CAS", None, "CAS before any CLP",
                 id="cas-before-clp"),
    pytest.param(transaction_835("CAS*CO*45*20"), X12StructureError, 8, "CAS", None,
                 "segment not allowed in loop 1000B", id="cas-in-payee-loop"),
    pytest.param(transaction_835("CLP*PCN1*1*100*80", "NM1*XX*1*DOE"), X12DataError, 9, "NM1", 1,
                 "NM1 entity code not used in loop 2100", id="nm1-entity-code"),
    pytest.param(transaction_835("CLP*PCN1*1*100*80", "SVC*HC:99213*100*80", "NM1*QC*1*DOE"), X12StructureError,
                 10, "NM1", None, "NM1 outside loop 2100 (after CLP, before SVC)", id="nm1-after-svc"),
    pytest.param(transaction_835("CLP*PCN1*1*100*80", "LQ*HE*N130"), X12StructureError, 9, "LQ", None,
                 "LQ outside loop 2110 (after SVC)", id="lq-in-2100"),
    pytest.param(transaction_835("CLP*PCN1*1*100*80", "HL*1**20*1"), X12StructureError, 9, "HL", None,
                 "segment not allowed in the 835 detail", id="hl-in-detail"),
    pytest.param(transaction_835("CLP*PCN1*1*100*80", "TS3*1*11*20261231*1*100"), X12StructureError, 9, "TS3",
                 None, "TS3 inside a claim (loop 2000 provider summary belongs right after LX)", id="ts3-in-claim"),
    pytest.param(transaction_835("CLP*PCN1*1*100*80", "PLB*1234567893*20261231*L6*-1", "CLP*PCN2*1*1*1"),
                 X12StructureError, 10, "CLP", None, "only PLB segments may follow the first PLB",
                 id="clp-after-plb"),
    pytest.param(transaction_835("PLB*1234567893*20261231*:REF*5"), X12DataError, 8, "PLB", 3,
                 "PLB adjustment without a reason code", id="plb-reason-missing"),
    pytest.param(transaction_835("PLB*1234567893*20261231*L6"), X12DataError, 8, "PLB", 4,
                 "required number is missing", id="plb-amount-missing"),
    pytest.param(transaction_835("PLB*1234567893*2026*L6*1"), X12DataError, 8, "PLB", 2, "not a date (CCYYMMDD)",
                 id="plb-fiscal-period"),
])
def test_refusals_name_segment_and_element(transaction, error_class, segment_number, segment_id, element_position,
                                           reason):
    with pytest.raises(X12Error) as raised:
        list(parse_835(interchange(transaction)))
    error = raised.value
    assert type(error) is error_class
    assert (error.segment_number, error.segment_id, error.element_position, error.reason) == (
        segment_number, segment_id, element_position, reason)


def test_a_truncated_835_is_refused_before_its_claims_are_complete():
    text = interchange(transaction_835())
    truncated = text[:text.index("SE*")]
    stream = next(stream_835(truncated))
    with pytest.raises(X12TruncatedError) as raised:
        list(stream.claims)
    assert raised.value.segment_number == 15  # where SE should have been
    assert not stream.finished
    with pytest.raises(X12TruncatedError):
        list(parse_835(truncated))


# ----------------------------------------------------------------------------------------- streaming


def test_claims_stream_before_the_input_is_read_to_the_end():
    consumed = []

    def chunks():
        for chunk in synthetic_835(5_000, claims_per_chunk=50):
            consumed.append(len(chunk))
            yield chunk

    stream = next(stream_835(chunks(), chunk_size=4096))
    first = next(stream.claims)
    assert first.patient_control_number == "BENCH000000000000"
    assert stream.remittance.provider_adjustments == [] and not stream.finished
    consumed_at_first_claim = len(consumed)
    rest = sum(1 for _ in stream.claims)
    assert rest == 4_999 and stream.finished
    assert consumed_at_first_claim < len(consumed) / 10
    assert [(adjustment.reason_code, adjustment.amount) for adjustment in stream.remittance.provider_adjustments] == [
        ("L6", D("-1.27"))]
    assert stream.remittance.claims == []  # streaming keeps nothing


def test_unread_claims_are_skipped_when_moving_to_the_next_transaction():
    streams = stream_835(b"".join(synthetic_835(30, claims_per_transaction=10)))
    seen = []
    for stream in streams:
        seen.append((stream.remittance.transaction_set_control_number, next(stream.claims).patient_control_number))
    assert seen == [("0001", "BENCH000000000000"), ("0002", "BENCH000000000010"), ("0003", "BENCH000000000020")]


@pytest.mark.parametrize("claims, per_transaction", [(1, None), (1_000, None), (2_500, 1_000)])
def test_synthetic_835_totals_match_what_was_generated(claims, per_transaction):
    generated = SyntheticTotals()
    data = b"".join(synthetic_835(claims, claims_per_transaction=per_transaction, totals=generated))
    parsed_claims = parsed_lines = 0
    paid = provider = payment = D(0)
    for stream in stream_835(io.BytesIO(data), chunk_size=1000):
        balancer = RemittanceBalancer()
        for claim in stream.claims:
            balancer.add_claim(claim)
            parsed_lines += len(claim.service_lines)
        assert balancer.finish(stream.remittance) == []
        parsed_claims += balancer.claim_count
        paid += balancer.total_claim_payment
        provider += sum(adjustment.amount for adjustment in stream.remittance.provider_adjustments)
        payment += stream.remittance.payment.amount
    assert (parsed_claims, parsed_lines, paid, provider, payment) == (
        generated.claims, generated.service_lines, generated.total_claim_payment,
        generated.total_provider_adjustment, generated.total_payment)


def test_synthetic_835_has_the_shapes_the_benchmark_claims():
    (remittance,) = parse_835(b"".join(synthetic_835(25)))
    denied = remittance.claims[24]
    assert (denied.status_code, denied.paid, denied.service_lines[0].remark_codes) == (
        "4", D("0"), [RemarkCode("HE", "N130")])
    assert remittance.claims[0].service_lines[0].line_control_number == "000000000-1"


def _peak_streaming_memory(claims: int) -> int:
    chunks = list(synthetic_835(claims, claims_per_chunk=200))  # made before tracing: only the parser counts
    tracemalloc.start()
    try:
        for stream in stream_835(iter(chunks), chunk_size=64 * 1024):
            balancer = RemittanceBalancer()
            for claim in stream.claims:
                balancer.add_claim(claim)
            balancer.finish(stream.remittance)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_streaming_memory_does_not_grow_with_the_number_of_claims():
    # The guarantee that lets a 100,000-claim transaction be read: peak memory is flat in file
    # size (a memory bound, not a timing). Five times the claims may not cost 10% more memory.
    small, large = _peak_streaming_memory(1_000), _peak_streaming_memory(5_000)
    assert large < small * 1.1, (small, large)


def test_after_a_caught_error_the_next_transaction_is_not_read_silently():
    text = interchange(transaction_835("LX*1", "CLP*PCN1*1*100*80", "DTM*999*20260220"),
                       transaction_835(header=["ST*835*0002", *HEADER_835[1:]]))
    streams = stream_835(text)
    stream = next(streams)
    with pytest.raises(X12DataError):
        list(stream.claims)
    with pytest.raises(X12StructureError) as raised:
        next(streams)
    assert raised.value.reason == "reading stopped at an earlier error in this transaction set"


# -- fragments: the detail cut into X12 text pieces, parsed elsewhere (parallel posting) --------------


def _fragment_streams(data: bytes, batch_size: int):
    """[(header, [claims parsed fragment by fragment], [fragments])] for each transaction set."""
    results = []
    for stream in stream_835_fragments(io.BytesIO(data), batch_size):
        fragments = list(stream.claims)
        assert stream.finished
        results.append((stream.remittance, [c for f in fragments for c in parse_claim_fragment(f)], fragments))
    return results


@pytest.mark.parametrize("relative_path", [path for path, outcome in EXPECTED.items() if isinstance(outcome, Parsed)])
@pytest.mark.parametrize("batch_size", [1, 2, 1000])
def test_fragments_of_a_sample_parse_to_the_same_claims(relative_path, batch_size):
    data = sample(relative_path).read_bytes()
    wholes = list(parse_835(io.BytesIO(data)))
    pieces = _fragment_streams(data, batch_size)
    assert len(pieces) == len(wholes)
    for whole, (header, claims, fragments) in zip(wholes, pieces):
        assert claims == whole.claims  # segment numbers included
        assert header.provider_adjustments == whole.provider_adjustments
        assert header.payment == whole.payment
        assert [f.claims_before for f in fragments] == [batch_size * i for i in range(len(fragments))]
        assert all(f.claim_count <= batch_size for f in fragments)
        assert sum(f.claim_count for f in fragments) == len(whole.claims)


def test_fragments_of_many_claims_with_other_delimiters_and_several_interchanges():
    data = b"".join(synthetic_835(2_500, lines_per_claim=3, totals=SyntheticTotals()))
    odd = data.replace(b"*", b"|").replace(b"~", b"!\r\n").replace(b"HC:", b"HC>")
    odd = odd[:104] + b">" + odd[105:]  # ISA16, the component separator
    for variant in (data, odd, data + b"\n" + data):
        wholes = [list(s.claims) for s in stream_835(io.BytesIO(variant))]
        pieces = _fragment_streams(variant, 1000)
        assert [claims for _, claims, _ in pieces] == wholes
        assert [[f.claim_count for f in fragments] for _, _, fragments in pieces] == [[1000, 1000, 500]] * len(wholes)


def test_an_error_inside_a_fragment_names_its_place_in_the_file():
    text = interchange(transaction_835(*CLAIM_835, *[s.replace("PCN1", "PCN2") for s in CLAIM_835]))
    bad = text.replace("DTM*472*20260220~CAS*CO*45*20~REF*6R*PCN2", "DTM*472*20261340~CAS*CO*45*20~REF*6R*PCN2")  # the second claim's date
    assert bad != text
    stream = next(stream_835_fragments(io.BytesIO(bad.encode()), 1))
    first, second = list(stream.claims)
    assert [c.patient_control_number for c in parse_claim_fragment(first)] == ["PCN1"]
    with pytest.raises(X12DataError) as raised:
        parse_claim_fragment(second)
    with pytest.raises(X12DataError) as whole:
        list(parse_835(io.BytesIO(bad.encode())))
    assert (raised.value.segment_number, raised.value.segment_id, raised.value.element_position) == (
        whole.value.segment_number, whole.value.segment_id, whole.value.element_position)


def test_an_x12_error_crosses_processes_with_its_location():
    import pickle

    error = X12DataError("date is not valid", segment_number=17, segment_id="DTM", element_position=2,
                         interchange_number=1)
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is X12DataError
    assert (again.reason, again.segment_number, again.segment_id, again.element_position, again.interchange_number,
            str(again)) == ("date is not valid", 17, "DTM", 2, 1, str(error))
