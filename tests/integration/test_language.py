"""Error text a caller reads comes from the catalogs, in the caller's language: the staff account's own choice,
then the request's Accept-Language, then the merchant's. Codes and fields do not change with the language."""

from __future__ import annotations

import re
from typing import Any

from domain.access.service import MIN_PASSWORD
from domain.i18n import Message, msg, translate
from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input

CJK = re.compile(r"[\u4e00-\u9fff]")
EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}

CREATE_STAFF = """mutation($input: CreateStaffAccountInput!) { createStaffAccount(input: $input) {
  staffAccount { id } userErrors { field message code } } }"""
SET_LANGUAGE = """mutation($input: SetMyLanguageInput!) { setMyLanguage(input: $input) {
  staffAccount { email language } userErrors { field message code } } }"""
ME = "{ me { email roles language } }"
LOGIN = (
    """mutation($input: StaffLoginInput!) { staffLogin(input: $input) { token userErrors { field message code } } }"""
)


def _in_both(en: dict[str, Any], zh: dict[str, Any], expected: Message) -> None:
    """The same problem, its text from each language's catalog; the Chinese is Chinese, not the English key."""
    assert (en["field"], en["code"]) == (zh["field"], zh["code"])
    assert en["message"] == translate(expected, "en") == str(expected)
    assert zh["message"] == translate(expected, "zh-CN")
    assert CJK.search(zh["message"]), zh["message"]


async def _submit(api: Api, creds: Credentials, language: dict[str, str], **overrides: Any) -> list[dict[str, Any]]:
    result = await api.gql(SUBMIT_ORDER, {"input": order_input(**overrides)}, headers={**creds.writer, **language})
    errors: list[dict[str, Any]] = result["data"]["submitOrder"]["userErrors"]
    return errors


async def _create_staff(api: Api, inputs: dict[str, Any], headers: dict[str, str]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = (await api.gql(CREATE_STAFF, inputs, headers=headers))["data"]["createStaffAccount"][
        "userErrors"
    ]
    return errors


async def test_a_refused_order_is_explained_in_the_language_the_request_accepts(api: Api, creds: Credentials) -> None:
    [en] = await _submit(api, creds, EN, currencyCode="RMB")
    [zh] = await _submit(api, creds, ZH, currencyCode="RMB")
    assert en["field"] == ["input", "currencyCode"] and en["code"] == "INVALID_CURRENCY"
    _in_both(en, zh, msg("{code} is not an ISO 4217 currency code", code=repr("RMB")))
    [en] = await _submit(api, creds, EN, lines=[])
    [zh] = await _submit(api, creds, ZH, lines=[])
    _in_both(en, zh, msg("an order needs at least one line"))


async def test_without_accept_language_the_merchant_language_speaks(api: Api, creds: Credentials) -> None:
    assert api.runtime.settings.merchant_language == "zh-CN"
    result = await api.client.post(
        "/graphql",
        json={"query": SUBMIT_ORDER, "variables": {"input": order_input(lines=[])}},
        headers={**creds.writer, "Accept-Language": ""},
    )
    [error] = result.json()["data"]["submitOrder"]["userErrors"]
    assert error["message"] == translate(msg("an order needs at least one line"), "zh-CN")


async def test_a_staff_account_choice_overrides_the_request(api: Api, creds: Credentials) -> None:
    weak = {"input": {"email": "finance@shop.example", "password": "short", "roles": ["FINANCE"]}}
    expected = msg("staff passwords need at least {min_password} characters", min_password=MIN_PASSWORD)
    [en] = await _create_staff(api, weak, {**creds.admin, **EN})
    [zh] = await _create_staff(api, weak, {**creds.admin, **ZH})
    assert en["code"] == "WEAK_PASSWORD"
    _in_both(en, zh, expected)

    me = await api.gql(ME, headers={**creds.admin, **ZH})
    assert me["data"]["me"] == {"email": "admin@shop.example", "roles": ["ADMIN"], "language": None}
    chosen = await api.gql(SET_LANGUAGE, {"input": {"language": "EN"}}, headers={**creds.admin, **ZH})
    assert chosen["data"]["setMyLanguage"] == {
        "staffAccount": {"email": "admin@shop.example", "language": "EN"},
        "userErrors": [],
    }
    assert (await api.gql(ME, headers={**creds.admin, **ZH}))["data"]["me"]["language"] == "EN"
    [overridden] = await _create_staff(api, weak, {**creds.admin, **ZH})
    assert overridden == en  # the account chose English: a Chinese Accept-Language does not change it

    await api.gql(SET_LANGUAGE, {"input": {"language": None}}, headers={**creds.admin, **EN})
    assert (await api.gql(ME, headers={**creds.admin, **EN}))["data"]["me"]["language"] is None
    [again] = await _create_staff(api, weak, {**creds.admin, **ZH})
    assert again == zh  # handed back to each request


async def test_refusals_and_sign_in_failures_are_in_the_callers_language(api: Api, creds: Credentials) -> None:
    inputs = {"input": {"email": "x@shop.example", "password": "correct horse battery", "roles": ["CS"]}}
    en = (await api.gql(CREATE_STAFF, inputs, headers={**creds.cs, **EN}))["errors"][0]
    zh = (await api.gql(CREATE_STAFF, inputs, headers={**creds.cs, **ZH}))["errors"][0]
    assert en["extensions"]["code"] == zh["extensions"]["code"] == "FORBIDDEN"
    assert en["message"] == "not allowed: needs role admin"
    needs = translate(msg("role {role}", role="admin"), "zh-CN")
    assert zh["message"] == translate(msg("not allowed: needs {needs}", needs=needs), "zh-CN")
    assert CJK.search(zh["message"])

    wrong = {"input": {"email": "admin@shop.example", "password": "not the password"}}
    [en] = (await api.gql(LOGIN, wrong, headers=EN))["data"]["staffLogin"]["userErrors"]
    [zh] = (await api.gql(LOGIN, wrong, headers=ZH))["data"]["staffLogin"]["userErrors"]
    _in_both(en, zh, msg("unknown email or wrong password"))


async def test_the_export_route_answers_bad_input_in_the_callers_language(api: Api, creds: Credentials) -> None:
    asked = {"format": "pdf"}
    en = await api.client.get("/export/orders", params=asked, headers={**creds.admin, **EN})
    zh = await api.client.get("/export/orders", params=asked, headers={**creds.admin, **ZH})
    assert en.status_code == zh.status_code == 400
    [en_error] = en.json()["errors"]
    [zh_error] = zh.json()["errors"]
    assert en_error["code"] == zh_error["code"] == "UNKNOWN_FORMAT"
    assert en_error["field"] == zh_error["field"]
    assert CJK.search(zh_error["message"]) and not CJK.search(en_error["message"])
    assert en_error["message"].startswith("unknown export format 'pdf'")
