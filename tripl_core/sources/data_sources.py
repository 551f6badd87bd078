"""Data sources: instance-level warehouse connections. Owners manage them; every role reads them.

Secrets are write-only. `password` is stored encrypted and shown as `password_set`. In `extra_params`, keys that
name credentials (`credentials_json`, `private_key`, anything with password/secret/token/credentials in its name,
see `warehouse.base.is_secret_key`) are split off, stored encrypted, and shown as `"<key>_set": true`; the other
keys are returned as given. PATCH merges `extra_params` key by key (a `null` value removes a key).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tripl_core import audit, outbound, secrets
from tripl_core.db.models.sources import DataSource, ScanConfig
from tripl_core.errors import Conflict, Invalid, NotFound, UpstreamError
from tripl_core.settings import get_settings
from tripl_core.warehouse import (
    ConnectionConfig,
    DBType,
    TableInfo,
    WarehouseAdapter,
    WarehouseError,
    bigquery,
    connect,
)
from tripl_core.warehouse.base import is_secret_key
from tripl_core.warehouse.roles import ALLOW_WRITE_KEY, Privileges
from tripl_core.warehouse.util import scrub_message

log = logging.getLogger("tripl.sources")

DEFAULT_PORTS = {DBType.clickhouse: 8123, DBType.postgres: 5432, DBType.bigquery: 443}
CONNECTION_FIELDS = ("db_type", "host", "port", "database_name", "username", "timeout_seconds")
AUDIT_FIELDS = ["name", "db_type", "host", "port", "database_name", "username", "timeout_seconds"]


def get(db: Session, ds_id: uuid.UUID) -> DataSource:
    ds = db.get(DataSource, ds_id)
    if ds is None:
        raise NotFound(f"Data source '{ds_id}' not found.")
    return ds


def list_all(db: Session) -> list[DataSource]:
    return list(db.scalars(select(DataSource).order_by(DataSource.name)))


def _secrets(ds: DataSource) -> dict[str, Any]:
    raw = secrets.decrypt(ds.extra_secrets_encrypted)
    return json.loads(raw) if raw else {}


def public_extra_params(ds: DataSource) -> dict[str, Any]:
    """What responses show: public keys as stored, secret keys only as `<key>_set: true`."""
    out = dict(ds.extra_params or {})
    if ds.extra_secrets_encrypted:
        # Key names are not secret; they are kept next to the ciphertext so listing needs no decryption.
        for key in (ds.extra_params or {}).get("__secret_keys__", []):
            out[f"{key}_set"] = True
    out.pop("__secret_keys__", None)
    return out


def password_set(ds: DataSource) -> bool:
    return bool(ds.password_encrypted)


def _check(db_type: DBType, host: str, database_name: str, extra: dict[str, Any]) -> None:
    if host.startswith("chdb:") and db_type != DBType.clickhouse:
        raise Invalid("host", "chdb:// (the embedded ClickHouse engine) needs db_type 'clickhouse'.")
    if db_type == DBType.bigquery:
        project = extra.get("project")  # unset or "": the project is `host` (as the adapter reads it)
        if project not in (None, "") and not (isinstance(project, str) and bigquery.NAME_RE.match(project)):
            raise Invalid(["extra_params", "project"], f"A BigQuery project id {bigquery.NAME_RULE}.")
        if project in (None, "") and not bigquery.NAME_RE.match(host):
            raise Invalid("host", f"The BigQuery project id {bigquery.NAME_RULE}.")
        if not bigquery.NAME_RE.match(database_name):
            raise Invalid("database_name", f"A BigQuery dataset {bigquery.NAME_RULE}.")
        endpoint = extra.get("api_endpoint")
        if endpoint is not None and (not isinstance(endpoint, str) or not endpoint.startswith(("http://",
                                                                                               "https://"))):
            raise Invalid(["extra_params", "api_endpoint"], "Must be an http(s) URL.")
        creds = extra.get("credentials_json")
        if creds is not None and not isinstance(creds, dict):
            try:
                json.loads(creds)
            except (TypeError, ValueError) as exc:
                raise Invalid(["extra_params", "credentials_json"], "Must be a service-account JSON.") from exc
    if ALLOW_WRITE_KEY in extra and extra[ALLOW_WRITE_KEY] is not None and not isinstance(extra[ALLOW_WRITE_KEY],
                                                                                           bool):
        raise Invalid(["extra_params", ALLOW_WRITE_KEY], "Must be true or false.")
    for key in extra:
        if not isinstance(key, str) or not key or len(key) > 100 or key == "__secret_keys__":
            raise Invalid(["extra_params", str(key)], "Keys are 1..100 characters.")
    _check_outbound(db_type, host, extra)


def _check_outbound(db_type: DBType, host: str, extra: dict[str, Any]) -> None:
    """A warehouse host the outbound policy refuses (loopback, metadata) is a 422 when saved, not a failed scan."""
    if db_type == DBType.bigquery:
        outbound.validate_url(["extra_params", "api_endpoint"], extra.get("api_endpoint"))
    elif not host.startswith("chdb:"):
        for name in host.split(",") if db_type == DBType.postgres else [host]:
            if name.strip() and not name.strip().startswith("/"):
                outbound.validate_host("host", name.strip())


def _apply_extra(ds: DataSource, extra: dict[str, Any], merge: bool) -> None:
    """Split `extra` into public and encrypted secret keys (merging into the stored ones when `merge`)."""
    public = {k: v for k, v in (ds.extra_params or {}).items() if k != "__secret_keys__"} if merge else {}
    hidden = _secrets(ds) if merge else {}
    for key, value in extra.items():
        if key.endswith("_set") and isinstance(value, bool):
            continue  # an echoed `<secret>_set` flag from a response, not a value
        target, other = (hidden, public) if is_secret_key(key) else (public, hidden)
        other.pop(key, None)
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    if hidden:
        public["__secret_keys__"] = sorted(hidden)
    ds.extra_params = public
    ds.extra_secrets_encrypted = secrets.encrypt(json.dumps(hidden)) if hidden else None


def create(db: Session, actor: audit.Actor, data: dict[str, Any]) -> DataSource:
    db_type = DBType(data["db_type"])
    extra = data.get("extra_params") or {}
    _check(db_type, data["host"], data["database_name"], extra)
    _unique_name(db, data["name"])
    ds = DataSource(
        name=data["name"], db_type=db_type, host=data["host"],
        port=data.get("port") or DEFAULT_PORTS[db_type], database_name=data["database_name"],
        username=data.get("username") or "", password_encrypted=secrets.encrypt(data.get("password") or None),
        timeout_seconds=data.get("timeout_seconds") or get_settings().warehouse_timeout_seconds,
    )
    _apply_extra(ds, extra, merge=False)
    db.add(ds)
    db.flush()
    audit.record(db, actor, "data_source.create", "data_source", ds.id, ds.name,
                 after={**audit.snapshot(ds, AUDIT_FIELDS), "password_set": password_set(ds),
                        "extra_params": public_extra_params(ds)})
    db.commit()
    return ds


def _unique_name(db: Session, name: str, exclude: uuid.UUID | None = None) -> None:
    existing = db.scalar(select(DataSource.id).where(DataSource.name == name))
    if existing is not None and existing != exclude:
        raise Conflict(f"A data source named '{name}' already exists.")


def update(db: Session, actor: audit.Actor, ds: DataSource, changes: dict[str, Any]) -> DataSource:
    before = {**audit.snapshot(ds, AUDIT_FIELDS), "password_set": password_set(ds),
              "extra_params": public_extra_params(ds)}
    db_type = DBType(changes["db_type"]) if changes.get("db_type") else ds.db_type
    host = changes.get("host") or ds.host
    merged_extra = {**public_extra_params(ds), **(changes.get("extra_params") or {})}
    _check(db_type, host, changes.get("database_name") or ds.database_name, merged_extra)
    if changes.get("name"):
        _unique_name(db, changes["name"], exclude=ds.id)
    connection_changed = False
    for key in ("name", *CONNECTION_FIELDS):
        value = changes.get(key)
        if value is not None and getattr(ds, key) != value:
            setattr(ds, key, DBType(value) if key == "db_type" else value)
            connection_changed |= key != "name"
    if "password" in changes and changes["password"] is not None:
        ds.password_encrypted = secrets.encrypt(changes["password"] or None)
        connection_changed = True
    if changes.get("extra_params") is not None:
        _apply_extra(ds, changes["extra_params"], merge=True)
        connection_changed = True
    if connection_changed:  # an old test result says nothing about the new settings
        ds.last_test_at = ds.last_test_status = ds.last_test_message = None
    db.flush()
    after = {**audit.snapshot(ds, AUDIT_FIELDS), "password_set": password_set(ds),
             "extra_params": public_extra_params(ds)}
    if "password" in changes and changes["password"]:
        after["password_changed"] = True
    b, a = audit.changed(before, after)
    audit.record(db, actor, "data_source.update", "data_source", ds.id, ds.name, before=b, after=a)
    db.commit()
    return ds


def delete(db: Session, actor: audit.Actor, ds: DataSource) -> None:
    used = db.scalar(select(func.count()).select_from(ScanConfig).where(ScanConfig.data_source_id == ds.id))
    if used:
        names = list(db.scalars(select(ScanConfig.name).where(ScanConfig.data_source_id == ds.id).limit(5)))
        raise Conflict(f"Data source '{ds.name}' is used by {used} scan config(s) ({', '.join(names)}); "
                       "delete them first.")
    audit.record(db, actor, "data_source.delete", "data_source", ds.id, ds.name,
                 before=audit.snapshot(ds, AUDIT_FIELDS))
    db.delete(ds)
    db.commit()


def connection_config(ds: DataSource) -> ConnectionConfig:
    """Decrypted connection parameters with the instance's caps."""
    settings = get_settings()
    extra = {k: v for k, v in (ds.extra_params or {}).items() if k != "__secret_keys__"}
    extra.update(_secrets(ds))
    return ConnectionConfig(
        db_type=ds.db_type, host=ds.host, port=ds.port, database=ds.database_name, username=ds.username,
        password=secrets.decrypt(ds.password_encrypted) or "", timeout_seconds=ds.timeout_seconds,
        extra_params=extra, max_result_rows=settings.warehouse_max_result_rows,
        maximum_bytes_billed=settings.warehouse_maximum_bytes_billed,
    )


