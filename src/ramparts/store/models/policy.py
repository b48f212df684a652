"""Gateway tables: policies (DNS, resolver, post-resolution, network, HTTP) and the named lists
their expressions use as ``$name``.

A list's entries live in their own row (``gateway_list_contents``) as one compressed blob of
normalised entries, so that listing lists never reads entries and 1,000,000 entries are one
row to write and one to read. Large uploads arrive in parts (the API body limit is 1 MiB)
and are staged in ``gateway_list_uploads`` / ``gateway_list_upload_parts`` until committed.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ramparts.store.models.base import HASH_LEN, NAME_MAX, Base, new_id, utcnow

PHASE_MAX = 16  # "dns_resolver" is the longest phase name
ACTION_MAX = 32
KIND_MAX = 8
URL_MAX = 2048  # longest list URL accepted (what common browsers and servers handle)
DESCRIPTION_MAX = 1000


class GatewayPolicy(Base):
    """One Gateway policy. ``precedence`` orders a phase (lowest first); unique per phase."""

    __tablename__ = "gateway_policies"
    __table_args__ = (UniqueConstraint("phase", "precedence", name="uq_gateway_policy_order"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    phase: Mapped[str] = mapped_column(String(PHASE_MAX))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    precedence: Mapped[int] = mapped_column(Integer)
    expression: Mapped[str] = mapped_column(Text, default="")
    identity: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(String(ACTION_MAX))
    settings: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    description: Mapped[str] = mapped_column(String(DESCRIPTION_MAX), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class GatewayList(Base):
    """A named list: its entries come from the API (inline, file upload) or from a URL."""

    __tablename__ = "gateway_lists"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(NAME_MAX), unique=True)
    kind: Mapped[str] = mapped_column(String(KIND_MAX))  # domain, host, ip, url, email
    description: Mapped[str] = mapped_column(String(DESCRIPTION_MAX), default="")
    source: Mapped[str] = mapped_column(String(KIND_MAX), default="inline")  # inline, url, file
    url: Mapped[str] = mapped_column(String(URL_MAX), default="")
    format: Mapped[str] = mapped_column(String(KIND_MAX), default="auto")
    refresh_seconds: Mapped[int] = mapped_column(Integer, default=0)
    entry_count: Mapped[int] = mapped_column(Integer, default=0)
    # sha256 of the normalised entries; what snapshot builders compare to skip a reload.
    content_hash: Mapped[str] = mapped_column(String(HASH_LEN), default="")
    # never, ok, unchanged, failed (URL lists)
    last_refresh_status: Mapped[str] = mapped_column(String(16), default="never")
    last_refresh_error: Mapped[str] = mapped_column(String(DESCRIPTION_MAX), default="")
    last_refresh_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class GatewayListContent(Base):
    """The entries of one list: normalised, sorted, one a line, compressed (see ``encoding``)."""

    __tablename__ = "gateway_list_contents"

    list_id: Mapped[str] = mapped_column(
        ForeignKey("gateway_lists.id", ondelete="CASCADE"), primary_key=True
    )
    encoding: Mapped[str] = mapped_column(String(16))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class GatewayListUpload(Base):
    """A staged upload of list content in parts; committed at once, or expired."""

    __tablename__ = "gateway_list_uploads"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    list_id: Mapped[str] = mapped_column(
        ForeignKey("gateway_lists.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class GatewayListUploadPart(Base):
    __tablename__ = "gateway_list_upload_parts"

    upload_id: Mapped[str] = mapped_column(
        ForeignKey("gateway_list_uploads.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
