"""The CRM side: Persons in SQL, views over them, migrations, CSV import.

`ALL_PERSONS` lives here, free of the database layer, so that command-line help can name the
built-in view without importing SQLAlchemy."""

ALL_PERSONS = "All Persons"  # the built-in view: every Person
