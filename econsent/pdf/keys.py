"""The keys that seal consent PDFs: the institution's PKCS#12 in production, or a demo CA with a
sealing certificate per site and a time-stamping authority (made by `flask econsent keys init`,
written under the instance folder, never in the repository).

The demo CA exists so that a sealed PDF can be checked end to end (trusted, time-stamped) on a
development machine and in the tests; it is refused in production, where the seal must chain to
a CA that readers of the copy can trust.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edc.settings import Settings

FOLDER = "econsent-keys"
CA_CERT = "demo-ca.pem"
CA_KEY = "demo-ca-key.pem"
TSA_P12 = "demo-tsa.p12"
SITE_CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
VALIDITY = dt.timedelta(days=825)


class SealingNotConfigured(RuntimeError):
    """No key to seal with: the settings name none, or the demo keys were not made."""


@dataclass(frozen=True)
class Identity:
    """A private key, its certificate and the chain up to (and including) its root."""

    key: CertificateIssuerPrivateKeyTypes
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]


def demo_allowed(settings: Settings) -> bool:
    """The demo CA is for tests and development machines (EDC_DEV=1) only."""
    return settings.testing or settings.development


def keys_folder(settings: Settings) -> Path:
    return settings.instance_path / FOLDER


def site_p12(folder: Path, site_code: str) -> Path:
    if not SITE_CODE.match(site_code):
        raise ValueError(f"not a site code: {site_code!r}")
    return folder / "sites" / f"{site_code}.p12"


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SIOPEN EDC demo (not for production)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(
    subject: str,
    key: CertificateIssuerPrivateKeyTypes,
    issuer: Identity | None,
    *,
    usage: str,
) -> x509.Certificate:
    """usage: "ca", "seal" (signatures that commit to content) or "tsa" (time-stamping)."""
    now = dt.datetime.now(dt.UTC)
    signing_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.certificate.subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=usage == "ca", path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=usage != "ca",
                content_commitment=usage == "seal",
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=usage == "ca",
                crl_sign=usage == "ca",
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if usage == "tsa":
        eku = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING])
        builder = builder.add_extension(eku, critical=True)
    return builder.sign(signing_key, hashes.SHA256())


def _write_private(path: Path, data: bytes) -> None:
    """Written as 0600 from the first byte (never readable by others, even briefly)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


def _p12(identity: Identity, name: str) -> bytes:
    """Demo bundles carry no passphrase: their only protection is the 0600 file mode."""
    return pkcs12.serialize_key_and_certificates(
        name.encode(),
        identity.key,
        identity.certificate,
        list(identity.chain),
        serialization.NoEncryption(),
    )


def _demo_ca(folder: Path, written: list[Path]) -> Identity:
    cert_path, key_path = folder / CA_CERT, folder / CA_KEY
    if cert_path.exists() and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        return Identity(key, cert, (cert,))  # type: ignore[arg-type]
    ca_key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate("SIOPEN EDC demo consent CA", ca_key, None, usage="ca")
    pem = ca_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_private(key_path, pem)
    _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    written += [key_path, cert_path]
    return Identity(ca_key, cert, (cert,))


def init_demo_keys(folder: Path, site_codes: Sequence[str]) -> list[Path]:
    """A demo CA and TSA (kept if they exist) and a new sealing certificate for each site
    (ECDSA P-256; the TSA is RSA-2048, which the in-process time-stamper needs)."""
    codes = [site_p12(folder, code) for code in site_codes]  # refuses odd codes before writing
    written: list[Path] = []
    ca = _demo_ca(folder, written)
    if not (folder / TSA_P12).exists():
        tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        tsa = Identity(tsa_key, _certificate("Demo TSA", tsa_key, ca, usage="tsa"), ca.chain)
        _write_private(folder / TSA_P12, _p12(tsa, "demo-tsa"))
        written.append(folder / TSA_P12)
    for code, path in zip(site_codes, codes, strict=True):
        key = ec.generate_private_key(ec.SECP256R1())
        seal = Identity(
            key, _certificate(f"Site {code} consent seal", key, ca, usage="seal"), ca.chain
        )
        _write_private(path, _p12(seal, f"site-{code}"))
        written.append(path)
    return written


def load_p12(path: Path, passphrase: str = "") -> Identity:
    """The key, certificate and chain of a PKCS#12 file (the institution's, or a demo one)."""
    key, cert, others = pkcs12.load_key_and_certificates(
        path.read_bytes(), passphrase.encode() or None
    )
    if key is None or cert is None:
        raise SealingNotConfigured(f"{path} holds no private key with its certificate")
    return Identity(key, cert, tuple(others))  # type: ignore[arg-type]


def load_pem_certificates(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def trust_roots(settings: Settings) -> list[x509.Certificate]:
    """The certificates a sealed copy is checked against: EDC_CONSENT_TRUST_ROOTS (the seal's
    and the TSA's roots), else the demo CA where the demo is allowed."""
    if settings.consent_trust_roots is not None:
        return load_pem_certificates(settings.consent_trust_roots)
    demo_ca = keys_folder(settings) / CA_CERT
    if demo_allowed(settings) and demo_ca.exists():
        return load_pem_certificates(demo_ca)
    raise SealingNotConfigured("EDC_CONSENT_TRUST_ROOTS is not set")
