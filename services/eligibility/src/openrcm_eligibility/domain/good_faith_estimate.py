"""The good-faith estimate a provider gives an uninsured or self-pay patient (No Surprises Act,
Public Health Service Act section 2799B-6; content required by 45 CFR 149.610(c)):

(1) the patient's name and date of birth; (2) the primary item or service in clear language, and
its scheduled date; (3) an itemized list of the items and services, grouped by provider or
facility; (4) the diagnosis codes, service codes and expected charge of each; (5) each provider's
or facility's name, NPI, TIN, and the state and office where the services are furnished; (6)
items or services to be scheduled separately; (7) a disclaimer that other items or services may be
recommended and estimated separately; (8) that the estimate is only an estimate; (9) the right to
initiate the patient-provider dispute resolution process when billed charges exceed the estimate
by $400 or more (45 CFR 149.620), and where to find how; (10) that the estimate is not a contract
and does not require the patient to obtain the services from these providers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from openrcm_shared.documents.pdf import Document, Facts, Heading, Paragraph, Spacer, Table, money_text, render_pdf

DISPUTE_THRESHOLD = Decimal("400.00")  # 45 CFR 149.620(b)(1)(iii): billed charges this much over the estimate


@dataclass(frozen=True)
class EstimatedProvider:
    name: str
    npi: str
    tax_id: str
    address: str  # the office or facility where the services are furnished, with its state
    state: str


@dataclass(frozen=True)
class EstimatedItem:
    procedure_code: str
    description: str
    units: Decimal
    charge: Decimal
    diagnosis_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class GoodFaithEstimate:
    patient_name: str
    patient_birth_date: date
    primary_service: str
    scheduled_date: date | None
    provider: EstimatedProvider
    items: tuple[EstimatedItem, ...]
    issued_on: date
    separately_scheduled: tuple[str, ...] = field(default_factory=tuple)

    @property
    def total(self) -> Decimal:
        return sum((item.charge for item in self.items), Decimal("0.00"))


def good_faith_estimate_pdf(estimate: GoodFaithEstimate) -> bytes:
    provider = estimate.provider
    rows = [[item.procedure_code, item.description, ", ".join(item.diagnosis_codes), f"{item.units:f}",
             money_text(item.charge)] for item in estimate.items]
    rows.append(["", "Total expected charges", "", "", money_text(estimate.total)])
    document = Document("Good Faith Estimate", footer=f"{provider.name} - Good Faith Estimate").add(
        Heading("Good Faith Estimate for Health Care Items and Services"),
        Facts([("Patient", estimate.patient_name), ("Patient date of birth", estimate.patient_birth_date.isoformat()),
               ("Primary service", estimate.primary_service),
               ("Scheduled date", estimate.scheduled_date.isoformat() if estimate.scheduled_date else "Not scheduled"),
               ("Estimate issued", estimate.issued_on.isoformat())]),
        Spacer(),
        Paragraph("Provider or facility", bold=True),
        Facts([("Name", provider.name), ("NPI", provider.npi), ("TIN", provider.tax_id),
               ("Where services are furnished", provider.address), ("State", provider.state)]),
        Spacer(),
        Paragraph("Items and services expected, with their diagnosis and service codes and expected charges",
                  bold=True),
        Table(["Service code", "Description", "Diagnosis codes", "Units", "Expected charge"], rows,
              widths=[1, 3, 1.4, 0.6, 1.2], align_right=frozenset({3, 4})),
        Spacer(),
        Paragraph("Items or services to be scheduled separately: " + (
            "; ".join(estimate.separately_scheduled) if estimate.separately_scheduled else "none expected") + "."),
        Paragraph("Disclaimers", bold=True),
        Paragraph("There may be additional items or services the provider or facility recommends as part of the "
                  "course of care that must be scheduled or requested separately and are not reflected in this Good "
                  "Faith Estimate. You will receive a separate Good Faith Estimate for them if you ask."),
        Paragraph("This Good Faith Estimate shows the costs of items and services that are reasonably expected for "
                  "your health care needs for an item or service. The estimate is based on information known at the "
                  "time the estimate was created. It is only an estimate: the actual items, services or charges may "
                  "differ from it."),
        Paragraph(f"You have the right to initiate a patient-provider dispute resolution process if the actual "
                  f"billed charges are substantially in excess of the expected charges in this Good Faith Estimate "
                  f"(at least {money_text(DISPUTE_THRESHOLD)} more than the total for this provider or facility). "
                  "You must start the process within 120 calendar days of the date on the original bill. For "
                  "questions or more information about your right to a Good Faith Estimate or the dispute process, "
                  "visit www.cms.gov/nosurprises or call 1-800-985-3059. Keep a copy of this Good Faith Estimate."),
        Paragraph("This Good Faith Estimate is not a contract and does not require you to obtain the items or "
                  "services from any of the providers or facilities identified in it."),
    )
    return render_pdf(document)
