"""The vault seals raw bodies, ids are typed and opaque, and every query is priced before it runs."""

from __future__ import annotations

import base64
from functools import cache

import pytest
from cryptography.exceptions import InvalidTag
from graphql import (
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    specified_rules,
    validate,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from api.graphql.cost import MAX_MUTATIONS, cost_rule, selection_cost
from api.graphql.ids import decode_cursor, decode_gid, encode_cursor, encode_gid
from api.graphql.pagination import MAX_PAGE
from domain.intake.vault import Vault

BODY = b'{"receiver_phone": "13812345678", "receiver_name": "\xe5\xbc\xa0\xe4\xb8\x89"}'


# --- vault -------------------------------------------------------------------------------------


def test_vault_round_trip() -> None:
    vault = Vault("s3cret")
    sealed = vault.seal(BODY)
    assert vault.open(sealed) == BODY
    assert Vault("s3cret").open(sealed) == BODY  # the key derives from the secret alone


def test_sealed_bytes_hide_the_plaintext() -> None:
    sealed = Vault("s3cret").seal(BODY)
    assert BODY not in sealed
    assert b"13812345678" not in sealed
    assert len(sealed) == 1 + 12 + len(BODY) + 16  # version, nonce, ciphertext, tag


def test_each_seal_uses_a_fresh_nonce() -> None:
    vault = Vault("s3cret")
    assert vault.seal(BODY) != vault.seal(BODY)


def test_empty_body_round_trips() -> None:
    vault = Vault("s3cret")
    assert vault.open(vault.seal(b"")) == b""


@pytest.mark.parametrize("index", [1, 12, 13, 20, -1])
def test_tampering_is_detected(index: int) -> None:
    vault = Vault("s3cret")
    sealed = bytearray(vault.seal(BODY))
    sealed[index] ^= 0x01
    with pytest.raises(InvalidTag):
        vault.open(bytes(sealed))


def test_truncation_is_detected() -> None:
    vault = Vault("s3cret")
    sealed = vault.seal(BODY)
    with pytest.raises(InvalidTag):
        vault.open(sealed[:-1])


def test_unknown_format_is_refused() -> None:
    vault = Vault("s3cret")
    sealed = vault.seal(BODY)
    with pytest.raises(ValueError, match="unknown vault format"):
        vault.open(b"\x02" + sealed[1:])
    with pytest.raises(ValueError, match="unknown vault format"):
        vault.open(b"")


def test_another_key_cannot_open() -> None:
    sealed = Vault("s3cret").seal(BODY)
    with pytest.raises(InvalidTag):
        Vault("other").open(sealed)


@settings(max_examples=100)
@given(body=st.binary(max_size=2048))
def test_vault_round_trips_any_bytes(body: bytes) -> None:
    vault = Vault("s3cret")
    assert vault.open(vault.seal(body)) == body


# --- global ids and cursors --------------------------------------------------------------------


def _code(error: GraphQLError) -> object:
    return (error.extensions or {}).get("code")


@pytest.mark.parametrize(("type_name", "key"), [("Order", 1), ("Order", 0), ("StaffUser", 987654321012)])
def test_gid_round_trip(type_name: str, key: int) -> None:
    gid = encode_gid(type_name, key)
    assert gid == f"gid://orderhub/{type_name}/{key}"
    assert decode_gid(gid) == (type_name, key)
    assert decode_gid(gid, type_name) == (type_name, key)


def test_gid_of_another_type_is_refused() -> None:
    with pytest.raises(GraphQLError) as excinfo:
        decode_gid(encode_gid("StaffUser", 5), "Order")
    assert _code(excinfo.value) == "INVALID_ID"


@pytest.mark.parametrize(
    "gid",
    [
        "",
        "5",
        "Order/5",
        "gid://other/Order/5",
        "gid://orderhub/Order",
        "gid://orderhub/Order/",
        "gid://orderhub/Order/abc",
        "gid://orderhub/Order/-5",
        "gid://orderhub/Order/5.0",
        "gid://orderhub/Order/ 5",
        "GID://ORDERHUB/Order/5",
    ],
)
def test_garbage_gid_is_refused(gid: str) -> None:
    with pytest.raises(GraphQLError) as excinfo:
        decode_gid(gid, "Order")
    assert _code(excinfo.value) == "INVALID_ID"


def test_superscript_digit_gid_is_refused_as_invalid_id() -> None:
    with pytest.raises(GraphQLError) as excinfo:
        decode_gid("gid://orderhub/Order/²", "Order")
    assert _code(excinfo.value) == "INVALID_ID"


@settings(max_examples=200)
@given(type_name=st.sampled_from(["Order", "StaffUser", "OrderEvent"]), key=st.integers(0, 2**63 - 1))
def test_gid_round_trips_any_key(type_name: str, key: int) -> None:
    assert decode_gid(encode_gid(type_name, key), type_name) == (type_name, key)


@pytest.mark.parametrize("key", [0, 1, 42, 2**62])
def test_cursor_round_trip(key: int) -> None:
    cursor = encode_cursor("order", key)
    assert str(key) not in cursor  # opaque, not the bare key
    assert decode_cursor(cursor, "order") == key


def test_missing_cursor_is_none() -> None:
    assert decode_cursor(None, "order") is None


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "abc",
        "é",
        encode_cursor("event", 5),  # a cursor of another kind
        base64.urlsafe_b64encode(b"order:abc").decode(),
        base64.urlsafe_b64encode(b"order:").decode(),
        base64.urlsafe_b64encode(b"order:-1").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe:1").decode(),
    ],
)
def test_invalid_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(GraphQLError) as excinfo:
        decode_cursor(cursor, "order")
    assert _code(excinfo.value) == "INVALID_CURSOR"


