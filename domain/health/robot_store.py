"""Alert robots set from the console: one stored row per kind, its address and secret sealed by the vault, each
change in the admin log with the robot's host only. Read back here, beside the environment's, so that every alert
path and the console agree on which robot sends."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.access.audit import AdminAction, append
from domain.clock import utcnow
from domain.columns import check_text
from domain.errors import Problems, UserError
from domain.health.errors import HealthErrorCode
from domain.health.models import StoredRobot
from domain.health.robots import (
    SECRET_LENGTH,
    WEBHOOK_LENGTH,
    RobotAddress,
    RobotConfig,
    RobotKind,
    RobotSource,
    check_webhook,
    environment_config,
)
from domain.i18n import msg
from domain.intake.vault import Vault
from domain.settings import Settings
from domain.sql import insert_absent


def _seal(vault: Vault, address: RobotAddress) -> bytes:
    return vault.seal(json.dumps({"webhook": address.webhook, "secret": address.secret}).encode())


def _open(vault: Vault, sealed: bytes) -> RobotAddress:
    stored = json.loads(vault.open(sealed))
    return RobotAddress(str(stored["webhook"]), None if stored.get("secret") is None else str(stored["secret"]))


def _config(vault: Vault, row: StoredRobot) -> RobotConfig:
    address = None if row.sealed is None else _open(vault, row.sealed)
    return RobotConfig(RobotKind(row.kind), RobotSource.STORED, address, row.enabled, row.set_by, row.set_at)


async def robot_configs(session: AsyncSession, vault: Vault, settings: Settings) -> list[RobotConfig]:
    """Both kinds, in RobotKind's order: the stored robot, else the environment's, else none."""
    rows = {r.kind: r for r in (await session.exec(select(StoredRobot))).all()}
    return [
        _config(vault, rows[kind]) if kind.value in rows else environment_config(settings, kind) for kind in RobotKind
    ]


async def robot_config(session: AsyncSession, vault: Vault, settings: Settings, kind: RobotKind) -> RobotConfig:
    row = await session.get(StoredRobot, kind.value)
    return environment_config(settings, kind) if row is None else _config(vault, row)


@dataclass(frozen=True)
class RobotChange:
    """`webhook` None keeps the stored address. A robot's secret belongs to its address: with a new webhook,
    `secret` is the new robot's (None: it does not sign); without one, None keeps the stored secret."""

    kind: RobotKind
    webhook: str | None
    secret: str | None
    enabled: bool

    def __repr__(self) -> str:  # never in a log or a traceback
        return f"RobotChange(kind={self.kind}, enabled={self.enabled})"


def _check(change: RobotChange, webhook: str | None, secret: str | None, settings: Settings) -> Problems:
    problems = Problems()
    if webhook is not None:
        check_text(problems, ("webhook",), webhook, WEBHOOK_LENGTH)
        check_webhook(problems, change.kind, webhook, settings.alert_robot_extra_hosts)
    if secret is not None and change.kind is not RobotKind.DINGTALK:
        problems.add(("secret",), msg("only a DingTalk robot signs its messages"), HealthErrorCode.SECRET_NOT_ACCEPTED)
    elif secret is not None:
        check_text(problems, ("secret",), secret, SECRET_LENGTH)
    return problems


async def _locked_row(session: AsyncSession, kind: RobotKind, actor: str) -> StoredRobot:
    """The kind's row, held until the unit of work ends. A first save creates it switched off and without an
    address (the unit of work fills it in, or rolls it back): two staff saving the first robot of a kind at the
    same moment then queue on the row instead of one failing on the key."""
    values = {"kind": kind.value, "enabled": False, "signed": False, "set_by": actor[:200], "set_at": utcnow()}
    await insert_absent(session, StoredRobot, values, ["kind"])
    query = select(StoredRobot).where(col(StoredRobot.kind) == kind.value).with_for_update()
    return (await session.exec(query.execution_options(populate_existing=True))).one()


async def set_robot(
    session: AsyncSession, vault: Vault, settings: Settings, change: RobotChange, actor: str
) -> RobotConfig:
    """Stores the robot of `change.kind`, which from now on wins over the environment's. Switched off without an
    address, it silences the environment's robot of that kind."""
    webhook = (change.webhook or "").strip() or None
    secret = (change.secret or "").strip() or None
    problems = _check(change, webhook, secret, settings)
    row = await _locked_row(session, change.kind, actor)
    current = None if row.sealed is None else _open(vault, row.sealed)
    if webhook is None and current is None and (change.enabled or secret is not None):
        problems.add(("webhook",), msg("required: no address is stored for this robot"), HealthErrorCode.REQUIRED)
    problems.raise_if_any()
    if webhook is not None:
        address: RobotAddress | None = RobotAddress(webhook, secret)
    elif current is not None:
        address = RobotAddress(current.webhook, current.secret if secret is None else secret)
    else:
        address = None
    row.sealed = None if address is None else _seal(vault, address)
    row.host = None if address is None else address.host
    row.signed = address is not None and address.secret is not None
    row.enabled, row.set_by, row.set_at = change.enabled, actor[:200], utcnow()
    await session.flush()
    details = {"host": row.host, "signed": row.signed, "enabled": row.enabled, "newAddress": webhook is not None}
    await append(session, actor, AdminAction.ALERT_ROBOT_SET, f"alert_robot:{change.kind.value}", details)
    return RobotConfig(change.kind, RobotSource.STORED, address, row.enabled, row.set_by, row.set_at)


async def remove_robot(session: AsyncSession, settings: Settings, kind: RobotKind, actor: str) -> RobotConfig:
    """Forgets the stored robot; the environment's of that kind, if any, sends again. Returns what is in force."""
    row = await session.get(StoredRobot, kind.value)
    if row is None:
        raise UserError.one(
            ("robot",),
            msg("No {robot} robot was set from the console: there is nothing to remove.", robot=kind.value),
            HealthErrorCode.NOT_FOUND,
        )
    details = {"host": row.host, "signed": row.signed, "enabled": row.enabled}
    await session.delete(row)
    await session.flush()
    await append(session, actor, AdminAction.ALERT_ROBOT_REMOVED, f"alert_robot:{kind.value}", details)
    return environment_config(settings, kind)
