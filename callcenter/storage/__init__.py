"""Durable state in PostgreSQL: the asyncpg pool, numbered SQL migrations, repositories."""
