"""The three callers: customers see only their own orders, partners act within their scopes,
staff sign in with a password and act within their roles."""

from __future__ import annotations

from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import ORDER, ORDERS, SUBMIT_ORDER, SUBMIT_ORDERS, order_input

LOGIN = """
mutation Login($input: StaffLoginInput!) {
  staffLogin(input: $input) { token roles userErrors { field code } }
}
"""

EVENTS = """
query Events($id: ID!) { order(id: $id) { events(first: 10) { edges { node { type status source actor } } } } }
"""


async def _two_buyers(api: Api, creds: Credentials) -> tuple[str, str]:
    mine = order_input("MINE-1", buyer={"phone": "13812345678"})
    theirs = order_input("THEIRS-1", buyer={"phone": "13987654321"})
    result = await api.gql(SUBMIT_ORDERS, {"input": {"orders": [mine, theirs]}}, headers=creds.writer)
    assert result["data"]["submitOrders"]["userErrors"] == []
    one = await api.gql(ORDER, {"id": result["data"]["submitOrders"]["orders"][0]["id"]}, headers=creds.reader)
    return one["data"]["order"]["buyerUid"], result["data"]["submitOrders"]["orders"][1]["id"]


async def test_customer_lists_only_own_orders(api: Api, creds: Credentials) -> None:
    uid, other_gid = await _two_buyers(api, creds)
    me = creds.customer(api.runtime, uid)
    listed = await api.gql(ORDERS, {"first": 10}, headers=me)
    assert [e["node"]["channelOrderId"] for e in listed["data"]["orders"]["edges"]] == ["MINE-1"]
    hidden = await api.gql(ORDER, {"id": other_gid}, headers=me)
    assert hidden["data"]["order"] is None
    everyone = await api.gql(ORDERS, {"first": 10}, headers=creds.admin)
    assert len(everyone["data"]["orders"]["edges"]) == 2


async def test_customer_filter_cannot_widen_the_view(api: Api, creds: Credentials) -> None:
    uid, _ = await _two_buyers(api, creds)
    other_uid = (await api.gql(ORDERS, {"first": 10}, headers=creds.admin))["data"]["orders"]["edges"]
    assert other_uid
    me = creds.customer(api.runtime, uid)
    sneaky = await api.gql(ORDERS, {"first": 10, "filter": {"buyerUid": "0" * 64}}, headers=me)
    assert sneaky["data"]["orders"]["edges"] == []


async def test_anonymous_and_expired_are_unauthenticated(api: Api) -> None:
    anonymous = await api.gql(ORDERS, {"first": 1})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    forged = await api.gql(ORDERS, {"first": 1}, headers={"Authorization": "Bearer not.a.token"})
    assert forged["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_customer_cannot_submit_orders(api: Api, creds: Credentials) -> None:
    result = await api.gql(SUBMIT_ORDER, {"input": order_input()}, headers=creds.customer(api.runtime, "a" * 64))
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_staff_login_and_staff_only_event_log(api: Api, creds: Credentials) -> None:
    wrong = await api.gql(LOGIN, {"input": {"email": "admin@shop.example", "password": "nope"}})
    assert wrong["data"]["staffLogin"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
    ok = await api.gql(LOGIN, {"input": {"email": "ADMIN@shop.example", "password": "correct horse battery"}})
    login = ok["data"]["staffLogin"]
    assert login["roles"] == ["admin"]
    staff = {"Authorization": f"Bearer {login['token']}"}
    created = await api.gql(SUBMIT_ORDER, {"input": order_input()}, headers=creds.writer)
    gid = created["data"]["submitOrder"]["order"]["id"]
    log = await api.gql(EVENTS, {"id": gid}, headers=staff)
    [event] = [e["node"] for e in log["data"]["order"]["events"]["edges"]]
    assert event == {
        "type": "ORDER_PLACED",
        "status": "PENDING_PAYMENT",
        "source": "CHANNEL",
        "actor": "partner:channel-bridge",
    }
    uid = (await api.gql(ORDER, {"id": gid}, headers=staff))["data"]["order"]["buyerUid"]
    as_customer = await api.gql(EVENTS, {"id": gid}, headers=creds.customer(api.runtime, uid))
    assert as_customer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert as_customer["data"]["order"] is None


async def test_pagination_is_keyset_and_capped(api: Api, creds: Credentials) -> None:
    batch = [order_input(f"PAGE-{i}") for i in range(5)]
    await api.gql(SUBMIT_ORDERS, {"input": {"orders": batch}}, headers=creds.writer)
    first = await api.gql(ORDERS, {"first": 2}, headers=creds.reader)
    page = first["data"]["orders"]
    assert [e["node"]["channelOrderId"] for e in page["edges"]] == ["PAGE-4", "PAGE-3"]
    assert page["pageInfo"]["hasNextPage"] is True
    await api.gql(SUBMIT_ORDER, {"input": order_input("PAGE-NEW")}, headers=creds.writer)
    second = await api.gql(ORDERS, {"first": 2, "after": page["pageInfo"]["endCursor"]}, headers=creds.reader)
    assert [e["node"]["channelOrderId"] for e in second["data"]["orders"]["edges"]] == ["PAGE-2", "PAGE-1"]
    back = await api.gql(ORDERS, {"last": 2, "before": page["pageInfo"]["startCursor"]}, headers=creds.reader)
    assert [e["node"]["channelOrderId"] for e in back["data"]["orders"]["edges"]] == ["PAGE-NEW"]
    too_many = await api.gql(ORDERS, {"first": 101}, headers=creds.reader)
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    filtered = await api.gql(ORDERS, {"first": 10, "filter": {"channels": ["DOUYIN"]}}, headers=creds.reader)
    assert filtered["data"]["orders"]["edges"] == []


async def test_query_limits(api: Api, creds: Credentials) -> None:
    aliases = " ".join(f"a{i}: orders(first: 1) {{ edges {{ cursor }} }}" for i in range(30))
    result = await api.gql(f"{{ {aliases} }}", headers=creds.reader)
    assert "aliases" in result["errors"][0]["message"].lower()
    deep = "{ orders(first: 100) { edges { node { lines { sku } events(first: 100) { edges { node { id } } } } } } }"
    costly = await api.gql(deep, headers=creds.admin)
    assert costly["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
