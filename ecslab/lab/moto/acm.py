"""The one place the lab touches moto's ACM (AWS Certificate Manager).

moto's ``RequestCertificate`` makes a certificate that signs itself (its issuer only *says*
"Amazon"), so nothing can verify it, and it stays ``PENDING_VALIDATION`` for 60 s. On AWS, ACM
issues a public certificate from Amazon's CAs, which browsers and Python already trust, once the
domain's DNS validation record is in place. The lab cannot run DNS for your domain, so:

- the lab has its own certificate authority, made once per lab (:class:`LabCertificateAuthority`,
  files in the lab's folder): it stands in for Amazon's CAs, and a notebook trusts it through the
  CA bundle file the lab writes (``ca.pem``), never by turning verification off;
- :data:`PATCHES` makes ``RequestCertificate`` issue the certificate from that CA for the domain
  and the subject alternative names asked for (``GetCertificate`` returns it with the lab CA as
  its chain), and validates it after :data:`VALIDATION_SECONDS` (the lab plays the domain's DNS
  owner: AWS validates once the CNAME record ACM asks for is published);
- ``ImportCertificate`` is moto's own: a certificate you bring is used as it is.

:mod:`ecslab.lab.elb` serves HTTPS listeners with these certificates (:func:`key_pair`).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from moto.acm.models import AWSCertificateManagerBackend, CertBundle, acm_backends
from moto.core.utils import utcnow

from ecslab.config import ACCOUNT_ID
from ecslab.lab.moto.patching import PatchSet, declare

VALIDATION_SECONDS = 2.0
"""How long a requested certificate stays ``PENDING_VALIDATION`` in the lab before it is ``ISSUED``."""

CA_NAME = "ecslab Lab Root CA"


@dataclass(frozen=True)
class KeyPair:
    """A certificate (PEM, leaf first, then its chain without the root) and its private key (PEM)."""

    certificate: bytes
    chain: bytes
    private_key: bytes


class LabCertificateAuthority:
    """The lab's own CA: one key and self-signed root per lab folder, made on first use and kept."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()
        self._key: ec.EllipticCurvePrivateKey | None = None
        self._certificate: x509.Certificate | None = None

    @property
    def bundle(self) -> Path:
        """The CA bundle file a client passes as ``verify=`` / ``cafile=``."""
        return self.folder / "ca.pem"

    def _load_or_make(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        with self.lock:
            if self._key is not None and self._certificate is not None:
                return self._key, self._certificate
            key_file = self.folder / "ca-key.pem"
            if key_file.exists() and self.bundle.exists():
                key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
                assert isinstance(key, ec.EllipticCurvePrivateKey)
                certificate = x509.load_pem_x509_certificate(self.bundle.read_bytes())
            else:
                key = ec.generate_private_key(ec.SECP256R1())
                name = x509.Name(
                    [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ecslab"), x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)]
                )
                now = datetime.datetime.now(datetime.UTC)
                certificate = (
                    x509.CertificateBuilder()
                    .subject_name(name)
                    .issuer_name(name)
                    .public_key(key.public_key())
                    .serial_number(x509.random_serial_number())
                    .not_valid_before(now - datetime.timedelta(minutes=5))
                    .not_valid_after(now + datetime.timedelta(days=3650))
                    .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                    .add_extension(
                        x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
                    )  # keyCertSign, cRLSign
                    .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                    .sign(key, hashes.SHA256())
                )
                self.folder.mkdir(parents=True, exist_ok=True)
                key_file.write_bytes(
                    key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
                )
                os.chmod(key_file, 0o600)
                self.bundle.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
            self._key, self._certificate = key, certificate
            return key, certificate

    def issue(self, domain_name: str, alternative_names: list[str] | None = None, days: int = 395) -> KeyPair:
        """A server certificate for ``domain_name`` (and ``alternative_names``), signed by the lab's CA.

        395 days, as ACM's public certificates (https://docs.aws.amazon.com/acm/latest/userguide/acm-certificate.html)."""
        ca_key, ca_certificate = self._load_or_make()
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = []
        for name in dict.fromkeys([domain_name, *(alternative_names or [])]):
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                names.append(x509.DNSName(name))
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain_name)]))
            .issuer_name(ca_certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        return KeyPair(
            certificate.public_bytes(serialization.Encoding.PEM),
            ca_certificate.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
            ),
        )


class AcmLab(Protocol):
    """What the patches need from the lab: its certificate authority."""

    @property
    def authority(self) -> LabCertificateAuthority: ...


def backend(region: str) -> AWSCertificateManagerBackend:
    return acm_backends[ACCOUNT_ID][region]


@dataclass(frozen=True)
class CertificateView:
    arn: str
    status: str
    certificate: bytes
    chain: bytes
    private_key: bytes


def certificate(region: str, arn: str) -> CertificateView | None:
    """An ACM certificate with its key (what an HTTPS listener serves), or ``None`` when there is none."""
    found: CertBundle | None = backend(region)._certificates.get(arn)
    if found is None:
        return None
    found.check()
    return CertificateView(found.arn, str(found.status), bytes(found.cert), bytes(found.chain), bytes(found.key))


# -- the patches -----------------------------------------------------------------------------------------

PATCHES: PatchSet[AcmLab] = declare(PatchSet("acm"))

REQUEST_CERTIFICATE = (
    "(self, domain_name: str, idempotency_token: str, subject_alt_names: list[str], tags: list[dict[str, str]], "
    "cert_authority_arn: str | None = None, cert_options: dict[str, typing.Any] | None = None) -> str"
)


@PATCHES.patch(
    "moto.acm.models:AWSCertificateManagerBackend", "request_certificate", REQUEST_CERTIFICATE, "issued by the lab's CA"
)
def _request_from_lab_ca(original: Callable[..., str], lab: AcmLab) -> Callable[..., str]:
    def request_from_lab_ca(acm: AWSCertificateManagerBackend, domain_name: str, *args: Any, **kwargs: Any) -> str:
        arn = original(acm, domain_name, *args, **kwargs)
        bundle: CertBundle = acm._certificates[arn]
        if bundle.type != "AMAZON_ISSUED" or bundle.issuer_common_name == CA_NAME:
            return arn  # a private CA's certificate, or the same request made again (idempotency token)
        pair = lab.authority.issue(domain_name, list(bundle.sans))
        bundle.cert, bundle.key = pair.certificate, pair.private_key
        bundle.chain = pair.chain
        bundle._key = bundle.validate_pk()
        bundle._cert = bundle.validate_certificate()
        bundle.issuer_common_name = CA_NAME
        return arn

    return request_from_lab_ca


@PATCHES.patch("moto.acm.models:CertBundle", "check", "(self) -> None", "validated after the lab's few seconds")
def _check_in_lab_time(original: Callable[..., None], lab: AcmLab) -> Callable[..., None]:
    def check_in_lab_time(bundle: CertBundle) -> None:
        original(bundle)
        waited = (utcnow() - bundle.created_at).total_seconds()
        if bundle.type == "AMAZON_ISSUED" and bundle.status == "PENDING_VALIDATION" and waited >= VALIDATION_SECONDS:
            bundle.status = "ISSUED"

    return check_in_lab_time
