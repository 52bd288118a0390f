"""Adapters for the read model: SQL (SQLite, PostgreSQL) and in-memory."""
