"""Login with the organisation's own account (issue #26, BIO2 5.17): OpenID Connect's
authorisation-code flow with PKCE (RFC 7636), through Authlib.

The flow as the server runs it (``gka_dash.web`` has the two HTTP routes):

1. :func:`begin` stores a pending login, bound to the browser by the hash of a random cookie
   that only that browser gets, and returns the provider's authorisation address (state, nonce,
   S256 code challenge).
2. The provider sends the browser back with a code; :func:`finish` takes the pending login once,
   checks the binding, exchanges the code with the verifier, and validates the ID token
   (signature against the provider's keys, issuer, audience, nonce, expiry).
3. The claims (groups, roles, the e-mail domain) meet the beheerder's rules (:func:`grant`). No
   rule: no access, and an audit line says so. A rule: the account of this provider and subject
   gets the role and scope the rules give now, and a server-side session like a password login's
   (revocable, idle timeout, the same cookie).

Accounts of a provider are found by (provider, subject), never by name or e-mail: a provider
account named like a local account does not become it. They have no password.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError
from joserfc.jwk import KeySet
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from .. import audit, config
from . import auth, sessions, users
from ..errors import AuthError
from ..schema import oidc_pending, oidc_rule
from ..schema import user as user_table
from ..scope import ROLES

CLAIMS = {"groups": "groep", "roles": "rol", "email_domain": "e-maildomein"}  # what a rule may look at
PENDING = timedelta(minutes=10)
# Logins started within PENDING, at most: each start stores one before anyone is known, so without
# caps a script could fill the table. The GKA's 300 users log in far slower.
MAX_PENDING = 5000
STARTS_PER_CLIENT = 30  # per address in PENDING: a person retrying, an office behind one NAT address
ALGORITHMS = ["RS256", "PS256", "ES256"]  # asymmetric only: the client secret never verifies a token
TIMEOUT = 10
CACHE_SECONDS = 3600
REFETCH_AFTER = 30  # seconds: a key set younger than this is not fetched again for an unknown key


class Refused(Exception):
    """A login through the provider that gives no session; ``code`` names why for the login page
    (a fixed word, never text from the provider)."""

    def __init__(self, code: str, detail: str = "", username: str | None = None):
        super().__init__(detail or code)
        self.code, self.username = code, username


REFUSALS = {  # the login page's sentence for each refusal code
    "afgebroken": "Inloggen bij uw organisatie is afgebroken of mislukt. Probeer het opnieuw.",
    "verlopen": "Die inlogpoging is verlopen of hoort bij een andere browser. Probeer het opnieuw.",
    "geen_toegang": "Uw organisatie-account geeft (nog) geen toegang tot dit dashboard. Vraag de beheerder om "
                    "toegang voor uw groep of afdeling.",
    "geblokkeerd": "Dit account is uitgezet of tijdelijk geblokkeerd. Vraag de beheerder.",
    "geen_mfa": "Voor deze rol moet u bij uw organisatie inloggen met een tweede factor (bijvoorbeeld een app of "
                "sleutel). Uw organisatie gaf dat niet door; vraag de beheerder.",
    "druk": "Er worden nu ongewoon veel inlogpogingen tegelijk gestart. Probeer het over een paar minuten opnieuw.",
}


@dataclass(frozen=True)
class Provider:
    key: str
    label: str
    issuer: str
    client_id: str
    client_secret: str
    scope: str = "openid email profile"
    mfa_acr: tuple[str, ...] = ()  # acr values that count as a second factor at the provider


def providers() -> dict[str, Provider]:
    return {key: Provider(key, str(v.get("label") or key), str(v["issuer"]).rstrip("/"), str(v["client_id"]),
                          str(v.get("client_secret", "")), str(v.get("scope") or "openid email profile"),
                          tuple(str(a) for a in (v.get("mfa_acr") or ())))
            for key, v in config.identity_providers().items()}


_documents: dict[str, tuple[float, dict]] = {}


def _fetch(url: str) -> dict:
    found = _documents.get(url)
    if found is None or time.monotonic() - found[0] > CACHE_SECONDS:
        answer = requests.get(url, timeout=TIMEOUT)
        answer.raise_for_status()
        found = (time.monotonic(), answer.json())
        _documents[url] = found
    return found[1]


def metadata(provider: Provider) -> dict:
    """The provider's discovery document; its issuer must be the one configured (OIDC Discovery §4.3)."""
    found = _fetch(provider.issuer + "/.well-known/openid-configuration")
    if str(found.get("issuer", "")).rstrip("/") != provider.issuer:
        raise Refused("afgebroken", f"discovery names issuer {found.get('issuer')!r}, not {provider.issuer!r}")
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "end_session_endpoint"):
        if name in found and not _secure(str(found[name])):
            raise Refused("afgebroken", f"discovery gives {name} {str(found[name])[:80]!r}: not https")
    return found


