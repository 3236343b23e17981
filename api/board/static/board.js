// orderhub health board: reads the staff GraphQL API and draws what it answers, nothing more.
"use strict";

const TOKEN_KEY = "orderhub.staffToken";
const SVG = "http://www.w3.org/2000/svg";
const PAGE = 10;

const METRIC_FIELDS = "metric title formula numerator denominator value threshold healthyBelow healthy";
const HEALTH_QUERY = `query Board($input: HealthInput) {
  health(input: $input) { period from to computedAt metrics { ${METRIC_FIELDS} } userErrors { field message code } }
  merchantClock { timeZone }
}`;
const TREND_QUERY = `query Trend($input: HealthTrendInput) {
  healthTrend(input: $input) {
    series { metric title threshold healthyBelow points { from to numerator denominator value healthy } }
    userErrors { field message code }
  }
}`;
const ORDER = "order { id channel channelOrderId status }";
const PAGE_INFO = "pageInfo { hasNextPage endCursor }";
const DRILLS = {
  STATUS_DRIFT: {
    list: "driftingOrders",
    fields: `drift statusChanges minimumChanges ${ORDER}
      flips { version eventType fromStatus toStatus occurredAt source actor }`,
    columns: ["order", "drift", "changes", "shortest path", "every flip"],
    row: (n) => [orderLabel(n.order), n.drift, n.statusChanges, n.minimumChanges,
      n.flips.map((f) => `${f.fromStatus}→${f.toStatus} (${f.eventType}, ${f.actor}, ${time(f.occurredAt)})`).join("; ")],
  },
  CHANNEL_ATTRIBUTION: {
    list: "misattributed",
    fields: "landingUrl utmSource missingUtmSource orderCount",
    columns: ["landing URL", "utm_source", "orders"],
    row: (n) => [n.landingUrl ?? "(none)", n.missingUtmSource ? "(missing)" : n.utmSource, n.orderCount],
  },
  VOUCHER_MATCH: {
    list: "unmatchedVouchers",
    fields: `provider side ${ORDER}
      item { drift providerTransactionId systemAmount { amount currencyCode } statementAmount { amount currencyCode } }`,
    columns: ["provider", "missing side", "drift", "transaction", "system", "statement", "order"],
    row: (n) => [n.provider, n.side, n.item.drift, n.item.providerTransactionId, money(n.item.systemAmount),
      money(n.item.statementAmount), orderLabel(n.order)],
  },
  ID_CONSISTENCY: {
    list: "idDisagreements",
    fields: `differingSystems reports { system customerId } ${ORDER}`,
    columns: ["order", "differing systems", "customer ids"],
    row: (n) => [orderLabel(n.order), n.differingSystems.join(", "),
      n.reports.map((r) => `${r.system}: ${r.customerId}`).join("; ")],
  },
  EXCEPTION_CLOSURE: {
    list: "lateExceptions",
    fields: "role hoursOpen exception { kind state summary openedAt resolvedAt order { channel channelOrderId } }",
    columns: ["kind", "role that could close it", "hours open", "state", "opened", "order", "summary"],
    row: (n) => [n.exception.kind, n.role, n.hoursOpen.toFixed(1), n.exception.state, time(n.exception.openedAt),
      orderLabel(n.exception.order), n.exception.summary],
    extra: "lateExceptionsByKind { kind role count }",
  },
};

let current = { period: "DAY", at: null, metric: null, after: null };
// The merchant's clock: the API answers in UTC, the page shows every time and day on this zone.
let zone = "UTC";

