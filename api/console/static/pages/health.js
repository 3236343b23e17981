// Health: the five metrics against their thresholds, their 7-day trends, the orders behind each one, and how long
// the warehouses and carriers take (fulfilment lead time). Everything shown is what the API answers.
"use strict";

import { button, checked, choices, day, el, field, gql, go, select, showError, state, t, table, time } from "../lib.js";

const PAGE = 10;
const METRIC_FIELDS = "metric title formula numerator denominator value threshold healthyBelow healthy";
const HEALTH_QUERY = `query Health($input: HealthInput) {
  health(input: $input) { period from to computedAt metrics { ${METRIC_FIELDS} } userErrors { field message code } }
}`;
const TREND_QUERY = `query Trend($input: HealthTrendInput) {
  healthTrend(input: $input) {
    series { metric title threshold healthyBelow points { from to numerator denominator value healthy } }
    userErrors { field message code }
  }
}`;
const LEAD_QUERY = `query LeadTimes($input: FulfilmentLeadTimesInput) {
  fulfilmentLeadTimes(input: $input) {
    from to timezone
    days { warehouse day toOutbound { count medianHours p90Hours } toDelivery { count medianHours p90Hours } }
    userErrors { field message code }
  }
  warehouses(first: 100) { nodes { code } }
}`;
const ORDER = "order { id channel channelOrderId status }";
const PAGE_INFO = "pageInfo { hasNextPage endCursor }";

function orderLabel(order) {
  return order ? `${order.channel} ${order.channelOrderId}` : "—";
}

function amount(m) {
  return m ? `${m.amount} ${m.currencyCode}` : "—";
}

// What each gauge opens: the list the API keeps behind the metric, its columns and one row per node.
const DRILLS = {
  STATUS_DRIFT: {
    list: "driftingOrders",
    fields: `drift statusChanges minimumChanges ${ORDER}
      flips { version eventType fromStatus toStatus occurredAt source actor }`,
    columns: () => [t("Channel order"), t("Status drift"), t("Status changes"), t("Shortest path"), t("Every flip")],
    row: (n) => [orderLabel(n.order), n.drift, n.statusChanges, n.minimumChanges,
      n.flips.map((f) => `${f.fromStatus}→${f.toStatus} (${f.eventType}, ${f.actor}, ${time(f.occurredAt)})`).join("; ")],
  },
  CHANNEL_ATTRIBUTION: {
    list: "misattributed",
    fields: "landingUrl utmSource missingUtmSource orderCount",
    columns: () => [t("Landing URL"), t("utm_source"), t("Orders with this URL")],
    row: (n) => [n.landingUrl ?? t("(no landing URL)"), n.missingUtmSource ? t("(utm_source missing)") : n.utmSource, n.orderCount],
  },
  VOUCHER_MATCH: {
    list: "unmatchedVouchers",
    fields: `provider side ${ORDER}
      item { drift providerTransactionId systemAmount { amount currencyCode } statementAmount { amount currencyCode } }`,
    columns: () => [t("Voucher provider"), t("Missing side"), t("Voucher drift"), t("Provider transaction id"),
      t("Amount in orderhub"), t("Amount on the statement"), t("Channel order")],
    row: (n) => [n.provider, n.side, n.item.drift, n.item.providerTransactionId, amount(n.item.systemAmount),
      amount(n.item.statementAmount), orderLabel(n.order)],
  },
  ID_CONSISTENCY: {
    list: "idDisagreements",
    fields: `differingSystems reports { system customerId } ${ORDER}`,
    columns: () => [t("Channel order"), t("Differing systems"), t("Customer ids")],
    row: (n) => [orderLabel(n.order), n.differingSystems.join(", "),
      n.reports.map((r) => `${r.system}: ${r.customerId}`).join("; ")],
  },
  EXCEPTION_CLOSURE: {
    list: "lateExceptions",
    fields: "role hoursOpen exception { kind state summary openedAt resolvedAt order { channel channelOrderId } }",
    columns: () => [t("Kind of late exception"), t("Role that could close it"), t("Hours it stayed open"),
      t("Exception state now"), t("Opened (merchant clock)"), t("Channel order"), t("What happened")],
    row: (n) => [n.exception.kind, n.role, n.hoursOpen.toFixed(1), n.exception.state, time(n.exception.openedAt),
      orderLabel(n.exception.order), n.exception.summary],
    extra: "lateExceptionsByKind { kind role count }",
  },
};

