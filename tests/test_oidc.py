"""Login with the organisation's own account (issue #26), against a real OpenID Connect provider
on loopback: the code flow with PKCE, the ID token's checks, the beheerder's claim rules, and
what an attacker would try (a replayed or foreign callback, a forged token, a name like a local
account's)."""

import time

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import func, select

from gka_dash import audit
from gka_dash.access import auth, sessions, users
from gka_dash.access import oidc
from gka_dash.errors import AuthError
from gka_dash.schema import audit_log, oidc_pending
from gka_dash.schema import user as user_table

from . import identity_provider
from .conftest import raw

REDIRECT = "http://127.0.0.1:8501/_gka/oidc/terug"


@pytest.fixture(scope="module")
def idp():
    with identity_provider.running() as provider:
        provider.register(REDIRECT)
        yield provider


@pytest.fixture
def org(idp, engine, monkeypatch):
    """The dashboard configured for the provider, with rules a beheerder made."""
    from gka_dash.importers.open_data import import_open_data
    import_open_data(engine, raw("apcg/apcg_pc4_LA2014_LA2011-2012.csv"))  # real data: no demo here
    for name, value in idp.environment().items():
        monkeypatch.setenv(name, value)
    oidc._documents.clear()
    with engine.begin() as conn:
        oidc.add_rule(conn, "testorg", "groups", "gka-rotterdam", "gemeente", ["GM0599"], by="chef")
        oidc.add_rule(conn, "testorg", "email_domain", "ocw.nl", "regio", ["GM0599", "GM0363"], by="chef")
    return engine


def _login(engine, idp, sub, *, binding_override=None, deny=False):
    provider = oidc.providers()["testorg"]
    with engine.begin() as conn:
        address, binding = oidc.begin(conn, provider, REDIRECT, "/kaart?gemeente=GM0599")
    params = idp.authorize(address, sub, deny=deny)
    return oidc.finish(engine, params, binding_override or binding, "203.0.113.9"), params, binding


def _actions(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(r.action, r.detail) for r in conn.execute(select(audit_log.c.action, audit_log.c.detail)
                                                           .order_by(audit_log.c.id))]


def test_a_person_a_rule_knows_gets_role_scope_and_a_revocable_session(org, idp):
    idp.person("a-123", email="anna@rotterdam.nl", name="Anna de Vries", groups=["gka-rotterdam", "iets-anders"])
    login, _, _ = _login(org, idp, "a-123")
    assert login.return_to == "/kaart?gemeente=GM0599"
    with org.connect() as conn:
        account = users.get_user(conn, login.username)
        assert sessions.username(conn, login.token) == login.username
    assert (account.role, account.gemeenten, account.login_via) == ("gemeente", ("GM0599",), "testorg")
    assert account.name == "Anna de Vries" and account.last_login_at is not None
    with org.begin() as conn:  # the same session as a password login's: logout ends it everywhere
        assert sessions.revoke(conn, login.token)[0] == "testorg"
        assert sessions.username(conn, login.token) is None
    with org.connect() as conn:  # no password opens this account
        assert auth.credentials(conn, "-")["usernames"][login.username]["password"] != ""
        assert users.password_hash(conn, login.username).startswith("$2")
    again, _, _ = _login(org, idp, "a-123")
    assert again.username == login.username  # found again by provider and subject


def test_a_person_no_rule_knows_gets_no_account_and_an_audit_line_says_so(org, idp):
    idp.person("b-456", email="bert@elders.nl", email_verified=True, groups=["gka-utrecht"])
    with org.connect() as conn:
        before = conn.execute(select(func.count()).select_from(user_table)).scalar()
    with pytest.raises(oidc.Refused) as refused:
        _login(org, idp, "b-456")
    assert refused.value.code == "geen_toegang"
    with org.connect() as conn:
        assert conn.execute(select(func.count()).select_from(user_table)).scalar() == before
    action, detail = _actions(org)[-1]
    assert action == "oidc_refused" and "b-456" in detail and "elders.nl" in detail
    assert audit.result_of(action) == "geweigerd"


def test_the_widest_role_and_every_gemeente_of_the_matching_rules(org, idp):
    idp.person("c-789", email="carla@ocw.nl", email_verified=True, groups=["gka-rotterdam"])
    login, _, _ = _login(org, idp, "c-789")
    with org.connect() as conn:
        account = users.get_user(conn, login.username)
    assert (account.role, account.gemeenten) == ("regio", ("GM0363", "GM0599"))
    for sub, claims in (("d-1", {"email_verified": False}), ("d-2", {}), ("d-3", {"email_verified": "true"})):
        idp.person(sub, email=f"{sub}@ocw.nl", **claims)  # an address not verified (as JSON true) proves nothing
        with pytest.raises(oidc.Refused):
            _login(org, idp, sub)
    idp.person("d-4", email="d4@OCW.NL", email_verified=True)  # a domain is not case-sensitive
    assert _login(org, idp, "d-4")[0].username


