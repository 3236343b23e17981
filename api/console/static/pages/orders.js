// Find an order: search by what a caller quotes, then the order's flow beside its system log, where it is
// blocked, its money, its exceptions and when its next step is expected.
"use strict";

import { button, day, duration, el, field, go, gql, money, table, t, time } from "../lib.js";
import { exceptionKindName, exceptionStateName, statusName } from "./order-names.js";

const MONEY = "{ amount currencyCode }";
const SUMMARY = `id channel channelOrderId status placedAt warehouseCode trackingNumber buyerUid totalAmount ${MONEY}`;

const BY_ID = `query OrderById($id: ID!) { order(id: $id) { ${SUMMARY} } }`;
const SEARCH = `query FindOrders($filter: OrderFilter) { orders(first: 20, filter: $filter) { nodes { ${SUMMARY} } } }`;

/** The one search box: the server tries the text as a channel order number, a tracking number, a buyer UID and a
 * full mobile number (hashed there, never stored), in one query. */
function filtersFor(text) {
  return [{ search: text }];
}

/** Every order the text names (an order id, or what the search box matches), newest first, each once. */
export async function findOrders(text) {
  const wanted = text.trim();
  if (!wanted) return [];
  const asks = filtersFor(wanted).map((filter) => gql(SEARCH, { filter }).then((d) => d.orders.nodes));
  if (wanted.startsWith("gid://")) asks.push(gql(BY_ID, { id: wanted }).then((d) => (d.order ? [d.order] : [])));
  const found = new Map();
  for (const orders of await Promise.all(asks)) for (const order of orders) found.set(order.id, order);
  return [...found.values()].sort((a, b) => (a.placedAt < b.placedAt ? 1 : -1));
}

const DETAIL = `query OrderDetail($id: ID!) {
  order(id: $id) {
    ${SUMMARY} rawStatus shopCode carrierCode currentOperator paidAt shipRequestedAt shippedAt deliveredAt
    predictedNextAt predictedNextStage predictedNextInterval { low high } predictionBasis predictionModelVersion
    timeline {
      flow { status at version }
      systemLog(first: 100) { nodes { version type status source actor occurredAt decision } pageInfo { hasNextPage } }
    }
    backtrack {
      stages { fromStatus toStatus startedAt endedAt duration { seconds } }
      blockingPoint { status since duration { seconds } warehouseCode zone station operator summary }
    }
    money {
      amountDue ${MONEY} amountReceived ${MONEY} balance ${MONEY} receivedInOtherCurrencies ${MONEY}
      vouchers(first: 50) { nodes { id provider providerTransactionId kind status amount ${MONEY} receivedAt reason } }
      adjustments(first: 50) { nodes { id amount ${MONEY} actor reason createdAt } }
    }
  }
  orderExceptions(first: 50, filter: { orderId: $id }) {
    nodes { id kind state summary openedAt closeBy assignedTo resolvedAt resolution }
  }
}`;

function searchForm(text) {
  const input = el("input", { id: "order-search", type: "search", name: "q", value: text || "", required: true,
    autocomplete: "off", size: 40 });
  const form = el("form", { class: "toolbar", role: "search" },
    field(t("Channel order no., tracking no., phone or buyer UID"), input),
    el("button", { type: "submit", class: "primary" }, t("Search")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    go("orders", { q: input.value.trim() });
  });
  return form;
}

function results(orders) {
  return table(
    [t("Channel"), t("Channel order no."), t("Status"), t("Placed"), t("Total"), t("Warehouse"), ""],
    orders.map((o) => [o.channel, o.channelOrderId, statusName(o.status), time(o.placedAt), money(o.totalAmount),
      o.warehouseCode || "—",
      el("a", { href: `#/orders?id=${encodeURIComponent(o.id)}`, class: "open-order",
        "aria-label": t("View order {number}", { number: o.channelOrderId }) }, t("View"))]),
    { empty: t("No order matches."), attrs: { class: "order-results" } });
}

