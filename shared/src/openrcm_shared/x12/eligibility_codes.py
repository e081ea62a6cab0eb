"""Code lists of the 270/271 (ASC X12 005010X279A1) and what each code means to a billing office.

Facts from the implementation guide's code lists (EB01 eligibility or benefit information, EB02
coverage level, EB03 service type, EB06 time period, EB09 quantity qualifier, EB12 in plan network,
AAA03 reject reason, AAA04 follow-up action, NM101 entity identifier in loop 2120); the normalized
names and the human actions are ours.
"""

from __future__ import annotations

# EB01 -> normalized benefit kind. 1-5 all say the coverage is active (with capitation variants),
# 6-8 that it is not.
BENEFIT_KINDS: dict[str, str] = {
    "1": "active_coverage", "2": "active_coverage", "3": "active_coverage", "4": "active_coverage",
    "5": "active_coverage", "6": "inactive", "7": "inactive", "8": "inactive",
    "A": "coinsurance", "B": "copay", "C": "deductible", "CB": "coverage_basis", "D": "benefit_description",
    "E": "exclusion", "F": "limitation", "G": "out_of_pocket", "H": "unlimited", "I": "non_covered",
    "J": "cost_containment", "K": "reserve", "L": "primary_care_provider", "M": "pre_existing_condition",
    "MC": "managed_care_coordinator", "N": "restricted_to_provider", "O": "not_medically_necessary",
    "P": "benefit_disclaimer", "Q": "second_surgical_opinion_required", "R": "other_payer",
    "S": "prior_history", "T": "card_reported_lost", "U": "contact_entity", "V": "cannot_process",
    "W": "other_source_of_data", "X": "health_care_facility", "Y": "spend_down",
}
ACTIVE_CODES = frozenset({"1", "2", "3", "4", "5"})
INACTIVE_CODES = frozenset({"6", "7", "8"})

# EB02 coverage level.
COVERAGE_LEVELS: dict[str, str] = {
    "CHD": "children_only", "DEP": "dependents_only", "ECH": "employee_and_children", "EMP": "employee_only",
    "ESP": "employee_and_spouse", "FAM": "family", "IND": "individual", "SPC": "spouse_and_children",
    "SPO": "spouse_only",
}

# EB06 time period qualifier.
TIME_PERIODS: dict[str, str] = {
    "6": "hour", "7": "day", "13": "24_hours", "21": "years", "22": "service_year", "23": "calendar_year",
    "24": "year_to_date", "25": "contract", "26": "episode", "27": "visit", "28": "outlier", "29": "remaining",
    "30": "exceeded", "31": "not_exceeded", "32": "lifetime", "33": "lifetime_remaining", "34": "month",
    "35": "week", "36": "admission",
}

# EB09 quantity qualifier.
QUANTITY_QUALIFIERS: dict[str, str] = {
    "8H": "minimum", "99": "quantity_used", "CA": "covered_actual", "CE": "covered_estimated",
    "D3": "coinsurance_days", "DB": "deductible_blood_units", "DY": "days", "HS": "hours",
    "LA": "lifetime_reserve_actual", "LE": "lifetime_reserve_estimated", "M2": "maximum", "MN": "month",
    "P6": "services", "QA": "quantity_approved", "S7": "age_high_value", "S8": "age_low_value", "VS": "visits",
    "YY": "years",
}

# EB12 in plan network: W (not applicable) means the benefit holds in and out of network alike.
NETWORKS: dict[str, str] = {"Y": "in", "N": "out", "W": "any", "U": "unknown"}

# EB03 / EQ01 service types: the ones a physician practice asks about and payers answer with.
SERVICE_TYPES: dict[str, str] = {
    "1": "Medical Care", "2": "Surgical", "3": "Consultation", "4": "Diagnostic X-Ray", "5": "Diagnostic Lab",
    "6": "Radiation Therapy", "7": "Anesthesia", "8": "Surgical Assistance", "12": "Durable Medical Equipment "
    "Purchase", "18": "Durable Medical Equipment Rental", "30": "Health Benefit Plan Coverage",
    "33": "Chiropractic", "35": "Dental Care", "42": "Home Health Care", "45": "Hospice", "47": "Hospital",
    "48": "Hospital - Inpatient", "50": "Hospital - Outpatient", "51": "Hospital - Emergency Accident",
    "52": "Hospital - Emergency Medical", "53": "Hospital - Ambulatory Surgical", "62": "MRI/CAT Scan",
    "69": "Maternity", "73": "Diagnostic Medical", "76": "Dialysis", "78": "Chemotherapy", "80": "Immunizations",
    "81": "Routine Physical", "82": "Family Planning", "86": "Emergency Services", "88": "Pharmacy",
    "93": "Podiatry", "96": "Professional (Physician)", "98": "Professional (Physician) Visit - Office",
    "A4": "Psychiatric", "A6": "Psychotherapy", "AD": "Occupational Therapy", "AE": "Physical Medicine",
    "AF": "Speech Therapy", "AG": "Skilled Nursing Care", "AL": "Vision (Optometry)", "BY": "Physician Visit - "
    "Office: Sick", "BZ": "Physician Visit - Office: Well", "DM": "Durable Medical Equipment",
    "MH": "Mental Health", "PT": "Physical Therapy", "UC": "Urgent Care",
}
PLAN_SERVICE_TYPE = "30"  # Health Benefit Plan Coverage: what a benefit without EB03 applies to

