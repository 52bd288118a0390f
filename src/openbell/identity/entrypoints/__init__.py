"""Identity's HTTP endpoints: the OAuth 2.0 token endpoint and the JWKS."""