def _secure(address: str) -> bool:
    """https, or plain http on this machine's loopback (a provider in the tests)."""
    parts = urlsplit(address)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1"))


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def safe_return(path: str | None) -> str:
    """Where the browser may go after the login: a path of this app only (no other site, no
    scheme, no protocol-relative ``//host``)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path or re.search(r"[\x00-\x1f]", path):
        return "/"
    return path[:500]


def begin(conn, provider: Provider, redirect_uri: str, return_to: str, client: str = "-") -> tuple[str, str]:
    """A login to send to the provider: returns (the authorisation address, the binding value
    for this browser's cookie). Each start stores a row before anyone is known, so starts are
    counted per client address (used ones too, until they expire): a script can spend its own
    address's share, not everyone's."""
    conn.execute(delete(oidc_pending).where(oidc_pending.c.created_at < audit.now() - PENDING))
    recent = select(func.count()).select_from(oidc_pending)
    if conn.execute(recent.where(oidc_pending.c.client == client)).scalar_one() >= STARTS_PER_CLIENT:
        raise Refused("druk", f"{STARTS_PER_CLIENT} inlogpogingen in {PENDING} van {client}")
    if conn.execute(recent).scalar_one() >= MAX_PENDING:
        raise Refused("druk", f"{MAX_PENDING} inlogpogingen tegelijk onderweg")  # the table's own bound
    state, nonce, verifier, binding = (secrets.token_urlsafe(32), secrets.token_urlsafe(32),
                                       secrets.token_urlsafe(64), secrets.token_urlsafe(32))
    session = OAuth2Session(provider.client_id, provider.client_secret, scope=provider.scope,
                            redirect_uri=redirect_uri, code_challenge_method="S256")
    address, _ = session.create_authorization_url(metadata(provider)["authorization_endpoint"], state=state,
                                                  nonce=nonce, code_verifier=verifier)
    conn.execute(insert(oidc_pending).values(
        state_hash=_hash(state), provider=provider.key, nonce=nonce, verifier=verifier,
        binding_hash=_hash(binding), redirect_uri=redirect_uri, return_to=safe_return(return_to),
        created_at=audit.now(), client=client[:64]))
    return address, binding


@dataclass(frozen=True)
class Login:
    username: str
    token: str
    return_to: str


def _take_pending(conn, state: str | None, binding: str | None):
    """The pending login of this state, taken once; None when unknown, expired or started in
    another browser (the binding cookie is not there or not its own)."""
    if not state:
        return None
    row = conn.execute(select(oidc_pending).where(oidc_pending.c.state_hash == _hash(state))).first()
    if row is None:
        return None
    if conn.execute(update(oidc_pending).where(oidc_pending.c.state_hash == row.state_hash,
                                               oidc_pending.c.used_at.is_(None))
                    .values(used_at=audit.now())).rowcount != 1:
        return None  # used before, or another callback took it first; kept until it expires, to count
    if audit.aware(row.created_at) < audit.now() - PENDING or not binding:
        return None
    if not secrets.compare_digest(row.binding_hash, _hash(binding)):
        return None
    return row


def _decode(jwks_uri: str, id_token: str):
    """The token checked against the provider's published keys. The set is cached for an hour; a
    token that no cached key verifies may mean the provider rotated its keys within that hour,
    so the set is fetched again, once (and not within REFETCH_AFTER of the last fetch), before
    the token is refused. (Only a token from the provider's own token endpoint gets here, so
    nobody else can make the server fetch.)"""
    try:
        return jwt.decode(id_token, KeySet.import_key_set(_fetch(jwks_uri)), algorithms=ALGORITHMS)
    except (InvalidKeyIdError, BadSignatureError):
        cached = _documents.get(jwks_uri)
        if cached is not None and time.monotonic() - cached[0] < REFETCH_AFTER:
            raise  # just fetched: the provider does not publish this key
        _documents.pop(jwks_uri, None)
        return jwt.decode(id_token, KeySet.import_key_set(_fetch(jwks_uri)), algorithms=ALGORITHMS)


def validated_claims(provider: Provider, token: dict, nonce: str, now: int | None = None) -> dict:
    """The ID token's claims, after its signature (the provider's published keys, asymmetric
    algorithms only), issuer, audience, nonce and expiry have been checked."""
    decoded = _decode(metadata(provider)["jwks_uri"], token["id_token"])
    claims = CodeIDToken(decoded.claims, decoded.header,
                         options={"iss": {"essential": True, "value": provider.issuer},
                                  "aud": {"essential": True, "value": provider.client_id}},
                         params={"nonce": nonce, "client_id": provider.client_id,
                                 "access_token": token.get("access_token")})
    claims.validate(now=now, leeway=60)
    return dict(claims)


def finish(engine, params: dict, binding: str | None, origin: str) -> Login:
    """The provider's answer (the callback's query parameters) to a session, or :class:`Refused`
    after an audit line that says why. The pending login is used up first, in a transaction of
    its own: a refused answer cannot be replayed."""
    try:
        return _finish(engine, params, binding, origin)
    except Refused as refused:
        if refused.code == "verlopen" and not refused.username:
            raise  # an unknown state is anyone's to send: no audit line per request (the log would flood)
        with engine.begin() as conn:
            audit.log(conn, refused.username or "-", "oidc_refused", str(refused)[:300], origin=origin)
        raise


def _finish(engine, params: dict, binding: str | None, origin: str) -> Login:
    with engine.begin() as conn:
        row = _take_pending(conn, params.get("state"), binding)
    if row is None:
        raise Refused("verlopen", "onbekende, verlopen of in een andere browser begonnen inlogpoging")
    provider = providers().get(row.provider)
    if provider is None or params.get("error") or not params.get("code"):
        raise Refused("afgebroken", f"{row.provider}: afgebroken ({str(params.get('error') or '')[:60]})")
    if not _from_its_issuer(provider, params):
        raise Refused("afgebroken", f"{provider.key}: antwoord van een andere uitgever ({str(params.get('iss'))[:80]})")
    try:
        client = OAuth2Session(provider.client_id, provider.client_secret, redirect_uri=row.redirect_uri,
                               code_challenge_method="S256")
        token = client.fetch_token(metadata(provider)["token_endpoint"], grant_type="authorization_code",
                                   code=params["code"], code_verifier=row.verifier, timeout=TIMEOUT)
        claims = validated_claims(provider, token, row.nonce)
    except Refused:
        raise
    except Exception as exc:  # the provider refused the code, or the token did not hold: no login
        raise Refused("afgebroken", f"{provider.key}: token niet geldig ({type(exc).__name__})") from None
    subject = str(claims["sub"])
    with engine.begin() as conn:
        granted = grant(conn, provider.key, claims)
        if granted is None:
            raise Refused("geen_toegang", f"{provider.key}: geen toegangsregel voor {_who(claims)}")
        if granted[0] in config.second_factor_roles() and not _strong(provider, claims):
            raise Refused("geen_mfa", f"{provider.key}: rol {granted[0]} zonder tweede factor bij de provider "
                                      f"({_who(claims)})")
        account = _account(conn, provider, subject, claims, *granted)
        if account.locked():
            raise Refused("geblokkeerd", f"{provider.key}: account uitgezet of geblokkeerd", account.username)
        users.record_login(conn, account.username, True, origin=origin, max_failures=config.max_failed_logins(),
                           lockout=timedelta(minutes=config.lockout_minutes()))
        token_value = sessions.create(conn, account.username, origin=origin, login_via=provider.key,
                                      id_token=token.get("id_token"))
    return Login(account.username, token_value, row.return_to)


def _from_its_issuer(provider: Provider, params: dict) -> bool:
    """RFC 9207: an answer that names its issuer must name the provider this login was sent to,
    and a provider that says it names it must do so. With several providers configured this
    stops a mix-up, in which one provider's code would be handed to another's token endpoint."""
    if "iss" in params:
        return str(params["iss"]).rstrip("/") == provider.issuer
    return not metadata(provider).get("authorization_response_iss_parameter_supported", False)


MFA_METHODS = {"mfa", "otp", "hwk", "swk", "sc", "fido", "face", "fpt", "iris", "retina", "vbm"}  # RFC 8176


def _strong(provider: Provider, claims: dict) -> bool:
    """Whether the provider says this login used more than a password: an ``amr`` value of
    RFC 8176 for a second factor, or an ``acr`` the provider's configuration names."""
    methods = claims.get("amr")
    if isinstance(methods, list) and MFA_METHODS & {str(m).lower() for m in methods}:
        return True
    return bool(provider.mfa_acr) and str(claims.get("acr", "")) in provider.mfa_acr


