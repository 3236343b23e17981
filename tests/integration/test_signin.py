"""Customer sign-in end to end: the three ways in, refresh rotation and reuse, sign-out, and every refusal,
against local WeChat and SMS servers that check the real signatures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import websockets
from pydantic import SecretStr
from sqlalchemy import update
from sqlmodel import col, select

from api.app import create_app
from api.pubsub import PushHub
from domain.access.service import issue_partner_key
from domain.clock import utcnow
from domain.settings import Settings
from domain.signin.models import CustomerSession, RefreshToken, SignInAttempt, SignInCode
from runtime.process import Runtime
from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import ORDERS, SUBMIT_ORDERS, order_input
from tests.integration.push_client import ORDER_UPDATES, GraphQLWs, serving
from tests.integration.signin_fakes import Providers, provider_settings, providers

EN = {"Accept-Language": "en"}  # messages are read by their English text here

TOKENS = "tokens { accessToken accessTokenExpiresAt refreshToken refreshTokenExpiresAt } retryAfterSeconds"
ERRORS = "userErrors { field message code }"
ISSUE = f"mutation($input: IssueCustomerTokenInput!) {{ issueCustomerToken(input: $input) {{ {TOKENS} {ERRORS} }} }}"
WECHAT = f"mutation($input: SignInWithWechatInput!) {{ signInWithWechat(input: $input) {{ {TOKENS} {ERRORS} }} }}"
REQUEST = (
    "mutation($input: RequestSignInCodeInput!) "
    f"{{ requestSignInCode(input: $input) {{ codeSent retryAfterSeconds {ERRORS} }} }}"
)
WITH_CODE = f"mutation($input: SignInWithCodeInput!) {{ signInWithCode(input: $input) {{ {TOKENS} {ERRORS} }} }}"
REFRESH = f"mutation($input: RefreshTokenInput!) {{ refreshToken(input: $input) {{ {TOKENS} {ERRORS} }} }}"
SIGN_OUT = f"mutation($input: SignOutInput!) {{ signOut(input: $input) {{ signedOut {ERRORS} }} }}"

PHONE = "13812345678"
ALIYUN_PHONE = PHONE  # Alibaba Cloud takes mainland numbers as their 11 digits
TENCENT_PHONE = "+8613812345678"


@pytest.fixture
def fakes() -> Iterator[Providers]:
    with providers() as state:
        yield state


@pytest.fixture
async def signin(rt: Runtime, fakes: Providers) -> AsyncIterator[Api]:
    """The API with its providers pointed at the local fakes (Alibaba Cloud SMS)."""
    async with _app(rt, **provider_settings(fakes.base_url)) as api:
        yield api


class _app:
    def __init__(self, rt: Runtime, **overrides: Any) -> None:
        self.rt, self.overrides = rt, overrides

    async def __aenter__(self) -> Api:
        self.original = self.rt.core.settings
        secret = {k for k, f in Settings.model_fields.items() if "SecretStr" in str(f.annotation)}
        update = {k: SecretStr(v) if k in secret and isinstance(v, str) else v for k, v in self.overrides.items()}
        settings = self.original.model_copy(update=update)
        self.rt.core.settings = settings
        app = create_app(settings=settings, runtime=self.rt)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://orderhub.test", headers=EN
        )
        return Api(self.client, self.rt)

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()
        self.rt.core.settings = self.original


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def partner(rt: Runtime, scopes: list[str], channels: list[str] | None = None) -> dict[str, str]:
    async with rt.core.sessions() as session, session.begin():
        key = await issue_partner_key(session, "shop-app", scopes, channels)
    return {"X-Api-Key": key.key}


async def listed(api: Api, access: str) -> list[str]:
    result = await api.gql(ORDERS, {"first": 10}, headers=bearer(access))
    assert "errors" not in result, result
    return sorted(e["node"]["channelOrderId"] for e in result["data"]["orders"]["edges"])


def tokens_of(result: dict[str, Any], name: str) -> dict[str, str]:
    payload = result["data"][name]
    assert payload["userErrors"] == [], payload
    tokens: dict[str, str] = payload["tokens"]
    return tokens


def code_of(result: dict[str, Any], name: str) -> str:
    payload = result["data"][name]
    assert payload.get("tokens") is None
    code: str = payload["userErrors"][0]["code"]
    return code


async def attempts(rt: Runtime) -> list[SignInAttempt]:
    async with rt.core.sessions() as session:
        return list((await session.exec(select(SignInAttempt).order_by(col(SignInAttempt.id)))).all())


async def test_partner_exchange_by_phone_or_account_reaches_that_buyer_only(
    signin: Api, creds: Credentials, rt: Runtime
) -> None:
    mine = order_input("MINE-1", buyer={"phone": PHONE})
    theirs = order_input("THEIRS-1", buyer={"phone": "13987654321"})
    douyin = order_input("DY-1", channel="DOUYIN", buyer={"platformBuyerId": "dy-open-7"})
    submitted = await signin.gql(SUBMIT_ORDERS, {"input": {"orders": [mine, theirs, douyin]}}, headers=creds.writer)
    assert submitted["data"]["submitOrders"]["userErrors"] == []
    key = await partner(rt, ["customers:write"])

    by_phone = tokens_of(
        await signin.gql(ISSUE, {"input": {"phone": "+86 138-1234-5678"}}, headers=key), "issueCustomerToken"
    )
    assert await listed(signin, by_phone["accessToken"]) == ["MINE-1"]
    account = {"channel": "DOUYIN", "buyerId": "dy-open-7"}
    by_account = tokens_of(await signin.gql(ISSUE, {"input": {"account": account}}, headers=key), "issueCustomerToken")
    assert await listed(signin, by_account["accessToken"]) == ["DY-1"]

    refused = await signin.gql(ISSUE, {"input": {"phone": "138****5678"}}, headers=key)
    assert refused["data"]["issueCustomerToken"]["userErrors"][0] == {
        "field": ["input", "phone"],
        "message": "not a usable mobile number (MASKED)",
        "code": "INVALID_PHONE",
    }
    both = await signin.gql(ISSUE, {"input": {"phone": PHONE, "account": account}}, headers=key)
    assert code_of(both, "issueCustomerToken") == "INVALID"
    empty = await signin.gql(ISSUE, {"input": {"account": {"channel": "TAOBAO"}}}, headers=key)
    assert code_of(empty, "issueCustomerToken") == "INVALID_ACCOUNT"
    bound = await partner(rt, ["customers:write"], ["TAOBAO"])
    elsewhere = await signin.gql(ISSUE, {"input": {"account": account}}, headers=bound)
    assert code_of(elsewhere, "issueCustomerToken") == "CHANNEL_NOT_ALLOWED"
    no_scope = await signin.gql(ISSUE, {"input": {"phone": PHONE}}, headers=creds.writer)
    assert no_scope["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    customer = await signin.gql(ISSUE, {"input": {"phone": PHONE}}, headers=bearer(by_phone["accessToken"]))
    assert customer["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    recorded = await attempts(rt)
    assert [(a.action, a.outcome) for a in recorded] == [
        ("issueCustomerToken", "OK"),
        ("issueCustomerToken", "OK"),
        ("issueCustomerToken", "INVALID_PHONE"),
    ]
    assert not any("13812345678" in f"{a.subject}{a.detail}" or "5678" in str(a.detail) for a in recorded)


async def test_refresh_rotates_and_a_reused_token_ends_the_sign_in(signin: Api, rt: Runtime) -> None:
    key = await partner(rt, ["customers:write"])
    first = tokens_of(await signin.gql(ISSUE, {"input": {"phone": PHONE}}, headers=key), "issueCustomerToken")
    second = tokens_of(await signin.gql(REFRESH, {"input": {"refreshToken": first["refreshToken"]}}), "refreshToken")
    assert second["refreshToken"] != first["refreshToken"]
    assert await listed(signin, second["accessToken"]) == []

    # two clients racing with the same token: one gets the next pair, the other ends the sign-in
    race = await asyncio.gather(
        *(signin.gql(REFRESH, {"input": {"refreshToken": second["refreshToken"]}}) for _ in range(2))
    )
    outcomes = sorted("OK" if r["data"]["refreshToken"]["tokens"] else code_of(r, "refreshToken") for r in race)
    assert outcomes == ["OK", "REFRESH_TOKEN_REUSED"]
    key2 = await partner(rt, ["customers:write"])
    first = tokens_of(await signin.gql(ISSUE, {"input": {"phone": PHONE}}, headers=key2), "issueCustomerToken")
    second = tokens_of(await signin.gql(REFRESH, {"input": {"refreshToken": first["refreshToken"]}}), "refreshToken")

    forged = await signin.gql(REFRESH, {"input": {"refreshToken": "ohr_" + "x" * 43}})
    assert code_of(forged, "refreshToken") == "INVALID_REFRESH_TOKEN"
    replayed = await signin.gql(REFRESH, {"input": {"refreshToken": first["refreshToken"]}})
    assert code_of(replayed, "refreshToken") == "REFRESH_TOKEN_REUSED"
    # the thief's replay ended the family: the holder of the newest pair is signed out too
    after = await signin.gql(REFRESH, {"input": {"refreshToken": second["refreshToken"]}})
    assert code_of(after, "refreshToken") == "SESSION_REVOKED"
    stopped = await signin.gql(ORDERS, {"first": 1}, headers=bearer(second["accessToken"]))
    assert stopped["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    async with rt.core.sessions() as session:
        families = (await session.exec(select(CustomerSession))).all()
    assert [f.revoked_reason for f in families] == ["REFRESH_REUSED", "REFRESH_REUSED"]

    fresh = tokens_of(await signin.gql(ISSUE, {"input": {"phone": PHONE}}, headers=key), "issueCustomerToken")
    async with rt.core.sessions() as session, session.begin():
        await session.exec(update(RefreshToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    for _ in range(2):  # an expired token is refused, not spent: presenting it again ends nothing
        expired = await signin.gql(REFRESH, {"input": {"refreshToken": fresh["refreshToken"]}})
        assert code_of(expired, "refreshToken") == "REFRESH_TOKEN_EXPIRED"
    assert await listed(signin, fresh["accessToken"]) == []


async def test_sign_out_stops_the_access_token_at_once(signin: Api, rt: Runtime) -> None:
    key = await partner(rt, ["customers:write"])
    one = tokens_of(await signin.gql(ISSUE, {"input": {"phone": PHONE}}, headers=key), "issueCustomerToken")
    other = tokens_of(await signin.gql(ISSUE, {"input": {"phone": PHONE}}, headers=key), "issueCustomerToken")
    assert await listed(signin, one["accessToken"]) == []  # cached as signed in
    out = await signin.gql(SIGN_OUT, {"input": {}}, headers=bearer(one["accessToken"]))
    assert out["data"]["signOut"] == {"signedOut": True, "userErrors": []}
    stopped = await signin.gql(ORDERS, {"first": 1}, headers=bearer(one["accessToken"]))
    assert stopped["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert code_of(await signin.gql(REFRESH, {"input": {"refreshToken": one["refreshToken"]}}), "refreshToken") == (
        "SESSION_REVOKED"
    )
    assert await listed(signin, other["accessToken"]) == []  # another sign-in of the same buyer stands
    by_refresh = await signin.gql(SIGN_OUT, {"input": {"refreshToken": other["refreshToken"]}})
    assert by_refresh["data"]["signOut"]["signedOut"] is True
    unknown = await signin.gql(SIGN_OUT, {"input": {"refreshToken": "ohr_unknown"}})
    assert unknown["data"]["signOut"]["userErrors"][0]["code"] == "INVALID_REFRESH_TOKEN"
    anonymous = await signin.gql(SIGN_OUT, {"input": {}})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_wechat_login_links_the_ids_and_shows_orders_carrying_them(
    signin: Api, creds: Credentials, fakes: Providers, rt: Runtime
) -> None:
    unionid, openid = "o6_bmjrPTlm6_2sgVt7hMZOPfL2M", "oQ8x9u4mP0J6y7Zk5D2w1a3bC4dE"
    channels = order_input("WXC-1", channel="WECHAT_CHANNELS", buyer={"platformBuyerId": unionid})
    douyin = order_input("DY-2", channel="DOUYIN", buyer={"platformBuyerId": unionid})
    someone = order_input(
        "WXC-2", channel="WECHAT_CHANNELS", buyer={"phone": "13987654321", "platformBuyerId": "o6_other"}
    )
    submitted = await signin.gql(
        SUBMIT_ORDERS, {"input": {"orders": [channels, douyin, someone]}}, headers=creds.writer
    )
    assert submitted["data"]["submitOrders"]["userErrors"] == []
    fakes.wechat_codes["081aBcDe2"] = (openid, unionid)
    fakes.wechat_codes["081other"] = ("oQ8x-someone-else", None)

    tokens = tokens_of(await signin.gql(WECHAT, {"input": {"code": "081aBcDe2"}}), "signInWithWechat")
    assert await listed(signin, tokens["accessToken"]) == ["DY-2", "WXC-1"]
    # an order arriving later with the same unionid is that buyer's as well
    later = order_input(
        "WXC-3", channel="WECHAT_CHANNELS", buyer={"aliases": [{"kind": "WECHAT_UNIONID", "value": unionid}]}
    )
    assert (await signin.gql(SUBMIT_ORDERS, {"input": {"orders": [later]}}, headers=creds.writer))["data"][
        "submitOrders"
    ]["userErrors"] == []
    assert await listed(signin, tokens["accessToken"]) == ["DY-2", "WXC-1", "WXC-3"]
    again = tokens_of(await signin.gql(WECHAT, {"input": {"code": "081other"}}), "signInWithWechat")
    assert await listed(signin, again["accessToken"]) == []

    assert (
        code_of(await signin.gql(WECHAT, {"input": {"code": "081aBcDe2"}}), "signInWithWechat") == "CODE_ALREADY_USED"
    )
    assert code_of(await signin.gql(WECHAT, {"input": {"code": "forged"}}), "signInWithWechat") == "INVALID_CODE"
    fakes.mode = "throttle"
    assert code_of(await signin.gql(WECHAT, {"input": {"code": "x"}}), "signInWithWechat") == "PROVIDER_THROTTLED"
    fakes.mode = "down"
    assert code_of(await signin.gql(WECHAT, {"input": {"code": "x"}}), "signInWithWechat") == "PROVIDER_UNAVAILABLE"
    fakes.mode = "ok"
    async with _app(rt, **{**provider_settings(fakes.base_url), "wechat_mini_secret": "wrong"}) as wrong:
        assert code_of(await wrong.gql(WECHAT, {"input": {"code": "y"}}), "signInWithWechat") == "PROVIDER_REFUSED"
    outcomes = [a.outcome for a in await attempts(rt) if a.action == "signInWithWechat"]
    assert outcomes == [
        "OK",
        "OK",
        "CODE_ALREADY_USED",
        "INVALID_CODE",
        "PROVIDER_THROTTLED",
        "PROVIDER_UNAVAILABLE",
        "PROVIDER_REFUSED",
    ]
    assert all(
        "session_key" not in (a.detail or "") and "tiihtNczf5v6" not in (a.detail or "") for a in await attempts(rt)
    )


async def test_sms_code_signs_in_once_and_never_tells_a_known_phone(
    signin: Api, creds: Credentials, fakes: Providers, rt: Runtime
) -> None:
    known = order_input("MINE-2", buyer={"phone": PHONE})
    assert (await signin.gql(SUBMIT_ORDERS, {"input": {"orders": [known]}}, headers=creds.writer))["data"][
        "submitOrders"
    ]["userErrors"] == []
    sent = await signin.gql(REQUEST, {"input": {"phone": PHONE}})
    unknown = await signin.gql(REQUEST, {"input": {"phone": "13600001111"}})
    assert (
        sent["data"]["requestSignInCode"]
        == unknown["data"]["requestSignInCode"]
        == {"codeSent": True, "retryAfterSeconds": None, "userErrors": []}
    )
    code = fakes.last_code(ALIYUN_PHONE)
    wrong = "000000" if code != "000000" else "111111"
    assert code_of(await signin.gql(WITH_CODE, {"input": {"phone": PHONE, "code": wrong}}), "signInWithCode") == (
        "INVALID_CODE"
    )
    tokens = tokens_of(await signin.gql(WITH_CODE, {"input": {"phone": PHONE, "code": code}}), "signInWithCode")
    assert await listed(signin, tokens["accessToken"]) == ["MINE-2"]
    replay = await signin.gql(WITH_CODE, {"input": {"phone": PHONE, "code": code}})
    assert code_of(replay, "signInWithCode") == "CODE_ALREADY_USED"
    # another phone's code does not sign this one in
    other = fakes.last_code("13600001111")
    crossed = await signin.gql(WITH_CODE, {"input": {"phone": PHONE, "code": other}})
    assert code_of(crossed, "signInWithCode") in {"CODE_ALREADY_USED", "INVALID_CODE"}

    throttled = (await signin.gql(REQUEST, {"input": {"phone": PHONE}}))["data"]["requestSignInCode"]
    assert throttled["codeSent"] is False and throttled["userErrors"][0]["code"] == "THROTTLED"
    assert 1 <= throttled["retryAfterSeconds"] <= 60
    assert len(fakes.texted[ALIYUN_PHONE]) == 1
    masked = await signin.gql(REQUEST, {"input": {"phone": "138****5678"}})
    assert masked["data"]["requestSignInCode"]["userErrors"][0]["code"] == "INVALID_PHONE"

    async with rt.core.sessions() as session:
        stored = (await session.exec(select(SignInCode))).all()
    assert stored and all(code not in row.code_hash and PHONE not in row.phone_key for row in stored)


async def test_sms_codes_expire_and_allow_five_tries(signin: Api, fakes: Providers, rt: Runtime) -> None:
    assert (await signin.gql(REQUEST, {"input": {"phone": PHONE}}))["data"]["requestSignInCode"]["codeSent"]
    code = fakes.last_code(ALIYUN_PHONE)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        result = await signin.gql(WITH_CODE, {"input": {"phone": PHONE, "code": wrong}})
        assert code_of(result, "signInWithCode") == "INVALID_CODE"
    exhausted = await signin.gql(WITH_CODE, {"input": {"phone": PHONE, "code": code}})
    assert code_of(exhausted, "signInWithCode") == "TOO_MANY_ATTEMPTS"

    other = "13600002222"
    assert (await signin.gql(REQUEST, {"input": {"phone": other}}))["data"]["requestSignInCode"]["codeSent"]
    async with rt.core.sessions() as session, session.begin():
        await session.exec(update(SignInCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    late = await signin.gql(WITH_CODE, {"input": {"phone": other, "code": fakes.last_code(other)}})
    assert code_of(late, "signInWithCode") == "CODE_EXPIRED"


async def test_tencent_sms_and_provider_failures(rt: Runtime, fakes: Providers) -> None:
    async with _app(
        rt,
        **provider_settings(fakes.base_url, sms="tencent"),
        signin_codes_per_phone_minute=10,
        signin_codes_per_phone_hour=10,
    ) as api:
        ok = await api.gql(REQUEST, {"input": {"phone": PHONE}})
        assert ok["data"]["requestSignInCode"]["codeSent"] is True
        code = fakes.last_code(TENCENT_PHONE)
        tokens_of(await api.gql(WITH_CODE, {"input": {"phone": PHONE, "code": code}}), "signInWithCode")

        fakes.mode = "throttle"
        limited = (await api.gql(REQUEST, {"input": {"phone": PHONE}}))["data"]["requestSignInCode"]
        assert limited["codeSent"] is False and limited["userErrors"][0]["code"] == "PROVIDER_THROTTLED"
        fakes.mode = "down"
        down = (await api.gql(REQUEST, {"input": {"phone": PHONE}}))["data"]["requestSignInCode"]
        assert down["userErrors"][0]["code"] == "PROVIDER_UNAVAILABLE"
        fakes.mode = "slow"
        rt.core.settings = rt.core.settings.model_copy(update={"signin_provider_timeout_seconds": 0.3})
        slow = (await api.gql(REQUEST, {"input": {"phone": PHONE}}))["data"]["requestSignInCode"]
        assert slow["userErrors"][0]["code"] == "PROVIDER_UNAVAILABLE"
        fakes.mode = "ok"
    # a code that could not be sent is void: nobody can sign in with it
    async with rt.core.sessions() as session:
        reasons = sorted(str(r.void_reason) for r in (await session.exec(select(SignInCode))).all())
    assert reasons == ["NOT_SENT", "NOT_SENT", "NOT_SENT", "None"]
    async with _app(rt, **{**provider_settings(fakes.base_url, sms="tencent"), "tencent_secret_key": "wrong"}) as bad:
        refused = (await bad.gql(REQUEST, {"input": {"phone": "13600003333"}}))["data"]["requestSignInCode"]
        assert refused["userErrors"][0]["code"] == "PROVIDER_REFUSED"
    async with _app(rt, **{**provider_settings(fakes.base_url), "aliyun_access_key_secret": "wrong"}) as bad:
        refused = (await bad.gql(REQUEST, {"input": {"phone": "13600004444"}}))["data"]["requestSignInCode"]
        assert refused["userErrors"][0]["code"] == "PROVIDER_REFUSED"
    assert fakes.refusals == ["tencent:AuthFailure.SignatureFailure", "aliyun:SignatureDoesNotMatch"]
    async with _app(rt, sms_provider=None) as unset:
        off = (await unset.gql(REQUEST, {"input": {"phone": "13600005555"}}))["data"]["requestSignInCode"]
        assert off["userErrors"][0]["code"] == "NOT_CONFIGURED"


async def test_one_address_is_held_back_after_too_many_attempts(rt: Runtime, fakes: Providers) -> None:
    async with _app(rt, **provider_settings(fakes.base_url), signin_attempts_per_address_minute=3) as api:
        for _ in range(3):
            result = await api.gql(WITH_CODE, {"input": {"phone": PHONE, "code": "123456"}})
            assert code_of(result, "signInWithCode") == "INVALID_CODE"
        held = (await api.gql(WITH_CODE, {"input": {"phone": PHONE, "code": "123456"}}))["data"]["signInWithCode"]
        assert held["userErrors"][0]["code"] == "THROTTLED" and held["retryAfterSeconds"] >= 1
        refresh = (await api.gql(REFRESH, {"input": {"refreshToken": "ohr_x"}}))["data"]["refreshToken"]
        assert refresh["userErrors"][0]["code"] == "THROTTLED"


async def test_sign_out_closes_the_buyers_websockets_on_another_process(signin: Api, rt: Runtime) -> None:
    """The process holding the websocket trusts its cache for a minute: only the published revocation can
    close the socket and make it forget, and it does both at once."""
    key = await partner(rt, ["customers:write"])
    tokens = tokens_of(await signin.gql(ISSUE, {"input": {"phone": PHONE}}, headers=key), "issueCustomerToken")
    other = tokens_of(await signin.gql(ISSUE, {"input": {"phone": PHONE}}, headers=key), "issueCustomerToken")
    settings = rt.settings.model_copy(update={"customer_session_check_seconds": 60})
    holder = create_app(settings=settings, runtime=rt)
    async with (
        serving(holder) as url,
        GraphQLWs.open(url, bearer(tokens["accessToken"])) as ws,
        GraphQLWs.open(url, bearer(other["accessToken"])) as kept,
    ):
        await ws.subscribe(ORDER_UPDATES)
        await kept.subscribe(ORDER_UPDATES)
        async with asyncio.timeout(10):
            while _listeners(holder) < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        out = await signin.gql(SIGN_OUT, {"input": {}}, headers=bearer(tokens["accessToken"]))
        assert out["data"]["signOut"]["signedOut"] is True
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.receive()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
        async with asyncio.timeout(10):
            while _listeners(holder) != 1:  # noqa: ASYNC110 (the buyer's other sign-in still listens)
                await asyncio.sleep(0.02)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=holder), base_url="http://o.test", headers=EN
        ) as client:
            held = await Api(client, rt).gql(ORDERS, {"first": 1}, headers=bearer(tokens["accessToken"]))
        assert held["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    with pytest.raises(websockets.ConnectionClosed):
        async with serving(holder) as url, GraphQLWs.open(url, bearer(tokens["accessToken"])):
            pass


def _listeners(app: Any) -> int:
    hub: PushHub | None = getattr(app.state, "push_hub", None)
    return 0 if hub is None else hub.listeners
