"""OpenRCM's local OAuth 2.0 issuer (client credentials, JWT access tokens, JWKS)."""
