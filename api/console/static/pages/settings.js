// Settings: health thresholds, the shipped rule, the alert robots (set, tested, removed), and for administrators
// partner keys, staff accounts and partner webhooks. Each control shows only where the API lets the role act.
"use strict";

import {
  act, ApiError, button, can, checked, confirmAction, el, field, gql, percent, table, time, t,
} from "../lib.js";

const ROLES = ["ADMIN", "OPS", "CS", "FINANCE"];
const SCOPES = ["ORDERS_WRITE", "ORDERS_READ", "WMS_WRITE", "CARRIER_WRITE", "PAYMENTS_WRITE", "CUSTOMERS_WRITE",
  "ERP_WRITE", "CRM_WRITE"];
const CHANNELS = ["DOUYIN", "TAOBAO", "TMALL", "WECHAT_MINI", "WECHAT_CHANNELS", "AMAZON"];

function metricName(code) {
  const names = {
    STATUS_DRIFT: t("Status drift"), CHANNEL_ATTRIBUTION: t("Channel attribution"),
    VOUCHER_MATCH: t("Voucher match"), ID_CONSISTENCY: t("Customer id consistency"),
    EXCEPTION_CLOSURE: t("Exception closure"),
  };
  return names[code] || code;
}

function roleName(code) {
  const names = { ADMIN: t("administrator"), OPS: t("operations"), CS: t("customer service"), FINANCE: t("finance") };
  return names[code] || code;
}

function robotName(code) {
  return code === "DINGTALK" ? t("DingTalk robot") : code === "WECOM" ? t("WeCom robot") : code;
}

function yes(value) {
  return value ? t("yes") : t("no");
}

const BASICS = `query Settings {
  healthThresholds { metric value default healthyBelow history { oldValue newValue changedBy changedAt reason } }
  shippedRule { version minMinutesAfterRequest requireOutboundTime clockSkewMinutes
    history { version changedBy changedAt reason } }
  alertRobots { kind configured host signed source enabled setBy setAt } }`;

const ADMIN = `query AdminSettings {
  partnerKeys(first: 100, includeRevoked: true) {
    nodes { id name prefix last4 scopes channels createdAt revokedAt lastUsedAt } }
  staffAccounts(first: 100) { nodes { id email roles createdAt disabledAt language } }
  webhookEndpoints(first: 50) { nodes { id url description eventTypes state consecutiveFailures disabledReason createdAt } } }`;

const DELIVERIES = `query Deliveries($id: ID!) { node(id: $id) { ... on WebhookEndpoint {
  deliveries(first: 20) { nodes { id webhookId eventType state attemptCount createdAt deliveredAt lastStatus lastError } } } } }`;

function thresholdsSection(thresholds, refresh) {
  const rows = thresholds.map((h) => {
    const last = h.history[0];
    const cells = [metricName(h.metric), el("span", { "data-metric": h.metric }, percent(h.value, 2)),
      percent(h.default, 2), h.healthyBelow ? t("healthy below") : t("healthy above"),
      last ? t("{by} at {at}: {reason}", { by: last.changedBy, at: time(last.changedAt), reason: last.reason }) : "—"];
    if (can("admin")) {
      const input = el("input", { type: "number", step: "0.01", min: "0", max: "100", size: 7,
        value: (h.value * 100).toFixed(2), id: `threshold-${h.metric}` });
      const change = button(t("Change"), async (event) => {
        const answer = await confirmAction(t("Change the threshold of {metric} to {value}%?",
          { metric: metricName(h.metric), value: input.value }), { reason: t("Why") });
        if (!answer) return;
        const done = await act(event.target, async () => checked((await gql(
          `mutation Set($input: SetHealthThresholdInput!) { setHealthThreshold(input: $input) {
            threshold { value } userErrors { field message code } } }`,
          { input: { metric: h.metric, threshold: Number(input.value) / 100, reason: answer.reason } },
        )).setHealthThreshold), t("The threshold is changed."));
        if (done) await refresh();
      });
      cells.push(el("span", { class: "toolbar" }, field(t("New value (%)"), input), change));
    }
    return cells;
  });
  const columns = [t("Metric"), t("Threshold"), t("Default"), t("Verdict"), t("Last change")];
  if (can("admin")) columns.push(t("Change"));
  return el("section", { "aria-labelledby": "thresholds-title" },
    el("h2", { id: "thresholds-title" }, t("Health thresholds")),
    table(columns, rows, { attrs: { id: "thresholds" } }));
}