function el(tag, attrs = {}, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(key, String(value));
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function percent(value, threshold) {
  if (value === null || value === undefined) return "—";
  const digits = threshold !== undefined && threshold > 0.999 ? 3 : 2;
  return `${(value * 100).toFixed(digits)}%`;
}

function wall(ms) {
  const format = new Intl.DateTimeFormat("en-CA", { timeZone: zone, hourCycle: "h23", year: "numeric",
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
  return Object.fromEntries(format.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
}

function time(iso) {
  if (!iso) return "";
  const p = wall(Date.parse(iso));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

function dayLabel(point) {
  const p = wall((Date.parse(point.from) + Date.parse(point.to)) / 2);
  return `${p.month}-${p.day}`;
}

function offsetAt(ms) {
  const p = wall(ms);
  return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute) - Math.floor(ms / 60000) * 60000;
}

function fromWall(value) {
  // "YYYY-MM-DDTHH:MM" read on the merchant's clock, not the browser's
  const [day, clock] = value.split("T");
  const [y, m, d] = day.split("-").map(Number);
  const [hh, mm] = clock.split(":").map(Number);
  const guess = Date.UTC(y, m - 1, d, hh, mm);
  const first = guess - offsetAt(guess);
  return new Date(guess - offsetAt(first)).toISOString();
}

function money(m) {
  return m ? `${m.amount} ${m.currencyCode}` : "—";
}

function orderLabel(order) {
  return order ? `${order.channel} ${order.channelOrderId}` : "—";
}

async function gql(query, variables) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors && body.errors.length) {
    const code = body.errors[0].extensions && body.errors[0].extensions.code;
    if (code === "UNAUTHENTICATED" || code === "FORBIDDEN") showLogin(body.errors[0].message);
    throw new Error(body.errors.map((e) => e.message).join("; "));
  }
  return body.data;
}

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = !message;
}

function showLogin(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  document.getElementById("login").hidden = false;
  document.getElementById("board").hidden = true;
  document.getElementById("sign-out").hidden = true;
  showError(message || "");
}

function userErrors(payload) {
  if (payload.userErrors && payload.userErrors.length) {
    throw new Error(payload.userErrors.map((e) => `${(e.field || []).join(".")}: ${e.message}`).join("; "));
  }
}

function gaugeArc(fraction) {
  const angle = Math.PI * (1 - Math.min(Math.max(fraction, 0), 1));
  return [60 + 50 * Math.cos(angle), 60 - 50 * Math.sin(angle)];
}

function gaugeRange(m) {
  if (m.healthyBelow) return [0, Math.max(m.threshold * 4, m.value ?? 0)];
  const low = Math.max(0, Math.min(m.value ?? 1, 1 - (1 - m.threshold) * 4));
  return [low, 1];
}

function gauge(m) {
  const [low, high] = gaugeRange(m);
  const share = (v) => (high > low ? (v - low) / (high - low) : 0);
  const svg = el("svg:svg", { viewBox: "-14 0 148 72", class: "dial", role: "img", "aria-label": m.title });
  svg.append(el("svg:path", { d: "M10 60 A50 50 0 0 1 110 60", class: "track" }));
  if (m.value !== null) {
    const [x, y] = gaugeArc(share(m.value));
    svg.append(el("svg:path", { d: `M10 60 A50 50 0 0 1 ${x.toFixed(2)} ${y.toFixed(2)}`, class: "fill" }));
  }
  const [tx, ty] = gaugeArc(share(m.threshold));
  svg.append(el("svg:line", { x1: 60, y1: 60, x2: tx.toFixed(2), y2: ty.toFixed(2), class: "threshold" }));
  svg.append(el("svg:text", { x: 10, y: 69, class: "scale", "text-anchor": "middle" }, percent(low, m.threshold)));
  svg.append(el("svg:text", { x: 110, y: 69, class: "scale", "text-anchor": "middle" }, percent(high, m.threshold)));
  const verdict = m.healthy === null ? "no data" : m.healthy ? "healthy" : "unhealthy";
  const card = el("button", {
    type: "button",
    class: `gauge ${verdict.replace(" ", "-")}`,
    "data-metric": m.metric,
    "data-numerator": m.numerator,
    "data-denominator": m.denominator,
    "data-value": m.value === null ? "" : m.value,
    "data-threshold": m.threshold,
    title: m.formula,
  },
  el("h3", {}, m.title),
  svg,
  el("p", { class: "value" }, percent(m.value, m.threshold)),
  el("p", { class: "ratio" }, el("span", { class: "numerator" }, m.numerator), " / ",
    el("span", { class: "denominator" }, m.denominator)),
  el("p", { class: "threshold-text" }, `${m.healthyBelow ? "healthy below" : "healthy above"} ${percent(m.threshold, m.threshold)}`),
  el("p", { class: "verdict" }, verdict));
  card.addEventListener("click", () => openDrilldown(m.metric, m.title));
  return card;
}

function trendChart(series) {
  const width = 320, height = 130, pad = 28;
  const values = series.points.map((p) => p.value).filter((v) => v !== null);
  const low = Math.min(series.threshold, ...values), high = Math.max(series.threshold, ...values);
  const span = high - low || Math.max(high, 0.01);
  const x = (i) => pad + (i * (width - 2 * pad)) / Math.max(series.points.length - 1, 1);
  const y = (v) => height - pad - ((v - low) / span) * (height - 2 * pad);
  const svg = el("svg:svg", { viewBox: `0 0 ${width} ${height}`, class: "trend", role: "img", "aria-label": series.title });
  svg.append(el("svg:line", { x1: pad, x2: width - pad, y1: y(series.threshold), y2: y(series.threshold), class: "threshold" }));
  const path = series.points.map((p, i) => (p.value === null ? null : `${x(i).toFixed(1)},${y(p.value).toFixed(1)}`));
  svg.append(el("svg:polyline", { points: path.filter(Boolean).join(" "), class: "line" }));
  svg.append(el("svg:text", { x: 2, y: y(high) + 4, class: "scale" }, percent(high, series.threshold)));
  svg.append(el("svg:text", { x: 2, y: y(low) + 4, class: "scale" }, percent(low, series.threshold)));
  series.points.forEach((p, i) => {
    svg.append(el("svg:text", { x: x(i), y: height - 4, class: "scale", "text-anchor": "middle" }, dayLabel(p)));
  });
  series.points.forEach((p, i) => {
    if (p.value === null) return;
    const dot = el("svg:circle", {
      cx: x(i).toFixed(1), cy: y(p.value).toFixed(1), r: 3,
      class: p.healthy ? "dot healthy" : "dot unhealthy",
      "data-from": p.from, "data-value": p.value, "data-numerator": p.numerator, "data-denominator": p.denominator,
    });
    dot.append(el("svg:title", {}, `${time(p.from)}: ${percent(p.value, series.threshold)} (${p.numerator}/${p.denominator})`));
    svg.append(dot);
  });
  return el("figure", { class: "trend-card", "data-metric": series.metric },
    el("figcaption", {}, series.title), svg);
}

function periodInput() {
  return { period: current.period, ...(current.at ? { at: current.at } : {}) };
}

async function load() {
  showError("");
  try {
    const data = await gql(HEALTH_QUERY, { input: periodInput() });
    zone = data.merchantClock.timeZone;
    userErrors(data.health);
    const trend = await gql(TREND_QUERY, { input: { period: "DAY", count: 7, ...(current.at ? { end: current.at } : {}) } });
    userErrors(trend.healthTrend);
    document.getElementById("login").hidden = true;
    document.getElementById("board").hidden = false;
    document.getElementById("sign-out").hidden = false;
    document.getElementById("computed-at").textContent =
      `${data.health.period} ${time(data.health.from)} – ${time(data.health.to)} (${zone}), computed ${time(data.health.computedAt)}`;
    document.getElementById("gauges").replaceChildren(...data.health.metrics.map(gauge));
    document.getElementById("trends").replaceChildren(...trend.healthTrend.series.map(trendChart));
    document.body.dataset.loaded = "true";
    if (current.metric) await openDrilldown(current.metric, null);
  } catch (error) {
    showError(error.message);
  }
}

function table(columns, rows) {
  const head = el("tr", {}, ...columns.map((c) => el("th", {}, c)));
  return el("table", {}, el("thead", {}, head),
    el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c ?? ""))))));
}

