"""X12 EDI in pure Python: a streaming core and the transaction sets OpenRCM exchanges.

    reader          streaming tokenizer: ISA-driven delimiters, lazy segments, envelope checks,
                    `X12Error` subclasses that name the segment number and element position
    remittance_835  835 (005010X221A1) model and streaming parser (`parse_835`, `stream_835`)
    balancing       835 balancing at line, claim and transaction level (`balance_remittance`)

Other modules of this package (the 837 generator, the acknowledgements) are imported from their
own modules; only the core and the 835 are re-exported here.
"""

from openrcm_shared.x12.balancing import (
    BalancingDifference, BalancingLevel, RemittanceBalancer, balance_claim, balance_remittance,
)
from openrcm_shared.x12.reader import (
    Delimiters, X12DataError, X12EnvelopeError, X12Error, X12Reader, X12StructureError, X12SyntaxError,
    X12TruncatedError, element, read_segments,
)
from openrcm_shared.x12.remittance_835 import (
    ClaimPayment, Remittance835, RemittanceStream, ServiceLine, parse_835, stream_835,
)

__all__ = [
    "BalancingDifference",
    "BalancingLevel",
    "ClaimPayment",
    "Delimiters",
    "RemittanceBalancer",
    "Remittance835",
    "RemittanceStream",
    "ServiceLine",
    "X12DataError",
    "X12EnvelopeError",
    "X12Error",
    "X12Reader",
    "X12StructureError",
    "X12SyntaxError",
    "X12TruncatedError",
    "balance_claim",
    "balance_remittance",
    "element",
    "parse_835",
    "read_segments",
    "stream_835",
]