function shippedSection(rule, refresh) {
  const facts = el("p", { id: "shipped-rule" },
    t("Version {version}: shipped no sooner than {minutes} min after the ship request; outbound time required: {outbound}; clock skew allowed: {skew} min.",
      { version: rule.version, minutes: rule.minMinutesAfterRequest, outbound: yes(rule.requireOutboundTime),
        skew: rule.clockSkewMinutes }));
  const parts = [el("h2", { id: "shipped-title" }, t("Shipped rule")), facts];
  if (can("admin")) {
    const minutes = el("input", { type: "number", min: "0", id: "shipped-minutes", value: rule.minMinutesAfterRequest, size: 6 });
    const outbound = { id: "shipped-outbound", checked: rule.requireOutboundTime };
    const skew = el("input", { type: "number", min: "0", id: "shipped-skew", value: rule.clockSkewMinutes, size: 6 });
    const save = button(t("Save the shipped rule"), async (event) => {
      const answer = await confirmAction(t("Store a new version of the shipped rule?"), { reason: t("Why") });
      if (!answer) return;
      const done = await act(event.target, async () => checked((await gql(
        `mutation Ship($input: ChangeShippedRuleInput!) { changeShippedRule(input: $input) {
          rule { version } userErrors { field message code } } }`,
        { input: { reason: answer.reason, minMinutesAfterRequest: Number(minutes.value),
          requireOutboundTime: document.getElementById("shipped-outbound").checked, clockSkewMinutes: Number(skew.value) } },
      )).changeShippedRule), t("The shipped rule is saved."));
      if (done) await refresh();
    }, { class: "primary", id: "shipped-save" });
    parts.push(el("div", { class: "toolbar" }, field(t("Minutes after the ship request"), minutes),
      check(t("Outbound time required"), outbound), field(t("Clock skew allowed (min)"), skew), save));
  }
  parts.push(table([t("Version"), t("Changed at"), t("By"), t("Reason")],
    rule.history.map((h) => [h.version, time(h.changedAt), h.changedBy, h.reason]),
    { empty: t("The rule has never been changed.") }));
  return el("section", { "aria-labelledby": "shipped-title" }, ...parts);
}

function robotSource(r) {
  if (r.source === "STORED") return t("set by {by} at {at}", { by: r.setBy, at: time(r.setAt) });
  return r.source === "ENVIRONMENT" ? t("the server's environment") : "—";
}

function robotState(r) {
  if (!r.configured) return r.source === "STORED" ? t("switched off") : t("not configured");
  return r.enabled ? t("configured") : t("switched off");
}

/** userErrors beside the field they name (`input.webhook`); the others in the page's error box. */
function robotErrors(boxes, errors) {
  for (const [name, box] of Object.entries(boxes)) {
    const mine = errors.filter((e) => e.field && e.field[e.field.length - 1] === name);
    box.replaceChildren(...mine.map((e) => el("span", { "data-code": e.code }, e.message)));
    box.hidden = mine.length === 0;
    const control = document.getElementById(box.dataset.for);
    if (control && mine.length) control.setAttribute("aria-invalid", "true");
    else if (control) control.removeAttribute("aria-invalid");
  }
  const elsewhere = errors.filter((e) => !(e.field && e.field[e.field.length - 1] in boxes));
  if (elsewhere.length) throw new ApiError(elsewhere.map((e) => e.message).join("; "), elsewhere[0].code);
  if (errors.length) {
    const first = Object.values(boxes).find((b) => !b.hidden);
    if (first) document.getElementById(first.dataset.for).focus();
    throw new ApiError(t("The robot is not saved: see the marked fields."), errors[0].code);
  }
}

