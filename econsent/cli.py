"""Command-line tools of the e-consent part: `flask econsent keys init [--site CODE]…`."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from econsent.pdf import keys
from edc.extensions import db
from edc.models.studies import Site
from edc.settings import Settings

econsent_cli = AppGroup("econsent", help="E-consent: sealing keys for the consent copies.")
keys_cli = AppGroup("keys", help="The keys that seal consent PDFs.")
econsent_cli.add_command(keys_cli)


@keys_cli.command("init")
@click.option("--site", "sites", multiple=True, help="Site code (repeat; default: every site).")
def keys_init(sites: tuple[str, ...]) -> None:
    """Make a demo CA, a time-stamping authority and a sealing certificate per site, under the
    instance folder (development and tests only: production loads EDC_CONSENT_SEAL_P12)."""
    settings: Settings = current_app.config["EDC_SETTINGS"]
    if not keys.demo_allowed(settings):
        raise click.ClickException(
            "refused: demo sealing keys are for development machines (EDC_DEV=1) only; in "
            "production set EDC_CONSENT_SEAL_P12, EDC_CONSENT_SEAL_PASSPHRASE and "
            "EDC_CONSENT_TSA_URL to the institution's certificate and time-stamping service"
        )
    codes = list(sites) or list(db.session.scalars(select(Site.code).order_by(Site.code)))
    if not codes:
        raise click.ClickException("no sites yet: give --site CODE")
    try:
        written = keys.init_demo_keys(keys.keys_folder(settings), codes)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"demo sealing keys ready for {', '.join(codes)} (not for production)")


def register_cli(app: Flask) -> None:
    app.cli.add_command(econsent_cli)
