"""Hand-built 271 files for the eligibility service's tests (synthetic members only)."""

from __future__ import annotations

PAYER = ["HL*1**20*1", "NM1*PR*2*ACME HEALTH*****PI*ACME1", "HL*2*1*21*1", "NM1*1P*2*FAMILY CLINIC*****XX*1234567893"]


def subscriber(member_id: str, number: int = 3, *, active: bool = True) -> list[str]:
    return [f"HL*{number}*2*22*0", f"TRN*2*T-{member_id}*9123456789", f"NM1*IL*1*DOE*JANE****MI*{member_id}",
            "EB*1**30" if active else "EB*6**30"]


def transaction(control: str, *members: list[str]) -> list[str]:
    body = [f"ST*271*{control}*005010X279A1", "BHT*0022*11*REQ1*20260301*1200", *PAYER,
            *[segment for member in members for segment in member]]
    return [*body, f"SE*{len(body) + 1}*{control}"]


def interchange(control: int, *transactions: list[str], group: int = 1, element: str = "*", terminator: str = "~",
                line_break: str = "") -> str:
    e = element
    isa = (f"ISA{e}00{e}{' ' * 10}{e}00{e}{' ' * 10}{e}ZZ{e}{'CLEARINGHOUSE':<15}{e}ZZ{e}{'OPENRCM':<15}{e}260302{e}"
           f"1405{e}^{e}00501{e}{control:09d}{e}0{e}P{e}:")
    segments = [isa, f"GS*HB*CLEARINGHOUSE*OPENRCM*20260302*1405*{group}*X*005010X279A1",
                *[segment for set_ in transactions for segment in set_],
                f"GE*{len(transactions)}*{group}", f"IEA*1*{control:09d}"]
    return "".join(segment.replace("*", element) if not segment.startswith("ISA") else segment
                   for segment in (s + terminator + line_break for s in segments))