function robotForm(r, refresh) {
  const name = robotName(r.kind);
  const id = (what) => `robot-${what}-${r.kind}`;
  const errorBox = (what) => el("span", { class: "danger-text", id: id(`${what}-error`), "data-for": id(what),
    role: "alert", hidden: true });
  const webhook = el("input", { type: "url", id: id("webhook"), size: 60, autocomplete: "off", spellcheck: "false",
    placeholder: r.source === "STORED" && r.configured ? t("unchanged") : "", "aria-describedby": id("webhook-error") });
  const secret = r.kind === "DINGTALK" ? el("input", { type: "password", id: id("secret"), size: 40,
    autocomplete: "new-password", placeholder: r.source === "STORED" && r.signed ? t("unchanged") : "",
    "aria-describedby": id("secret-error") }) : null;
  const boxes = { webhook: errorBox("webhook"), ...(secret ? { secret: errorBox("secret") } : {}) };
  const save = button(t("Save"), async (event) => {
    const done = await act(event.target, async () => {
      const answer = (await gql(`mutation SetRobot($input: SetAlertRobotInput!) { setAlertRobot(input: $input) {
        robot { kind host } userErrors { field message code } } }`, { input: { robot: r.kind,
        webhook: webhook.value || null, secret: secret && secret.value ? secret.value : null,
        enabled: document.getElementById(id("enabled")).checked } })).setAlertRobot;
      robotErrors(boxes, answer.userErrors);
      return answer;
    }, t("The {robot} is saved.", { robot: name }));
    if (done) await refresh();
  }, { class: "primary", id: id("save") });
  const remove = r.source === "STORED" ? button(t("Remove"), async (event) => {
    const answer = await confirmAction(t("Remove the {robot} set here? Alerts go to the robot of the server's environment, if it has one.",
      { robot: name }), { ok: t("Remove") });
    if (!answer) return;
    const done = await act(event.target, async () => checked((await gql(
      `mutation RemoveRobot($input: RemoveAlertRobotInput!) { removeAlertRobot(input: $input) {
        robot { kind source } userErrors { field message code } } }`, { input: { robot: r.kind } })).removeAlertRobot),
    t("The {robot} is removed.", { robot: name }));
    if (done) await refresh();
  }, { class: "danger", id: id("remove") }) : null;
  return el("fieldset", { id: id("form") }, el("legend", {}, name),
    el("div", { class: "toolbar" }, field(t("Webhook address"), webhook), boxes.webhook),
    secret ? el("div", { class: "toolbar" }, field(t("Signing secret"), secret), boxes.secret) : null,
    el("div", { class: "toolbar" },
      check(t("Send alerts through it"), { id: id("enabled"), checked: r.source === "NONE" || r.enabled }),
      save, remove));
}

function robotsSection(robots, refresh) {
  const rows = robots.map((r) => [robotName(r.kind), robotState(r), robotSource(r),
    el("span", { "data-robot-host": r.kind }, r.host || "—"), r.kind === "DINGTALK" ? yes(r.signed) : "—",
    r.configured ? button(t("Send a test message"), (event) => act(event.target, async () => {
      const payload = checked((await gql(
        `mutation Test($input: SendRobotTestMessageInput!) { sendRobotTestMessage(input: $input) {
          delivered failure userErrors { field message code } } }`, { input: { robot: r.kind } })).sendRobotTestMessage);
      if (!payload.delivered) throw new Error(t("The robot did not take the message: {failure}", { failure: payload.failure }));
      return payload;
    }, t("The test message reached the {robot}.", { robot: robotName(r.kind) })), { id: `robot-test-${r.kind}` })
      : "—"]);
  return el("section", { "aria-labelledby": "robots-title" },
    el("h2", { id: "robots-title" }, t("Alert robots")),
    table([t("Robot"), t("State"), t("Source"), t("Host"), t("Signed"), t("Test")], rows, { attrs: { id: "robots" } }),
    el("p", { class: "muted" }, t("A robot set here wins over the server's environment. Its address and secret are never shown again: leave a field empty to keep what is stored.")),
    robots.map((r) => robotForm(r, refresh)));
}

/** A checkbox before its label, as people expect to read it. */
function check(label, attrs) {
  return el("label", { class: "check" }, el("input", { type: "checkbox", ...attrs }), el("span", {}, label));
}

function checkboxes(name, codes, chosen, label, nameOf = (c) => c) {
  return el("fieldset", { id: name }, el("legend", {}, label),
    codes.map((c) => check(nameOf(c), { name, value: c, checked: chosen.includes(c) })));
}

function ticked(box) {
  return [...box.querySelectorAll("input:checked")].map((i) => i.value);
}

