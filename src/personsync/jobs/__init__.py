"""Running syncs for the shells that start them in the background (web console, profiles)."""
