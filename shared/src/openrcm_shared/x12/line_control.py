"""Our line item control number (837 REF*6R, echoed by the 835 in REF*6R): the claim's patient
control number followed by the 3-digit line number. The claims service writes it, the remittance
service reads it back to find the line a payment is for, even when the payer renumbers lines or
drops modifiers."""

from __future__ import annotations

LINE_NUMBER_DIGITS = 3


def line_control_number(patient_control_number: str, line_number: int) -> str:
    """What our 837 puts in REF*6R for a line (at most 20 + 3 characters; the 837 allows 50)."""
    return f"{patient_control_number}{line_number:0{LINE_NUMBER_DIGITS}d}"


def line_number_from_control(patient_control_number: str, control: str | None) -> int | None:
    """The line number a REF*6R names on this claim, or None when it is not one of ours."""
    if not control or not control.startswith(patient_control_number):
        return None
    digits = control[len(patient_control_number):]
    return int(digits) if len(digits) == LINE_NUMBER_DIGITS and digits.isdigit() else None
