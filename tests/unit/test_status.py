"""The order state machine: rules, graph and ranking agree with one another."""

from __future__ import annotations

import itertools

import pytest

from domain.orders.status import (
    ENDED_UNFULFILLED,
    FINAL,
    GRAPH,
    NOT_TO_SHIP,
    RULES,
    STAGE_BITS,
    EventType,
    OrderStatus,
    Source,
    TransitionRefused,
    decide,
    minimum_changes,
    rank,
    shortest_path_length,
)

S = OrderStatus
E = EventType


@pytest.mark.parametrize(
    ("current", "event", "source", "expected"),
    [
        (S.PENDING_PAYMENT, E.ORDER_PAID, Source.CHANNEL, S.PAID),
        (S.PENDING_PAYMENT, E.ORDER_PAID, Source.SYSTEM, S.PAID),
        (S.PENDING_PAYMENT, E.ORDER_CANCELLED, Source.CHANNEL, S.CANCELLED),
        (S.PAID, E.ORDER_CANCELLED, Source.STAFF, S.CANCELLED),
        (S.SHIP_REQUESTED, E.ORDER_CANCELLED, Source.SYSTEM, S.CANCELLED),
        (S.DELIVERED, E.ORDER_COMPLETED, Source.CHANNEL, S.COMPLETED),
        (S.DELIVERED, E.ORDER_COMPLETED, Source.SYSTEM, S.COMPLETED),
        (S.PAID, E.SHIP_REQUESTED, Source.STAFF, S.SHIP_REQUESTED),
        (S.SHIP_REQUESTED, E.ORDER_PICKED, Source.WMS, S.PICKED),
        (S.PICKED, E.ORDER_PACKED, Source.WMS, S.PACKED),
        (S.PACKED, E.ORDER_SHIPPED, Source.WMS, S.SHIPPED),
        (S.SHIP_REQUESTED, E.ORDER_SHIPPED, Source.CARRIER, S.SHIPPED),
        (S.SHIPPED, E.ORDER_DELIVERED, Source.CARRIER, S.DELIVERED),
        (S.PENDING_PAYMENT, E.ORDER_SUPERSEDED, Source.SYSTEM, S.VOID),
        (S.PAID, E.ORDER_SUPERSEDED, Source.SYSTEM, S.VOID),
    ],
)
def test_allowed_transitions(current: S, event: E, source: Source, expected: S) -> None:
    assert decide(current, event, source) is expected


@pytest.mark.parametrize(
    ("current", "event", "source"),
    [
        (S.PENDING_PAYMENT, E.ORDER_PAID, Source.STAFF),
        (S.PENDING_PAYMENT, E.ORDER_PAID, Source.CUSTOMER),
        (S.PENDING_PAYMENT, E.ORDER_PAID, Source.WMS),
        (S.PAID, E.ORDER_CANCELLED, Source.CUSTOMER),
        (S.PAID, E.ORDER_CANCELLED, Source.CARRIER),
        (S.DELIVERED, E.ORDER_COMPLETED, Source.STAFF),
        # the source is judged before the state
        (S.COMPLETED, E.ORDER_PAID, Source.STAFF),
        # a person never writes a physical status
        (S.SHIP_REQUESTED, E.ORDER_SHIPPED, Source.STAFF),
        (S.SHIP_REQUESTED, E.ORDER_SHIPPED, Source.CUSTOMER),
        (S.SHIP_REQUESTED, E.ORDER_PICKED, Source.STAFF),
        (S.SHIPPED, E.ORDER_DELIVERED, Source.STAFF),
        (S.SHIPPED, E.ORDER_DELIVERED, Source.WMS),
        (S.PAID, E.SHIP_REQUESTED, Source.WMS),
        (S.PAID, E.ORDER_SUPERSEDED, Source.STAFF),
    ],
)
def test_refused_sources(current: S, event: E, source: Source) -> None:
    with pytest.raises(TransitionRefused) as excinfo:
        decide(current, event, source)
    assert excinfo.value.code == "SOURCE_NOT_ALLOWED"


