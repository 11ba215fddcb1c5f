"""Sign-in delegated to an OpenID Connect provider (Keycloak, Entra ID, Okta, Google…), optional.

authlib does the protocol: discovery, the authorization-code flow with state and nonce kept in
the signed session, the token request, and the ID token's signature (the provider's JWKS),
issuer, audience, expiry and nonce checks. crm2 only maps the verified identity to a console
user: the claim named by ``name_claim`` must be a name in ``console_users``, whose role applies
(add such people with ``crm2 users add NAME --role … --no-password``). A provider can say who
someone is; what they may do in crm2 stays crm2's decision, in one place.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

from authlib.integrations.starlette_client import OAuth


@dataclass(frozen=True)
class OidcSettings:
    issuer: str  # discovery document at <issuer>/.well-known/openid-configuration
    client_id: str
    client_secret: str
    name_claim: str = "preferred_username"
    scope: str = "openid profile email"
    verify: bool | str = True  # TLS verification: True, or a CA bundle path; never off

    @property
    def metadata_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"


def client(settings: OidcSettings) -> Any:
    """The registered authlib client ('oidc') for these settings."""
    verify: bool | ssl.SSLContext = settings.verify if isinstance(settings.verify, bool) else \
        ssl.create_default_context(cafile=settings.verify)
    if verify is False:
        raise ValueError("TLS verification of the OpenID Connect provider cannot be switched off")
    oauth = OAuth()
    oauth.register("oidc", client_id=settings.client_id, client_secret=settings.client_secret,
                   server_metadata_url=settings.metadata_url,
                   client_kwargs={"scope": settings.scope, "verify": verify, "timeout": 15})
    return oauth.oidc