# NM101 of loop 2120C/D (benefit related entity).
RELATED_ENTITY_ROLES: dict[str, str] = {
    "13": "contracted_service_provider", "1I": "preferred_provider_organization", "1P": "provider",
    "2B": "third_party_administrator", "36": "employer", "73": "other_physician", "FA": "facility",
    "GP": "gateway_provider", "GW": "group", "I3": "independent_physicians_association",
    "IL": "insured_or_subscriber", "LR": "legal_representative", "OC": "origin_carrier",
    "P3": "primary_care_provider", "P4": "prior_insurance_carrier", "P5": "plan_sponsor",
    "PR": "payer", "PRP": "primary_payer", "SEP": "secondary_payer", "TTP": "tertiary_payer",
    "VER": "party_performing_verification", "VN": "vendor", "VY": "organization_completing_configuration_change",
    "X3": "utilization_management_organization", "Y2": "managed_care_organization",
}

# AAA03 reject reason -> (meaning, whether asking again later can help, what a person should do).
# Only 42 (the payer's system is down) and 80 (no answer) are transient: resubmitting the same
# request unchanged is useless for every other reason.
_FIX_REGISTRATION = "fix the patient's registration (member id, name, date of birth) and check again"
_FIX_PROVIDER = "fix the provider's enrollment or identifiers with this payer and check again"
_FIX_REQUEST = "fix the request (date of service, service types) and check again"
_RETRY_LATER = "none: the check is retried automatically later"
REJECT_REASONS: dict[str, tuple[str, bool, str]] = {
    "04": ("Authorized Quantity Exceeded", False, "contact the payer: too many inquiries for this member"),
    "15": ("Required application data missing", False, _FIX_REQUEST),
    "33": ("Input Errors", False, _FIX_REQUEST),
    "35": ("Out of Network", False, "tell the patient the provider is out of network for this plan"),
    "41": ("Authorization/Access Restrictions", False, _FIX_PROVIDER),
    "42": ("Unable to Respond at Current Time", True, _RETRY_LATER),
    "43": ("Invalid/Missing Provider Identification", False, _FIX_PROVIDER),
    "44": ("Invalid/Missing Provider Name", False, _FIX_PROVIDER),
    "45": ("Invalid/Missing Provider Specialty", False, _FIX_PROVIDER),
    "46": ("Invalid/Missing Provider Phone Number", False, _FIX_PROVIDER),
    "47": ("Invalid/Missing Provider State", False, _FIX_PROVIDER),
    "48": ("Invalid/Missing Referring Provider Identification Number", False, _FIX_PROVIDER),
    "49": ("Provider is Not Primary Care Physician", False, _FIX_PROVIDER),
    "50": ("Provider Ineligible for Inquiries", False, _FIX_PROVIDER),
    "51": ("Provider Not on File", False, _FIX_PROVIDER),
    "52": ("Service Dates Not Within Provider Plan Enrollment", False, _FIX_PROVIDER),
    "53": ("Inquired Benefit Inconsistent with Provider Type", False, _FIX_REQUEST),
    "54": ("Inappropriate Product/Service ID Qualifier", False, _FIX_REQUEST),
    "55": ("Inappropriate Product/Service ID", False, _FIX_REQUEST),
    "56": ("Inappropriate Date", False, _FIX_REQUEST),
    "57": ("Invalid/Missing Date(s) of Service", False, _FIX_REQUEST),
    "58": ("Invalid/Missing Date-of-Birth", False, _FIX_REGISTRATION),
    "60": ("Date of Birth Follows Date(s) of Service", False, _FIX_REGISTRATION),
    "61": ("Date of Death Precedes Date(s) of Service", False, _FIX_REGISTRATION),
    "62": ("Date of Service Not Within Allowable Inquiry Period", False, _FIX_REQUEST),
    "63": ("Date of Service in Future", False, _FIX_REQUEST),
    "64": ("Invalid/Missing Patient ID", False, _FIX_REGISTRATION),
    "65": ("Invalid/Missing Patient Name", False, _FIX_REGISTRATION),
    "66": ("Invalid/Missing Patient Gender Code", False, _FIX_REGISTRATION),
    "67": ("Patient Not Found", False, _FIX_REGISTRATION),
    "68": ("Duplicate Patient ID Number", False, _FIX_REGISTRATION),
    "69": ("Inconsistent with Patient's Age", False, _FIX_REQUEST),
    "70": ("Inconsistent with Patient's Gender", False, _FIX_REQUEST),
    "71": ("Patient Birth Date Does Not Match That for the Patient on the Database", False, _FIX_REGISTRATION),
    "72": ("Invalid/Missing Subscriber/Insured ID", False, "fix the member id in the patient's registration"),
    "73": ("Invalid/Missing Subscriber/Insured Name", False,
           "fix the subscriber's name in the registration to match the insurance card"),
    "74": ("Invalid/Missing Subscriber/Insured Gender Code", False, _FIX_REGISTRATION),
    "75": ("Subscriber/Insured Not Found", False,
           "fix the registration: check the member id, name and date of birth against the card, or the payer"),
    "76": ("Duplicate Subscriber/Insured ID Number", False, _FIX_REGISTRATION),
    "77": ("Subscriber Found, Patient Not Found", False, _FIX_REGISTRATION),
    "78": ("Subscriber/Insured Not in Group/Plan Identified", False, _FIX_REGISTRATION),
    "79": ("Invalid Participant Identification", False, _FIX_PROVIDER),
    "80": ("No Response received - Transaction Terminated", True, _RETRY_LATER),
    "97": ("Invalid or Missing Provider Address", False, _FIX_PROVIDER),
    "T4": ("Payer Name or Identifier Missing", False, "fix the payer's identifier and check again"),
}
TRANSIENT_REJECT_REASONS = frozenset(code for code, (_, retry, _) in REJECT_REASONS.items() if retry)

