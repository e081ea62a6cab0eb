"""Settings from the environment (the local stack runner passes them).

    CLEARINGHOUSE_WEBHOOK_URL                   999/277CA receiver (the claims service)
    CLEARINGHOUSE_REMITTANCE_WEBHOOK_URL        835 receiver (the remittance service)
    CLEARINGHOUSE_WEBHOOK_SECRETS               comma-separated whsec_ secrets, every delivery signed with each
    CLEARINGHOUSE_RULES_FILE                    front-end rejection rules (rules.py)
    CLEARINGHOUSE_ADJUDICATION_RULES_FILE       adjudication rules (adjudication_rules.py); none: no 835s
    CLEARINGHOUSE_ADJUDICATION_DELAY_SECONDS    from the 277CA to adjudication (default 0.5)
    CLEARINGHOUSE_DELIVERY_*                    retry policy (DeliveryPolicy)
    CLEARINGHOUSE_ELIGIBILITY_LATENCY_SECONDS   per inquiry answered, before the 271 (default 0)
    CLEARINGHOUSE_ELIGIBILITY_SLOW_SECONDS      before the 271 of a slow payer (member ids SLW…, default 5)
    CLEARINGHOUSE_FRONT_END_VALIDATOR           pyx12 (default) or envelope (benchmarks only, see FRONT_END_VALIDATORS)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PORT = 8010

# How the front end checks an 837 before acknowledging it:
# - "pyx12" (the default, and what every test and `./openrcm run` use): pyx12 4.0 over each
#   interchange, as a real clearinghouse's front end would (structure, usage, code values);
# - "envelope": only what the project's strict X12 reader checks while reading the file (envelope
#   pairs and control numbers, SE01/GE01/IEA01 counts, segment syntax); a file it cannot read
#   still goes to pyx12, so a defective file gets the same 999. It exists for the intake
#   benchmark (`--clearinghouse-validator envelope`): pyx12 costs ~6 ms of CPU per claim on the
#   benchmark machine, a third of the whole system's, though the real clearinghouse runs on
#   someone else's machine. Figures measured with it are labelled as such.
FRONT_END_VALIDATORS = ("pyx12", "envelope")


@dataclass(frozen=True)
class DeliveryPolicy:
    """Bounded exponential backoff for webhook deliveries: attempt n waits
    min(base * 2**(n-1), max_delay) with full jitter, and gives up after `max_attempts`
    attempts or `max_elapsed_seconds`, whichever comes first.

    Real clearinghouses keep retrying (or keep the file in the mailbox) for hours; the simulator
    bounds it in time, 15 minutes, so a receiver down for a few seconds still gets every 835. With
    8 attempts and full jitter, a delivery could give up within ~10 s of a restart, and one lost 835
    left its 40 claims unpaid in the fault checker."""

    max_attempts: int = 60
    base_delay_seconds: float = 0.5
    max_delay_seconds: float = 30.0
    max_elapsed_seconds: float = 900.0
    request_timeout_seconds: float = 10.0


@dataclass(frozen=True)
class Settings:
    webhook_url: str | None = None
    webhook_secrets: tuple[str, ...] = ()
    rules_file: Path | None = None
    remittance_webhook_url: str | None = None
    adjudication_rules_file: Path | None = None
    adjudication_delay_seconds: float = 0.5
    delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    # ISA06/GS02 the simulator answers from when an 837 does not say (it normally echoes ISA08).
    clearinghouse_name: str = "OPENRCM CLEARINGHOUSE SIM"
    front_end_validator: str = "pyx12"
    eligibility_latency_seconds: float = 0.0
    eligibility_slow_seconds: float = 5.0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        secrets = tuple(s.strip() for s in env.get("CLEARINGHOUSE_WEBHOOK_SECRETS", "").split(",") if s.strip())
        rules_file = env.get("CLEARINGHOUSE_RULES_FILE")
        adjudication_rules_file = env.get("CLEARINGHOUSE_ADJUDICATION_RULES_FILE")
        default = DeliveryPolicy()
        validator = env.get("CLEARINGHOUSE_FRONT_END_VALIDATOR", "").strip() or "pyx12"
        if validator not in FRONT_END_VALIDATORS:
            raise ValueError(f"CLEARINGHOUSE_FRONT_END_VALIDATOR must be one of {', '.join(FRONT_END_VALIDATORS)}")
        delivery = DeliveryPolicy(
            max_attempts=int(env.get("CLEARINGHOUSE_DELIVERY_MAX_ATTEMPTS", default.max_attempts)),
            base_delay_seconds=float(env.get("CLEARINGHOUSE_DELIVERY_BASE_DELAY_SECONDS", default.base_delay_seconds)),
            max_delay_seconds=float(env.get("CLEARINGHOUSE_DELIVERY_MAX_DELAY_SECONDS", default.max_delay_seconds)),
            max_elapsed_seconds=float(env.get("CLEARINGHOUSE_DELIVERY_MAX_ELAPSED_SECONDS",
                                              default.max_elapsed_seconds)),
        )
        return cls(webhook_url=env.get("CLEARINGHOUSE_WEBHOOK_URL") or None, webhook_secrets=secrets,
                   rules_file=Path(rules_file) if rules_file else None, delivery=delivery,
                   remittance_webhook_url=env.get("CLEARINGHOUSE_REMITTANCE_WEBHOOK_URL") or None,
                   adjudication_rules_file=Path(adjudication_rules_file) if adjudication_rules_file else None,
                   adjudication_delay_seconds=float(env.get("CLEARINGHOUSE_ADJUDICATION_DELAY_SECONDS",
                                                            cls.adjudication_delay_seconds)),
                   front_end_validator=validator,
                   eligibility_latency_seconds=float(env.get("CLEARINGHOUSE_ELIGIBILITY_LATENCY_SECONDS", 0.0)),
                   eligibility_slow_seconds=float(env.get("CLEARINGHOUSE_ELIGIBILITY_SLOW_SECONDS", 5.0)))
