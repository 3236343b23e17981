"""The alert robots in the console: which are configured, and a test message to check one reaches its group."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.auth.principal import Staff
from api.graphql.context import Context
from api.graphql.health.types import HealthUserError, health_errors
from api.graphql.permissions import allow
from domain.access.policy import Role
from domain.errors import UserError
from domain.health.robots import RobotKind, RobotView, require_configured, robot_views
from runtime.notifiers import send_test_message

TESTERS = frozenset({Role.ADMIN, Role.OPS})

AlertRobotKind = strawberry.enum(
    RobotKind, name="AlertRobotKind", description="A group-chat robot orderhub alerts through."
)


@strawberry.type(description="A DingTalk or WeCom group robot; its address holds a credential, so only its host shows.")
class AlertRobot:
    kind: AlertRobotKind  # type: ignore[valid-type]
    configured: bool
    host: str | None = strawberry.field(description="The webhook's host; null when not configured.")
    signed: bool = strawberry.field(description="DingTalk: messages carry the signature of ORDERHUB_DINGTALK_SECRET.")

    @classmethod
    def of(cls, view: RobotView) -> AlertRobot:
        return cls(kind=view.kind, configured=view.configured, host=view.host, signed=view.signed)


@strawberry.input
class SendRobotTestMessageInput:
    robot: AlertRobotKind  # type: ignore[valid-type]


@strawberry.type
class SendRobotTestMessagePayload:
    robot: AlertRobot | None
    delivered: bool = strawberry.field(description="True once the robot answered errcode 0.")
    failure: str | None = strawberry.field(description="What the robot or the network answered instead.")
    user_errors: list[HealthUserError]


@strawberry.type
class RobotQueries:
    @strawberry.field(description="Staff (admin, ops): the alert robots, configured or not.",
                      extensions=allow(roles=TESTERS))  # fmt: skip
    def alert_robots(self, info: Info[Context, None]) -> list[AlertRobot]:
        return [AlertRobot.of(v) for v in robot_views(info.context.runtime.settings)]


@strawberry.type
class RobotMutations:
    @strawberry.mutation(
        description="Staff (admin, ops): send one test message through a robot, in the merchant's language, and say "
        "whether the robot took it.",
        extensions=allow(roles=TESTERS),
    )
    async def send_robot_test_message(
        self, info: Info[Context, None], input: SendRobotTestMessageInput
    ) -> SendRobotTestMessagePayload:
        settings = info.context.runtime.settings
        principal = info.context.principal
        assert isinstance(principal, Staff)
        kind = RobotKind(input.robot)
        try:
            view = require_configured(settings, kind)
            failure = await send_test_message(settings, kind, principal.email)
        except UserError as error:
            return SendRobotTestMessagePayload(
                robot=None, delivered=False, failure=None, user_errors=health_errors(error.problems)
            )
        return SendRobotTestMessagePayload(
            robot=AlertRobot.of(view), delivered=failure is None, failure=failure, user_errors=[]
        )
