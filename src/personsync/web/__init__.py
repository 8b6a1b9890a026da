"""The web console (`personsync serve`): a thin shell over the library, like the CLI."""
