"""Application factory: settings, extensions, blueprints, gates, CLI — nothing else."""

from __future__ import annotations

import email_validator
from flask import Flask

import econsent
from edc import access, audit, crypto, dates, db_roles, hosts, i18n, login, logs, passwords, web
from edc.cli import register_cli
from edc.extensions import babel, csrf, db, htmx, login_manager, migrate
from edc.settings import ROOT, Settings
from edc.views import (
    account,
    admin,
    audit_review,
    auth,
    crf,
    dashboards,
    exports,
    health,
    home,
    monitor_visits,
    monitoring,
    patients,
    roles,
    signing,
    subjects,
)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    if problems := settings.production_problems():
        raise RuntimeError("the portal cannot start: " + "; ".join(problems))
    app = Flask(
        __name__,
        template_folder=str(ROOT / "edc" / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(settings.instance_path),
    )
    logs.configure(app)
    app.config.update(
        EDC_SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        TESTING=settings.testing,
        SESSION_COOKIE_NAME="__Host-edc" if settings.cookie_secure else "edc",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        WTF_CSRF_TIME_LIMIT=None,  # bound to the session, which ends after 30 min idle anyway
        WTF_CSRF_SSL_STRICT=True,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        BABEL_TRANSLATION_DIRECTORIES=str(ROOT / "translations"),
        BABEL_DEFAULT_LOCALE="en",
    )
    if settings.testing or settings.development:
        # The demo's and the tests' addresses are under the reserved .test domain, which the
        # e-mail check refuses in production (no mail can reach it).
        email_validator.TEST_ENVIRONMENT = True
    hosts.init_app(app, settings)  # before the CSRF check: a foreign Host is refused first
    audit.configure(settings.audit_key)
    crypto.configure(settings.vault_key, settings.vault_old_keys)
    passwords.configure(fast=settings.testing)
    i18n.check_catalogs(ROOT / "translations", settings.languages)

    db.init_app(app, settings.database_url)
    db_roles.warn_if_shared(settings)  # the app should not own the tables on PostgreSQL
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)  # before the access gate: a request without a token is a 400 for anyone
    login_manager.init_app(app)
    login.init_app(app, login_manager)
    babel.init_app(app, locale_selector=i18n.select_locale)
    htmx.init_app(app)
    web.init_app(app)
    dates.init_app(app)

    for blueprint in (auth.bp, account.bp, home.bp, subjects.bp, crf.bp, admin.bp, roles.bp):
        app.register_blueprint(blueprint)
    # Review: queries, SDV, locks; e-signatures; the clinical trail and its reports; monitor visits
    for blueprint in (monitoring.bp, signing.bp, audit_review.bp, monitor_visits.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(dashboards.bp)  # record status and study dashboards
    app.register_blueprint(patients.bp)  # find a patient (its own module: a page of its own)
    app.register_blueprint(health.bp)  # GET /health for load balancers
    app.register_blueprint(exports.bp)  # data exports: CSV with codebook, CDISC ODM
    access.declare_public(app, "static")
    app.before_request(access.gate)
    register_cli(app)
    econsent.init_app(app)  # e-consent's checks, commands and, later, its blueprints
    return app