# --- cost --------------------------------------------------------------------------------------


@cache
def schema() -> GraphQLSchema:
    from api.graphql.schema import build_schema

    return build_schema()._schema


def cost(source: str) -> int:
    document = parse(source)
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    assert len(operations) == 1
    return selection_cost(operations[0].selection_set, fragments)


def orders_query(first: int | str) -> str:
    return f"{{ orders(first: {first}) {{ edges {{ node {{ id lines {{ sku }} }} }} }} }}"


def codes(source: str, limit: int = 50, *, all_rules: bool = True) -> list[object]:
    rules = [*specified_rules, cost_rule(limit)] if all_rules else [cost_rule(limit)]
    return [_code(error) for error in validate(schema(), parse(source), rules)]


def test_leaves_are_free_and_objects_cost_one() -> None:
    assert cost("{ __typename }") == 0
    assert cost('{ order(id: "x") { id channel } }') == 1
    # order 1 + lines 1 + unitPrice 1
    assert cost('{ order(id: "x") { id lines { sku unitPrice { amount } } } }') == 3


def test_connection_cost_is_multiplied_by_its_page_size() -> None:
    # orders: 1 + first * (edges 1 + node 1 + lines 1)
    assert cost(orders_query(10)) == 1 + 10 * 3 == 31
    assert cost(orders_query(20)) == 1 + 20 * 3 == 61
    assert cost(orders_query(20)) - 1 == 2 * (cost(orders_query(10)) - 1)
    assert cost(orders_query(1)) < cost(orders_query(10)) < cost(orders_query(20)) < cost(orders_query(100))


def test_last_counts_like_first() -> None:
    assert cost("{ orders(last: 7) { edges { node { id lines { sku } } } } }") == cost(orders_query(7))


def test_variable_page_size_counts_as_the_maximum() -> None:
    source = "query ($n: Int) { orders(first: $n) { edges { node { id lines { sku } } } } }"
    assert cost(source) == cost(orders_query(MAX_PAGE)) == 1 + MAX_PAGE * 3


def test_nested_connections_multiply() -> None:
    source = "{ orders(first: 10) { edges { node { events(first: 5) { edges { node { id } } } } } } }"
    # events: 1 + 5 * (edges 1 + node 1) = 11; orders: 1 + 10 * (edges 1 + node (1 + 11)) = 131
    assert cost(source) == 131


def test_fragment_spread_is_counted() -> None:
    with_fragment = """
        { orders(first: 10) { edges { node { ...Lines } } } }
        fragment Lines on Order { id lines { sku } }
    """
    assert cost(with_fragment) == cost(orders_query(10))
    with_inline = "{ orders(first: 10) { edges { node { ... on Order { id lines { sku } } } } } }"
    assert cost(with_inline) == cost(orders_query(10))


def test_a_fragment_spread_twice_is_counted_twice() -> None:
    source = """
        { a: orders(first: 10) { ...Page } b: orders(first: 10) { ...Page } }
        fragment Page on OrderConnection { edges { node { id lines { sku } } } }
    """
    assert cost(source) == 2 * cost(orders_query(10))


def test_fragment_cycles_terminate() -> None:
    source = """
        { orders(first: 2) { edges { node { ...A } } } }
        fragment A on Order { lines { sku } ...B }
        fragment B on Order { lines { title } ...A }
    """
    # A: lines 1 + B (lines 1 + A already seen: 0) = 2; orders: 1 + 2 * (edges 1 + node (1 + 2)) = 9
    assert cost(source) == 9


def test_cheap_query_passes_validation() -> None:
    assert codes(orders_query(10)) == []
    assert codes(orders_query(16)) == []  # 49


def test_costly_query_is_refused_during_validation() -> None:
    assert codes(orders_query(17)) == ["QUERY_TOO_COSTLY"]  # 52
    assert codes(orders_query(20), all_rules=False) == ["QUERY_TOO_COSTLY"]


def test_costly_fragment_query_is_refused() -> None:
    source = """
        { orders(first: 20) { edges { node { ...Lines } } } }
        fragment Lines on Order { id lines { sku } }
    """
    assert codes(source) == ["QUERY_TOO_COSTLY"]


def _logins(count: int) -> str:
    fields = " ".join(f'm{i}: staffLogin(input: {{email: "a@b.c", password: "x"}}) {{ token }}' for i in range(count))
    return f"mutation {{ {fields} }}"


def test_a_few_mutations_are_allowed() -> None:
    assert codes(_logins(MAX_MUTATIONS)) == []


def test_too_many_mutations_are_refused() -> None:
    assert codes(_logins(MAX_MUTATIONS + 1)) == ["TOO_MANY_MUTATIONS"]
    assert codes(_logins(MAX_MUTATIONS + 1), all_rules=False) == ["TOO_MANY_MUTATIONS"]


def test_mutations_hidden_in_a_fragment_are_counted() -> None:
    inner = _logins(MAX_MUTATIONS + 1).removeprefix("mutation ")
    spread = f"mutation {{ ...Many }} fragment Many on Mutation {inner}"
    assert codes(spread) == ["TOO_MANY_MUTATIONS"]
    inline = f"mutation {{ ... on Mutation {inner} }}"
    assert codes(inline) == ["TOO_MANY_MUTATIONS"]


def test_negative_page_size_cannot_cancel_the_cost_of_siblings() -> None:
    page = "edges { node { id lines { sku } } }"
    source = f"{{ a: orders(first: 100) {{ {page} }} b: orders(first: -100) {{ {page} }} }}"
    assert cost(source) >= cost(orders_query(100))
    assert "QUERY_TOO_COSTLY" in codes(source)
