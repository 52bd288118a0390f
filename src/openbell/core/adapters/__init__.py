"""Journals and snapshot stores: in memory, SQLite and PostgreSQL."""
