"""An HTTP client for the console's tests."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient


class Console(TestClient):
    """A TestClient that fills in the CSRF token the way the pages' forms do."""

    def token(self) -> str:
        page = self.get("/settings").text
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found, page
        return found.group(1)

    def submit(self, url: str, data: dict[str, str] | None = None) -> Any:
        return self.post(
            url, data={**(data or {}), "csrf_token": self.token()}, follow_redirects=False
        )
