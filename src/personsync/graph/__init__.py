"""Microsoft Graph: Outlook contact folders in Microsoft 365 and Outlook.com.

- `config`: settings (environment, `graph.toml`), `auth`: sign-in with msal and the token cache,
- `client`: HTTP with paging, `$batch`, throttling, retries, a request budget and counters,
- `mapping`: Record ⇄ Graph contact JSON, driven by `fields.FIELDS`,
- `testserver`: a Graph-compatible server for tests and trying things by hand.

The store itself is `personsync.stores.graph` (folder URLs `graph:Contacts/...`).
"""