@pytest.mark.parametrize(
    ("current", "event", "source"),
    [
        (S.PAID, E.ORDER_PAID, Source.CHANNEL),
        (S.CANCELLED, E.ORDER_PAID, Source.CHANNEL),
        (S.PICKED, E.ORDER_CANCELLED, Source.STAFF),
        (S.PACKED, E.ORDER_CANCELLED, Source.CHANNEL),
        (S.SHIPPED, E.ORDER_CANCELLED, Source.SYSTEM),
        (S.CANCELLED, E.ORDER_CANCELLED, Source.STAFF),
        (S.SHIPPED, E.ORDER_COMPLETED, Source.CHANNEL),
        (S.COMPLETED, E.ORDER_COMPLETED, Source.SYSTEM),
        # events without a rule are refused too
        (S.PENDING_PAYMENT, E.ORDER_AMENDED, Source.STAFF),
        (S.PENDING_PAYMENT, E.PAYMENT_OVERDUE, Source.SYSTEM),
        (S.PENDING_PAYMENT, E.ORDER_PLACED, Source.CHANNEL),
        (S.PAID, E.ORDER_SHIPPED, Source.WMS),
        (S.SHIP_REQUESTED, E.ORDER_DELIVERED, Source.CARRIER),
        (S.CANCELLED, E.ORDER_SHIPPED, Source.CARRIER),
        (S.PENDING_PAYMENT, E.SHIP_REQUESTED, Source.STAFF),
        (S.SHIPPED, E.ORDER_SHIPPED, Source.WMS),
        (S.SHIP_REQUESTED, E.ORDER_SUPERSEDED, Source.SYSTEM),
        (S.CANCELLED, E.ORDER_SUPERSEDED, Source.SYSTEM),
        (S.PAID, E.SUPERSEDES_ORDER, Source.SYSTEM),
    ],
)
def test_illegal_transitions(current: S, event: E, source: Source) -> None:
    with pytest.raises(TransitionRefused) as excinfo:
        decide(current, event, source)
    assert excinfo.value.code == "ILLEGAL_TRANSITION"


def test_decide_never_leaves_the_graph() -> None:
    """Exhaustively: decide either refuses or moves along an edge of GRAPH."""
    accepted = 0
    for current, event, source in itertools.product(S, E, Source):
        try:
            target = decide(current, event, source)
        except TransitionRefused as refused:
            assert refused.code in {"SOURCE_NOT_ALLOWED", "ILLEGAL_TRANSITION"}
            continue
        accepted += 1
        assert target in GRAPH[current]
    # paid, cancelled, completed: 1 + 3 + 1 from-states times 2, 3, 2 sources; then the fulfilment rules:
    # ship request 1 x 1, its withdrawal 1 x 1, picked 1 x 1, packed 2 x 1, partially shipped 3 x 2, shipped 4 x 2,
    # delivered 1 x 1; merge and split 1 x 1 each; supersede 2 x 1
    assert accepted == 1 * 2 + 3 * 3 + 1 * 2 + 1 + 1 + 1 + 2 + 3 * 2 + 4 * 2 + 1 + 1 + 1 + 2


def test_every_rule_follows_an_edge() -> None:
    for rule in RULES:
        assert rule.from_states, rule
        assert rule.sources, rule
        for start in rule.from_states:
            assert rule.to_state in GRAPH[start], (rule.event, start, rule.to_state)


def test_every_edge_is_produced_by_a_rule() -> None:
    """An edge no rule produces is a promise the machine does not keep (shortest paths would count it)."""
    produced = {(start, rule.to_state) for rule in RULES for start in rule.from_states}
    edges = {(start, target) for start, targets in GRAPH.items() for target in targets}
    assert edges == produced


def test_graph_is_closed_over_statuses() -> None:
    assert set(GRAPH) == set(S)
    for start, targets in GRAPH.items():
        assert targets <= set(S)
        assert start not in targets, f"{start} loops on itself"


def test_final_states_have_no_exits() -> None:
    assert {S.COMPLETED, S.CANCELLED, S.REFUNDED, S.VOID} == FINAL  # a merged order returns when staff split it
    for status in FINAL:
        assert GRAPH[status] == frozenset()
        for event, source in itertools.product(E, Source):
            with pytest.raises(TransitionRefused):
                decide(status, event, source)


def test_every_status_but_refunded_is_reachable_from_pending_payment() -> None:
    """REFUNDED is kept for the API's enum, but no rule produces it yet."""
    for status in set(S) - {S.REFUNDED}:
        assert shortest_path_length(S.PENDING_PAYMENT, status) is not None, status
    assert shortest_path_length(S.PENDING_PAYMENT, S.REFUNDED) is None


def test_the_derived_sets_of_final_statuses() -> None:
    assert {S.CANCELLED, S.REFUNDED, S.VOID} == ENDED_UNFULFILLED
    assert {S.CANCELLED, S.REFUNDED, S.VOID, S.MERGED} == NOT_TO_SHIP


