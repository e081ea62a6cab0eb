"""A service started by the stack's launcher serves HTTPS when OPENRCM_TLS_CERT_FILE/_KEY_FILE are set."""

from __future__ import annotations

import ssl

import httpx
import pytest

from openrcm_devstack.services import SERVICES, start_service, wait_ready
from openrcm_devstack.tls import CertificateAuthority
from tests.support import free_port

ELIGIBILITY = next(spec for spec in SERVICES if spec.name == "eligibility")


@pytest.mark.stack
def test_a_service_serves_https_with_its_certificate_and_only_https(infra, tmp_path):
    authority = CertificateAuthority.create(tmp_path / "tls")
    server = authority.issue("eligibility", ["127.0.0.1", "localhost"])
    tls_env = {"OPENRCM_TLS_CERT_FILE": str(server.cert_file), "OPENRCM_TLS_KEY_FILE": str(server.key_file),
               "OPENRCM_TLS_CA_FILE": str(authority.cert_file),
               **infra.issuer.service_environment()}  # every service trusts an issuer, whether or not it runs
    # Role api: the HTTP side of the service, on the test stack's database, beside whatever runs there.
    service = start_service(ELIGIBILITY, port=free_port(), database_url=infra.database_url("eligibility"),
                            kafka_bootstrap=infra.kafka.bootstrap_servers, log_dir=tmp_path / "logs", role="api",
                            extra_env=tls_env)
    try:
        assert service.url.startswith("https://127.0.0.1:")
        wait_ready(service, timeout=60)  # the launcher's own check, over TLS, trusting the CA

        trusting = ssl.create_default_context(cafile=str(authority.cert_file))
        with httpx.Client(verify=trusting, timeout=10) as client:
            livez = client.get(f"{service.url}/livez")
        assert livez.status_code == 200 and livez.json() == {"status": "ok"}

        # Plain HTTP on the same port gets no answer: uvicorn speaks only TLS there.
        with httpx.Client(timeout=10) as client, pytest.raises(httpx.HTTPError):
            client.get(service.url.replace("https://", "http://") + "/livez")
        # A client that does not trust the service's CA refuses the certificate.
        stranger = CertificateAuthority.create(tmp_path / "other-ca")
        with httpx.Client(verify=ssl.create_default_context(cafile=str(stranger.cert_file)), timeout=10) as client, \
                pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            client.get(f"{service.url}/livez")
    finally:
        service.process.stop()


def test_half_a_tls_setting_is_refused_before_a_process_starts(tmp_path):
    cert = tmp_path / "server.crt"
    cert.write_text("-")
    with pytest.raises(ValueError, match="OPENRCM_TLS_CERT_FILE and OPENRCM_TLS_KEY_FILE go together"):
        start_service(ELIGIBILITY, port=free_port(), database_url="postgresql://nowhere/db", kafka_bootstrap="-",
                      log_dir=tmp_path / "logs", extra_env={"OPENRCM_TLS_CERT_FILE": str(cert)})
    assert not (tmp_path / "logs").exists()  # nothing was started