# AAA04 follow-up action.
FOLLOW_UP_ACTIONS: dict[str, str] = {
    "C": "Please Correct and Resubmit", "N": "Resubmission Not Allowed", "P": "Please Resubmit Original Transaction",
    "R": "Resubmission Allowed", "S": "Do Not Resubmit; Inquiry Initiated to a Third Party",
    "W": "Please Wait 30 Days and Resubmit", "X": "Please Wait 10 Days and Resubmit",
    "Y": "Do Not Resubmit; We Will Hand Deliver Information",
}

# DTP qualifiers of loops 2100C/D that date the plan (X279 2100C DTP01).
PLAN_DATE_QUALIFIERS: dict[str, str] = {
    "102": "issue", "152": "effective_date_of_change", "291": "plan", "307": "eligibility", "318": "added",
    "340": "cobra_begin", "341": "cobra_end", "342": "premium_paid_to_begin", "343": "premium_paid_to_end",
    "346": "plan_begin", "347": "plan_end", "356": "eligibility_begin", "357": "eligibility_end",
    "382": "enrollment", "435": "admission", "442": "date_of_death", "458": "certification",
    "472": "service", "539": "policy_effective", "540": "policy_expiration", "636": "latest_visit_or_consultation",
    "771": "status",
}
# DTP qualifiers of loop 2110C/D (benefit dates).
BENEFIT_DATE_QUALIFIERS: dict[str, str] = {
    "096": "discharge", "193": "period_start", "194": "period_end", "198": "completion", "290": "coordination_of_"
    "benefits", "292": "benefit", "295": "primary_care_provider", "304": "latest_visit_or_consultation",
    "307": "eligibility", "318": "added", "348": "benefit_begin", "349": "benefit_end", "356": "eligibility_begin",
    "357": "eligibility_end", "435": "admission", "472": "service", "636": "latest_visit_or_consultation",
    "771": "status",
}


# X12 service types (EB03) a procedure code falls under, by CPT range (the CPT sections; a 271
# speaks service types, a claim procedure codes). "1" medical care and "30" the plan as a whole
# apply to every procedure; MRI and CT codes are radiology (4) and MRI/CAT scan (62).
_SERVICE_TYPE_RANGES = (
    ("00100", "01999", "7"),    # anesthesia
    ("10004", "69990", "2"),    # surgery
    ("70010", "79999", "4"),    # radiology
    ("70336", "70559", "62"), ("71550", "71555", "62"), ("72141", "72159", "62"), ("72195", "72198", "62"),
    ("73218", "73225", "62"), ("73718", "73725", "62"), ("74181", "74185", "62"), ("70450", "70498", "62"),
    ("71250", "71275", "62"), ("72125", "72133", "62"), ("74150", "74178", "62"),
    ("80047", "89398", "5"),    # pathology and laboratory
    ("90281", "90749", "80"),   # immunizations
    ("90785", "90899", "MH"),   # psychiatry
    ("92002", "92499", "AL"),   # ophthalmology
    ("97010", "97799", "PT"),   # physical medicine
    ("98940", "98943", "33"),   # chiropractic
    ("99202", "99215", "98"),   # office visits
    ("99281", "99285", "86"),   # emergency department
)


def service_types_for_procedure(procedure_code: str) -> set[str]:
    """The service types whose benefits apply to a CPT code: always 1 and 30, plus its section's."""
    types = {"1", PLAN_SERVICE_TYPE}
    if len(procedure_code) == 5 and procedure_code.isdigit():
        types.update(kind for low, high, kind in _SERVICE_TYPE_RANGES if low <= procedure_code <= high)
    return types
