"""Test suites shipped with personsync for stores written elsewhere (`store_contract`)."""
