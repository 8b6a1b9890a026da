"""personsync: keep an organisation's Persons records and people's Outlook contacts in step."""

__version__ = "0.1.0"
