"""A real OpenID Connect provider on loopback for the tests (oidc-provider-mock: Authlib's
provider with discovery, signed ID tokens, registered clients, nonce and end-session endpoint),
never a stub that says yes. The test acts as the person at the provider's form."""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from urllib.parse import parse_qs, urlsplit

import requests
import werkzeug.serving

with warnings.catch_warnings():  # the provider itself still imports Authlib's deprecated modules
    warnings.simplefilter("ignore")
    import oidc_provider_mock

logging.getLogger("werkzeug").setLevel(logging.ERROR)


class Provider:
    def __init__(self, issuer: str):
        self.issuer = issuer
        self.client_id = self.client_secret = ""

    def register(self, redirect_uri: str) -> None:
        """A client of the dashboard, with exactly this redirect address."""
        answer = requests.post(self.issuer + "/oauth2/clients", timeout=10, json={
            "redirect_uris": [redirect_uri], "token_endpoint_auth_method": "client_secret_basic"})
        assert answer.status_code == 201, answer.text
        self.client_id, self.client_secret = answer.json()["client_id"], answer.json()["client_secret"]

    def person(self, sub: str, **claims) -> None:
        """A person the provider knows, with these claims (e.g. groups=[...], email=...)."""
        assert requests.put(f"{self.issuer}/users/{sub}", json=claims, timeout=10).status_code == 204

    def authorize(self, address: str, sub: str | None = None, deny: bool = False) -> dict:
        """The person at the provider's form: logs in as ``sub`` (or refuses); returns the query
        parameters the provider sends the browser back with."""
        answer = requests.post(address, data={"action": "deny"} if deny else {"sub": sub}, allow_redirects=False,
                               timeout=10)
        assert answer.status_code == 302, (answer.status_code, answer.text[:300])
        return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}

    def environment(self, key: str = "testorg", label: str = "Testorganisatie") -> dict:
        return {"GKA_OIDC_ISSUER": self.issuer, "GKA_OIDC_CLIENT_ID": self.client_id,
                "GKA_OIDC_CLIENT_SECRET": self.client_secret, "GKA_OIDC_KEY": key, "GKA_OIDC_LABEL": label}


@contextlib.contextmanager
def running():
    """The provider on 127.0.0.1 on a free port, in a thread of the test process."""
    app = oidc_provider_mock.app(require_client_registration=True, require_nonce=True)
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield Provider(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
