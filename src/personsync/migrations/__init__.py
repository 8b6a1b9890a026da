"""Alembic migrations of the Persons database, shipped inside the package (see persons/migrate)."""
