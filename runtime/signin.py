"""Customer sign-in, wired: the three ways in (a partner's token exchange, WeChat mini-program login, a
phone's one-time code), the refresh and the sign-out. Each ends in one unit of work that also records the
attempt, so a refusal is recorded with the state it changed (an attempt counted, a family revoked).

Outside services are called outside any transaction: a slow provider never holds a database lock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.errors import Problem
from domain.i18n import Message, msg
from domain.identity.models import AliasKind
from domain.identity.phones import PhoneRejected, normalize_phone
from domain.outbox.service import Outbox
from domain.signin import codes, sessions
from domain.signin.accounts import Account, Buyer, buyer_for_accounts, buyer_for_phone
from domain.signin.attempts import OK, record_attempt, subject_key
from domain.signin.errors import SignInErrorCode
from domain.signin.models import SignInMethod
from domain.signin.sessions import Grant
from runtime.core import Core
from runtime.sms import ProviderError, sms_from_settings
from runtime.wechat_login import WechatLogin

UnitOfWork = Callable[[], AbstractAsyncContextManager[AsyncSession]]


class SignIn:
    """One per process. Reads the settings in force on each call; keeps one HTTP client for the providers."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.core.settings.signin_provider_timeout_seconds)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def _key(self) -> bytes:
        return self.core.identity.current.secret

    async def _linked(
        self,
        uow: UnitOfWork,
        accounts: Sequence[Account],
        method: SignInMethod,
        action: str,
        address: str | None,
        detail: str | None,
    ) -> Grant:
        """Resolving the buyer links the accounts and claims their orders in the unit of work that signs in."""
        async with uow() as session:
            buyer = await buyer_for_accounts(session, self.core.identity, accounts)
            grant = await sessions.start_session(
                session, buyer.uid, buyer.key_version, method, self.core.settings.customer_refresh_days
            )
            await record_attempt(session, action, OK, subject_key(self._key, *accounts[0]), address, detail)
        return grant

    async def refused(
        self, uow: UnitOfWork, action: str, problem: Problem, subject: str | None, address: str | None, detail: str
    ) -> Problem:
        async with uow() as session:
            await record_attempt(session, action, problem.code, subject, address, detail)
        return problem

    async def exchange(
        self, uow: UnitOfWork, phone: str | None, accounts: Sequence[Account], address: str | None, partner: str
    ) -> Grant | Problem:
        """A partner's backend vouches for its buyer: by phone, or by the buyer's channel accounts."""
        action = "issueCustomerToken"
        if phone is not None:
            async with uow() as session:
                found = await buyer_for_phone(session, self.core.identity, phone)
                if isinstance(found, Problem):
                    await record_attempt(session, action, found.code, None, address, f"{partner}: {found.message}")
                    return found
                grant = await sessions.start_session(
                    session,
                    found.uid,
                    found.key_version,
                    SignInMethod.PARTNER,
                    self.core.settings.customer_refresh_days,
                )
                await record_attempt(session, action, OK, found.uid, address, partner)
            return grant
        return await self._linked(uow, accounts, SignInMethod.PARTNER, action, address, partner)

    async def wechat(self, uow: UnitOfWork, code: str, address: str | None) -> Grant | Problem:
        action = "signInWithWechat"
        login = WechatLogin.from_settings(self.core.settings)
        if login is None:
            problem = Problem(("code",), msg("WeChat login is not configured"), SignInErrorCode.NOT_CONFIGURED)
            return await self.refused(uow, action, problem, None, address, str(problem.message))
        try:
            wechat = await login.code_to_buyer(self.client, code)
        except ProviderError as exc:
            problem = Problem(("code",), _told(exc.code), exc.code)
            return await self.refused(uow, action, problem, subject_key(self._key, "wxcode", code), address, str(exc))
        accounts: list[Account] = [(AliasKind.WECHAT_OPENID.value, wechat.openid)]
        if wechat.unionid:
            accounts.insert(0, (AliasKind.WECHAT_UNIONID.value, wechat.unionid))
        return await self._linked(uow, accounts, SignInMethod.WECHAT, action, address, None)

    async def request_code(self, uow: UnitOfWork, phone: str, address: str | None) -> Problem | None:
        """The same answer for every usable phone, known to orderhub or not: a code goes out either way."""
        action = "requestSignInCode"
        settings = self.core.settings
        try:
            e164 = normalize_phone(phone, settings.phone_region)
        except PhoneRejected as rejected:
            problem = Problem(
                ("phone",),
                msg("not a usable mobile number ({code})", code=rejected.code),
                SignInErrorCode.INVALID_PHONE,
            )
            return await self.refused(uow, action, problem, None, address, rejected.reason)
        phone_key = self.core.identity.uid_for_e164(e164)
        sender = sms_from_settings(settings)
        if sender is None:
            problem = Problem(("phone",), msg("sign-in by SMS is not configured"), SignInErrorCode.NOT_CONFIGURED)
            return await self.refused(uow, action, problem, phone_key, address, str(problem.message))
        code = codes.new_code_text()
        async with uow() as session:
            code_id = await codes.issue_code(session, self._key, phone_key, code, settings.signin_code_seconds)
        try:
            await sender.send_code(self.client, e164, code)
        except ProviderError as exc:
            async with uow() as session:
                await codes.void_code(session, code_id, "NOT_SENT")
                await record_attempt(session, action, exc.code, phone_key, address, str(exc))
            return Problem(("phone",), _told(exc.code), exc.code)
        async with uow() as session:
            await record_attempt(session, action, OK, phone_key, address, sender.name)
        return None

    async def with_code(self, uow: UnitOfWork, phone: str, code: str, address: str | None) -> Grant | Problem:
        action = "signInWithCode"
        try:
            e164 = normalize_phone(phone, self.core.settings.phone_region)
        except PhoneRejected as rejected:
            problem = Problem(
                ("phone",),
                msg("not a usable mobile number ({code})", code=rejected.code),
                SignInErrorCode.INVALID_PHONE,
            )
            return await self.refused(uow, action, problem, None, address, rejected.reason)
        phone_key = self.core.identity.uid_for_e164(e164)
        settings = self.core.settings
        async with uow() as session:
            refusal = await codes.redeem_code(session, self._key, phone_key, code, settings.signin_code_attempts)
            if refusal is not None:
                await record_attempt(session, action, refusal.code, phone_key, address, str(refusal.message))
                return refusal
            buyer = await buyer_for_phone(session, self.core.identity, phone)
            assert isinstance(buyer, Buyer)  # the phone was usable a moment ago
            grant = await sessions.start_session(
                session, buyer.uid, buyer.key_version, SignInMethod.SMS_CODE, settings.customer_refresh_days
            )
            await record_attempt(session, action, OK, phone_key, address, None)
        return grant

    async def refresh(self, uow: UnitOfWork, token: str, address: str | None) -> Grant | Problem:
        action = "refreshToken"
        subject = subject_key(self._key, "refresh", sessions.token_hash(token))
        async with uow() as session:
            outbox = Outbox()
            result = await sessions.rotate(session, token, self.core.settings.customer_refresh_days, outbox)
            outcome = result.code if isinstance(result, Problem) else OK
            await record_attempt(session, action, outcome, subject, address, None)
        return result

    async def sign_out(self, uow: UnitOfWork, family: str, address: str | None) -> bool:
        async with uow() as session:
            ended = await sessions.sign_out(session, family, Outbox())
            await record_attempt(session, "signOut", OK if ended else "NO_SESSION", family, address, None)
        return ended


TOLD: dict[SignInErrorCode, Message] = {
    SignInErrorCode.INVALID_CODE: msg("wrong or expired code"),
    SignInErrorCode.CODE_ALREADY_USED: msg("this code was already used"),
    SignInErrorCode.PROVIDER_THROTTLED: msg("the provider asks us to slow down; try again in a minute"),
    SignInErrorCode.PROVIDER_UNAVAILABLE: msg("the provider cannot be reached; try again later"),
    SignInErrorCode.PROVIDER_REFUSED: msg("the provider refused the request"),
    SignInErrorCode.INVALID_PHONE: msg("not a usable mobile number"),
}


def _told(code: SignInErrorCode) -> Message:
    """What the buyer reads; the provider's own words go to the record, not to the caller."""
    return TOLD.get(code, msg("sign-in refused"))
