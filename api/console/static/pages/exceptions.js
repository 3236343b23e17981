// The exceptions queue: filter by kind, age, warehouse and assignee; take or assign a case, resolve it with a
// reason; every case shows its 72-hour closure clock.
"use strict";

import {
  act, button, can, checked, confirmAction, duration, el, field, go, gql, select, state, t, table, time,
} from "../lib.js";
import { EXCEPTION_KINDS, exceptionKindName, exceptionStateName } from "./order-names.js";

const PAGE = 50;
const HOUR = 3600 * 1000;

const LIST = `query Exceptions($first: Int!, $after: String, $filter: OrderExceptionFilter) {
  orderExceptions(first: $first, after: $after, filter: $filter) {
    nodes { id kind state summary openedAt closeBy assignedTo resolvedAt resolution holdsEvidence warehouseCode
            order { id channelOrderId } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const ASSIGNEES = "query Assignees { exceptionAssignees }";
const WAREHOUSES = "query Warehouses { warehouses(first: 100) { nodes { code openExceptions } } }";
const ASSIGN = `mutation Assign($input: AssignExceptionInput!) {
  assignException(input: $input) { exception { id assignedTo } userErrors { field message code } } }`;
const RESOLVE = `mutation Resolve($input: ResolveExceptionInput!) {
  resolveException(input: $input) { exception { id state } userErrors { field message code } } }`;
const APPLY = `mutation Apply($input: ResolveExceptionInput!) {
  resolveException(input: $input) { exception { id state order { id status } } userErrors { field message code } } }`;

/** The API filter the page's address asks for; ages are counted back from now. */
export function filterFrom(params, now = Date.now()) {
  const filter = {};
  const stateWanted = params.get("state") || "OPEN";
  if (stateWanted !== "ALL") filter.states = [stateWanted];
  if (params.get("kind")) filter.kinds = [params.get("kind")];
  if (params.get("warehouse")) filter.warehouseCode = params.get("warehouse");
  if (params.get("order")) filter.orderId = params.get("order");
  const assignee = params.get("assignee") || "";
  if (assignee === "NOBODY") filter.unassigned = true;
  else if (assignee) filter.assignedTo = assignee;
  const ago = (hours) => new Date(now - hours * HOUR).toISOString();
  const age = params.get("age") || "";
  if (age === "UNDER_24H") filter.openedAfter = ago(24);
  if (age === "24H_72H") Object.assign(filter, { openedAfter: ago(72), openedBefore: ago(24) });
  if (age === "OVER_72H") filter.openedBefore = ago(72);
  return filter;
}

/** Time left to close in time, or how late: `late` marks a case past its 72 hours. */
function clock(c, now) {
  const closeBy = Date.parse(c.closeBy);
  if (c.state === "RESOLVED") {
    const inTime = Date.parse(c.resolvedAt) <= closeBy;
    return el("span", { class: inTime ? "clock" : "clock late", "data-late": String(!inTime) },
      inTime ? t("Closed in time") : t("Closed late"));
  }
  const left = (closeBy - now) / 1000;
  return left >= 0
    ? el("span", { class: "clock", "data-late": "false" }, t("{time} left", { time: duration(left) }))
    : el("span", { class: "clock late", "data-late": "true" }, t("Overdue by {time}", { time: duration(-left) }));
}

function me() {
  return `staff:${state.me.email}`;
}

function assigneeName(value) {
  if (!value) return "—";
  return value === me() ? t("me ({email})", { email: state.me.email }) : value.replace(/^staff:/, "");
}

/** Every warehouse orderhub has seen, with its open cases; one typed into the address is kept even if unseen. */
function warehouseChoice(params, warehouses) {
  const wanted = params.get("warehouse") || "";
  const options = [["", t("Every warehouse")], ...warehouses.map((w) => [w.code,
    t("{warehouse} ({count} open)", { warehouse: w.code, count: w.openExceptions })])];
  if (wanted && !warehouses.some((w) => w.code === wanted)) options.push([wanted, wanted]);
  return select(options, wanted, { id: "filter-warehouse", name: "warehouse" });
}

function filters(params, assignees, warehouses) {
  const kind = select([["", t("Every kind")], ...EXCEPTION_KINDS.map((k) => [k, exceptionKindName(k)])],
    params.get("kind") || "", { id: "filter-kind", name: "kind" });
  const caseState = select([["OPEN", t("Open")], ["RESOLVED", t("Resolved")], ["ALL", t("Open and resolved")]],
    params.get("state") || "OPEN", { id: "filter-state", name: "state" });
  const age = select([["", t("Any age")], ["UNDER_24H", t("Opened in the last 24 h")],
    ["24H_72H", t("Opened 24 to 72 h ago")], ["OVER_72H", t("Opened over 72 h ago")]],
  params.get("age") || "", { id: "filter-age", name: "age" });
  const warehouse = warehouseChoice(params, warehouses);
  const people = new Set([me(), ...assignees]);
  const current = params.get("assignee") || "";
  if (current && current !== "NOBODY") people.add(current);
  const assignee = select([["", t("Anyone")], ["NOBODY", t("Nobody yet")],
    ...[...people].map((p) => [p, assigneeName(p)])], current, { id: "filter-assignee", name: "assignee" });
  const form = el("form", { class: "toolbar filters" },
    field(t("State"), caseState), field(t("Kind"), kind), field(t("Age"), age), field(t("Warehouse"), warehouse),
    field(t("Assigned to"), assignee),
    el("button", { type: "submit", class: "primary" }, t("Filter")),
    params.toString() ? button(t("Clear filters"), () => go("exceptions")) : null);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    go("exceptions", { state: caseState.value === "OPEN" ? "" : caseState.value, kind: kind.value, age: age.value,
      warehouse: warehouse.value, assignee: assignee.value, order: params.get("order") });
  });
  return form;
}

function actions(c, assignees, reload) {
  if (c.state !== "OPEN" || !can("ops", "cs")) return "";
  const people = [...new Set([me(), ...assignees])];
  const who = select(people.map((p) => [p, assigneeName(p)]), c.assignedTo || me(),
    { class: "assignee", "aria-label": t("Assign to"), "data-exception": c.id });
  const assign = button(t("Assign"), () => act(assign, async () => {
    checked((await gql(ASSIGN, { input: { exceptionId: c.id, assignee: who.value } })).assignException);
    await reload();
  }, t("Assigned.")), { class: "assign" });
  const resolve = button(t("Resolve"), async () => {
    const answer = await confirmAction(t("Resolve this exception ({kind})?", { kind: exceptionKindName(c.kind) }),
      { reason: t("How was it resolved?"), ok: t("Resolve") });
    if (!answer) return;
    await act(resolve, async () => {
      checked((await gql(RESOLVE, { input: { exceptionId: c.id, resolution: answer.reason } })).resolveException);
      await reload();
    }, t("Resolved."));
  }, { class: "resolve primary" });
  // Applying held outbound evidence ships the order with the evidence's own time: ops and admin only.
  const apply = c.holdsEvidence && can("ops") ? button(t("Ship with the held evidence"), async () => {
    const answer = await confirmAction(
      t("Ship order {number} with the evidence held for it (its own time and source), and resolve this exception?",
        { number: c.order ? c.order.channelOrderId : "—" }),
      { reason: t("How was it resolved?"), ok: t("Ship and resolve") });
    if (!answer) return;
    await act(apply, async () => {
      const input = { exceptionId: c.id, resolution: answer.reason, acceptHeldEvidence: true };
      checked((await gql(APPLY, { input })).resolveException);
      await reload();
    }, t("Shipped and resolved."));
  }, { class: "apply-held" }) : null;
  return el("span", { class: "row-actions" }, who, assign, resolve, apply);
}

function rows(cases, assignees, reload, now) {
  return table(
    [t("Opened"), t("Kind"), t("State"), t("Order"), t("Warehouse"), t("Summary"), t("Assigned to"),
      t("Closure clock (72 h)"), can("ops", "cs") ? t("Actions") : null].filter((c) => c !== null),
    cases.map((c) => [
      time(c.openedAt), exceptionKindName(c.kind), exceptionStateName(c.state),
      c.order ? el("a", { href: `#/orders?id=${encodeURIComponent(c.order.id)}` }, c.order.channelOrderId) : "—",
      c.warehouseCode || "—",
      c.resolution ? el("span", {}, c.summary, el("br"), el("span", { class: "muted" }, c.resolution)) : c.summary,
      el("span", { "data-assigned": c.id }, assigneeName(c.assignedTo)), clock(c, now),
      ...(can("ops", "cs") ? [actions(c, assignees, reload)] : []),
    ]),
    { empty: t("No exception matches."), attrs: { class: "exceptions" } });
}

