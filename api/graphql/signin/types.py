"""What customer sign-in answers: an access token with a refresh token, or why not."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.graphql.orders import SalesChannel
from domain.signin import errors

SignInErrorCode = strawberry.enum(errors.SignInErrorCode)


@strawberry.type
class SignInUserError:
    field: list[str] | None
    message: str
    code: SignInErrorCode  # type: ignore[valid-type]


@strawberry.type(
    description="A short-lived access token (send it as `Authorization: Bearer`, or in `connection_init` for "
    "subscriptions) and a refresh token that is good once: `refreshToken` spends it and answers the next pair. "
    "A spent refresh token used again ends the sign-in (every token of it stops working)."
)
class CustomerTokens:
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    refresh_token_expires_at: datetime


@strawberry.type
class CustomerSignInPayload:
    tokens: CustomerTokens | None
    retry_after_seconds: int | None = strawberry.field(description="With a THROTTLED error: when to try again.")
    user_errors: list[SignInUserError]


@strawberry.type
class RequestSignInCodePayload:
    code_sent: bool = strawberry.field(
        description="True when a code went out. The answer is the same whether or not orderhub knows the phone."
    )
    retry_after_seconds: int | None = strawberry.field(description="With a THROTTLED error: when to try again.")
    user_errors: list[SignInUserError]


@strawberry.type
class SignOutPayload:
    signed_out: bool
    user_errors: list[SignInUserError]


@strawberry.input(description="The buyer's account on one sales channel; at least one of the ids.")
class ChannelAccountInput:
    channel: SalesChannel  # type: ignore[valid-type]
    buyer_id: str | None = strawberry.field(
        default=None, description="The channel's own buyer id (e.g. Taobao open_uid)."
    )
    openid: str | None = None
    unionid: str | None = None


@strawberry.input(description="Exactly one of `phone` and `account`.")
class IssueCustomerTokenInput:
    phone: str | None = None
    account: ChannelAccountInput | None = None


@strawberry.input
class SignInWithWechatInput:
    code: str = strawberry.field(description="The code `wx.login()` gave the mini-program; good once, for 5 minutes.")


@strawberry.input
class RequestSignInCodeInput:
    phone: str


@strawberry.input
class SignInWithCodeInput:
    phone: str
    code: str


@strawberry.input
class RefreshTokenInput:
    refresh_token: str


@strawberry.input(description="Ends the sign-in of the access token sent with the request, or of `refreshToken`.")
class SignOutInput:
    refresh_token: str | None = None
