"""Settings read from the environment, with defaults that make a fresh clone work offline."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'data' / 'gka.sqlite'}"

# DUO publishes nothing below 5 pupils; 10 is the dashboard default. A deployment may raise it,
# never lower it below 5 (design §7).
DEFAULT_SUPPRESSION_THRESHOLD = 10
MIN_SUPPRESSION_THRESHOLD = 5


def database_url() -> str:
    return os.environ.get("GKA_DATABASE_URL") or DEFAULT_DATABASE_URL


def suppression_threshold() -> int:
    raw = os.environ.get("GKA_SUPPRESSION_THRESHOLD")
    value = int(raw) if raw else DEFAULT_SUPPRESSION_THRESHOLD
    return max(value, MIN_SUPPRESSION_THRESHOLD)


def sqlite_busy_seconds() -> float:
    """How long a write waits for SQLite's lock (held by an import) before it gives up."""
    return float(os.environ.get("GKA_SQLITE_BUSY_SECONDS", "30"))


def bcrypt_rounds() -> int:
    """12 in production; tests lower it (never below bcrypt's minimum of 4) to stay fast."""
    return max(4, int(os.environ.get("GKA_BCRYPT_ROUNDS", "12")))


def max_failed_logins() -> int:
    return int(os.environ.get("GKA_MAX_FAILED_LOGINS", "5"))


def lockout_minutes() -> int:
    return int(os.environ.get("GKA_LOCKOUT_MINUTES", "15"))


def idle_minutes() -> float:
    """A session ends after this many minutes without a click (BIO practice: at most 15)."""
    return float(auth_setting("idle_minutes", "GKA_IDLE_MINUTES", 15))


def session_hours() -> float:
    """A session ends this long after its login, however busy (the absolute lifetime): a working
    day by default. GKA_COOKIE_EXPIRY_DAYS, the older setting, still sets it where given."""
    days = auth_setting("cookie_expiry_days", "GKA_COOKIE_EXPIRY_DAYS", None)
    return float(days) * 24 if days is not None else float(auth_setting("session_hours", "GKA_SESSION_HOURS", 10))


def second_factor_roles() -> frozenset[str]:
    """The roles that must log in with a second factor: beheerders always (BIO2 5.17.01 asks it
    for administrator accounts); GKA_SECOND_FACTOR_ROLES=beheerder,regio,gemeente for everyone."""
    named = os.environ.get("GKA_SECOND_FACTOR_ROLES", "beheerder")
    return frozenset({"beheerder", *(r.strip() for r in named.split(",") if r.strip())})


def unused_days() -> int:
    """The access review flags accounts without a login for this long (BIO2 5.18: review access
    at least yearly; 90 days is a quarter, the rhythm for special rights)."""
    return int(os.environ.get("GKA_REVIEW_UNUSED_DAYS", "90"))


def basemap() -> bool:
    """Whether maps ask the browser for Carto's street tiles under the wijken.

    On by default; GKA_BASEMAP=none keeps every request inside the closed environment (a
    municipal network that blocks third parties). The wijken are drawn either way.
    """
    return os.environ.get("GKA_BASEMAP", "carto").lower() not in ("none", "off", "0", "")


def pdf_font_dir() -> Path:
    """Where the PDF export finds DejaVu Sans (Debian: fonts-dejavu-core), which has every
    character of a Dutch report (ë, —, →) that the PDF core fonts lack."""
    return Path(os.environ.get("GKA_PDF_FONT_DIR", "/usr/share/fonts/truetype/dejavu"))


def auth_setting(name: str, env: str, default=None):
    """A login setting from the environment or from [auth] in .streamlit/secrets.toml (the file
    Streamlit reads too), never from code; the HTTP routes need it outside any script run."""
    if os.environ.get(env):
        return os.environ[env]
    return _secrets().get("auth", {}).get(name, default)


def _secrets() -> dict:
    try:
        return tomllib.loads((PROJECT_ROOT / ".streamlit" / "secrets.toml").read_text(encoding="utf-8"))
    except (FileNotFoundError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def identity_providers() -> dict[str, dict]:
    """The organisations' OpenID Connect providers, by key: ``[oidc.<key>]`` tables in
    .streamlit/secrets.toml (label, issuer, client_id, client_secret, optional scope), and one from
    the environment (GKA_OIDC_ISSUER, GKA_OIDC_CLIENT_ID, GKA_OIDC_CLIENT_SECRET, GKA_OIDC_LABEL,
    GKA_OIDC_KEY). A table without issuer or client id is left out."""
    found = {key: dict(value) for key, value in _secrets().get("oidc", {}).items() if isinstance(value, dict)}
    if os.environ.get("GKA_OIDC_ISSUER"):
        found[os.environ.get("GKA_OIDC_KEY", "organisatie")] = {
            "label": os.environ.get("GKA_OIDC_LABEL", "uw organisatie"), "issuer": os.environ["GKA_OIDC_ISSUER"],
            "client_id": os.environ.get("GKA_OIDC_CLIENT_ID", ""),
            "client_secret": os.environ.get("GKA_OIDC_CLIENT_SECRET", "")}
    return {key: value for key, value in found.items() if value.get("issuer") and value.get("client_id")}


def public_origin() -> str | None:
    """The one origin (scheme, host and port, e.g. ``https://gka.example.nl``) whose pages may open
    the app's WebSocket and session routes; unset: the origin the request itself is addressed
    to (its Host header, port included)."""
    value = os.environ.get("GKA_PUBLIC_ORIGIN", "").strip().rstrip("/")
    return value or None


def behind_proxy() -> bool:
    """Set by ``python -m deploy`` for its app processes: their clients come through nginx, whose
    last X-Forwarded-For hop is the real client. Elsewhere the header is anyone's to write."""
    return os.environ.get("GKA_BEHIND_PROXY", "") == "1"