def _who(claims: dict) -> str:
    """Who knocked, for the audit line: the subject and the e-mail domain, no more personal data."""
    domain = _email_domain(claims)
    return f"sub {str(claims.get('sub'))[:40]}" + (f" ({domain})" if domain else "")


def _email_domain(claims: dict) -> str | None:
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email or claims.get("email_verified") is not True:
        return None  # only an address the provider says it verified proves anything
    domain = email.rsplit("@", 1)[1].strip()
    return domain.lower() if domain.isascii() else None  # no Unicode case folding (K → k)


def _values(claims: dict, claim: str) -> set[str]:
    if claim == "email_domain":
        domain = _email_domain(claims)
        return {domain} if domain else set()
    found = claims.get(claim)
    if isinstance(found, str):
        return {found}
    return {str(v) for v in found} if isinstance(found, list) else set()


def grant(conn, provider: str, claims: dict) -> tuple[str, tuple[str, ...]] | None:
    """The role and scope the rules give these claims: the widest role among the matching rules
    and every gemeente they name; None when no rule matches."""
    matched = [r for r in conn.execute(select(oidc_rule).where(oidc_rule.c.provider == provider))
               if (r.value.lower() if r.claim == "email_domain" else r.value) in _values(claims, r.claim)]
    if not matched:
        return None
    role = min((r.role for r in matched), key=ROLES.index)
    if role == "beheerder":
        return role, ()
    gemeenten = tuple(sorted({g for r in matched for g in r.gemeenten.split(",") if g}))
    return ("regio" if len(gemeenten) > 1 else role), gemeenten


