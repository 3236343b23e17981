"""Access administered through the API: partner keys issued, listed, rotated and revoked, staff accounts
created, re-roled and disabled, each change in the admin log; revocation takes effect on the next request."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import ORDERS

CREATE_KEY = """mutation($input: CreatePartnerKeyInput!) { createPartnerKey(input: $input) {
  key partnerKey { id name prefix last4 scopes channels lastUsedAt revokedAt } userErrors { field code } } }"""
ROTATE_KEY = """mutation($input: RotatePartnerKeyInput!) { rotatePartnerKey(input: $input) {
  key partnerKey { id last4 } userErrors { field code } } }"""
REVOKE_KEY = """mutation($input: RevokePartnerKeyInput!) { revokePartnerKey(input: $input) {
  partnerKey { id revokedAt } userErrors { field code } } }"""
KEYS = """query($revoked: Boolean!) { partnerKeys(first: 20, includeRevoked: $revoked) {
  edges { node { id name prefix last4 scopes channels lastUsedAt revokedAt } } } }"""
CREATE_STAFF = """mutation($input: CreateStaffAccountInput!) { createStaffAccount(input: $input) {
  staffAccount { id email roles disabledAt } userErrors { field code } } }"""
SET_ROLES = """mutation($input: SetStaffRolesInput!) { setStaffRoles(input: $input) {
  staffAccount { roles } userErrors { field code } } }"""
DISABLE = """mutation($input: DisableStaffAccountInput!) { disableStaffAccount(input: $input) {
  staffAccount { disabledAt } userErrors { field code } } }"""
LOGIN = """mutation($input: StaffLoginInput!) { staffLogin(input: $input) { token userErrors { code } } }"""
LOG = """query($first: Int!, $after: String) { adminLog(first: $first, after: $after) {
  edges { cursor node { id actor action target details } } pageInfo { hasNextPage endCursor } } }"""
NODE = """query($id: ID!) { node(id: $id) { __typename id } }"""


async def _new_key(api: Api, creds: Credentials, **extra: Any) -> dict[str, Any]:
    inputs = {"name": "erp-bridge", "scopes": ["ORDERS_READ"], **extra}
    created = await api.gql(CREATE_KEY, {"input": inputs}, headers=creds.admin)
    payload: dict[str, Any] = created["data"]["createPartnerKey"]
    assert payload["userErrors"] == []
    return payload


async def _log(api: Api, creds: Credentials) -> list[dict[str, Any]]:
    result = await api.gql(LOG, {"first": 50}, headers=creds.cs)  # any staff may read it
    return [e["node"] for e in result["data"]["adminLog"]["edges"]]


async def test_a_key_issued_through_the_api_works_is_listed_without_its_secret_and_revoked_at_once(
    api: Api, creds: Credentials
) -> None:
    issued = await _new_key(api, creds, channels=["DOUYIN"])
    secret, key = issued["key"], issued["partnerKey"]
    assert secret.startswith("ohk_") and key["last4"] == secret[-4:] and key["prefix"] == "ohk_"
    assert (key["scopes"], key["channels"], key["lastUsedAt"]) == (["ORDERS_READ"], ["DOUYIN"], None)
    assert "errors" not in await api.gql(ORDERS, {"first": 1}, headers={"X-Api-Key": secret})

    listed = await api.gql(KEYS, {"revoked": False}, headers=creds.admin)
    assert secret not in json.dumps(listed) and secret[4:] not in json.dumps(listed)
    mine = next(e["node"] for e in listed["data"]["partnerKeys"]["edges"] if e["node"]["id"] == key["id"])
    assert mine["lastUsedAt"] is not None  # the request above was recorded under the key

    revoked = await api.gql(REVOKE_KEY, {"input": {"id": key["id"]}}, headers=creds.admin)
    assert revoked["data"]["revokePartnerKey"]["partnerKey"]["revokedAt"] is not None
    refused = await api.gql(ORDERS, {"first": 1}, headers={"X-Api-Key": secret})
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    again = await api.gql(REVOKE_KEY, {"input": {"id": key["id"]}}, headers=creds.admin)
    assert again["data"]["revokePartnerKey"]["userErrors"] == [{"field": ["input", "id"], "code": "ALREADY_REVOKED"}]
    active = await api.gql(KEYS, {"revoked": False}, headers=creds.admin)
    assert key["id"] not in json.dumps(active)
    assert key["id"] in json.dumps(await api.gql(KEYS, {"revoked": True}, headers=creds.admin))

    entries = await _log(api, creds)
    target = "partner_key:" + key["id"].rsplit("/", 1)[1]
    mine_logged = [(e["action"], e["actor"]) for e in entries if e["target"] == target]
    assert mine_logged == [
        ("PARTNER_KEY_REVOKED", "staff:admin@shop.example"),
        ("PARTNER_KEY_ISSUED", "staff:admin@shop.example"),
    ]
    assert secret not in json.dumps(entries)

    for name in ("a", "b", "c"):  # the log pages newest first
        await _new_key(api, creds, name=name)
    first = (await api.gql(LOG, {"first": 2}, headers=creds.admin))["data"]["adminLog"]
    assert [e["node"]["details"]["name"] for e in first["edges"]] == ["c", "b"]
    assert first["pageInfo"]["hasNextPage"] is True
    after = first["pageInfo"]["endCursor"]
    rest = (await api.gql(LOG, {"first": 2, "after": after}, headers=creds.admin))["data"]["adminLog"]
    assert rest["edges"][0]["node"]["details"]["name"] == "a"
    denied = await api.gql(LOG, {"first": 2}, headers=creds.reader)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_rotation_keeps_the_old_key_through_the_overlap_only(api: Api, creds: Credentials) -> None:
    first = await _new_key(api, creds)
    overlap = await api.gql(ROTATE_KEY, {"input": {"id": first["partnerKey"]["id"], "overlapMinutes": 60}},
                            headers=creds.admin)  # fmt: skip
    second = overlap["data"]["rotatePartnerKey"]
    assert second["userErrors"] == [] and second["key"] != first["key"]
    for secret in (first["key"], second["key"]):
        assert "errors" not in await api.gql(ORDERS, {"first": 1}, headers={"X-Api-Key": secret})
    at_once = await api.gql(ROTATE_KEY, {"input": {"id": second["partnerKey"]["id"]}}, headers=creds.admin)
    third = at_once["data"]["rotatePartnerKey"]["key"]
    refused = await api.gql(ORDERS, {"first": 1}, headers={"X-Api-Key": second["key"]})
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "errors" not in await api.gql(ORDERS, {"first": 1}, headers={"X-Api-Key": third})
    negative = {"id": at_once["data"]["rotatePartnerKey"]["partnerKey"]["id"], "overlapMinutes": -5}
    refused = await api.gql(ROTATE_KEY, {"input": negative}, headers=creds.admin)
    assert refused["data"]["rotatePartnerKey"]["userErrors"] == [
        {"field": ["input", "overlapMinutes"], "code": "INVALID"}
    ]
    gone = await api.gql(ROTATE_KEY, {"input": {"id": second["partnerKey"]["id"]}}, headers=creds.admin)
    assert gone["data"]["rotatePartnerKey"]["userErrors"][0]["code"] == "ALREADY_REVOKED"
    rotations = [e for e in await _log(api, creds) if e["action"] == "PARTNER_KEY_ROTATED"]
    assert len(rotations) == 2 and rotations[1]["details"]["old_last4"] == first["partnerKey"]["last4"]


async def test_staff_accounts_are_created_re_roled_and_disabled_by_admins_alone(api: Api, creds: Credentials) -> None:
    inputs = {"email": "Finance@Shop.example", "password": "correct horse battery", "roles": ["FINANCE"]}
    refused = await api.gql(CREATE_STAFF, {"input": inputs}, headers=creds.cs)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    weak = await api.gql(CREATE_STAFF, {"input": {**inputs, "password": "short"}}, headers=creds.admin)
    assert weak["data"]["createStaffAccount"]["userErrors"] == [
        {"field": ["input", "password"], "code": "WEAK_PASSWORD"}
    ]
    created = (await api.gql(CREATE_STAFF, {"input": inputs}, headers=creds.admin))["data"]["createStaffAccount"]
    account = created["staffAccount"]
    assert (account["email"], account["roles"]) == ("finance@shop.example", ["FINANCE"])
    taken = await api.gql(CREATE_STAFF, {"input": inputs}, headers=creds.admin)
    assert taken["data"]["createStaffAccount"]["userErrors"][0]["code"] == "EMAIL_TAKEN"
    login = {"email": inputs["email"], "password": inputs["password"]}
    assert (await api.gql(LOGIN, {"input": login}))["data"]["staffLogin"]["token"]

    roles = await api.gql(SET_ROLES, {"input": {"id": account["id"], "roles": ["FINANCE", "CS"]}}, headers=creds.admin)
    assert roles["data"]["setStaffRoles"]["staffAccount"]["roles"] == ["FINANCE", "CS"]
    disabled = await api.gql(DISABLE, {"input": {"id": account["id"]}}, headers=creds.admin)
    assert disabled["data"]["disableStaffAccount"]["staffAccount"]["disabledAt"] is not None
    assert (await api.gql(LOGIN, {"input": login}))["data"]["staffLogin"]["token"] is None

    logged = [
        (e["action"], e["details"]) for e in await _log(api, creds) if e["target"] == "staff:finance@shop.example"
    ]
    assert logged == [
        ("STAFF_DISABLED", {"roles": ["finance", "cs"]}),
        ("STAFF_ROLES_CHANGED", {"from": ["finance"], "to": ["finance", "cs"]}),
        ("STAFF_CREATED", {"roles": ["finance"]}),
    ]
    assert (await api.gql(NODE, {"id": account["id"]}, headers=creds.admin))["data"]["node"]["__typename"] == (
        "StaffAccount"
    )
    assert (await api.gql(NODE, {"id": account["id"]}, headers=creds.cs))["data"]["node"] is None
