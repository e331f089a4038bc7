"""The organisational seal on the consent copy: a PAdES signature (pyHanko) by the site's
certificate, with the chain embedded and, when a time-stamping authority is configured, a
signature time-stamp (PAdES B-T), so the sealing time never rests on our server clock alone.

The seal is an incremental update after the PDF/A-3b that weasyprint wrote: the signed bytes
stay as they were, and pyHanko keeps the XMP (pdfaid part 3, conformance B) in step with the
document information it changes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata.model import VENDOR
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from econsent.pdf import blocking
from econsent.pdf.keys import (
    TSA_P12,
    Identity,
    SealingNotConfigured,
    demo_allowed,
    keys_folder,
    load_p12,
    site_p12,
)
from edc.settings import Settings

FIELD_NAME = "ConsentSeal"


@dataclass(frozen=True)
class SealingKeys:
    """Who seals (key + chain) and who time-stamps (None: no time-stamp, PAdES B-B only)."""

    identity: Identity
    timestamper: timestamps.TimeStamper | None


def asn1_certificate(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _asn1_key(identity: Identity) -> asn1_keys.PrivateKeyInfo:
    der = identity.key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return asn1_keys.PrivateKeyInfo.load(der)


def demo_timestamper(tsa: Identity) -> timestamps.TimeStamper:
    """An in-process RFC 3161 time-stamping authority whose certificate the demo CA issued."""
    return DummyTimeStamper(
        tsa_cert=asn1_certificate(tsa.certificate),
        tsa_key=_asn1_key(tsa),
        certs_to_embed=SimpleCertificateStore.from_certs([asn1_certificate(c) for c in tsa.chain]),
    )


def sealing_keys(settings: Settings, site_code: str) -> SealingKeys:
    """Production: the institution's PKCS#12 and TSA from the settings. Tests and development
    machines without them: the demo keys of `flask econsent keys init --site CODE`."""
    if settings.consent_seal_p12 is not None:
        identity = load_p12(settings.consent_seal_p12, settings.consent_seal_passphrase)
        url = settings.consent_tsa_url
        return SealingKeys(identity, timestamps.HTTPTimeStamper(url) if url else None)
    if not demo_allowed(settings):
        raise SealingNotConfigured("EDC_CONSENT_SEAL_P12 is not set")
    folder = keys_folder(settings)
    path = site_p12(folder, site_code)
    if not path.exists() or not (folder / TSA_P12).exists():
        raise SealingNotConfigured(
            f"no demo sealing key for site {site_code}: run `flask econsent keys init "
            f"--site {site_code}`"
        )
    return SealingKeys(load_p12(path), demo_timestamper(load_p12(folder / TSA_P12)))


def _producer_in_step(writer: IncrementalPdfFileWriter) -> None:
    """pyHanko appends itself to the /Producer of the document information but writes only
    itself into the XMP; PDF/A wants both to say the same, so both say pyHanko."""
    try:
        old = writer.trailer["/Info"]
    except KeyError:
        return
    info = generic.DictionaryObject({key: old.raw_get(key) for key in old})
    info[generic.NameObject("/Producer")] = generic.TextStringObject(VENDOR)
    writer.set_info(info)


def seal_pdf(pdf: bytes, keys: SealingKeys, *, location: str, reason: str) -> bytes:
    """`pdf` with an invisible PAdES seal over every byte of it."""
    identity = keys.identity
    signer = signers.SimpleSigner(
        signing_cert=asn1_certificate(identity.certificate),
        signing_key=_asn1_key(identity),
        cert_registry=SimpleCertificateStore.from_certs(
            [asn1_certificate(c) for c in identity.chain]
        ),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        location=location,
        reason=reason,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    _producer_in_step(writer)
    pdf_signer = signers.PdfSigner(meta, signer, timestamper=keys.timestamper)
    out = blocking.call(pdf_signer.sign_pdf, writer)
    return out.getvalue()