function facts(order) {
  const row = (label, value, name) => [el("dt", {}, label), el("dd", { "data-field": name }, value)];
  return el("dl", { class: "facts" },
    row(t("Channel"), order.channel, "channel"),
    row(t("Channel order no."), order.channelOrderId, "channelOrderId"),
    row(t("Status"), statusName(order.status), "status"),
    row(t("Channel status"), order.rawStatus || "—", "rawStatus"),
    row(t("Buyer UID"), order.buyerUid || "—", "buyerUid"),
    row(t("Total"), money(order.totalAmount), "total"),
    row(t("Placed"), time(order.placedAt), "placedAt"),
    row(t("Paid"), time(order.paidAt), "paidAt"),
    row(t("Ship requested"), time(order.shipRequestedAt), "shipRequestedAt"),
    row(t("Outbound"), time(order.shippedAt), "shippedAt"),
    row(t("Delivered"), time(order.deliveredAt), "deliveredAt"),
    row(t("Warehouse"), order.warehouseCode || "—", "warehouseCode"),
    row(t("Tracking no."), order.trackingNumber ? `${order.trackingNumber} ${order.carrierCode || ""}`.trim() : "—",
      "trackingNumber"));
}

function flowAndLog(order) {
  const log = order.timeline.systemLog;
  return el("div", { class: "columns flow-log" },
    el("section", { class: "card", "aria-labelledby": "flow-title" },
      el("h2", { id: "flow-title" }, t("Customer flow")),
      el("ol", { class: "flow" }, order.timeline.flow.map((step) =>
        el("li", { "data-status": step.status }, el("strong", {}, statusName(step.status)), " ",
          el("time", { datetime: step.at }, time(step.at)))))),
    el("section", { class: "card", "aria-labelledby": "log-title" },
      el("h2", { id: "log-title" }, t("System log")),
      table([t("Version"), t("Time"), t("Event"), t("Status"), t("Source"), t("Actor"), t("Decision")],
        log ? log.nodes.map((e) => [e.version, time(e.occurredAt, { seconds: true }), e.type, statusName(e.status),
          e.source, e.actor, e.decision || ""]) : [],
        { attrs: { class: "system-log" } }),
      log && log.pageInfo.hasNextPage ? el("p", { class: "muted" }, t("Only the first 100 events are shown.")) : null));
}

function backtrack(order) {
  const bt = order.backtrack;
  const point = bt.blockingPoint;
  const place = point ? [point.station, point.zone, point.warehouseCode].filter(Boolean).join(" · ") : "";
  return el("section", { class: "card", "aria-labelledby": "backtrack-title" },
    el("h2", { id: "backtrack-title" }, t("Backtrack")),
    point ? el("div", { class: "figures blocking" },
      el("div", { class: "figure" }, el("span", { class: "muted" }, t("Blocked at")),
        el("span", { class: "number", "data-field": "blockingStatus" }, statusName(point.status))),
      el("div", { class: "figure" }, el("span", { class: "muted" }, t("Since")),
        el("span", { class: "number", "data-field": "blockingSince" }, time(point.since))),
      el("div", { class: "figure" }, el("span", { class: "muted" }, t("For")),
        el("span", { class: "number", "data-field": "blockingFor" }, duration(point.duration.seconds))),
      el("div", { class: "figure" }, el("span", { class: "muted" }, t("Station")),
        el("span", { class: "number", "data-field": "blockingPlace" }, place || "—")),
      el("div", { class: "figure" }, el("span", { class: "muted" }, t("Operator")),
        el("span", { class: "number", "data-field": "blockingOperator" }, point.operator || "—"))) : null,
    point ? el("p", { class: "muted", "data-field": "blockingSummary" }, point.summary) : null,
    table([t("From"), t("To"), t("Started"), t("Ended"), t("Took")],
      bt.stages.map((s) => [statusName(s.fromStatus), statusName(s.toStatus), time(s.startedAt), time(s.endedAt),
        duration(s.duration.seconds)]),
      { empty: t("No stage finished yet."), attrs: { class: "stages" } }));
}

