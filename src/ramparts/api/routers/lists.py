"""/api/v1/lists: named lists used in policy expressions as ``$name``.

Entries come inline (a JSON array), from a file (a text body in plain, hosts or adblock
format; large files in parts through an upload, since request bodies are limited to 1 MiB),
or from a URL that the control plane downloads on a schedule (``POST …/refresh`` forces it).
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import json
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.orm import Session

from ramparts.api.auth import AdminActor, Plane
from ramparts.api.context import ControlPlane
from ramparts.api.errors import ApiError
from ramparts.api.list_refresh import ListRefreshRunner
from ramparts.api.pagination import (
    DEFAULT_PAGE_SIZE,
    CursorParam,
    Limit,
    created_cursor,
    decode_created_cursor,
    decode_cursor,
    encode_cursor,
    set_next,
)
from ramparts.config.gateway import referenced_lists, stored_entries
from ramparts.policy import ListFormatError, ListKind, make_list
from ramparts.policy.list_formats import ListFormat, parse_list
from ramparts.policy.refresh import DEFAULT_REFRESH_SECONDS
from ramparts.store.models import NAME_MAX, GatewayList
from ramparts.store.models.policy import DESCRIPTION_MAX, URL_MAX
from ramparts.store.repositories import audit, policies, policy_lists, versions
from ramparts.store.repositories.policy_lists import (
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_PARTS,
    EncodedEntries,
    EntryError,
)

router = APIRouter(prefix="/lists", tags=["lists"])

#: What ``$name`` accepts in an expression (see policy.lexer).
LIST_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"
#: Entries in one JSON body (the 1 MiB body limit allows about this many short names).
MAX_INLINE_ENTRIES = 100_000
MAX_ENTRY_CHARS = 2048
#: Refresh periods: not more often than a minute (be kind to list hosts), at least monthly.
MIN_REFRESH_SECONDS = 60
MAX_REFRESH_SECONDS = 30 * 86_400
#: Largest part of a staged upload (the API's body limit).
MAX_PART_BYTES = 1024 * 1024

ListRef = Annotated[
    str, Path(max_length=NAME_MAX, pattern=LIST_NAME_PATTERN, description="list id or name")
]
UploadId = Annotated[str, Path(max_length=36, pattern=r"^[0-9a-f-]+$")]
Kind = Literal["domain", "host", "ip", "url", "email"]
Source = Literal["inline", "url", "file"]
Format = Literal["auto", "plain", "hosts", "adblock"]
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX, pattern=LIST_NAME_PATTERN)]
Entry = Annotated[str, StringConstraints(max_length=MAX_ENTRY_CHARS)]
Refresh = Annotated[
    int | str | None,
    Field(default=None, description='seconds, or a duration such as "90m", "4h", "1d"'),
]
FormatQuery = Annotated[Format, Query(description="text format (auto guesses)")]

_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


class ListCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    kind: Kind
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    source: Source | None = Field(default=None, description="default: url with a url, else inline")
    entries: list[Entry] | None = Field(default=None, max_length=MAX_INLINE_ENTRIES)
    url: str | None = Field(default=None, max_length=URL_MAX)
    format: Format = "auto"
    refresh: Refresh = None


class ListUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    url: str | None = Field(default=None, max_length=URL_MAX)
    format: Format | None = None
    refresh: Refresh = None


class ListOut(BaseModel):
    id: str
    name: str
    kind: str
    description: str
    source: str
    url: str
    format: str
    refresh_seconds: int
    entries: int = Field(description="number of entries")
    content_hash: str
    last_refresh_status: str
    last_refresh_error: str
    last_refresh_at: dt.datetime | None
    used_by: list[str] = Field(description="policies whose expressions use the list")
    created_at: dt.datetime
    updated_at: dt.datetime
    skipped: int | None = Field(default=None, description="lines of an upload that were skipped")


class UploadOut(BaseModel):
    id: str
    max_part_bytes: int
    max_parts: int
    max_bytes: int


def _invalid(field: str, reason: str) -> ApiError:
    return ApiError(
        422,
        "invalid_request",
        f"invalid request: {field}: {reason}",
        [{"field": field, "reason": reason}],
    )


def _conflict(message: str, field: str) -> ApiError:
    return ApiError(409, "conflict", message, [{"field": field, "reason": message}])


def used_by(session: Session, name: str) -> list[str]:
    """Names of the policies whose expressions use ``$name``."""
    return [
        p.name
        for p in policies.mentioning(session, "$" + name)
        if name in referenced_lists(p.expression, p.identity)
    ]


def _out(session: Session, row: GatewayList, skipped: int | None = None) -> ListOut:
    return ListOut(
        id=row.id,
        name=row.name,
        kind=row.kind,
        description=row.description,
        source=row.source,
        url=row.url,
        format=row.format,
        refresh_seconds=row.refresh_seconds,
        entries=row.entry_count,
        content_hash=row.content_hash,
        last_refresh_status=row.last_refresh_status,
        last_refresh_error=row.last_refresh_error,
        last_refresh_at=row.last_refresh_at,
        used_by=used_by(session, row.name),
        created_at=row.created_at,
        updated_at=row.updated_at,
        skipped=skipped,
    )


def parse_refresh(value: int | str | None) -> int | None:
    """Seconds from an integer or a duration ("1h30m"); None when not given."""
    if value is None:
        return None
    if isinstance(value, int):
        seconds = value
    else:
        text = value.strip().lower()
        if text.isdigit():
            seconds = int(text)
        else:
            parts = _DURATION.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise _invalid("refresh", f"{value!r} is not a duration like 30m, 4h or 1d")
            seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if not MIN_REFRESH_SECONDS <= seconds <= MAX_REFRESH_SECONDS:
        raise _invalid(
            "refresh", f"between {MIN_REFRESH_SECONDS} s and {MAX_REFRESH_SECONDS // 86_400} days"
        )
    return seconds


def _check_url(url: str) -> str:
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        raise _invalid("url", "not a URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise _invalid("url", "give an absolute http:// or https:// URL")
    if any(c.isspace() or not c.isprintable() for c in url.strip()):
        raise _invalid("url", "a URL cannot contain spaces or control characters")
    return url.strip()


def _inline(name: str, kind: str, entries: list[str]) -> EncodedEntries:
    try:
        plist = make_list(name, ListKind(kind), entries)
    except ListFormatError as exc:
        index = (exc.line or 1) - 1
        raise _invalid(f"entries.{index}", exc.reason) from None
    return _encode(stored_entries(plist))


def _encode(entries: list[str]) -> EncodedEntries:
    try:
        return policy_lists.encode_entries(entries)
    except EntryError as exc:
        raise _invalid("entries", str(exc)) from None


def _parse_text(kind: str, data: bytes, fmt: str) -> tuple[EncodedEntries, int]:
    try:
        parsed = parse_list(data, ListKind(kind), ListFormat(fmt))
    except ListFormatError as exc:
        raise _invalid("body", str(exc)) from None
    plist = parsed.to_list("upload", ListKind(kind))
    return _encode(stored_entries(plist)), parsed.skipped


def _audit(session: Session, actor: str, action: str, row: GatewayList, **details: Any) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        resource_type="list",
        resource_id=row.id,
        details={"name": row.name, **details},
    )


def _write_entries(
    cp: ControlPlane, ref: str, actor: str, encoded: EncodedEntries, skipped: int | None
) -> ListOut:
    with cp.db.transaction() as session:
        row = policy_lists.get(session, ref)
        if row.source == "url":
            raise _conflict(
                f"list {row.name!r} gets its entries from its URL (use refresh)", "source"
            )
        if policy_lists.set_encoded(session, row, encoded):
            _audit(session, actor, "list.entries.replace", row, entries=encoded.count)
            versions.bump(session)
        return _out(session, row, skipped)


# -- CRUD -------------------------------------------------------------------------------------


@router.post("", status_code=201, response_model=ListOut)
def create_list(body: ListCreate, cp: Plane, actor: AdminActor) -> ListOut:
    source = body.source or ("url" if body.url else "inline")
    refresh = parse_refresh(body.refresh)
    url = ""
    if source == "url":
        if not body.url:
            raise _invalid("url", "a URL list needs a url")
        if body.entries is not None:
            raise _invalid("entries", "a URL list gets its entries from its URL")
        url = _check_url(body.url)
        refresh = refresh or int(DEFAULT_REFRESH_SECONDS)
    else:
        if body.url:
            raise _invalid("url", f"a {source} list has no url")
        if refresh is not None:
            raise _invalid("refresh", "only URL lists are refreshed")
    encoded = _inline(body.name, body.kind, body.entries) if body.entries else None
    with cp.db.transaction() as session:
        row = policy_lists.create(
            session,
            name=body.name,
            kind=body.kind,
            source=source,
            description=body.description,
            url=url,
            format=body.format,
            refresh_seconds=refresh or 0,
        )
        if encoded is not None:
            policy_lists.set_encoded(session, row, encoded)
        _audit(
            session,
            actor.name,
            "list.create",
            row,
            kind=row.kind,
            source=source,
            entries=row.entry_count,
        )
        versions.bump(session)
        return _out(session, row)


@router.get("", response_model=list[ListOut])
def list_lists(
    request: Request,
    response: Response,
    cp: Plane,
    _actor: AdminActor,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: CursorParam = None,
    kind: Annotated[Kind | None, Query(description="only lists of this kind")] = None,
) -> list[ListOut]:
    after = decode_created_cursor(cursor)
    with cp.db.session() as session:
        rows = policy_lists.page(session, limit=limit + 1, after=after, kind=kind)
        page = rows[:limit]
        if len(rows) > limit:
            last = page[-1]
            set_next(request, response, created_cursor(last.created_at, last.id))
        return [_out(session, r) for r in page]


@router.get("/{ref}", response_model=ListOut)
def get_list(ref: ListRef, cp: Plane, _actor: AdminActor) -> ListOut:
    with cp.db.session() as session:
        return _out(session, policy_lists.get(session, ref))


@router.patch("/{ref}", response_model=ListOut)
def update_list(ref: ListRef, body: ListUpdate, cp: Plane, actor: AdminActor) -> ListOut:
    given = body.model_dump(exclude_unset=True)
    for key, value in given.items():
        if value is None:
            raise _invalid(key, "cannot be null")
    with cp.db.transaction() as session:
        row = policy_lists.get(session, ref)
        changes: dict[str, Any] = {}
        if "name" in given and given["name"] != row.name:
            users = used_by(session, row.name)
            if users:
                raise _conflict(
                    f"list {row.name!r} is used by policies {', '.join(users)}: change them first",
                    "name",
                )
            changes["name"] = given["name"]
        if "description" in given:
            changes["description"] = given["description"]
        if "format" in given:
            changes["format"] = given["format"]
        if "url" in given or "refresh" in given:
            if row.source != "url":
                raise _invalid(
                    "url" if "url" in given else "refresh", f"{row.name!r} is not a URL list"
                )
            if "url" in given:
                changes["url"] = _check_url(given["url"])
            if "refresh" in given:
                changes["refresh_seconds"] = parse_refresh(given["refresh"])
        row = policy_lists.update(session, row.id, changes)
        _audit(session, actor.name, "list.update", row, fields=sorted(changes))
        versions.bump(session)
        return _out(session, row)


@router.delete("/{ref}", status_code=204)
def delete_list(ref: ListRef, cp: Plane, actor: AdminActor) -> Response:
    with cp.db.transaction() as session:
        row = policy_lists.get(session, ref)
        users = used_by(session, row.name)
        if users:
            raise _conflict(
                f"list {row.name!r} is used by policies {', '.join(users)}: change or delete "
                "them first",
                "name",
            )
        policy_lists.delete_list(session, row.id)
        _audit(session, actor.name, "list.delete", row)
        versions.bump(session)
    return Response(status_code=204)


# -- entries ----------------------------------------------------------------------------------


@router.get("/{ref}/entries", response_model=list[str])
def get_entries(
    request: Request,
    response: Response,
    ref: ListRef,
    cp: Plane,
    _actor: AdminActor,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: CursorParam = None,
) -> list[str]:
    """Entries in sorted order, as stored (normalised)."""
    with cp.db.session() as session:
        entries = policy_lists.entries(session, policy_lists.get(session, ref))
    start = 0
    if cursor:
        (after,) = decode_cursor(cursor, 1)
        start = bisect.bisect_right(entries, str(after))
    page = entries[start : start + limit]
    if start + limit < len(entries):
        set_next(request, response, encode_cursor([page[-1]]))
    return page


@router.put("/{ref}/entries", response_model=ListOut)
async def replace_entries(
    request: Request, ref: ListRef, cp: Plane, actor: AdminActor, format: FormatQuery = "auto"
) -> ListOut:
    """Replace the entries: a JSON array of entries (strict: a bad entry is a 422), or a
    text body in ``format`` (lenient: lines that are not entries are skipped and counted)."""
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    row = await asyncio.to_thread(_get, cp, ref)
    skipped: int | None = None
    if content_type == "application/json":
        try:
            items = json.loads(body)
        except (ValueError, RecursionError):
            raise _invalid("body", "not JSON") from None
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise _invalid("body", "give a JSON array of strings")
        if len(items) > MAX_INLINE_ENTRIES or any(len(i) > MAX_ENTRY_CHARS for i in items):
            raise _invalid(
                "body", f"at most {MAX_INLINE_ENTRIES} entries of {MAX_ENTRY_CHARS} characters"
            )
        encoded = await asyncio.to_thread(_inline, row.name, row.kind, items)
    else:
        encoded, skipped = await asyncio.to_thread(_parse_text, row.kind, body, format)
    return await asyncio.to_thread(_write_entries, cp, ref, actor.name, encoded, skipped)


def _get(cp: ControlPlane, ref: str) -> GatewayList:
    with cp.db.session() as session:
        return policy_lists.get(session, ref)


@router.post("/{ref}/uploads", status_code=201, response_model=UploadOut)
def start_upload(ref: ListRef, cp: Plane, _actor: AdminActor) -> UploadOut:
    """Stage a large text upload: PUT its parts in order, then commit."""
    with cp.db.transaction() as session:
        row = policy_lists.get(session, ref)
        if row.source == "url":
            raise _conflict(f"list {row.name!r} gets its entries from its URL", "source")
        upload = policy_lists.start_upload(session, row)
        return UploadOut(
            id=upload.id,
            max_part_bytes=MAX_PART_BYTES,
            max_parts=MAX_UPLOAD_PARTS,
            max_bytes=MAX_UPLOAD_BYTES,
        )


@router.put("/{ref}/uploads/{upload_id}/parts/{seq}", status_code=204)
async def put_part(
    request: Request,
    ref: ListRef,
    upload_id: UploadId,
    seq: Annotated[int, Path(ge=0, lt=MAX_UPLOAD_PARTS)],
    cp: Plane,
    _actor: AdminActor,
) -> Response:
    data = await request.body()

    def store() -> None:
        with cp.db.transaction() as session:
            row = policy_lists.get(session, ref)
            upload = policy_lists.get_upload(session, row, upload_id)
            policy_lists.put_part(session, upload, seq, data)

    await asyncio.to_thread(store)
    return Response(status_code=204)


@router.post("/{ref}/uploads/{upload_id}/commit", response_model=ListOut)
async def commit_upload(
    ref: ListRef, upload_id: UploadId, cp: Plane, actor: AdminActor, format: FormatQuery = "auto"
) -> ListOut:
    """Parse the staged parts as one text in ``format`` and replace the entries with it."""

    def staged() -> tuple[GatewayList, bytes]:
        with cp.db.session() as session:
            row = policy_lists.get(session, ref)
            upload = policy_lists.get_upload(session, row, upload_id)
            return row, policy_lists.upload_data(session, upload)

    row, data = await asyncio.to_thread(staged)
    encoded, skipped = await asyncio.to_thread(_parse_text, row.kind, data, format)
    del data

    def write() -> ListOut:
        with cp.db.transaction() as session:
            upload = policy_lists.get_upload(session, policy_lists.get(session, row.id), upload_id)
            policy_lists.drop_upload(session, upload)
        return _write_entries(cp, row.id, actor.name, encoded, skipped)

    return await asyncio.to_thread(write)


@router.delete("/{ref}/uploads/{upload_id}", status_code=204)
def abort_upload(ref: ListRef, upload_id: UploadId, cp: Plane, _actor: AdminActor) -> Response:
    with cp.db.transaction() as session:
        row = policy_lists.get(session, ref)
        policy_lists.drop_upload(session, policy_lists.get_upload(session, row, upload_id))
    return Response(status_code=204)


# -- refresh ----------------------------------------------------------------------------------


@router.post("/{ref}/refresh", response_model=ListOut)
async def refresh_list(request: Request, ref: ListRef, cp: Plane, actor: AdminActor) -> ListOut:
    """Download a URL list now; the result is in ``last_refresh_status``."""
    row = await asyncio.to_thread(_get, cp, ref)
    if row.source != "url":
        raise _conflict(f"list {row.name!r} is not a URL list", "source")
    runner: ListRefreshRunner | None = getattr(request.app.state, "list_refresh", None)
    if runner is None:
        raise ApiError(503, "unavailable", "list refresh is not running in this control plane")
    await runner.refresh_now(row.name, actor=actor.name)

    def read() -> ListOut:
        with cp.db.session() as session:
            return _out(session, policy_lists.get(session, row.id))

    return await asyncio.to_thread(read)
