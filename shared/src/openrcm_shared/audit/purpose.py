"""Purpose of use: why the caller is acting, from the optional `X-Purpose-Of-Use` request header.

The codes are HL7 v3 ActReason's PurposeOfUse concepts (value set v3-PurposeOfUse, OID
2.16.840.1.113883.1.11.20448; the abstract root `PurposeOfUse` itself is not a purpose). HIPAA's
own terms map onto the three general ones a billing service mostly sees: TREAT (treatment),
HPAYMT (payment) and HOPERAT (health care operations), 45 CFR 164.506.
"""

from __future__ import annotations

from openrcm_shared.http.problems import Problem, field_error

PURPOSE_HEADER = "X-Purpose-Of-Use"

PURPOSES_OF_USE = frozenset({
    # healthcare marketing and operations
    "HMARKT", "HOPERAT", "CAREMGT", "DONAT", "FRAUD", "GOV", "HACCRED", "HCOMPL", "HDECD", "HDIRECT", "HDM",
    "HLEGAL", "HOUTCOMS", "HPRGRP", "HQUALIMP", "HSYSADMIN", "LABELING", "METAMGT", "MEMADMIN", "MILCDM",
    "PATADMIN", "PATSFTY", "PERFMSR", "RECORDMGT", "SYSDEV", "HTEST", "TRAIN",
    # payment
    "HPAYMT", "CLMATTCH", "COVAUTH", "COVERAGE", "ELIGDTRM", "ELIGVER", "ENROLLM", "MILDCRG", "REMITADV",
    # research
    "HRESCH", "BIORCH", "CLINTRCH", "CLINTRCHNPC", "CLINTRCHPC", "PRECLINTRCH", "DSRCH", "POARCH", "TRANSRCH",
    # requested by the patient or on their behalf
    "PATRQT", "FAMRQT", "PWATRNY", "SUPNWK",
    # public health
    "PUBHLTH", "DISASTER", "THREAT",
    # treatment
    "TREAT", "CLINTRL", "COC", "ETREAT", "BTG", "ERTREAT", "POPHLTH",
})


def purpose_of_use(value: str | None) -> str | None:
    """The header's code (None when absent); 400 problem+json naming the header when it is not a
    PurposeOfUse code. Codes are case-sensitive, as in the code system."""
    if value is None or value == "":
        return None
    if value not in PURPOSES_OF_USE:
        raise Problem(400, "Invalid purpose of use",
                      f"{PURPOSE_HEADER} takes one HL7 v3 PurposeOfUse code, such as TREAT, HPAYMT or HOPERAT.",
                      type_="invalid-purpose-of-use",
                      errors=[field_error(f"/header/{PURPOSE_HEADER}", "not an HL7 v3 PurposeOfUse code")])
    return value


def purpose_parameter_doc() -> dict:
    """The OpenAPI header parameter of an audited operation (the app adds it to each one)."""
    return {"name": PURPOSE_HEADER.lower(), "in": "header", "required": False,
            "description": "Why the caller is acting (HL7 v3 PurposeOfUse, e.g. HPAYMT payment, TREAT treatment, "
                           "HOPERAT operations): recorded in the audit trail with the access; 400 if not such a code",
            "schema": {"type": "string", "enum": sorted(PURPOSES_OF_USE)}}