function payments(order) {
  const m = order.money;
  const figure = (label, value, name) =>
    el("div", { class: "figure" }, el("span", { class: "muted" }, label),
      el("span", { class: "number", "data-field": name }, value));
  return el("section", { class: "card", "aria-labelledby": "money-title" },
    el("h2", { id: "money-title" }, t("Payments and adjustments")),
    el("div", { class: "figures" },
      figure(t("Due"), money(m.amountDue), "amountDue"),
      figure(t("Received"), money(m.amountReceived), "amountReceived"),
      figure(t("Balance"), money(m.balance), "balance"),
      m.receivedInOtherCurrencies.length
        ? figure(t("Received in other currencies"), m.receivedInOtherCurrencies.map(money).join(", "), "otherCurrencies")
        : null),
    el("h3", {}, t("Vouchers")),
    table([t("Received"), t("Provider"), t("Transaction id"), t("Kind"), t("Status"), t("Amount"), t("Reason")],
      m.vouchers.nodes.map((v) => [time(v.receivedAt), v.provider, v.providerTransactionId, v.kind, v.status,
        money(v.amount), v.reason || ""]),
      { empty: t("No payment recorded."), attrs: { class: "vouchers" } }),
    el("h3", {}, t("Adjustments")),
    table([t("Time"), t("Amount"), t("By"), t("Reason")],
      m.adjustments.nodes.map((a) => [time(a.createdAt), money(a.amount), a.actor, a.reason]),
      { empty: t("No adjustment."), attrs: { class: "adjustments" } }));
}

function exceptions(order, cases) {
  return el("section", { class: "card", "aria-labelledby": "exceptions-title" },
    el("h2", { id: "exceptions-title" }, t("Exceptions")),
    table([t("Opened"), t("Kind"), t("State"), t("Summary"), t("Assigned to"), t("Resolution")],
      cases.map((c) => [time(c.openedAt), exceptionKindName(c.kind), exceptionStateName(c.state), c.summary,
        c.assignedTo || "—", c.resolution || ""]),
      { empty: t("No exception on this order."), attrs: { class: "order-exceptions" } }),
    cases.some((c) => c.state === "OPEN")
      ? el("a", { href: `#/exceptions?order=${encodeURIComponent(order.id)}` }, t("Handle in the exceptions queue"))
      : null);
}

function prediction(order) {
  const interval = order.predictedNextInterval;
  return el("section", { class: "card", "aria-labelledby": "prediction-title" },
    el("h2", { id: "prediction-title" }, t("Next step")),
    order.predictedNextAt
      ? el("p", { "data-field": "prediction" },
        t("{stage} expected at {at} (90% between {low} and {high})", {
          stage: statusName(order.predictedNextStage),
          at: time(order.predictedNextAt),
          low: interval ? time(interval.low) : "—",
          high: interval ? time(interval.high) : "—",
        }), " ",
        el("span", { class: "muted" }, order.predictionBasis === "MODEL"
          ? t("learnt model, version {version}", { version: order.predictionModelVersion })
          : t("per-stage median")))
      : el("p", { class: "empty" }, t("No prediction for the next step yet.")));
}

async function showOrder(root, id, text) {
  const data = await gql(DETAIL, { id });
  const order = data.order;
  if (!order) {
    root.append(el("p", { class: "empty" }, t("No order matches.")));
    return;
  }
  root.append(
    el("section", { class: "card order", "data-order": order.id, "aria-labelledby": "order-title" },
      el("h2", { id: "order-title" }, t("Order {number}", { number: order.channelOrderId }),
        " ", el("span", { class: "muted" }, t("placed {day}", { day: day(order.placedAt) }))),
      facts(order),
      text ? button(t("Back to the results"), () => go("orders", { q: text })) : null),
    flowAndLog(order),
    backtrack(order),
    el("div", { class: "columns" }, prediction(order), exceptions(order, data.orderExceptions.nodes)),
    payments(order));
}

export default {
  id: "orders",
  title: () => t("Find an order"),
  roles: ["cs", "ops", "finance"],
  async render(root, params) {
    const text = params.get("q") || "";
    const id = params.get("id");
    root.append(el("h1", {}, t("Find an order")), searchForm(text));
    if (id) {
      await showOrder(root, id, text);
      return;
    }
    if (!text) {
      root.append(el("p", { class: "muted" }, t("Type what the caller quotes: the number on their order, the parcel's tracking number, their phone number or their buyer UID.")));
      return;
    }
    const orders = await findOrders(text);
    if (orders.length === 1) {
      await showOrder(root, orders[0].id, "");
      return;
    }
    root.append(el("p", { class: "muted", "data-field": "found" }, t("{count} orders found", { count: orders.length })),
      results(orders));
  },
};