async function openDrilldown(metric, title, more = false) {
  const spec = DRILLS[metric];
  if (!more) current.after = null;
  current.metric = metric;
  const query = `query Drill($input: HealthDrilldownInput, $first: Int!, $after: String) {
    healthDrilldown(input: $input) {
      userErrors { field message code }
      ${spec.list}(first: $first, after: $after) { nodes { ${spec.fields} } ${PAGE_INFO} }
      ${more ? "" : spec.extra || ""}
    }
  }`;
  try {
    const data = await gql(query, { input: periodInput(), first: PAGE, after: current.after });
    userErrors(data.healthDrilldown);
    const page = data.healthDrilldown[spec.list];
    const section = document.getElementById("drilldown");
    const body = document.getElementById("drilldown-body");
    if (!more) {
      if (title) document.getElementById("drilldown-title").textContent = title;
      body.replaceChildren();
      body.dataset.metric = metric;
      const byKind = data.healthDrilldown.lateExceptionsByKind;
      if (byKind) body.append(table(["kind", "role", "late exceptions"], byKind.map((k) => [k.kind, k.role, k.count])));
      body.append(table(spec.columns, []));
    }
    const tbody = body.querySelector("table:last-of-type tbody");
    for (const node of page.nodes) tbody.append(el("tr", {}, ...spec.row(node).map((c) => el("td", {}, c ?? ""))));
    if (!page.nodes.length && !more) tbody.append(el("tr", {}, el("td", { colspan: spec.columns.length }, "nothing behind this metric")));
    current.after = page.pageInfo.endCursor;
    document.getElementById("drilldown-more").hidden = !page.pageInfo.hasNextPage;
    section.hidden = false;
    section.scrollIntoView({ block: "nearest" });
  } catch (error) {
    showError(error.message);
  }
}

async function signIn(event) {
  event.preventDefault();
  const data = await gql(
    `mutation Login($input: StaffLoginInput!) { staffLogin(input: $input) { token userErrors { message } } }`,
    { input: { email: document.getElementById("email").value, password: document.getElementById("password").value } },
  ).catch((error) => ({ staffLogin: { token: null, userErrors: [{ message: error.message }] } }));
  if (!data.staffLogin.token) {
    showError(data.staffLogin.userErrors.map((e) => e.message).join("; "));
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, data.staffLogin.token);
  await load();
}

function start() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token")) {
    sessionStorage.setItem(TOKEN_KEY, fragment.get("token"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  document.getElementById("login-form").addEventListener("submit", signIn);
  document.getElementById("sign-out").addEventListener("click", () => showLogin(""));
  document.getElementById("drilldown-more").addEventListener("click", () => openDrilldown(current.metric, null, true));
  document.getElementById("period-form").addEventListener("submit", (event) => {
    event.preventDefault();
    current.period = document.getElementById("period").value;
    const at = document.getElementById("at").value;
    current.at = at ? fromWall(at) : null;
    load();
  });
  if (sessionStorage.getItem(TOKEN_KEY)) load();
  else showLogin("");
}

start();