def test_a_beheerder_through_the_provider_needs_a_second_factor_there(org, idp):
    with org.begin() as conn:
        oidc.add_rule(conn, "testorg", "groups", "gka-beheer", "beheerder", by="chef")
        with pytest.raises(AuthError):  # never a beheerder by e-mail domain
            oidc.add_rule(conn, "testorg", "email_domain", "ocw.nl", "beheerder", by="chef")
    idp.person("f-1", email="f@ocw.nl", groups=["gka-beheer"], amr=["pwd"])
    with pytest.raises(oidc.Refused) as refused:
        _login(org, idp, "f-1")
    assert refused.value.code == "geen_mfa"
    idp.person("f-2", email="f2@ocw.nl", groups=["gka-beheer"], amr=["pwd", "mfa"])
    login, _, _ = _login(org, idp, "f-2")
    with org.connect() as conn:
        assert users.get_user(conn, login.username).role == "beheerder"
    idp.person("f-3", groups=["GKA-BEHEER"], amr=["mfa"])  # a group is matched exactly
    with pytest.raises(oidc.Refused):
        _login(org, idp, "f-3")


def test_guessing_a_password_for_a_provider_account_locks_nothing(org, idp):
    from datetime import timedelta
    idp.person("a-123", email="anna@rotterdam.nl", groups=["gka-rotterdam"])
    login, _, _ = _login(org, idp, "a-123")
    with org.begin() as conn:
        for origin in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"):
            for _ in range(6):
                assert not users.begin_attempt(conn, login.username, origin, max_failures=5,
                                               lockout=timedelta(minutes=15))
        assert not users.get_user(conn, login.username).locked()
        assert sessions.username(conn, login.token) == login.username


def test_a_callback_replayed_or_finished_in_another_browser_opens_nothing(org, idp):
    idp.person("a-123", email="anna@rotterdam.nl", groups=["gka-rotterdam"])
    with pytest.raises(oidc.Refused) as refused:  # an attacker's browser, without the binding cookie
        _login(org, idp, "a-123", binding_override="niet-de-eigen-cookie")
    assert refused.value.code == "verlopen"
    login, params, binding = _login(org, idp, "a-123")
    with pytest.raises(oidc.Refused) as refused:  # the same answer once more
        oidc.finish(org, params, binding, "203.0.113.9")
    assert refused.value.code == "verlopen"
    with org.connect() as conn:
        assert conn.execute(select(func.count()).select_from(oidc_pending)
                            .where(oidc_pending.c.used_at.is_(None))).scalar() == 0  # both used up


def test_a_refusal_at_the_provider_is_said_and_audited_and_an_unknown_state_floods_nothing(org, idp):
    from urllib.parse import parse_qs, urlsplit
    provider = oidc.providers()["testorg"]
    with org.begin() as conn:
        address, binding = oidc.begin(conn, provider, REDIRECT, "/")
    state = parse_qs(urlsplit(address).query)["state"][0]  # a provider that refuses answers with the state (RFC 6749 4.1.2.1)
    with pytest.raises(oidc.Refused) as refused:
        oidc.finish(org, {"state": state, "error": "access_denied"}, binding, "203.0.113.9")
    assert refused.value.code == "afgebroken"
    assert _actions(org)[-1][0] == "oidc_refused" and "access_denied" in _actions(org)[-1][1]
    before = len(_actions(org))
    for _ in range(5):  # anyone may send made-up answers: refused, and not one audit line each
        with pytest.raises(oidc.Refused):
            oidc.finish(org, {"state": "verzonnen", "code": "x"}, "y", "203.0.113.9")
    assert len(_actions(org)) == before


def test_a_forged_or_unsigned_id_token_is_refused(org, idp):
    import base64
    import json
    from joserfc.errors import JoseError
    provider = oidc.providers()["testorg"]
    kid = oidc._fetch(oidc.metadata(provider)["jwks_uri"])["keys"][0]["kid"]  # the provider's own key id
    now = int(time.time())
    claims = {"iss": provider.issuer, "aud": provider.client_id, "sub": "a-123", "nonce": "n", "iat": now,
              "exp": now + 300}
    forged = jwt.encode({"alg": "RS256", "kid": kid}, claims, RSAKey.generate_key(2048))
    with pytest.raises(JoseError, match="signature"):  # signed by a key the provider never published
        oidc.validated_claims(provider, {"id_token": forged}, "n")

    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    with pytest.raises(JoseError):  # no signature at all
        oidc.validated_claims(provider, {"id_token": f"{part({'alg': 'none', 'kid': kid})}.{part(claims)}."}, "n")