def _account(conn, provider: Provider, subject: str, claims: dict, role: str, gemeenten: tuple[str, ...]):
    """This provider's account for this subject, made on its first login, its role and scope set
    to what the rules give now (a change audited, its other sessions ended)."""
    row = conn.execute(select(user_table.c.username).where(user_table.c.login_via == provider.key,
                                                           user_table.c.external_id == subject)).first()
    name = str(claims.get("name") or claims.get("preferred_username") or claims.get("email") or subject)[:200]
    email = str(claims.get("email") or "")[:200]
    if row is None:
        base = re.sub(r"[^a-z0-9@._-]", "", str(claims.get("email") or claims.get("preferred_username") or subject).lower())
        username = (base or "account")[:50]
        if users.get_user(conn, username) is not None:
            username = f"{username[:43]}-{_hash(provider.key + subject)[:6]}"
        try:
            with conn.begin_nested():
                conn.execute(insert(user_table).values(
                    username=username, name=name, email=email,
                    password_hash=auth.unusable_hash(config.bcrypt_rounds()), role=role, gemeenten=",".join(gemeenten),
                    demo=False, failed_logins=0, created_at=audit.now(), granted_by=f"regels {provider.key}",
                    login_via=provider.key, external_id=subject))
        except IntegrityError:  # the same person's first login in another tab won the race: that account
            raise Refused("afgebroken", f"{provider.key}: eerste inlog van {_who(claims)} tegelijk in twee tabbladen")
        audit.log(conn, f"regels {provider.key}", "user_add", f"{username} ({role} {','.join(gemeenten)})")
        return users.get_user(conn, username)
    found = users.get_user(conn, row.username)
    if (found.role, found.gemeenten) != (role, gemeenten):
        conn.execute(update(user_table).where(user_table.c.username == found.username).values(
            role=role, gemeenten=",".join(gemeenten), granted_by=f"regels {provider.key}"))
        sessions.revoke_user(conn, found.username, "role or scope changed")
        audit.log(conn, f"regels {provider.key}", "user_change", f"{found.username} ({role} {','.join(gemeenten)})")
    conn.execute(update(user_table).where(user_table.c.username == found.username).values(name=name, email=email))
    return users.get_user(conn, found.username)


