"""The alert robots in the console: which one sends and where it came from, setting, switching off and removing
one, and a test message to check one reaches its group."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from api.auth.principal import Staff
from api.graphql.context import Context
from api.graphql.health.types import HealthUserError, health_errors
from api.graphql.permissions import allow
from domain.access.policy import Role
from domain.errors import UserError
from domain.health.robot_store import RobotChange, remove_robot, robot_configs, set_robot
from domain.health.robots import RobotKind, RobotSource, RobotView
from runtime.notifiers import send_test_message

TESTERS = frozenset({Role.ADMIN, Role.OPS})

AlertRobotKind = strawberry.enum(
    RobotKind, name="AlertRobotKind", description="A group-chat robot orderhub alerts through."
)
AlertRobotSource = strawberry.enum(
    RobotSource,
    name="AlertRobotSource",
    description="STORED: set from the console (it wins); ENVIRONMENT: ORDERHUB_DINGTALK_* or ORDERHUB_WECOM_WEBHOOK, "
    "used while none is stored; NONE: neither.",
)


@strawberry.type(description="A DingTalk or WeCom group robot; its address holds a credential, so only its host shows.")
class AlertRobot:
    kind: AlertRobotKind  # type: ignore[valid-type]
    configured: bool = strawberry.field(description="It has a webhook address.")
    host: str | None = strawberry.field(description="The webhook's host; null when not configured.")
    signed: bool = strawberry.field(description="DingTalk: messages carry the signature of its signing secret.")
    source: AlertRobotSource  # type: ignore[valid-type]
    enabled: bool = strawberry.field(description="Alerts go through it when it is configured and enabled.")
    set_by: str | None = strawberry.field(description="Who stored it (`staff:<email>`); null unless STORED.")
    set_at: datetime | None = strawberry.field(description="When it was stored; null unless STORED.")

    @classmethod
    def of(cls, view: RobotView) -> AlertRobot:
        return cls(
            kind=view.kind, configured=view.configured, host=view.host, signed=view.signed, source=view.source,
            enabled=view.enabled, set_by=view.set_by, set_at=view.set_at,
        )  # fmt: skip


@strawberry.input
class SendRobotTestMessageInput:
    robot: AlertRobotKind  # type: ignore[valid-type]


@strawberry.type
class SendRobotTestMessagePayload:
    robot: AlertRobot | None
    delivered: bool = strawberry.field(description="True once the robot answered errcode 0.")
    failure: str | None = strawberry.field(description="What the robot or the network answered instead.")
    user_errors: list[HealthUserError]


@strawberry.input(description="Write-only: the address and secret are sealed at rest and never returned.")
class SetAlertRobotInput:
    robot: AlertRobotKind  # type: ignore[valid-type]
    webhook: str | None = strawberry.field(
        default=None,
        description="https://oapi.dingtalk.com/robot/send?access_token=… or "
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…; null or empty keeps the stored address.",
    )
    secret: str | None = strawberry.field(
        default=None,
        description="DingTalk only: the robot's signing secret (SEC…). With a new webhook, null means the robot does "
        "not sign; without one, null keeps the stored secret.",
    )
    enabled: bool = strawberry.field(
        default=True, description="False switches the robot off, even one set in the environment."
    )


@strawberry.type
class SetAlertRobotPayload:
    robot: AlertRobot | None
    user_errors: list[HealthUserError]


@strawberry.input
class RemoveAlertRobotInput:
    robot: AlertRobotKind  # type: ignore[valid-type]


@strawberry.type
class RemoveAlertRobotPayload:
    robot: AlertRobot | None = strawberry.field(description="The robot in force now: the environment's, or none.")
    user_errors: list[HealthUserError]


@strawberry.type
class RobotQueries:
    @strawberry.field(description="Staff (admin, ops): the alert robots, configured or not.",
                      extensions=allow(roles=TESTERS))  # fmt: skip
    async def alert_robots(self, info: Info[Context, None]) -> list[AlertRobot]:
        core = info.context.runtime.core
        async with info.context.read() as session:
            configs = await robot_configs(session, core.vault, core.settings)
        return [AlertRobot.of(RobotView.of(c)) for c in configs]


@strawberry.type
class RobotMutations:
    @strawberry.mutation(
        description="Staff (admin, ops): send one test message through a robot, in the merchant's language, and say "
        "whether the robot took it. A robot switched off can be tested.",
        extensions=allow(roles=TESTERS),
    )
    async def send_robot_test_message(
        self, info: Info[Context, None], input: SendRobotTestMessageInput
    ) -> SendRobotTestMessagePayload:
        principal = info.context.principal
        assert isinstance(principal, Staff)
        try:
            view, failure = await send_test_message(info.context.runtime.core, RobotKind(input.robot), principal.email)
        except UserError as error:
            return SendRobotTestMessagePayload(
                robot=None, delivered=False, failure=None, user_errors=health_errors(error.problems)
            )
        return SendRobotTestMessagePayload(
            robot=AlertRobot.of(view), delivered=failure is None, failure=failure, user_errors=[]
        )

    @strawberry.mutation(
        description="Staff (admin, ops): set, change or switch off a robot. It wins over the environment's robot of "
        "its kind from the next alert on; recorded in the admin log with its host only.",
        extensions=allow(roles=TESTERS),
    )
    async def set_alert_robot(self, info: Info[Context, None], input: SetAlertRobotInput) -> SetAlertRobotPayload:
        core = info.context.runtime.core
        change = RobotChange(RobotKind(input.robot), input.webhook, input.secret, input.enabled)
        try:
            async with info.context.unit_of_work() as session:
                config = await set_robot(session, core.vault, core.settings, change, info.context.staff_actor)
        except UserError as error:
            return SetAlertRobotPayload(robot=None, user_errors=health_errors(error.problems))
        return SetAlertRobotPayload(robot=AlertRobot.of(RobotView.of(config)), user_errors=[])

    @strawberry.mutation(
        description="Staff (admin, ops): forget the robot set from the console; the environment's robot of its kind, "
        "if any, sends again. Recorded in the admin log.",
        extensions=allow(roles=TESTERS),
    )
    async def remove_alert_robot(
        self, info: Info[Context, None], input: RemoveAlertRobotInput
    ) -> RemoveAlertRobotPayload:
        settings = info.context.runtime.settings
        try:
            async with info.context.unit_of_work() as session:
                config = await remove_robot(session, settings, RobotKind(input.robot), info.context.staff_actor)
        except UserError as error:
            return RemoveAlertRobotPayload(robot=None, user_errors=health_errors(error.problems))
        return RemoveAlertRobotPayload(robot=AlertRobot.of(RobotView.of(config)), user_errors=[])
