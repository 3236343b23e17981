// Buyers: masked-phone match suggestions to accept or reject, duplicate groups to split, the duplicate heatmap.
"use strict";

import {
  act, button, checked, choices, confirmAction, day, el, field, gql, go, money, percent, select, state, t, table, time,
} from "../lib.js";

const SUGGESTIONS = `query BuyerSuggestions { matchSuggestions(first: 50) { nodes { id candidateUid
  order { id channel channelOrderId placedAt totalAmount { amount currencyCode } }
  evidenceOrder { channel channelOrderId placedAt } } } }`;
const GROUPS = `query BuyerGroups { orderGroups(first: 50) { nodes { parentOrderId buyerUid createdAt
  parent { channelOrderId totalAmount { amount currencyCode } }
  children { channel channelOrderId placedAt totalAmount { amount currencyCode } } } } }`;
const HEATMAP = `query BuyerHeatmap($from: DateTime!, $to: DateTime!, $cut: DuplicateCut!, $per: HeatmapPeriod!) {
  duplicateHeatmap(placedFrom: $from, placedTo: $to, cut: $cut, per: $per, first: 100) {
    hour channel segment orders duplicates mergedDuplicates paidDuplicates rate } }`;
const DECIDE = `mutation BuyerDecide($input: DecideMatchSuggestionInput!) { decideMatchSuggestion(input: $input) {
  suggestion { id status } userErrors { field message code } } }`;
const SPLIT = `mutation BuyerSplit($input: SplitGroupInput!) { splitGroup(input: $input) {
  orders { id } userErrors { field message code } } }`;

const HOUR = 3600 * 1000;

function short(uid) {
  return uid ? `${uid.slice(0, 10)}…` : "—";
}

function orderName(o) {
  return o ? `${o.channel} ${o.channelOrderId}` : "—";
}

async function suggestions(root, rerender) {
  const rows = (await gql(SUGGESTIONS)).matchSuggestions.nodes;
  const decide = (s, confirm) => {
    const control = button(confirm ? t("Accept the match") : t("Reject the match"), async () => {
      const question = confirm
        ? t("Give order {order} to buyer {buyer}?", { order: orderName(s.order), buyer: short(s.candidateUid) })
        : t("Reject the match of order {order}?", { order: orderName(s.order) });
      if (!(await confirmAction(question))) return;
      const ok = await act(control, async () => checked((await gql(DECIDE,
        { input: { id: s.id, confirm } })).decideMatchSuggestion),
      confirm ? t("Match accepted.") : t("Match rejected."));
      if (ok) await rerender();
    }, { class: confirm ? "primary" : null, "data-decide": `${confirm ? "accept" : "reject"}:${s.id}` });
    return control;
  };
  root.append(el("section", { "aria-labelledby": "buyers-suggestions" },
    el("h2", { id: "buyers-suggestions" }, t("Masked-phone matches to decide")),
    table([t("Masked-phone order"), t("Order placed"), t("Order total"), t("Candidate buyer"), t("Evidence order"), t("Your decision")],
      rows.map((s) => [orderName(s.order), s.order ? time(s.order.placedAt) : "—",
        s.order ? money(s.order.totalAmount) : "—", short(s.candidateUid),
        s.evidenceOrder ? `${orderName(s.evidenceOrder)} (${time(s.evidenceOrder.placedAt)})` : "—",
        el("span", { class: "toolbar" }, decide(s, true), decide(s, false))]),
      { empty: t("No match waits for a decision."), attrs: { "data-table": "suggestions" } })));
}

async function groups(root, rerender) {
  const rows = (await gql(GROUPS)).orderGroups.nodes;
  const split = (g) => {
    const control = button(t("Split the group"), async () => {
      const question = t("Split the group {order}? Its {count} orders wait for payment again, each on its own.",
        { order: g.parent ? g.parent.channelOrderId : "", count: g.children.length });
      if (!(await confirmAction(question, { ok: t("Split the group") }))) return;
      const ok = await act(control, async () => checked((await gql(SPLIT,
        { input: { parentOrderId: g.parentOrderId } })).splitGroup), t("Group split."));
      if (ok) await rerender();
    }, { "data-split": g.parentOrderId });
    return control;
  };
  root.append(el("section", { "aria-labelledby": "buyers-groups" },
    el("h2", { id: "buyers-groups" }, t("Duplicate groups that can be split")),
    table([t("Group order"), t("Buyer (pseudonymous id)"), t("Grouped at"), t("Grouped orders"), t("Order total"), t("What to do")],
      rows.map((g) => [g.parent ? g.parent.channelOrderId : "—", short(g.buyerUid), time(g.createdAt),
        el("ul", {}, g.children.map((c) => el("li", {}, `${orderName(c)} · ${time(c.placedAt)}`))),
        g.parent ? money(g.parent.totalAmount) : "—", split(g)]),
      { empty: t("No open group."), attrs: { "data-table": "groups" } })));
}

