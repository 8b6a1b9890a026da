"""A Microsoft Graph–compatible server for tests and trying things by hand.

Written from Microsoft's documentation (contacts, contact folders, delta, `$batch`, throttling,
the identity platform's device-code and client-credentials flows), kept faithful to the service's
data shapes and limits, with injectable faults. Not a mock: it runs over real HTTP.
"""

from personsync.graph.testserver.server import TEST_CLIENT_ID, TEST_SECRET, GraphTestServer

__all__ = ["TEST_CLIENT_ID", "TEST_SECRET", "GraphTestServer"]
