"""Frozen settings read once from the environment, so nothing reads os.environ at request time."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("en", "fr", "de", "it", "es")
MAIL_BACKENDS = ("smtp", "console", "none")


def _instance_secret(instance: Path, name: str, nbytes: int = 32) -> str:
    """Read a secret from instance/, generating it on first run (never committed)."""
    path = instance / name
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(nbytes))
    return path.read_text().strip()


def _minutes(value: str) -> timedelta | None:
    """A whole number of minutes; 0 turns the periodic audit checkpoint off."""
    try:
        minutes = int(value)
    except ValueError:
        raise ValueError(
            f"EDC_AUDIT_CHECKPOINT_MINUTES must be a whole number, not {value!r}"
        ) from None
    if minutes < 0:
        raise ValueError("EDC_AUDIT_CHECKPOINT_MINUTES must not be negative")
    return timedelta(minutes=minutes) if minutes else None


def _hosts(value: str) -> tuple[str, ...]:
    """EDC_TRUSTED_HOSTS: comma-separated host names (".example.org" also allows subdomains)."""
    return tuple(h.strip().lower() for h in value.split(",") if h.strip())


def _proxies(value: str) -> int:
    """EDC_TRUSTED_PROXIES: how many reverse proxies stand in front of the app (0: none)."""
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"EDC_TRUSTED_PROXIES must be a whole number, not {value!r}") from None
    if count < 0:
        raise ValueError("EDC_TRUSTED_PROXIES must not be negative")
    return count


def _mail_env() -> dict[str, Any]:
    """EDC_MAIL_BACKEND, EDC_SMTP_HOST/PORT/USER/PASSWORD, EDC_SMTP_STARTTLS or EDC_SMTP_SSL
    (=1), EDC_MAIL_FROM and EDC_BASE_URL (the portal's address as users reach it)."""
    env = os.environ
    security = ""
    if env.get("EDC_SMTP_STARTTLS") == "1":
        security = "starttls"
    if env.get("EDC_SMTP_SSL") == "1":
        security = "ssl" if not security else "both"
    return {
        "mail_backend": env.get("EDC_MAIL_BACKEND", "none"),
        "smtp_host": env.get("EDC_SMTP_HOST", "localhost"),
        "smtp_port": int(env.get("EDC_SMTP_PORT", "465" if security == "ssl" else "25")),
        "smtp_user": env.get("EDC_SMTP_USER", ""),
        "smtp_password": env.get("EDC_SMTP_PASSWORD", ""),
        "smtp_security": security,
        "mail_from": env.get("EDC_MAIL_FROM", "edc@localhost"),
        "base_url": env.get("EDC_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
    }


def _consent_seal_env() -> dict[str, Any]:
    """EDC_CONSENT_SEAL_P12 (path), EDC_CONSENT_SEAL_PASSPHRASE, EDC_CONSENT_TSA_URL and
    EDC_CONSENT_TRUST_ROOTS (a PEM file): how consent PDFs are sealed and checked."""
    env = os.environ
    p12 = env.get("EDC_CONSENT_SEAL_P12", "")
    roots = env.get("EDC_CONSENT_TRUST_ROOTS", "")
    return {
        "consent_seal_p12": Path(p12) if p12 else None,
        "consent_seal_passphrase": env.get("EDC_CONSENT_SEAL_PASSPHRASE", ""),
        "consent_tsa_url": env.get("EDC_CONSENT_TSA_URL", ""),
        "consent_trust_roots": Path(roots) if roots else None,
        "consent_invitation_lifetime": timedelta(
            hours=max(1, int(env.get("EDC_CONSENT_INVITATION_HOURS", "72") or "72"))
        ),
    }


def _registry_env() -> dict[str, Any]:
    """EDC_LINKAGE_SECRET, EDC_REGISTRY_URL, EDC_REGISTRY_TOKEN, EDC_REGISTRY_CLIENT_CERT and
    _KEY (PEM files), EDC_REGISTRY_CA, EDC_REGISTRY_TIMEOUT (seconds),
    EDC_REGISTRY_MAX_ATTEMPTS, EDC_REGISTRY_RETRY_SECONDS, EDC_REGISTRY_RETRY_MAX_SECONDS and
    EDC_EXPORT_DIR."""
    env = os.environ

    def path(name: str) -> Path | None:
        return Path(env[name]) if env.get(name) else None

    return {
        "linkage_secret": env.get("EDC_LINKAGE_SECRET", ""),
        "registry_url": env.get("EDC_REGISTRY_URL", "").rstrip("/"),
        "registry_token": env.get("EDC_REGISTRY_TOKEN", ""),
        "registry_client_cert": path("EDC_REGISTRY_CLIENT_CERT"),
        "registry_client_key": path("EDC_REGISTRY_CLIENT_KEY"),
        "registry_ca": path("EDC_REGISTRY_CA"),
        "registry_timeout": timedelta(seconds=int(env.get("EDC_REGISTRY_TIMEOUT", "30") or "30")),
        "registry_max_attempts": max(1, int(env.get("EDC_REGISTRY_MAX_ATTEMPTS", "8") or "8")),
        "registry_retry_first": timedelta(
            seconds=float(env.get("EDC_REGISTRY_RETRY_SECONDS", "30") or "30")
        ),
        "registry_retry_max": timedelta(
            seconds=float(env.get("EDC_REGISTRY_RETRY_MAX_SECONDS", "3600") or "3600")
        ),
        "export_dir": path("EDC_EXPORT_DIR"),
        "export_keep_days": max(1, int(env.get("EDC_EXPORT_KEEP_DAYS", "30") or "30")),
    }


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to start; tests build one with overrides."""

    database_url: str
    secret_key: str
    vault_key: str
    audit_key: str
    instance_path: Path = ROOT / "instance"
    vault_old_keys: tuple[str, ...] = ()
    languages: tuple[str, ...] = LANGUAGES
    idle_timeout: timedelta = timedelta(minutes=30)
    absolute_timeout: timedelta = timedelta(hours=12)
    pending_login_timeout: timedelta = timedelta(minutes=5)
    activation_lifetime: timedelta = timedelta(hours=72)
    lockout_threshold: int = 5
    address_threshold: int = 20
    lockout_window: timedelta = timedelta(minutes=15)
    cookie_secure: bool = True
    testing: bool = False
    # Migrations run as this role; the app's own role may only append to the audit trail.
    # Empty: the same as database_url (a warning on PostgreSQL outside tests).
    database_owner_url: str = ""
    # Where signed checkpoints of the audit chain go; None: <instance>/audit-checkpoints.
    audit_checkpoint_dir: Path | None = None
    # How often a busy process anchors the chain (None: only `flask audit checkpoint`).
    audit_checkpoint_every: timedelta | None = timedelta(minutes=5)
    extra: dict[str, object] = field(default_factory=dict)
    #: Account end dates are days in this zone: an account works until that day ends here.
    account_timezone: str = "Europe/Brussels"
    #: At most this many `access.denied` events per actor in the window; the rest are only logged.
    denial_trace_limit: int = 10
    denial_trace_window: timedelta = timedelta(minutes=10)
    #: Host names the portal answers to; any other Host header gets a 400 (empty: any host,
    #: refused at start in production, see `production_problems`).
    trusted_hosts: tuple[str, ...] = ()
    #: Reverse proxies in front of the app whose X-Forwarded-For/-Proto are believed (0: none).
    trusted_proxies: int = 0
    #: A development or demo machine (EDC_DEV=1): the production checks at start are off.
    development: bool = False
    #: How mail leaves: "smtp", "console" (logged, for the demo) or "none" (resets then need a
    #: second administrator's approval, see edc/services/links.py).
    mail_backend: str = "none"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    #: "" (plain, a local relay), "starttls" or "ssl".
    smtp_security: str = ""
    mail_from: str = "edc@localhost"
    #: Links in mail start with this, never with the Host header a request happened to carry.
    base_url: str = "http://127.0.0.1:5000"
    #: The institution's PKCS#12 (key + certificate chain) that seals consent PDFs; None: the
    #: demo keys of `flask econsent keys init` (development and tests only).
    consent_seal_p12: Path | None = None
    consent_seal_passphrase: str = ""
    #: RFC 3161 time-stamping authority for the seals (PAdES B-T); "": the demo TSA, if any.
    consent_tsa_url: str = ""
    #: PEM file of the certificates a sealed PDF is validated against (None: the demo CA).
    consent_trust_roots: Path | None = None
    #: How long a remote consent's invitation link works (EDC_CONSENT_INVITATION_HOURS).
    consent_invitation_lifetime: timedelta = timedelta(hours=72)
    #: The network's linkage secret (EDC_LINKAGE_SECRET): every site holds the same one, the
    #: registry never does; "" until configured (no linkage tokens are computed without it).
    linkage_secret: str = ""
    #: The registry's FHIR base URL (EDC_REGISTRY_URL; "": pushes stay queued) and how the
    #: worker authenticates: a bearer token, or a client certificate and key (PEM files).
    registry_url: str = ""
    registry_token: str = ""
    registry_client_cert: Path | None = None
    registry_client_key: Path | None = None
    #: A PEM bundle the registry's TLS certificate is checked against (None: the system's).
    registry_ca: Path | None = None
    registry_timeout: timedelta = timedelta(seconds=30)
    #: After this many failed tries an outbox row is parked for a data manager to retry.
    registry_max_attempts: int = 8
    #: The wait after the first failure, doubled after each (EDC_REGISTRY_RETRY_SECONDS), and
    #: the longest wait between two tries (EDC_REGISTRY_RETRY_MAX_SECONDS).
    registry_retry_first: timedelta = timedelta(seconds=30)
    registry_retry_max: timedelta = timedelta(hours=1)
    #: Where export files are written (None: <instance>/exports).
    export_dir: Path | None = None
    #: Days an export's file is kept for download before `flask export purge` removes it.
    export_keep_days: int = 30

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.account_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"EDC_ACCOUNT_TIMEZONE: unknown time zone {self.account_timezone!r} "
                "(an IANA name such as Europe/Brussels)"
            ) from exc
        if self.mail_backend not in MAIL_BACKENDS:
            raise ValueError(f"EDC_MAIL_BACKEND must be one of {', '.join(MAIL_BACKENDS)}")
        if self.smtp_security not in ("", "starttls", "ssl"):
            raise ValueError("EDC_SMTP_STARTTLS and EDC_SMTP_SSL: choose at most one")

    def production_problems(self) -> list[str]:
        """Why this configuration must not serve a production portal; the app refuses to start
        on any (tests, and machines started with EDC_DEV=1, are not production)."""
        if self.testing or self.development:
            return []
        found = []
        if not self.trusted_hosts:
            found.append(
                "EDC_TRUSTED_HOSTS is not set: give the host names the portal is reached by, "
                "comma-separated (e.g. EDC_TRUSTED_HOSTS=edc.example.org), or set EDC_DEV=1 on "
                "a development machine"
            )
        if not self.base_url.startswith("https://"):
            found.append(
                "EDC_BASE_URL must be the https:// address users reach the portal by "
                "(invitation and reset links start with it)"
            )
        if self.consent_seal_p12 is not None and not self.consent_tsa_url:
            found.append(
                "EDC_CONSENT_TSA_URL is not set: consent PDFs would be sealed without a "
                "time-stamp (PAdES B-B); give the institution's RFC 3161 time-stamping service"
            )
        if self.mail_backend == "console":
            found.append(
                "EDC_MAIL_BACKEND=console writes sign-in links into the log: use smtp, or none "
                "(resets then need a second administrator)"
            )
        return found

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Settings from the environment; secrets come from instance/ when not given."""
        instance = Path(os.environ.get("EDC_INSTANCE_PATH", ROOT / "instance"))
        default_db = f"sqlite:///{instance / 'edc.sqlite3'}"
        base = cls(
            database_url=os.environ.get("DATABASE_URL", default_db),
            secret_key=os.environ.get("EDC_SECRET_KEY") or _instance_secret(instance, "secret_key"),
            vault_key=os.environ.get("EDC_VAULT_KEY") or _instance_secret(instance, "vault_key"),
            audit_key=os.environ.get("EDC_AUDIT_KEY") or _instance_secret(instance, "audit_key"),
            instance_path=instance,
            vault_old_keys=tuple(
                k for k in os.environ.get("EDC_VAULT_OLD_KEYS", "").split(",") if k.strip()
            ),
            cookie_secure=os.environ.get("EDC_INSECURE_COOKIES", "") != "1",
            account_timezone=os.environ.get("EDC_ACCOUNT_TIMEZONE", "Europe/Brussels"),
            database_owner_url=os.environ.get("DATABASE_OWNER_URL", ""),
            audit_checkpoint_dir=(
                Path(os.environ["EDC_AUDIT_CHECKPOINT_DIR"])
                if os.environ.get("EDC_AUDIT_CHECKPOINT_DIR")
                else None
            ),
            audit_checkpoint_every=_minutes(os.environ.get("EDC_AUDIT_CHECKPOINT_MINUTES", "5")),
            trusted_hosts=_hosts(os.environ.get("EDC_TRUSTED_HOSTS", "")),
            trusted_proxies=_proxies(os.environ.get("EDC_TRUSTED_PROXIES", "0") or "0"),
            development=os.environ.get("EDC_DEV", "") == "1",
            **_mail_env(),
            **_consent_seal_env(),
            **_registry_env(),
        )
        return replace(base, **overrides)
