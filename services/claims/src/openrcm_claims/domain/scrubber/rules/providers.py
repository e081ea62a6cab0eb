"""Providers: the billing provider's identity and address (837 loop 2010AA), and the NPI check
digit of every provider on the claim."""

from __future__ import annotations

import re

from openrcm_claims.domain.addresses import is_po_box, is_zip_plus_4
from openrcm_claims.domain.scrubber.model import BLOCK
from openrcm_claims.domain.scrubber.registry import rule
from openrcm_claims.domain.scrubber.rules._common import NONE, blank as _blank, npi_ok
_TIN = re.compile(r"^[0-9]{9}$")


def _providers(claim):
    """(pointer prefix, role, provider) for each provider on the claim."""
    yield "/billing_provider", "billing", claim.billing_provider
    if claim.rendering_provider is not None:
        yield "/rendering_provider", "rendering", claim.rendering_provider
    if claim.referring_provider is not None:
        yield "/referring_provider", "referring", claim.referring_provider
    if claim.supervising_provider is not None:
        yield "/supervising_provider", "supervising", claim.supervising_provider
    if claim.attending_provider is not None:
        yield "/attending_provider", "attending", claim.attending_provider
    if claim.service_facility is not None and not _blank(claim.service_facility.npi):
        yield "/service_facility", "service facility", claim.service_facility


@rule("IG.BILLING_NPI_REQUIRED", BLOCK, "2010AA NM109: the billing provider's NPI is present.")
def billing_npi(ctx):
    if _blank(ctx.claim.billing_provider.npi):
        return [("the billing provider NPI (2010AA NM109) is missing", "/billing_provider/npi")]
    return NONE


@rule("IG.PROVIDER_NPI_REQUIRED", BLOCK,
      "A rendering, referring, supervising or attending provider on the claim has an NPI (2310x NM109).")
def other_npi(ctx):
    found = []
    for prefix, role, provider in _providers(ctx.claim):
        if role not in ("billing", "service facility") and _blank(provider.npi):
            found.append((f"the {role} provider has no NPI", f"{prefix}/npi"))
    return found


@rule("NPI.CHECK_DIGIT", BLOCK, "Every NPI given is 10 digits with a valid Luhn check digit (prefix 80840).")
def npi_check_digit(ctx):
    found = []
    for prefix, role, provider in _providers(ctx.claim):
        if not _blank(provider.npi) and not npi_ok(provider.npi):
            found.append((f"the {role} provider NPI {provider.npi} fails the NPI check digit "
                          "(10 digits, Luhn over 80840 + the first 9)", f"{prefix}/npi"))
    return found


@rule("IG.BILLING_TIN_REQUIRED", BLOCK, "2010AA REF*EI: the billing provider's tax identification number is present.")
def billing_tin(ctx):
    if _blank(ctx.claim.billing_provider.tax_id):
        return [("the billing provider tax id (2010AA REF*EI) is missing", "/billing_provider/tax_id")]
    return NONE


@rule("TIN.FORMAT", BLOCK, "A tax identification number is nine digits (EIN or SSN, no dash).")
def tin_format(ctx):
    found = []
    for prefix, role, provider in _providers(ctx.claim):
        if not _blank(provider.tax_id) and not _TIN.match(provider.tax_id):
            found.append((f"the {role} provider tax id is not nine digits", f"{prefix}/tax_id"))
    return found


@rule("IG.BILLING_NAME_REQUIRED", BLOCK, "2010AA NM103: the billing provider's name is present.")
def billing_name(ctx):
    if _blank(ctx.claim.billing_provider.name):
        return [("the billing provider name (2010AA NM103) is missing", "/billing_provider/name")]
    return NONE


@rule("IG.BILLING_ADDRESS_REQUIRED", BLOCK, "2010AA N3/N4: the billing provider's street, city, state and ZIP are present.")
def billing_address(ctx):
    provider = ctx.claim.billing_provider
    found = []
    for field, element in (("address_line1", "N301"), ("city", "N401"), ("state", "N402"), ("postal_code", "N403")):
        if _blank(getattr(provider, field)):
            found.append((f"the billing provider address has no {field.replace('_', ' ')} (2010AA {element})",
                          f"/billing_provider/{field}"))
    return found


@rule("IG.BILLING_ADDRESS_PO_BOX", BLOCK, "2010AA N3: the billing provider address is a street address, not a PO or lock box.")
def billing_po_box(ctx):
    line = ctx.claim.billing_provider.address_line1
    if line and is_po_box(line):
        return [("the billing provider address is a post office or lock box; 2010AA N3 must be a street "
                 "address (send the box as the pay-to address, loop 2010AB)", "/billing_provider/address_line1")]
    return NONE


@rule("IG.BILLING_ZIP_PLUS4", BLOCK, "2010AA N403: the billing provider ZIP code has nine digits (ZIP+4).")
def billing_zip(ctx):
    postal = ctx.claim.billing_provider.postal_code
    if postal and postal.strip() and not is_zip_plus_4(postal):
        return [("the billing provider ZIP code must be nine digits (ZIP+4) in 2010AA N403",
                 "/billing_provider/postal_code")]
    return NONE


@rule("IG.FACILITY_ADDRESS", BLOCK,
      "2310C/2310E N3/N4: a service facility address is a street address (no PO box) with a nine-digit ZIP.")
def facility_address(ctx):
    facility = ctx.claim.service_facility
    if facility is None:
        return NONE
    found = []
    if _blank(facility.address_line1) or _blank(facility.city) or _blank(facility.state):
        found.append(("the service facility address needs a street, city and state", "/service_facility/address_line1"))
    elif is_po_box(facility.address_line1):
        found.append(("the service facility address is a post office or lock box; it must be the street address "
                      "where the services were rendered", "/service_facility/address_line1"))
    if not facility.postal_code or not is_zip_plus_4(facility.postal_code):
        found.append(("the service facility ZIP code must be nine digits (ZIP+4)", "/service_facility/postal_code"))
    return found