/** The start of the merchant's day holding the moment, so that the first day of the week view is a whole day. */
function merchantMidnight(moment) {
  const format = new Intl.DateTimeFormat("en-CA", { timeZone: state.timezone, hourCycle: "h23", year: "numeric",
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const p = Object.fromEntries(format.formatToParts(moment).map((x) => [x.type, Number(x.value)]));
  const offset = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(moment / 1000) * 1000;
  return new Date(Date.UTC(p.year, p.month - 1, p.day) - offset);
}

function heatClass(rate) {
  if (!rate) return "heat-0";
  return `heat-${Math.min(5, 1 + Math.floor(rate * 10))}`;
}

async function heatmap(root, params) {
  const per = params.get("per") === "DAY" ? "DAY" : "HOUR";
  const cut = ["UTM_SOURCE", "UTM_CAMPAIGN"].includes(params.get("cut")) ? params.get("cut") : "CHANNEL";
  const end = new Date(Math.ceil(Date.now() / HOUR) * HOUR);
  const start = per === "DAY" ? merchantMidnight(new Date(end.getTime() - 6 * 24 * HOUR))
    : new Date(end.getTime() - 24 * HOUR);
  const cells = (await gql(HEATMAP, { from: start.toISOString(), to: end.toISOString(), cut, per }))
    .duplicateHeatmap;

  const perSelect = select([["HOUR", t("Last 24 hours, by hour")], ["DAY", t("Last 7 days, by day")]], per,
    { id: "heat-per" });
  const cutSelect = select([["CHANNEL", t("Sales channel")], ["UTM_SOURCE", t("Channel and utm_source")],
    ["UTM_CAMPAIGN", t("Channel and campaign (utm_campaign)")]], cut, { id: "heat-cut" });
  const change = () => go("buyers", { per: perSelect.value, cut: cutSelect.value });

  const total = (key) => cells.reduce((n, c) => n + c[key], 0);
  const orders = total("orders");
  const figure = (label, value, name) => el("div", { class: "figure" },
    el("span", { class: "number", "data-figure": name }, value), el("span", { class: "muted" }, label));

  const columns = [...new Set(cells.map((c) => c.hour))].sort();
  const none = t("(no value)");
  const rowKey = (c) => (cut === "CHANNEL" ? c.channel : `${c.channel} · ${c.segment ?? none}`);
  const rowKeys = [...new Set(cells.map(rowKey))].sort();
  const byKey = new Map(cells.map((c) => [`${rowKey(c)}|${c.hour}`, c]));
  const label = (iso) => (per === "DAY" ? day(iso) : time(iso).slice(11));
  const grid = columns.length
    ? el("table", { class: "heatmap", "data-table": "heatmap" },
      el("caption", {}, t("Duplicates / orders; the darker, the higher the duplicate rate")),
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, cut === "CHANNEL" ? t("Sales channel") : t("Channel and source")),
        columns.map((h) => el("th", { scope: "col", title: time(h) }, label(h))))),
      el("tbody", {}, rowKeys.map((k) => el("tr", {}, el("th", { scope: "row" }, k), columns.map((h) => {
        const c = byKey.get(`${k}|${h}`);
        if (!c) return el("td", { class: "heat-none" }, "");
        return el("td", { class: heatClass(c.rate), "data-cell": `${k}|${h}`,
          title: t("{duplicates} of {orders} orders ({rate}): {merged} grouped, {paid} paid twice",
            { duplicates: c.duplicates, orders: c.orders, rate: percent(c.rate), merged: c.mergedDuplicates,
              paid: c.paidDuplicates }) }, `${c.duplicates}/${c.orders}`);
      })))))
    : el("p", { class: "empty" }, t("No orders in this period."));

  root.append(el("section", { "aria-labelledby": "buyers-heatmap" },
    el("h2", { id: "buyers-heatmap" }, t("Duplicate heatmap")),
    choices([field(t("Heatmap period"), perSelect), field(t("Heatmap rows"), cutSelect)], change, { id: "heat-form" }),
    el("div", { class: "figures" },
      figure(t("Orders placed"), orders, "orders"),
      figure(t("Duplicate orders"), total("duplicates"), "duplicates"),
      figure(t("Grouped while unpaid"), total("mergedDuplicates"), "merged"),
      figure(t("Paid twice"), total("paidDuplicates"), "paid"),
      figure(t("Share of duplicates"), percent(orders ? total("duplicates") / orders : 0), "rate")),
    cells.length >= 100 ? el("p", { class: "muted" }, t("Only the 100 cells with the highest duplicate rates are shown.")) : null,
    grid));
}

export default {
  id: "buyers",
  title: () => t("Buyers"),
  roles: ["cs", "ops"],
  async render(root, params) {
    const draw = async () => {
      const fresh = el("div");
      fresh.append(el("h1", {}, t("Buyers: matches, duplicate groups, heatmap")));
      await suggestions(fresh, draw);
      await groups(fresh, draw);
      await heatmap(fresh, params);
      root.replaceChildren(fresh);
    };
    await draw();
  },
};