function keysSection(keys, refresh) {
  const secret = el("div", { id: "key-secret", "aria-live": "polite" });
  const name = el("input", { type: "text", id: "key-name", required: true });
  const scopes = checkboxes("key-scopes", SCOPES, ["ORDERS_WRITE", "ORDERS_READ"], t("Scopes"));
  const channels = checkboxes("key-channels", CHANNELS, [], t("Channels (none ticked: every channel)"));
  const showKey = (payload) => document.getElementById("key-secret").replaceChildren(el("div", { class: "card secret" },
    el("p", {}, t("The new key, shown this once: copy it now.")),
    el("input", { type: "text", readonly: true, value: payload.key, id: "key-value", size: 60,
      "aria-label": t("The new key") })));
  const create = button(t("Create the key"), async (event) => {
    const payload = await act(event.target, async () => checked((await gql(
      `mutation Key($input: CreatePartnerKeyInput!) { createPartnerKey(input: $input) {
        key partnerKey { id } userErrors { field message code } } }`,
      { input: { name: name.value, scopes: ticked(scopes), channels: ticked(channels).length ? ticked(channels) : null } },
    )).createPartnerKey), t("The key is created."));
    if (payload) {
      await refresh();
      showKey(payload);
    }
  }, { class: "primary", id: "key-create" });
  const rows = keys.map((k) => [k.name, `${k.prefix}…${k.last4}`, k.scopes.join(", "),
    k.channels ? k.channels.join(", ") : t("every channel"), time(k.createdAt), time(k.lastUsedAt),
    k.revokedAt ? t("revoked {at}", { at: time(k.revokedAt) }) : t("active"),
    k.revokedAt ? "" : el("span", { class: "toolbar" },
      button(t("Rotate"), async (event) => {
        const answer = await confirmAction(t("Rotate the key {name}? The old key stops working in one hour.", { name: k.name }));
        if (!answer) return;
        const payload = await act(event.target, async () => checked((await gql(
          `mutation Rotate($input: RotatePartnerKeyInput!) { rotatePartnerKey(input: $input) {
            key userErrors { field message code } } }`, { input: { id: k.id, overlapMinutes: 60 } })).rotatePartnerKey),
        t("The key is rotated."));
        if (payload) {
          await refresh();
          showKey(payload);
        }
      }),
      button(t("Revoke"), async (event) => {
        const answer = await confirmAction(t("Revoke the key {name}? It stops working at once.", { name: k.name }),
          { ok: t("Revoke") });
        if (!answer) return;
        const done = await act(event.target, async () => checked((await gql(
          `mutation Revoke($input: RevokePartnerKeyInput!) { revokePartnerKey(input: $input) {
            userErrors { field message code } } }`, { input: { id: k.id } })).revokePartnerKey), t("The key is revoked."));
        if (done) await refresh();
      }, { class: "danger" }))]);
  return el("section", { "aria-labelledby": "keys-title" },
    el("h2", { id: "keys-title" }, t("Partner keys")),
    table([t("Name"), t("Key"), t("Scopes"), t("Channels"), t("Created"), t("Last used"), t("State"), t("Actions")],
      rows, { attrs: { id: "keys" }, empty: t("No partner keys.") }),
    el("h3", {}, t("New partner key")),
    el("div", { class: "toolbar" }, field(t("Name"), name)), scopes, channels, create, secret);
}

