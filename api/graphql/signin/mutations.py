"""Customer sign-in: each way in ends with the same pair of tokens (`CustomerTokens`)."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from api.auth.principal import Customer, Partner, accounts_of
from api.auth.signin_throttle import SignInThrottle
from api.auth.tokens import issue_customer_token
from api.graphql.context import Context
from api.graphql.errors import user_errors
from api.graphql.permissions import allow
from api.graphql.signin.types import (
    CustomerSignInPayload,
    CustomerTokens,
    IssueCustomerTokenInput,
    RefreshTokenInput,
    RequestSignInCodeInput,
    RequestSignInCodePayload,
    SignInErrorCode,
    SignInUserError,
    SignInWithCodeInput,
    SignInWithWechatInput,
    SignOutInput,
    SignOutPayload,
)
from domain.access.policy import Scope
from domain.errors import Problem
from domain.i18n import msg, tr
from domain.signin.accounts import channel_accounts
from domain.signin.errors import SignInErrorCode as Code
from domain.signin.sessions import Grant, family_of


def _errors(problems: list[Problem]) -> list[SignInUserError]:
    return user_errors(SignInUserError, SignInErrorCode, problems)


def _address(ctx: Context) -> str:
    client = ctx.request.client if ctx.request is not None else None
    return client.host if client is not None else "unknown"


def _throttle(ctx: Context) -> SignInThrottle:
    throttle: SignInThrottle = ctx.request.app.state.signin_throttle  # type: ignore[union-attr]
    return throttle


def _answer(ctx: Context, result: Grant | Problem) -> CustomerSignInPayload:
    if isinstance(result, Problem):
        return CustomerSignInPayload(tokens=None, retry_after_seconds=None, user_errors=_errors([result]))
    settings = ctx.runtime.settings
    access = issue_customer_token(
        settings.secret("token_secret"), result.buyer_uid, settings.customer_access_minutes, result.family
    )
    tokens = CustomerTokens(
        access_token=access.token,
        access_token_expires_at=access.expires_at,
        refresh_token=result.refresh_token,
        refresh_token_expires_at=result.refresh_expires_at,
    )
    return CustomerSignInPayload(tokens=tokens, retry_after_seconds=None, user_errors=[])


async def _throttled(ctx: Context, action: str, field: str, wait: int, subject: str | None) -> Problem:
    problem = Problem((field,), msg("too many sign-in requests; try again in {wait} s", wait=wait), Code.THROTTLED)
    return await ctx.runtime.signin.refused(
        ctx.unit_of_work, action, problem, subject, _address(ctx), str(problem.message)
    )


async def _waited(ctx: Context, action: str, field: str) -> CustomerSignInPayload | None:
    """The refusal when this address has tried too often; None: counted, go on."""
    wait = await _throttle(ctx).attempt(_address(ctx))
    if wait is None:
        return None
    problem = await _throttled(ctx, action, field, wait, None)
    return CustomerSignInPayload(tokens=None, retry_after_seconds=wait, user_errors=_errors([problem]))


@strawberry.type
class SignInMutations:
    @strawberry.mutation(
        description="For the merchant's own app backend (scope customers:write): tokens for the buyer with this "
        "phone, or with this account on a channel. The buyer is resolved by identity; no phone is stored. A key "
        "bound to channels may name accounts on those channels only.",
        extensions=allow(scopes=frozenset({Scope.CUSTOMERS_WRITE})),
    )
    async def issue_customer_token(
        self, info: Info[Context, None], input: IssueCustomerTokenInput
    ) -> CustomerSignInPayload:
        ctx = info.context
        partner = ctx.principal
        assert isinstance(partner, Partner)
        if (input.phone is None) == (input.account is None):
            problem = Problem(("phone",), msg("give exactly one of phone and account"), Code.INVALID)
            return CustomerSignInPayload(tokens=None, retry_after_seconds=None, user_errors=_errors([problem]))
        accounts: list[tuple[str, str]] = []
        account = input.account
        if account is not None:
            channel = str(account.channel.value)
            if partner.channels is not None and channel not in partner.channels:
                message = msg(
                    "this key serves {served}, not {channel}",
                    served=", ".join(sorted(partner.channels)),
                    channel=channel,
                )
                problem = Problem(("account", "channel"), message, Code.CHANNEL_NOT_ALLOWED)
                return CustomerSignInPayload(tokens=None, retry_after_seconds=None, user_errors=_errors([problem]))
            parsed = channel_accounts(channel, account.buyer_id, account.openid, account.unionid)
            if parsed and isinstance(parsed[0], Problem):
                problems = [p for p in parsed if isinstance(p, Problem)]
                return CustomerSignInPayload(tokens=None, retry_after_seconds=None, user_errors=_errors(problems))
            accounts = [a for a in parsed if isinstance(a, tuple)]
        result = await ctx.runtime.signin.exchange(
            ctx.unit_of_work, input.phone, accounts, _address(ctx), f"partner:{partner.name}"
        )
        return _answer(ctx, result)

    @strawberry.mutation(
        description="WeChat mini-program login: the code from `wx.login()` is exchanged with WeChat "
        "(jscode2session); the buyer's openid and unionid become their aliases, so orders from other channels "
        "that carry them become visible to the buyer. A code is good once (CODE_ALREADY_USED)."
    )
    async def sign_in_with_wechat(
        self, info: Info[Context, None], input: SignInWithWechatInput
    ) -> CustomerSignInPayload:
        ctx = info.context
        refused = await _waited(ctx, "signInWithWechat", "code")
        if refused is not None:
            return refused
        return _answer(ctx, await ctx.runtime.signin.wechat(ctx.unit_of_work, input.code.strip(), _address(ctx)))

    @strawberry.mutation(
        description="Texts a one-time code to the phone (good for 5 minutes and 5 tries). At most one code a "
        "minute and five an hour per phone, and a few per hour per address (THROTTLED with `retryAfterSeconds`). "
        "The answer never says whether orderhub knows the phone."
    )
    async def request_sign_in_code(
        self, info: Info[Context, None], input: RequestSignInCodeInput
    ) -> RequestSignInCodePayload:
        ctx = info.context
        identity = ctx.runtime.core.identity
        key = identity.key_for_phone(input.phone)
        throttle = _throttle(ctx)
        # an unusable phone sends nothing, yet still counts as an attempt from the address
        wait = await (
            throttle.attempt(_address(ctx)) if key.uid is None else throttle.code_request(key.uid, _address(ctx))
        )
        if wait is not None:
            problem = await _throttled(ctx, "requestSignInCode", "phone", wait, key.uid)
            return RequestSignInCodePayload(code_sent=False, retry_after_seconds=wait, user_errors=_errors([problem]))
        refusal = await ctx.runtime.signin.request_code(ctx.unit_of_work, input.phone, _address(ctx))
        if refusal is not None:
            return RequestSignInCodePayload(code_sent=False, retry_after_seconds=None, user_errors=_errors([refusal]))
        return RequestSignInCodePayload(code_sent=True, retry_after_seconds=None, user_errors=[])

    @strawberry.mutation(description="Signs in with the code `requestSignInCode` texted to the phone.")
    async def sign_in_with_code(self, info: Info[Context, None], input: SignInWithCodeInput) -> CustomerSignInPayload:
        ctx = info.context
        refused = await _waited(ctx, "signInWithCode", "code")
        if refused is not None:
            return refused
        result = await ctx.runtime.signin.with_code(ctx.unit_of_work, input.phone, input.code, _address(ctx))
        return _answer(ctx, result)

    @strawberry.mutation(
        description="Spends a refresh token for a new pair. A refresh token used twice ends its sign-in "
        "(REFRESH_TOKEN_REUSED): whoever holds its tokens must sign in again."
    )
    async def refresh_token(self, info: Info[Context, None], input: RefreshTokenInput) -> CustomerSignInPayload:
        ctx = info.context
        refused = await _waited(ctx, "refreshToken", "refreshToken")
        if refused is not None:
            return refused
        result = await ctx.runtime.signin.refresh(ctx.unit_of_work, input.refresh_token.strip(), _address(ctx))
        if isinstance(result, Problem) and result.code is Code.REFRESH_TOKEN_REUSED:
            family = await _family(ctx, input.refresh_token.strip())
            if family is not None:
                accounts_of(ctx.request).forget_session(family)  # type: ignore[arg-type]
        return _answer(ctx, result)

    @strawberry.mutation(
        description="Ends a sign-in at once: its access and refresh tokens stop working and its open "
        "subscriptions close (also on other API processes)."
    )
    async def sign_out(self, info: Info[Context, None], input: SignOutInput) -> SignOutPayload:
        ctx = info.context
        principal = ctx.principal
        family = None
        if input.refresh_token:
            family = await _family(ctx, input.refresh_token.strip())
        elif isinstance(principal, Customer):
            family = principal.session
        else:
            raise GraphQLError(
                tr("sign out with a customer token or a refresh token"), extensions={"code": "UNAUTHENTICATED"}
            )
        if family is None:
            problem = Problem(("refresh_token",), msg("no sign-in to end"), Code.INVALID_REFRESH_TOKEN)
            return SignOutPayload(signed_out=False, user_errors=_errors([problem]))
        await ctx.runtime.signin.sign_out(ctx.unit_of_work, family, _address(ctx))
        accounts_of(ctx.request).forget_session(family)  # type: ignore[arg-type]
        return SignOutPayload(signed_out=True, user_errors=[])


async def _family(ctx: Context, refresh_token: str) -> str | None:
    async with ctx.read() as session:
        return await family_of(session, refresh_token)