export default {
  id: "exceptions",
  title: () => t("Exceptions"),
  roles: ["ops", "cs", "finance"],
  async render(root, params) {
    const filter = filterFrom(params);
    const cases = [];
    let after = null;
    let more = false;
    const body = el("div", { class: "queue" });

    const draw = () => {
      const now = Date.now();
      const overdue = cases.filter((c) => c.state === "OPEN" && Date.parse(c.closeBy) < now).length;
      body.replaceChildren(...[
        el("div", { class: "figures" },
          el("div", { class: "figure" }, el("span", { class: "muted" }, t("Shown")),
            el("span", { class: "number", "data-field": "shown" }, cases.length)),
          el("div", { class: "figure" }, el("span", { class: "muted" }, t("Open past 72 h")),
            el("span", { class: overdue ? "number late" : "number", "data-field": "overdue" }, overdue))),
        rows(cases, assignees, reload, now),
        more ? button(t("Show more"), (event) => act(event.target, fetchMore)) : null,
      ].filter(Boolean));
    };
    const take = (data) => {
      cases.push(...data.orderExceptions.nodes);
      after = data.orderExceptions.pageInfo.endCursor;
      more = data.orderExceptions.pageInfo.hasNextPage;
      draw();
    };
    const fetchMore = async () => take(await gql(LIST, { first: PAGE, after, filter }));
    const reload = async () => {
      cases.length = 0;
      after = null;
      await fetchMore();
    };

    // The people to assign to, the warehouses and the first page are asked for together, not one after another.
    const [people, seen, firstPage] = await Promise.all([
      can("ops", "cs") ? gql(ASSIGNEES) : null,
      gql(WAREHOUSES),
      gql(LIST, { first: PAGE, after: null, filter }),
    ]);
    const assignees = people ? people.exceptionAssignees : [];
    root.append(el("h1", {}, t("Exceptions")), filters(params, assignees, seen.warehouses.nodes));
    if (params.get("order")) root.append(el("p", { class: "muted" }, t("Only this order's exceptions.")));
    root.append(body);
    take(firstPage);
  },
};
