"""Hand-built 835 ERAs for the end-to-end tests, independent of our 835 writer, so a bug in the
writer cannot hide a matching bug in the posting (and the other way round).

    era = Era(trace="T1", payer_id="60054")
    era.claim(pcn, status="1", lines=[Svc("99213", "125.00", "80.00", [("CO", "45", "25.00"), ...], line=1)])
    text = era.x12()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from itertools import count

_control_numbers = count(100000001)


@dataclass
class Svc:
    code: str
    charge: str
    paid: str
    adjustments: list[tuple[str, str, str]] = field(default_factory=list)
    line: int | None = None  # our line number, sent back in REF*6R (None: no REF*6R)
    modifiers: tuple[str, ...] = ()
    allowed: str | None = None
    rarcs: tuple[str, ...] = ()
    service_date: str = "20261120"


@dataclass
class Clp:
    pcn: str
    status: str
    charge: str
    paid: str
    lines: list[Svc]
    adjustments: list[tuple[str, str, str]] = field(default_factory=list)
    payer_claim_control_number: str = "PCCN0001"
    crossover: tuple[str, str] | None = None  # (name, id) for NM1*TT


@dataclass
class Era:
    trace: str
    payer_id: str | None = "60054"
    claims: list[Clp] = field(default_factory=list)
    plb: list[tuple[str, str, str | None]] = field(default_factory=list)  # (reason, amount, reference)
    payment: str | None = None  # BPR02; computed (sum CLP04 - sum PLB) when None
    payment_date: str = "20261125"

    def claim(self, pcn: str, status: str = "1", lines=(), adjustments=(), **extra) -> Clp:
        lines = list(lines)
        charge = extra.pop("charge", None) or str(sum((Decimal(l.charge) for l in lines), Decimal("0.00")))
        paid = extra.pop("paid", None)
        if paid is None:
            paid = str(sum((Decimal(l.paid) for l in lines), Decimal("0.00"))
                       - sum((Decimal(a[2]) for a in adjustments), Decimal("0.00")))
        clp = Clp(pcn, status, charge, paid, lines, list(adjustments), **extra)
        self.claims.append(clp)
        return clp

    def total(self) -> Decimal:
        if self.payment is not None:
            return Decimal(self.payment)
        return (sum((Decimal(c.paid) for c in self.claims), Decimal("0.00"))
                - sum((Decimal(p[1]) for p in self.plb), Decimal("0.00")))

    def segments(self) -> list[str]:
        total = self.total()
        handling, method = ("I", "ACH*CCP*01*999999999*DA*123456789*1512345678**01*999988880*DA*987654321") \
            if total > 0 else ("H", "NON")
        body = [f"BPR*{handling}*{total}*C*{method}*{self.payment_date}", f"TRN*1*{self.trace}*1512345678",
                "DTM*405*20261125", "N1*PR*SYNTHETIC HEALTH PLAN", "N3*1 PAYER WAY", "N4*SPRINGFIELD*IL*62701"]
        if self.payer_id:
            body.append(f"REF*2U*{self.payer_id}")
        body += ["PER*BL*EDI SUPPORT*TE*5555550199", "N1*PE*SYNTHETIC FAMILY CLINIC*XX*1234567893", "LX*1"]
        for clp in self.claims:
            body += _claim_segments(clp)
        for reason, amount, reference in self.plb:
            composite = f"{reason}:{reference}" if reference else reason
            body.append(f"PLB*1234567893*20261231*{composite}*{amount}")
        return body

    def x12(self, control: int | None = None) -> str:
        control = control or next(_control_numbers)
        body = self.segments()
        st = ["ST*835*0001", *body, f"SE*{len(body) + 2}*0001"]
        isa = (f"ISA*00*          *00*          *ZZ*{'PAYERSIM':<15}*ZZ*{'OPENRCM01':<15}*261125*1200*^*00501*"
               f"{control:09d}*0*T*:")
        return "~\n".join([isa, f"GS*HP*PAYERSIM*OPENRCM01*20261125*1200*{control}*X*005010X221A1", *st,
                           f"GE*1*{control}", f"IEA*1*{control:09d}"]) + "~\n"


def _cas(adjustments) -> list[str]:
    return [f"CAS*{group}*{carc}*{amount}" for group, carc, amount in adjustments]


def _claim_segments(clp: Clp) -> list[str]:
    patient_share = sum((Decimal(a[2]) for l in clp.lines for a in l.adjustments if a[0] == "PR"), Decimal("0.00"))
    segments = [f"CLP*{clp.pcn}*{clp.status}*{clp.charge}*{clp.paid}*{patient_share}*12*{clp.payer_claim_control_number}",
                *_cas(clp.adjustments), "NM1*QC*1*SYNTHETIC*TESTY****MI*XJ123456"]
    if clp.crossover:
        segments.append(f"NM1*TT*2*{clp.crossover[0]}*****PI*{clp.crossover[1]}")
    segments.append("DTM*232*20261120")
    for svc in clp.lines:
        procedure = ":".join(("HC", svc.code, *svc.modifiers))
        segments += [f"SVC*{procedure}*{svc.charge}*{svc.paid}**1", f"DTM*472*{svc.service_date}", *_cas(svc.adjustments)]
        if svc.line is not None:
            segments.append(f"REF*6R*{clp.pcn}{svc.line:03d}")
        if svc.allowed:
            segments.append(f"AMT*B6*{svc.allowed}")
        segments += [f"LQ*HE*{code}" for code in svc.rarcs]
    return segments
