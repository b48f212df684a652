"""A small synchronous client of the REST API for the CLI."""

from __future__ import annotations

from typing import Any

import httpx

from ramparts.cli.credentials import Credentials, load
from ramparts.cli.output import EXIT_UNAVAILABLE, fail

API_PREFIX = "/api/v1"
TIMEOUT = httpx.Timeout(15.0, connect=5.0)


class ApiClient:
    def __init__(self, credentials: Credentials) -> None:
        self._http = httpx.Client(
            base_url=credentials.api_url + API_PREFIX,
            headers={"Authorization": f"Bearer {credentials.token}"},
            timeout=TIMEOUT,
        )
        self.api_url = credentials.api_url

    @classmethod
    def from_saved(cls) -> ApiClient:
        credentials = load()
        if credentials is None:
            fail("not logged in: run `ramparts login --api URL --token TOKEN` first")
        return cls(credentials)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            fail(f"cannot reach the API at {self.api_url}: {exc}", EXIT_UNAVAILABLE)
        if response.status_code >= 400:
            fail(_error_message(response))
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def get_all(self, path: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every page of a list endpoint, following X-Next-Cursor."""
        items: list[Any] = []
        query = dict(params or {})
        while True:
            try:
                response = self._http.get(path, params=query)
            except httpx.HTTPError as exc:
                fail(f"cannot reach the API at {self.api_url}: {exc}", EXIT_UNAVAILABLE)
            if response.status_code >= 400:
                fail(_error_message(response))
            items.extend(response.json())
            cursor = response.headers.get("x-next-cursor")
            if not cursor:
                return items
            query["cursor"] = cursor


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        message = str(error["message"])
    except (ValueError, KeyError, TypeError):
        message = response.text.strip().splitlines()[0] if response.text.strip() else ""
    return f"{response.status_code}: {message}" if message else f"HTTP {response.status_code}"