def adapter_for(ds: DataSource) -> WarehouseAdapter:
    return connect(connection_config(ds))


def test_connection(db: Session, actor: audit.Actor, ds: DataSource) -> tuple[bool, str, datetime]:
    """Round-trip to the warehouse; failures are a result (success false + the driver's message), not an error."""
    tested_at = datetime.now(UTC)
    try:
        adapter = adapter_for(ds)
        try:
            ok, message = True, adapter.test_connection()
            ok, message = _judge_role(ds, adapter.privileges(), message)
        finally:
            adapter.close()
    except WarehouseError as exc:
        ok, message = False, str(exc)
    except Exception as exc:  # a driver bug must not become a 500 for a connectivity check
        log.info("data source %s test failed: %s", ds.id, type(exc).__name__)
        ok, message = False, _scrubbed(ds, f"{type(exc).__name__}: {exc}")
    ds.last_test_at, ds.last_test_status, ds.last_test_message = tested_at, "success" if ok else "failed", message
    audit.record(db, actor, "data_source.test", "data_source", ds.id, ds.name,
                 after={"success": ok, "message": message})
    db.commit()
    return ok, message, tested_at


def _scrubbed(ds: DataSource, text: str) -> str:
    """An unexpected driver error through the redaction step, like every WarehouseError (warehouse.util)."""
    try:
        return scrub_message(text, connection_config(ds))
    except Exception:  # noqa: BLE001 — the secrets cannot even be read (secret key changed): nothing to leak
        return text[:2000]