def end_session_address(provider_key: str, id_token: str, after: str) -> str | None:
    """Where the browser goes to end its session at the provider too (RP-Initiated Logout), if
    the provider offers it."""
    provider = providers().get(provider_key)
    if provider is None:
        return None
    try:
        endpoint = metadata(provider).get("end_session_endpoint")
    except (requests.RequestException, ValueError, Refused):
        return None
    if not endpoint:
        return None
    return endpoint + ("&" if "?" in endpoint else "?") + urlencode(
        {"id_token_hint": id_token, "post_logout_redirect_uri": after, "client_id": provider.client_id})


# The beheerder's rules.

def rules(conn) -> list[dict]:
    return [dict(r._mapping) for r in conn.execute(select(oidc_rule).order_by(oidc_rule.c.provider, oidc_rule.c.id))]


def add_rule(conn, provider: str, claim: str, value: str, role: str, gemeenten=(), *, by: str) -> None:
    if provider not in providers():
        raise AuthError(f"identity provider '{provider}' is not configured")
    if claim not in CLAIMS:
        raise AuthError(f"claim '{claim}' is unknown; expected {', '.join(CLAIMS)}")
    value = value.strip()
    if not value or len(value) > 200:
        raise AuthError("a rule needs a value (at most 200 characters)")
    named = users.validate_grant(role, gemeenten)
    if claim == "email_domain" and role == "beheerder":
        raise AuthError("an e-mail domain names too many people for the beheerder role; use a group or app role")
    conn.execute(insert(oidc_rule).values(provider=provider, claim=claim, value=value, role=role,
                                          gemeenten=",".join(named), created_by=by, created_at=audit.now()))
    audit.log(conn, by, "oidc_rule_add", f"{provider}: {CLAIMS[claim]} {value} → {role} {','.join(named)}")


def remove_rule(conn, rule_id: int, *, by: str) -> None:
    """Remove a rule; every session of that provider's accounts ends, so no one keeps a right the
    rule gave (their next login takes the rules as they are then)."""
    row = conn.execute(select(oidc_rule).where(oidc_rule.c.id == rule_id)).first()
    if row is None:
        raise AuthError("that rule no longer exists")
    conn.execute(delete(oidc_rule).where(oidc_rule.c.id == rule_id))
    for username in conn.execute(select(user_table.c.username).where(user_table.c.login_via == row.provider)).scalars():
        sessions.revoke_user(conn, username, "access rule removed")
    audit.log(conn, by, "oidc_rule_remove", f"{row.provider}: {CLAIMS.get(row.claim, row.claim)} {row.value}")