def test_a_real_id_token_with_the_wrong_audience_issuer_nonce_or_time_is_refused(org, idp):
    """The provider's own, well-signed token, checked as if for another client, another issuer,
    another login, or a day later: each refused; the control passes."""
    from dataclasses import replace

    from authlib.integrations.requests_client import OAuth2Session
    from joserfc.errors import JoseError
    provider = oidc.providers()["testorg"]
    meta = oidc.metadata(provider)
    idp.person("a-123", email="anna@rotterdam.nl", groups=["gka-rotterdam"])
    client = OAuth2Session(provider.client_id, provider.client_secret, scope="openid email", redirect_uri=REDIRECT,
                           code_challenge_method="S256")
    address, _ = client.create_authorization_url(meta["authorization_endpoint"], nonce="n-1", code_verifier="v" * 50)
    token = client.fetch_token(meta["token_endpoint"], grant_type="authorization_code",
                               code=idp.authorize(address, "a-123")["code"], code_verifier="v" * 50)
    assert oidc.validated_claims(provider, token, "n-1")["sub"] == "a-123"
    other_host = replace(provider, issuer=provider.issuer.replace("127.0.0.1", "localhost"))  # its own discovery agrees
    for checked, nonce, now, what in [(replace(provider, client_id="een-andere-client"), "n-1", None, "aud"),
                                      (other_host, "n-1", None, "iss"), (provider, "n-2", None, "nonce"),
                                      (provider, "n-1", int(time.time()) + 86400, "expired")]:
        with pytest.raises(JoseError, match=what):
            oidc.validated_claims(checked, token, nonce, now=now)


def test_a_provider_account_named_like_a_local_account_does_not_become_it(org, idp):
    with org.begin() as conn:
        users.add_user(conn, "anna@rotterdam.nl", role="beheerder", password="een-lang-wachtwoord")
    idp.person("e-2", email="anna@rotterdam.nl", groups=["gka-rotterdam"])
    login, _, _ = _login(org, idp, "e-2")
    assert login.username != "anna@rotterdam.nl"
    with org.connect() as conn:
        assert users.get_user(conn, "anna@rotterdam.nl").role == "beheerder"  # untouched
        assert users.get_user(conn, login.username).role == "gemeente"


def test_removing_a_rule_ends_the_sessions_it_gave_and_rules_are_validated(org, idp):
    idp.person("a-123", email="anna@rotterdam.nl", groups=["gka-rotterdam"])
    login, _, _ = _login(org, idp, "a-123")
    with org.begin() as conn:
        first = oidc.rules(conn)[0]
        oidc.remove_rule(conn, first["id"], by="chef")
        assert sessions.username(conn, login.token) is None
    with pytest.raises(oidc.Refused):
        _login(org, idp, "a-123")
    with org.begin() as conn:
        for bad in [("elders", "groups", "x", "gemeente", ["GM0599"]), ("testorg", "iss", "x", "gemeente", ["GM0599"]),
                    ("testorg", "groups", "x", "beheerder", ["GM0599"]), ("testorg", "groups", "", "gemeente", ["GM0599"]),
                    ("testorg", "groups", "x", "gemeente", [])]:
            with pytest.raises(AuthError):
                oidc.add_rule(conn, *bad, by="chef")


def test_logout_goes_to_the_providers_end_session_with_the_id_token(org, idp):
    idp.person("a-123", email="anna@rotterdam.nl", groups=["gka-rotterdam"])
    login, _, _ = _login(org, idp, "a-123")
    with org.begin() as conn:
        provider_key, id_token = sessions.revoke(conn, login.token)
    address = oidc.end_session_address(provider_key, id_token, after="http://127.0.0.1:8501/")
    assert address.startswith(idp.issuer + "/oauth2/end_session?") and "id_token_hint=" in address
    with org.connect() as conn:  # the ID token is not kept once the session has ended
        assert conn.execute(select(func.count()).where(sessions.login_session.c.id_token.is_not(None))).scalar() == 0


@pytest.mark.parametrize("path, kept", [("/kaart?gemeente=GM0599", True), ("//evil.example/x", False),
                                        ("https://evil.example/", False), ("/\\evil.example", False),
                                        ("", False)])
def test_the_return_address_stays_on_this_site(path, kept):
    assert (oidc.safe_return(path) == path) is kept


