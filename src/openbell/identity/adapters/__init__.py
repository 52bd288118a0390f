"""Identity's adapters: SQL and in-memory storage, argon2, AES-GCM, Ed25519 JWTs."""
