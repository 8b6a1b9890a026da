"""Saved sync profiles: a direction, a contact folder, a view and a schedule, run on their own."""