function staffSection(accounts, refresh) {
  const email = el("input", { type: "email", id: "staff-email", required: true });
  const password = el("input", { type: "password", id: "staff-password", autocomplete: "new-password", minlength: 12 });
  const roles = checkboxes("staff-roles", ROLES, ["CS"], t("Roles"), roleName);
  const create = button(t("Create the account"), async (event) => {
    const done = await act(event.target, async () => checked((await gql(
      `mutation Staff($input: CreateStaffAccountInput!) { createStaffAccount(input: $input) {
        staffAccount { id } userErrors { field message code } } }`,
      { input: { email: email.value, password: password.value, roles: ticked(roles) } })).createStaffAccount),
    t("The account is created."));
    if (done) await refresh();
  }, { class: "primary", id: "staff-create" });
  const rows = accounts.map((a) => {
    const box = el("span", { class: "roles" }, ROLES.map((r) => check(roleName(r),
      { value: r, checked: a.roles.includes(r), disabled: Boolean(a.disabledAt), "data-account": a.email })));
    const actions = a.disabledAt ? "" : el("span", { class: "toolbar" },
      button(t("Save roles"), async (event) => {
        const done = await act(event.target, async () => checked((await gql(
          `mutation Roles($input: SetStaffRolesInput!) { setStaffRoles(input: $input) {
            userErrors { field message code } } }`, { input: { id: a.id, roles: ticked(box) } })).setStaffRoles),
        t("The roles are saved."));
        if (done) await refresh();
      }),
      button(t("Disable"), async (event) => {
        const answer = await confirmAction(t("Disable the account {email}? Its sign-ins stop at once.", { email: a.email }),
          { ok: t("Disable") });
        if (!answer) return;
        const done = await act(event.target, async () => checked((await gql(
          `mutation Off($input: DisableStaffAccountInput!) { disableStaffAccount(input: $input) {
            userErrors { field message code } } }`, { input: { id: a.id } })).disableStaffAccount),
        t("The account is disabled."));
        if (done) await refresh();
      }, { class: "danger" }));
    return [a.email, box, time(a.createdAt), a.disabledAt ? t("disabled {at}", { at: time(a.disabledAt) }) : t("active"),
      actions];
  });
  return el("section", { "aria-labelledby": "staff-title" },
    el("h2", { id: "staff-title" }, t("Staff accounts")),
    table([t("Email"), t("Roles"), t("Created"), t("State"), t("Actions")], rows, { attrs: { id: "staff" } }),
    el("h3", {}, t("New staff account")),
    el("div", { class: "toolbar" }, field(t("Email"), email), field(t("Password (at least 12 characters)"), password)),
    roles, create);
}

async function deliveries(endpoint, box) {
  const data = await gql(DELIVERIES, { id: endpoint.id });
  const rows = data.node.deliveries.nodes.map((d) => [d.eventType, d.state, d.attemptCount, time(d.createdAt),
    time(d.deliveredAt), d.lastStatus === null ? "—" : String(d.lastStatus), d.lastError || "",
    button(t("Redeliver"), (event) => act(event.target, async () => {
      checked((await gql(`mutation Again($input: RedeliverWebhookInput!) { redeliverWebhook(input: $input) {
        delivery { id } userErrors { field message code } } }`, { input: { deliveryId: d.id } })).redeliverWebhook);
      await deliveries(endpoint, box);
    }, t("Sent again.")))]);
  box.replaceChildren(el("h3", {}, t("Deliveries to {url}", { url: endpoint.url })),
    table([t("Event"), t("State"), t("Attempts"), t("Created"), t("Delivered"), t("Last HTTP status"), t("Last error"),
      t("Actions")], rows, { attrs: { id: "deliveries" }, empty: t("No deliveries yet.") }));
}

function webhooksSection(endpoints) {
  const box = el("div", { id: "deliveries-box" });
  const rows = endpoints.map((e) => [e.url, e.description, e.eventTypes.join(", "),
    e.state === "ACTIVE" ? t("active") : t("disabled: {reason}", { reason: e.disabledReason || "" }),
    e.consecutiveFailures, time(e.createdAt),
    button(t("Deliveries"), (event) => act(event.target, () => deliveries(e, box)))]);
  return el("section", { "aria-labelledby": "webhooks-title" },
    el("h2", { id: "webhooks-title" }, t("Partner webhooks")),
    table([t("Address"), t("Description"), t("Events"), t("State"), t("Failures in a row"), t("Created"), t("Actions")],
      rows, { attrs: { id: "webhooks" }, empty: t("No webhook endpoints.") }),
    box);
}

export default {
  id: "settings",
  title: () => t("Settings"),
  roles: ["ops"],
  async render(root) {
    const refresh = async () => {
      const basics = await gql(BASICS);
      const admin = can("admin") ? await gql(ADMIN) : null;
      const parts = [
        el("h1", {}, t("Settings")),
        can("admin") ? null : el("p", { class: "muted", id: "settings-readonly" },
          t("Only an administrator can change these settings.")),
        thresholdsSection(basics.healthThresholds, refresh),
        shippedSection(basics.shippedRule, refresh),
        robotsSection(basics.alertRobots, refresh),
        admin ? keysSection(admin.partnerKeys.nodes, refresh) : null,
        admin ? staffSection(admin.staffAccounts.nodes, refresh) : null,
        admin ? webhooksSection(admin.webhookEndpoints.nodes) : null,
      ];
      root.replaceChildren(...parts.filter(Boolean));
    };
    await refresh();
  },
};