def _judge_role(ds: DataSource, found: Privileges, connected: str) -> tuple[bool, str]:
    """A role that can write (or a superuser) fails the test: user SQL is checked, but the role's own privileges
    are the layer that holds whatever a checker misses. `extra_params.allow_write_access: true` accepts the risk
    (the test then passes with a warning)."""
    described = found.describe()
    if found.read_only:
        return True, f"{connected} {described}"
    if (ds.extra_params or {}).get(ALLOW_WRITE_KEY) is True:
        return True, f"{connected} Warning: {described} Accepted because extra_params.{ALLOW_WRITE_KEY} is true; " \
            "connect with a read-only role instead (docs/warehouses.md)."
    return False, f"{connected} Refused: {described} Connect with a read-only role (CREATE ROLE … GRANT SELECT, see " \
        f"docs/warehouses.md), or set extra_params.{ALLOW_WRITE_KEY} to true to accept the risk."


def schema(ds: DataSource) -> list[TableInfo]:
    """Tables and columns of the source's database; an unreachable warehouse is a 502 with its message."""
    try:
        adapter = adapter_for(ds)
        try:
            return adapter.list_schema()
        finally:
            adapter.close()
    except WarehouseError as exc:
        raise UpstreamError(f"The warehouse did not answer: {exc}") from exc