def test_keys_rotated_at_the_provider_are_fetched_again_once_and_an_unknown_key_stays_refused(org, idp, monkeypatch):
    """The key set is cached for an hour; a provider that rotates its keys within that hour must
    not lock everyone out until it ends, and a token naming a key nobody published is still refused."""
    from joserfc.errors import JoseError
    provider = oidc.providers()["testorg"]
    meta = oidc.metadata(provider)
    idp.person("r-1", email="rob@rotterdam.nl", groups=["gka-rotterdam"])
    # The set as it was before the rotation: one old key, cached a minute ago (this provider's
    # tokens name no key id, so only the signature tells).
    oidc._documents[meta["jwks_uri"]] = (time.monotonic() - 60,
                                         {"keys": [RSAKey.generate_key(2048, parameters={"kid": "oud"}).as_dict(private=False)]})
    fetched = []
    real_get = oidc.requests.get
    monkeypatch.setattr(oidc.requests, "get", lambda url, **kw: fetched.append(url) or real_get(url, **kw))
    login, _, _ = _login(org, idp, "r-1")
    assert login.username and fetched.count(meta["jwks_uri"]) == 1  # fetched again, once, and the login holds
    now = int(time.time())
    stranger = jwt.encode({"alg": "RS256", "kid": "niemand"}, {"iss": provider.issuer, "aud": provider.client_id,
                                                               "sub": "x", "nonce": "n", "iat": now, "exp": now + 60},
                          RSAKey.generate_key(2048))
    with pytest.raises(JoseError, match="kid"):
        oidc.validated_claims(provider, {"id_token": stranger}, "n")
    assert fetched.count(meta["jwks_uri"]) == 1  # the set was just fetched: no second look for it


def test_a_flood_of_starts_spends_its_own_addresses_share_and_is_told_in_dutch(org, idp, monkeypatch):
    """Each start stores a row before anyone is known. Starts count per address, used ones too
    (a start with a junk callback is no way around it), so a script locks out its own address,
    not the next person; the table has its own bound besides; expired starts free the share."""
    from datetime import timedelta
    from sqlalchemy import update
    provider = oidc.providers()["testorg"]
    monkeypatch.setattr(oidc, "STARTS_PER_CLIENT", 3)
    monkeypatch.setattr(oidc, "MAX_PENDING", 5)
    attacker, person = "198.51.100.7", "203.0.113.20"
    idp.person("f-1", email="fien@rotterdam.nl", groups=["gka-rotterdam"])
    with org.begin() as conn:
        for _ in range(2):
            oidc.begin(conn, provider, REDIRECT, "/", attacker)
    with org.begin() as conn:
        address, binding = oidc.begin(conn, provider, REDIRECT, "/", attacker)
    with pytest.raises(oidc.Refused):  # its callback with a junk code uses the start up; it still counts
        oidc.finish(org, {**idp.authorize(address, "f-1"), "code": "rommel"}, binding, attacker)
    with org.begin() as conn, pytest.raises(oidc.Refused) as refused:
        oidc.begin(conn, provider, REDIRECT, "/", attacker)
    assert refused.value.code == "druk" and "probeer het" in oidc.REFUSALS["druk"].lower()
    with org.begin() as conn:  # someone else starts as before, until the table's own bound
        for _ in range(2):
            oidc.begin(conn, provider, REDIRECT, "/", person)
    with org.begin() as conn, pytest.raises(oidc.Refused):
        oidc.begin(conn, provider, REDIRECT, "/", "192.0.2.1")
    with org.begin() as conn:  # once they expire, the attacker's share is free again
        conn.execute(update(oidc_pending).values(created_at=audit.now() - oidc.PENDING - timedelta(seconds=1)))
        oidc.begin(conn, provider, REDIRECT, "/", attacker)
        assert conn.execute(select(func.count()).select_from(oidc_pending)).scalar_one() == 1


def test_an_answer_naming_another_issuer_or_hiding_its_issuer_is_refused(org, idp):
    """RFC 9207 against a mix-up between providers: the callback's iss must be the provider the
    login went to, and must be there when the provider says it sends it."""
    idp.person("m-1", email="mo@rotterdam.nl", groups=["gka-rotterdam"])
    provider = oidc.providers()["testorg"]

    def answer():
        with org.begin() as conn:
            address, binding = oidc.begin(conn, provider, REDIRECT, "/")
        return idp.authorize(address, "m-1"), binding
    params, binding = answer()
    with pytest.raises(oidc.Refused, match="andere uitgever"):
        oidc.finish(org, {**params, "iss": "https://idp.example.org"}, binding, "203.0.113.9")
    meta = oidc.metadata(provider)
    said = "iss" in params
    params, binding = answer()
    oidc._documents[provider.issuer + "/.well-known/openid-configuration"] = (
        time.monotonic(), {**meta, "authorization_response_iss_parameter_supported": True})
    without = {k: v for k, v in params.items() if k != "iss"}
    with pytest.raises(oidc.Refused, match="andere uitgever"):
        oidc.finish(org, without, binding, "203.0.113.9")
    params, binding = answer()  # the control: its own issuer, or none from a provider that never sends it
    oidc._documents.clear()
    assert oidc.finish(org, params if said else {**params, "iss": provider.issuer}, binding, "203.0.113.9").username
