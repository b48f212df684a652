"""The store's error hierarchy: the API maps these to 404 / 409 / 503."""


class StoreError(Exception):
    """Base class of every error raised by the store."""


class NotFound(StoreError):
    """The requested row does not exist."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class Conflict(StoreError):
    """A write would break a uniqueness rule (a name already taken, …)."""

    def __init__(self, kind: str, field: str, value: str) -> None:
        super().__init__(f"{kind} with {field} {value!r} already exists")
        self.kind = kind
        self.field = field
        self.value = value


class StoreUnavailable(StoreError):
    """The database cannot be reached or opened."""