@pytest.mark.parametrize(
    ("start", "end", "length"),
    [
        (S.PENDING_PAYMENT, S.PENDING_PAYMENT, 0),
        (S.PENDING_PAYMENT, S.PAID, 1),
        (S.PENDING_PAYMENT, S.CANCELLED, 1),
        (S.PENDING_PAYMENT, S.SHIP_REQUESTED, 2),
        # PENDING_PAYMENT -> PAID -> SHIP_REQUESTED -> SHIPPED
        (S.PENDING_PAYMENT, S.SHIPPED, 3),
        (S.PENDING_PAYMENT, S.PACKED, 3),
        (S.PENDING_PAYMENT, S.DELIVERED, 4),
        (S.PENDING_PAYMENT, S.COMPLETED, 5),
        (S.SHIP_REQUESTED, S.PAID, 1),
        (S.PICKED, S.DELIVERED, 2),
    ],
)
def test_shortest_path_length(start: S, end: S, length: int) -> None:
    assert shortest_path_length(start, end) == length


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (S.CANCELLED, S.PAID),
        (S.REFUNDED, S.PENDING_PAYMENT),
        (S.SHIPPED, S.PAID),
        (S.SHIPPED, S.CANCELLED),
        (S.PICKED, S.CANCELLED),
        (S.COMPLETED, S.DELIVERED),
        (S.PAID, S.PENDING_PAYMENT),
        (S.PAID, S.MERGED),
        (S.DELIVERED, S.REFUNDED),
        (S.COMPLETED, S.REFUNDED),
    ],
)
def test_unreachable_is_none(start: S, end: S) -> None:
    assert shortest_path_length(start, end) is None


def test_rank_orders_the_main_flow() -> None:
    flow = [S.PENDING_PAYMENT, S.PAID, S.SHIP_REQUESTED, S.PICKED, S.PACKED, S.PARTIALLY_SHIPPED, S.SHIPPED,
            S.DELIVERED, S.COMPLETED]  # fmt: skip
    ranks = [rank(status) for status in flow]
    assert ranks == sorted(ranks)
    assert len(set(ranks)) == len(ranks)
    assert rank(S.PENDING_PAYMENT) == 0
    assert rank(S.PAID) < rank(S.SHIPPED) < rank(S.COMPLETED)
    off_flow = set(S) - set(flow)
    assert off_flow == {S.CANCELLED, S.REFUNDED, S.MERGED, S.VOID}
    for status in off_flow:
        assert rank(status) > max(ranks)


def test_only_the_system_groups_and_only_unpaid_orders() -> None:
    assert decide(S.PENDING_PAYMENT, E.ORDER_MERGED, Source.SYSTEM) is S.MERGED
    for source in set(Source) - {Source.SYSTEM}:
        with pytest.raises(TransitionRefused) as refused:
            decide(S.PENDING_PAYMENT, E.ORDER_MERGED, source)
        assert refused.value.code == "SOURCE_NOT_ALLOWED"
    with pytest.raises(TransitionRefused) as refused:
        decide(S.PAID, E.ORDER_MERGED, Source.SYSTEM)
    assert refused.value.code == "ILLEGAL_TRANSITION"


def test_only_staff_split_a_group() -> None:
    assert decide(S.MERGED, E.ORDER_SPLIT, Source.STAFF) is S.PENDING_PAYMENT
    with pytest.raises(TransitionRefused):
        decide(S.MERGED, E.ORDER_SPLIT, Source.SYSTEM)
    with pytest.raises(TransitionRefused):
        decide(S.MERGED, E.ORDER_PAID, Source.CHANNEL)


def test_a_shipment_in_several_parcels_counts_no_drift() -> None:
    """SHIP_REQUESTED -> PARTIALLY_SHIPPED -> SHIPPED is one change more than the direct edge, and no drift."""
    entered = STAGE_BITS[S.PARTIALLY_SHIPPED]
    assert minimum_changes(S.SHIP_REQUESTED, S.SHIPPED, entered) == 2
    assert minimum_changes(S.SHIP_REQUESTED, S.SHIPPED, 0) == 1
    assert decide(S.PARTIALLY_SHIPPED, E.ORDER_SHIPPED, Source.WMS) is S.SHIPPED
    with pytest.raises(TransitionRefused):
        decide(S.PARTIALLY_SHIPPED, E.ORDER_DELIVERED, Source.CARRIER)  # every parcel out first
    with pytest.raises(TransitionRefused):
        decide(S.PACKED, E.ORDER_PARTIALLY_SHIPPED, Source.STAFF)
