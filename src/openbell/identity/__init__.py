"""Identity: who may call openbell. API clients, OAuth2 tokens, signing keys.

Layers point inward: entrypoints -> bootstrap -> adapters -> application -> domain.
"""
