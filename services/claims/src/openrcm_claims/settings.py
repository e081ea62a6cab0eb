"""Claims-service settings beyond the common ones (environment, prefix OPENRCM_CLAIMS_)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class SubmissionSettings(BaseSettings):
    """Who we are in the 837 (loop 1000A), who receives it (1000B), and where files go.

    Without `clearinghouse_url`, claims still go out as stored 837 files (status pending) that
    can be fetched and uploaded by hand; with it, files are sent and acknowledged by webhook.
    """

    model_config = SettingsConfigDict(env_prefix="OPENRCM_CLAIMS_", extra="ignore")

    submitter_name: str = "OpenRCM Billing"
    submitter_id: str = "OPENRCM01"  # the ETIN the clearinghouse assigned
    submitter_contact_name: str = "Billing Office"
    submitter_contact_phone: str = "5555550100"
    receiver_name: str = "Clearinghouse"
    receiver_id: str = "CLEARINGHOUSE"
    usage_indicator: str = "T"  # ISA15: T test, P production
    clearinghouse_url: str | None = None
    # A ready claim waits up to one interval for its 837: half a second keeps intake-to-payer
    # under 2 s at 300 claims/s (docs/benchmarks.md) for ~0.07 ms more worker CPU a claim than 1 s.
    batch_interval_seconds: float = 0.5
    max_claims_per_batch: int = 2000
    follow_up_interval_seconds: float = 60.0
    # Claim status inquiries (276/277): how often pending ones are sent.
    status_inquiry_interval_seconds: float = 2.0


class CodeSetSettings(BaseSettings):
    """CMS code-set files the scrubber loads at start-up (they change every quarter, so none is
    shipped). A file setting wins over what is found in `code_set_dir`; lists are comma-separated.

    Found in `code_set_dir` by CMS's file names: `*ANWEB*.txt` (HCPCS Level II), `ccipra*.txt`
    (NCCI PTP, practitioner), `ccioph*.txt` (NCCI PTP, outpatient hospital),
    `*MUE*Practitioner*.csv` and `*MUE*Hospital*.csv` (MUE), `icd10cm_order_<FY>.txt` (ICD-10-CM
    releases newer than the shipped ones). When several HCPCS, MUE or order files match, the
    last by name (the newest quarter or year) is used. A kind imported through the API
    (`POST /v1/code-sets/files`) takes over from these files.
    """

    model_config = SettingsConfigDict(env_prefix="OPENRCM_CLAIMS_", extra="ignore")

    code_set_dir: str | None = None
    hcpcs_file: str | None = None
    ncci_ptp_files: str | None = None
    ncci_ptp_hospital_files: str | None = None
    mue_file: str | None = None
    mue_hospital_file: str | None = None
    icd10cm_order_files: str | None = None
    # Every claims process checks the imported files this often, and loads what came into force.
    code_set_refresh_seconds: float = 5.0
    # The largest file (or zip) an import takes, and the largest file inside a zip: a quarter's
    # practitioner PTP part is ~50 MB of text, the HCPCS file ~10 MB.
    code_set_max_upload_bytes: int = 256 * 1024 * 1024