function verdictText(healthy) {
  if (healthy === null || healthy === undefined) return t("no data");
  return healthy ? t("healthy") : t("unhealthy");
}

function verdictClass(healthy) {
  if (healthy === null || healthy === undefined) return "no-data";
  return healthy ? "healthy" : "unhealthy";
}

function pct(value, threshold) {
  if (value === null || value === undefined) return "—";
  const digits = threshold !== undefined && threshold > 0.999 ? 3 : 2;
  return `${(value * 100).toFixed(digits)}%`;
}

function hours(value) {
  return value === null || value === undefined ? "—" : t("{hours} h", { hours: value.toFixed(1) });
}

/** A wall-clock time typed on the merchant's clock (`2026-12-07T09:30`) as UTC ISO 8601. */
function fromMerchantClock(local) {
  const [datePart, timePart] = local.split("T");
  const [y, mo, d] = datePart.split("-").map(Number);
  const [h, mi] = timePart.split(":").map(Number);
  const wall = Date.UTC(y, mo - 1, d, h, mi);
  const offsetAt = (instant) => {
    const p = Object.fromEntries(new Intl.DateTimeFormat("en-CA", { timeZone: state.timezone, hourCycle: "h23",
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" })
      .formatToParts(new Date(instant)).map((x) => [x.type, x.value]));
    return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute) - instant;
  };
  let instant = wall - offsetAt(wall);
  instant = wall - offsetAt(instant);  // again, in case the guess crossed a daylight-saving change
  return new Date(instant).toISOString();
}

/** A UTC ISO time as the value of a datetime-local input on the merchant's clock. */
function toMerchantClock(iso) {
  return iso ? time(iso).replace(" ", "T") : "";
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

function gauge(m, open) {
  const [low, high] = gaugeRange(m);
  const share = (v) => (high > low ? (v - low) / (high - low) : 0);
  const dial = el("svg:svg", { viewBox: "-14 0 148 72", class: "dial", "aria-hidden": "true" });
  dial.append(el("svg:path", { d: "M10 60 A50 50 0 0 1 110 60", class: "track" }));
  if (m.value !== null) {
    const [x, y] = gaugeArc(share(m.value));
    dial.append(el("svg:path", { d: `M10 60 A50 50 0 0 1 ${x.toFixed(2)} ${y.toFixed(2)}`, class: "fill" }));
  }
  const [tx, ty] = gaugeArc(share(m.threshold));
  dial.append(el("svg:line", { x1: 60, y1: 60, x2: tx.toFixed(2), y2: ty.toFixed(2), class: "threshold" }));
  dial.append(el("svg:text", { x: 10, y: 69, class: "scale", "text-anchor": "middle" }, pct(low, m.threshold)));
  dial.append(el("svg:text", { x: 110, y: 69, class: "scale", "text-anchor": "middle" }, pct(high, m.threshold)));
  const limit = pct(m.threshold, m.threshold);
  return el("button", {
    type: "button",
    class: `gauge ${verdictClass(m.healthy)}`,
    "data-metric": m.metric,
    "data-numerator": m.numerator,
    "data-denominator": m.denominator,
    "data-value": m.value === null ? "" : m.value,
    "data-threshold": m.threshold,
    "data-healthy": m.healthy === null ? "" : String(m.healthy),
    title: m.formula,
    onclick: () => open(m.metric),
  },
  el("span", { class: "title" }, m.title),
  dial,
  el("span", { class: "value" }, pct(m.value, m.threshold)),
  el("span", { class: "ratio" }, el("span", { class: "numerator" }, m.numerator), " / ",
    el("span", { class: "denominator" }, m.denominator)),
  el("span", { class: "threshold-text" },
    m.healthyBelow ? t("healthy below {threshold}", { threshold: limit }) : t("healthy above {threshold}", { threshold: limit })),
  el("span", { class: "verdict" }, verdictText(m.healthy)));
}

function trendChart(series) {
  const width = 320, height = 130, pad = 28;
  const values = series.points.map((p) => p.value).filter((v) => v !== null);
  const low = Math.min(series.threshold, ...values), high = Math.max(series.threshold, ...values);
  const span = high - low || Math.max(high, 0.01);
  const x = (i) => pad + (i * (width - 2 * pad)) / Math.max(series.points.length - 1, 1);
  const y = (v) => height - pad - ((v - low) / span) * (height - 2 * pad);
  const svg = el("svg:svg", { viewBox: `0 0 ${width} ${height}`, class: "trend", role: "img",
    "aria-label": t("{metric}, last 7 days", { metric: series.title }) });
  svg.append(el("svg:line", { x1: pad, x2: width - pad, y1: y(series.threshold), y2: y(series.threshold), class: "threshold" }));
  const path = series.points.map((p, i) => (p.value === null ? null : `${x(i).toFixed(1)},${y(p.value).toFixed(1)}`));
  svg.append(el("svg:polyline", { points: path.filter(Boolean).join(" "), class: "line" }));
  svg.append(el("svg:text", { x: 2, y: y(high) + 4, class: "scale" }, pct(high, series.threshold)));
  svg.append(el("svg:text", { x: 2, y: y(low) + 4, class: "scale" }, pct(low, series.threshold)));
  series.points.forEach((p, i) => {
    svg.append(el("svg:text", { x: x(i), y: height - 4, class: "scale", "text-anchor": "middle" }, day(p.from).slice(5)));
  });
  series.points.forEach((p, i) => {
    if (p.value === null) return;
    const dot = el("svg:circle", {
      cx: x(i).toFixed(1), cy: y(p.value).toFixed(1), r: 3,
      class: p.healthy ? "dot healthy" : "dot unhealthy",
      "data-from": p.from, "data-value": p.value, "data-numerator": p.numerator, "data-denominator": p.denominator,
    });
    dot.append(el("svg:title", {}, `${time(p.from)}: ${pct(p.value, series.threshold)} (${p.numerator}/${p.denominator})`));
    svg.append(dot);
  });
  return el("figure", { class: "trend-card", "data-metric": series.metric }, el("figcaption", {}, series.title), svg);
}

/** Median hours per day of both legs for one warehouse, as two lines over the same days. */
function leadChart(warehouse, rows, first, last) {
  const width = 320, height = 140, pad = 30;
  const values = rows.flatMap((r) => [r.toOutbound.medianHours, r.toDelivery.medianHours]).filter((v) => v !== null);
  const high = Math.max(1, ...values);
  // Days sit where they fall in the range (merchant calendar days), so a quiet day leaves a gap.
  const span = Math.max(Math.round((Date.parse(last) - Date.parse(first)) / 86400000), 1);
  const x = (i) => pad + (Math.round((Date.parse(rows[i].day) - Date.parse(first)) / 86400000) * (width - 2 * pad)) / span;
  const y = (v) => height - pad - (v / high) * (height - 2 * pad);
  const name = warehouse ?? t("(no warehouse named)");
  const svg = el("svg:svg", { viewBox: `0 0 ${width} ${height}`, class: "lead", role: "img",
    "aria-label": t("Median lead time per day at {warehouse}", { warehouse: name }) });
  svg.append(el("svg:text", { x: 2, y: y(high) + 4, class: "scale" }, hours(high)));
  svg.append(el("svg:text", { x: 2, y: y(0) + 4, class: "scale" }, hours(0)));
  for (const [leg, css] of [["toOutbound", "outbound"], ["toDelivery", "delivery"]]) {
    const points = rows.map((r, i) => (r[leg].medianHours === null ? null : `${x(i).toFixed(1)},${y(r[leg].medianHours).toFixed(1)}`));
    svg.append(el("svg:polyline", { points: points.filter(Boolean).join(" "), class: `line ${css}` }));
    rows.forEach((r, i) => {
      if (r[leg].medianHours === null) return;
      svg.append(el("svg:circle", { cx: x(i).toFixed(1), cy: y(r[leg].medianHours).toFixed(1), r: 3, class: `dot ${css}` },
        el("svg:title", {}, `${r.day}: ${hours(r[leg].medianHours)}`)));
    });
  }
  rows.forEach((r, i) => svg.append(el("svg:text", { x: x(i), y: height - 6, class: "scale", "text-anchor": "middle" },
    r.day.slice(5))));
  return el("figure", { class: "trend-card", "data-warehouse": warehouse ?? "" },
    el("figcaption", {}, name,
      el("span", { class: "legend outbound" }, t("request → outbound")),
      el("span", { class: "legend delivery" }, t("outbound → delivery"))),
    svg);
}

function leadSection(report, seen, wanted, reload) {
  const days = report.days;
  // Every warehouse orderhub has seen, not only those with a parcel in the range: one can be picked from another.
  const warehouses = [...new Set([...seen.map((w) => w.code), ...days.map((d) => d.warehouse ?? "")])];
  const options = [["", t("every warehouse")], ...warehouses.filter((w) => w).map((w) => [w, w])];
  if (wanted && !warehouses.includes(wanted)) options.push([wanted, wanted]);
  const choose = select(options, wanted || "", { id: "lead-warehouse" });
  const picker = choices([field(t("Lead times of"), choose)], () => reload(choose.value), { id: "lead-form" });
  const byWarehouse = new Map();
  for (const d of days) {
    const key = d.warehouse ?? "";
    if (!byWarehouse.has(key)) byWarehouse.set(key, []);
    byWarehouse.get(key).push(d);
  }
  const rows = days.map((d) => {
    const cells = [d.warehouse ?? t("(no warehouse named)"), d.day,
      d.toOutbound.count, hours(d.toOutbound.medianHours), hours(d.toOutbound.p90Hours),
      d.toDelivery.count, hours(d.toDelivery.medianHours), hours(d.toDelivery.p90Hours)];
    return cells;
  });
  const grid = table([t("From warehouse"), t("Merchant day"), t("Parcels out"), t("Request → outbound, median"),
    t("Request → outbound, p90"), t("Parcels delivered"), t("Outbound → delivery, median"),
    t("Outbound → delivery, p90")], rows,
  { empty: t("No parcel left or arrived in this range."), attrs: { id: "lead-table" } });
  // The API's numbers on each row, for whoever checks the page against it.
  grid.querySelectorAll("tbody tr").forEach((tr, i) => {
    const d = days[i];
    Object.assign(tr.dataset, { warehouse: d.warehouse ?? "", day: d.day,
      outboundCount: d.toOutbound.count, outboundMedian: d.toOutbound.medianHours ?? "",
      outboundP90: d.toOutbound.p90Hours ?? "", deliveryCount: d.toDelivery.count,
      deliveryMedian: d.toDelivery.medianHours ?? "", deliveryP90: d.toDelivery.p90Hours ?? "" });
  });
  return el("section", { id: "lead-times", "aria-labelledby": "lead-title" },
    el("h2", { id: "lead-title" }, t("Fulfilment lead time")),
    el("p", { class: "muted" }, t("By warehouse and day ({from} – {to}, merchant clock); each parcel counts on the day its leg ended.",
      { from: time(report.from), to: time(report.to) })),
    picker,
    el("div", { class: "trends lead-charts" }, [...byWarehouse.entries()].map(([w, list]) => leadChart(w || null, list, day(report.from),
      day(new Date(Date.parse(report.to) - 1).toISOString())))),
    grid);
}

async function drill(body, more, input, metric, after) {
  const spec = DRILLS[metric];
  const query = `query Drill($input: HealthDrilldownInput, $first: Int!, $after: String) {
    healthDrilldown(input: $input) {
      userErrors { field message code }
      ${spec.list}(first: $first, after: $after) { nodes { ${spec.fields} } ${PAGE_INFO} }
      ${after ? "" : spec.extra || ""}
    }
  }`;
  const data = await gql(query, { input, first: PAGE, after });
  checked(data.healthDrilldown);
  const page = data.healthDrilldown[spec.list];
  if (!after) {
    body.replaceChildren();
    const byKind = data.healthDrilldown.lateExceptionsByKind;
    if (byKind && byKind.length) {
      body.append(table([t("Kind of late exception"), t("Role that could close it"), t("Late exceptions")], byKind.map((k) => [k.kind, k.role, k.count]),
        { attrs: { class: "by-kind" } }));
    }
    body.append(el("table", { class: "drill-rows" },
      el("thead", {}, el("tr", {}, spec.columns().map((c) => el("th", { scope: "col" }, c)))), el("tbody")));
  }
  const tbody = body.querySelector("table.drill-rows tbody");
  for (const node of page.nodes) tbody.append(el("tr", {}, spec.row(node).map((c) => el("td", {}, c ?? ""))));
  if (!page.nodes.length && !after) {
    tbody.append(el("tr", { class: "empty-row" }, el("td", { colspan: spec.columns().length, class: "empty" },
      t("Nothing behind this metric."))));
  }
  body.dataset.metric = metric;
  more.hidden = !page.pageInfo.hasNextPage;
  return page.pageInfo.endCursor;
}

export default {
  id: "health",
  title: () => t("Health"),
  roles: ["ops", "cs", "finance"],
  async render(root, params) {
    const period = params.get("period") === "HOUR" ? "HOUR" : "DAY";
    const at = params.get("at") || null;
    const metric = DRILLS[params.get("metric")] ? params.get("metric") : null;
    const wanted = params.get("warehouse") || "";
    const input = { period, ...(at ? { at } : {}) };
    const keep = (values) => go("health", { period, at, metric, warehouse: wanted, ...values });

    const [data, trend] = await Promise.all([
      gql(HEALTH_QUERY, { input }),
      gql(TREND_QUERY, { input: { period: "DAY", count: 7, ...(at ? { end: at } : {}) } }),
    ]);
    const report = checked(data.health);
    checked(trend.healthTrend);
    // Lead times are asked for once the gauges' answer is in (the server is not made to compute both at once),
    // and drawn when they come: the gauges are what the page is opened for.
    const leadBox = el("section", { id: "lead-pending", "aria-busy": "true" });
    const leadDrawn = gql(LEAD_QUERY, { input: { ...(at ? { to: at } : {}), ...(wanted ? { warehouse: wanted } : {}) } })
      .then((answer) => leadSection(checked(answer.fulfilmentLeadTimes), answer.warehouses.nodes, wanted,
        (warehouse) => keep({ warehouse })))
      .catch((error) => {
        showError(error.message);
        return null;
      });

    const periodBox = select([["DAY", t("whole day")], ["HOUR", t("whole hour")]], period, { id: "health-period" });
    const atBox = el("input", { id: "health-at", type: "datetime-local", value: toMerchantClock(at) });
    const form = el("form", { class: "toolbar", id: "health-form" },
      field(t("Health period"), periodBox),
      field(t("At (merchant clock)"), atBox),
      el("button", { type: "submit", class: "primary" }, t("Show health at")),
      at ? button(t("Back to now"), () => keep({ at: null })) : null);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      keep({ period: periodBox.value, at: atBox.value ? fromMerchantClock(atBox.value) : null });
    });

    const body = el("div", { id: "drilldown-body" });
    const more = button(t("More rows"), null, { id: "drilldown-more", hidden: true });
    const heading = el("h2", { id: "drilldown-title" });
    const drilldown = el("section", { id: "drilldown", hidden: true, "aria-labelledby": "drilldown-title" },
      heading, body, more);
    let after = null;
    let open = null;
    const titles = Object.fromEntries(report.metrics.map((m) => [m.metric, m.title]));
    const openDrill = async (name) => {
      open = name;
      heading.textContent = titles[name] || name;
      after = await drill(body, more, input, name, null);
      drilldown.hidden = false;
    };
    more.addEventListener("click", async () => {
      more.disabled = true;
      try {
        after = await drill(body, more, input, open, after);
      } finally {
        more.disabled = false;
      }
    });

    root.dataset.period = report.period || "";
    const periodName = report.period === "HOUR" ? t("whole hour") : report.period === "DAY" ? t("whole day") : t("explicit range");
    root.append(
      el("h1", {}, t("Health")),
      form,
      el("p", { id: "computed-at", class: "muted" }, t("{period} {from} – {to} (merchant clock), computed {at}",
        { period: periodName, from: time(report.from), to: time(report.to), at: time(report.computedAt) })),
      el("section", { "aria-labelledby": "gauges-title" },
        el("h2", { id: "gauges-title" }, t("Metrics for the period")),
        el("div", { id: "gauges", class: "gauges" },
          report.metrics.map((m) => gauge(m, (name) => openDrill(name).catch((e) => showError(e.message)))))),
      drilldown,
      el("section", { "aria-labelledby": "trends-title" },
        el("h2", { id: "trends-title" }, t("Each metric over the last 7 days")),
        el("div", { id: "trends", class: "trends" }, trend.healthTrend.series.map(trendChart))),
      leadBox,
    );
    leadDrawn.then((section) => section && leadBox.replaceWith(section));
    if (metric) await openDrill(metric);
  },
};
