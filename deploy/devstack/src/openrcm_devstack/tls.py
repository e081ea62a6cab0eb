"""Throwaway TLS certificates: a private certificate authority and the server certificates it signs.

For trying TLS on one machine (the tests, `openrcm-stack tls-certs` for the compose file's TLS
override) and nothing else: a deployment's certificates come from the organisation's own CA or
an ACME issuer, and its CA key never sits in a folder beside the server keys. Everything is
PEM, the one format uvicorn, PostgreSQL, Kafka (`ssl.keystore.type=PEM`) and Python's ssl module
all read.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Short-lived on purpose: these are for trying things out, and a forgotten one expires.
VALID_FOR = datetime.timedelta(days=30)


@dataclass(frozen=True)
class IssuedCertificate:
    """Where one certificate's files are."""

    cert_file: Path  # the certificate, then the CA's: a chain a server can present as it is
    key_file: Path  # PKCS#8 private key, unencrypted, mode 0600

    @property
    def keystore_file(self) -> Path:
        """Key and chain in one file (`<name>.pem`), the layout Kafka's PEM keystore reads."""
        return self.cert_file.with_suffix(".pem")


def _write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read (a private key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    path.chmod(0o600)  # an existing file keeps its mode through O_CREAT


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    # PKCS#8: the only private key encoding Kafka's PEM keystore accepts.
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _subject_alternative_names(hosts: list[str]) -> x509.SubjectAlternativeName:
    """DNS names and IP addresses: clients check the name they dialled against these (RFC 6125);
    an address must be an iPAddress entry, a DNS entry with "127.0.0.1" does not match it."""
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


class CertificateAuthority:
    """A private CA whose certificate (`ca.crt`) clients are told to trust."""

    def __init__(self, directory: Path, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> None:
        self.directory = directory
        self.key = key
        self.certificate = certificate

    @property
    def cert_file(self) -> Path:
        return self.directory / "ca.crt"

    @classmethod
    def create(cls, directory: Path, name: str = "OpenRCM throwaway CA") -> "CertificateAuthority":
        """Make a new CA in `directory` (ca.crt; ca.key, mode 0600)."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        certificate = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALID_FOR)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        authority = cls(directory, key, certificate)
        authority.cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        _write_private(directory / "ca.key", _key_pem(key))
        return authority

    def issue(self, name: str, hosts: list[str], *, client: bool = False) -> IssuedCertificate:
        """A certificate for `hosts` (DNS names or IP addresses) signed by this CA, written as
        `<name>.crt` (with the CA's certificate after it), `<name>.key` and `<name>.pem` (key and
        chain together). `client` adds client authentication to its uses (mutual TLS)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        usages = [ExtendedKeyUsageOID.SERVER_AUTH] + ([ExtendedKeyUsageOID.CLIENT_AUTH] if client else [])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0] if hosts else name)]))
            .issuer_name(self.certificate.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALID_FOR)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_subject_alternative_names(hosts), critical=False)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        chain = certificate.public_bytes(serialization.Encoding.PEM) + self.cert_file.read_bytes()
        issued = IssuedCertificate(self.directory / f"{name}.crt", self.directory / f"{name}.key")
        issued.cert_file.write_bytes(chain)
        _write_private(issued.key_file, _key_pem(key))
        _write_private(issued.keystore_file, _key_pem(key) + chain)
        return issued
