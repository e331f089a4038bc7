"""`flask econsent keys init`: demo sealing keys on development machines only, written 0600
under the instance folder; production seals with the institution's PKCS#12 and a TSA."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from flask import Flask

from econsent.pdf import SealingNotConfigured, sealing_keys, trust_roots
from econsent.pdf.keys import keys_folder, load_p12
from edc.settings import Settings


@pytest.fixture
def settings_as(app: Flask, tmp_path: Path) -> Iterator[object]:
    """Run the app with other settings (a fresh instance folder) for one test."""
    saved = app.config["EDC_SETTINGS"]

    def use(**changes: object) -> Settings:
        settings = replace(saved, instance_path=tmp_path / "instance", **changes)
        app.config["EDC_SETTINGS"] = settings
        return settings

    yield use
    app.config["EDC_SETTINGS"] = saved


def _init(app: Flask, *args: str):
    return app.test_cli_runner().invoke(args=["econsent", "keys", "init", *args])


def test_refused_in_production_and_writes_nothing(app: Flask, settings_as) -> None:
    settings = settings_as(testing=False, development=False)
    result = _init(app, "--site", "FR01")
    assert result.exit_code != 0
    assert "refused" in result.output
    assert "EDC_CONSENT_SEAL_P12" in result.output
    assert not keys_folder(settings).exists()


def test_writes_private_files_under_the_instance_folder(app: Flask, settings_as) -> None:
    settings = settings_as(testing=False, development=True)
    result = _init(app, "--site", "FR01", "--site", "DE03")
    assert result.exit_code == 0, result.output
    folder = keys_folder(settings)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == [
        "demo-ca-key.pem",
        "demo-ca.pem",
        "demo-tsa.p12",
        "sites/DE03.p12",
        "sites/FR01.p12",
    ]
    for path in folder.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path
    identity = load_p12(folder / "sites" / "FR01.p12")
    assert "Site FR01 consent seal" in identity.certificate.subject.rfc4514_string()
    assert identity.chain[0] == trust_roots(settings)[0]


def test_a_second_site_keeps_the_ca(app: Flask, settings_as) -> None:
    settings = settings_as()
    assert _init(app, "--site", "FR01").exit_code == 0
    ca = (keys_folder(settings) / "demo-ca.pem").read_bytes()
    assert _init(app, "--site", "IT02").exit_code == 0
    assert (keys_folder(settings) / "demo-ca.pem").read_bytes() == ca
    assert (
        load_p12(keys_folder(settings) / "sites" / "IT02.p12").chain[0] == trust_roots(settings)[0]
    )


def test_without_site_every_site_of_the_database_gets_a_key(
    app: Flask, settings_as, make_site
) -> None:
    settings = settings_as()
    site = make_site("PT07")
    result = _init(app)
    assert result.exit_code == 0, result.output
    assert (keys_folder(settings) / "sites" / f"{site.code}.p12").exists()


def test_odd_site_code_is_refused(app: Flask, settings_as) -> None:
    settings = settings_as()
    result = _init(app, "--site", "../../etc")
    assert result.exit_code != 0
    assert "not a site code" in result.output
    assert not keys_folder(settings).exists()


def test_sealing_without_keys_says_what_to_run(settings_as) -> None:
    settings = settings_as()
    with pytest.raises(SealingNotConfigured, match="flask econsent keys init --site FR01"):
        sealing_keys(settings, "FR01")


def test_production_without_a_seal_certificate_refuses_the_demo(
    settings_as, demo_settings: Settings
) -> None:
    settings = replace(demo_settings, testing=False, development=False)
    with pytest.raises(SealingNotConfigured, match="EDC_CONSENT_SEAL_P12"):
        sealing_keys(settings, "BE02")
    with pytest.raises(SealingNotConfigured, match="EDC_CONSENT_TRUST_ROOTS"):
        trust_roots(settings)


def test_production_loads_the_institutions_pkcs12(tmp_path: Path, demo_settings: Settings) -> None:
    """A passphrase-protected bundle, as an institution issues it, with its TSA address."""
    demo = load_p12(keys_folder(demo_settings) / "sites" / "BE02.p12")
    bundle = tmp_path / "seal.p12"
    bundle.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"seal",
            demo.key,
            demo.certificate,
            list(demo.chain),
            BestAvailableEncryption(b"s3cret"),
        )
    )
    settings = replace(
        demo_settings,
        testing=False,
        consent_seal_p12=bundle,
        consent_seal_passphrase="s3cret",
        consent_tsa_url="https://tsa.example.org/rfc3161",
    )
    keys = sealing_keys(settings, "BE02")
    assert keys.identity.certificate == demo.certificate
    assert keys.timestamper is not None
    wrong = replace(settings, consent_seal_passphrase="wrong")
    with pytest.raises(ValueError, match=r"PKCS#12|password|decrypt"):
        sealing_keys(wrong, "BE02")


def test_production_needs_a_tsa_with_the_seal(demo_settings: Settings, tmp_path: Path) -> None:
    production = replace(
        demo_settings,
        testing=False,
        trusted_hosts=("edc.example.org",),
        base_url="https://edc.example.org",
        consent_seal_p12=tmp_path / "seal.p12",
    )
    assert any("EDC_CONSENT_TSA_URL" in p for p in production.production_problems())
    with_tsa = replace(production, consent_tsa_url="https://tsa.example.org")
    assert with_tsa.production_problems() == []
