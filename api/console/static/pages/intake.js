// Intake: the upstream changes the drift monitor caught, the cleaning rules that answer them, and a replay of
// recorded payloads under today's rules (a dry run's diff first, then applied after a confirmation).
"use strict";

import {
  ApiError, act, button, can, checked, choices, confirmAction, el, field, go, gql, select, showError, table, time, t,
} from "../lib.js";

const CHANNELS = ["DOUYIN", "TAOBAO", "TMALL", "WECHAT_MINI", "WECHAT_CHANNELS", "AMAZON"];

function channelName(code) {
  const names = {
    DOUYIN: t("Douyin"), TAOBAO: t("Taobao"), TMALL: t("Tmall"), WECHAT_MINI: t("WeChat mini-program"),
    WECHAT_CHANNELS: t("WeChat Channels"), AMAZON: t("Amazon"),
  };
  return names[code] || code;
}

function upstreamName(code) {
  const names = {
    CHANNEL: t("sales channel"), PAYMENT: t("payment provider"), WAREHOUSE: t("warehouse"), CARRIER: t("carrier"),
    STATEMENT: t("statement file"),
  };
  return names[code] || code;
}

function changeName(code) {
  const names = {
    NEW_FIELD: t("new field"), MISSING_FIELD: t("missing field"), TYPE_CHANGE: t("type changed"),
    NEW_VALUE: t("new value"),
  };
  return names[code] || code;
}

const WINDOWS = [["1", () => t("last hour")], ["6", () => t("last 6 hours")], ["24", () => t("last 24 hours")],
  ["72", () => t("last 3 days")], ["168", () => t("last 7 days")]];

const DRIFT = `query Drift($channel: SalesChannel, $upstream: UpstreamKind) {
  driftAlerts(first: 100, channel: $channel, upstream: $upstream) {
    nodes { id channel upstream source path change detail example firstSeen lastSeen count } } }`;

const RULES = `query Rules($channel: SalesChannel!) {
  upstreamMonitor(channel: $channel) { ruleVersion rulesInForce baselinePinnedAt timeline { at what summary } }
  cleaningRules(channel: $channel, first: 10) { nodes { version rules note createdBy createdAt } } }`;

const SAVE = `mutation Save($input: SaveCleaningRulesInput!) {
  saveCleaningRules(input: $input) { ruleSet { version } userErrors { field message code } } }`;

const CHECK = `mutation Check($input: SaveCleaningRulesInput!) {
  checkCleaningRules(input: $input) { wouldBeVersion userErrors { field message code } } }`;

const REPLAY = `mutation Replay($input: ReplayInput!) {
  replayChannelMessages(input: $input) {
    messages { messageId receivedAt outcomeBefore channelOrderId ruleVersion diff error applied supersedes }
    userErrors { field message code } } }`;

function driftSection(alerts, upstream, channel) {
  const filter = select([["", t("every upstream")], ...["CHANNEL", "PAYMENT", "WAREHOUSE", "CARRIER", "STATEMENT"]
    .map((u) => [u, upstreamName(u)])], upstream, { id: "drift-upstream" });
  const rows = alerts.map((a) => [
    upstreamName(a.upstream), a.source, el("code", {}, a.path), changeName(a.change), a.detail,
    el("code", {}, a.example), time(a.firstSeen), time(a.lastSeen), a.count,
  ]);
  return el("section", { "aria-labelledby": "drift-title" },
    el("h2", { id: "drift-title" }, t("Drift alerts")),
    el("p", { class: "muted" }, t("Upstream changes the drift monitor caught, newest first.")),
    el("div", { class: "toolbar" },
      choices([field(t("Upstream"), filter)], () => go("intake", { channel, upstream: filter.value }),
        { id: "drift-form" }),
      el("span", { class: "figure" }, el("span", { class: "number", id: "drift-count" }, alerts.length),
        t("alerts"))),
    table([t("Upstream"), t("Source"), t("Field"), t("Kind of change"), t("Detail"), t("Example"), t("First seen"),
      t("Last seen"), t("Times seen")], rows, { attrs: { id: "drift-table" }, empty: t("No drift alerts.") }));
}

/** userErrors next to the rule they name: `rules.2.op` goes under rule 3. */
function ruleErrors(box, errors) {
  box.replaceChildren(...errors.map((e) => {
    const path = e.field || [];
    const index = path.findIndex((p) => /^\d+$/.test(p));
    const where = index >= 0 ? t("Rule {n}", { n: Number(path[index]) + 1 }) : t("Rules");
    return el("li", { "data-code": e.code }, el("strong", {}, where), ": ", e.message);
  }));
  box.hidden = errors.length === 0;
}

function rulesSection(channel, data, rerender) {
  const monitor = data.upstreamMonitor;
  const inForce = monitor ? monitor.rulesInForce : [];
  const editor = el("textarea", { id: "rules-editor", rows: 10, cols: 80, spellcheck: "false",
    "aria-describedby": "rules-errors" }, JSON.stringify(inForce, null, 2));
  const note = el("input", { id: "rules-note", type: "text", size: 50 });
  const errors = el("ul", { id: "rules-errors", class: "danger-text", role: "alert", hidden: true });
  /** Sends the draft to the API (check or save); its refusals go beside the rule they name. */
  const submit = async (control, query, name, done) => {
    let rules;
    try {
      rules = JSON.parse(editor.value);
    } catch (error) {
      showError("");
      ruleErrors(errors, [{ field: ["rules"], message: t("This is not valid JSON: {detail}", { detail: error.message }),
        code: "NOT_JSON" }]);
      editor.focus();
      return null;
    }
    return act(control, async () => {
      const answer = (await gql(query, { input: { channel, rules, note: note.value } }))[name];
      ruleErrors(errors, answer.userErrors);
      if (answer.userErrors.length) {
        editor.focus();
        throw new ApiError(t("The rules were refused."), answer.userErrors[0].code);
      }
      return answer;
    }, done);
  };
  const check = button(t("Check the rules"), (event) => submit(event.target, CHECK, "checkCleaningRules",
    (answer) => t("The rules pass every accepted sample; saved, they would be version {version}.",
      { version: answer.wouldBeVersion })), { id: "rules-check" });
  const save = button(t("Save the rules"), async (event) => {
    const saved = await submit(event.target, SAVE, "saveCleaningRules",
      (answer) => t("Version {version} of the rules is in force.", { version: answer.ruleSet.version }));
    if (saved) await rerender();
  }, { id: "rules-save", class: "primary" });
  const history = data.cleaningRules.nodes.map((r) => [r.version, time(r.createdAt), r.createdBy, r.note,
    el("code", {}, JSON.stringify(r.rules))]);
  const timeline = (monitor ? monitor.timeline : []).map((c) => [time(c.at), c.what, c.summary]);
  return el("section", { "aria-labelledby": "rules-title" },
    el("h2", { id: "rules-title" }, t("Cleaning rules")),
    el("p", {}, t("Version in force: {version}", { version: monitor ? monitor.ruleVersion : 0 }), " · ",
      t("Baseline pinned: {at}", { at: monitor && monitor.baselinePinnedAt ? time(monitor.baselinePinnedAt) : "—" })),
    el("p", { class: "muted" }, t("A JSON list of rules, for example:"), " ",
      el("code", {}, '[{"op": "drop_if_equals", "path": "order.order_id_suffix", "value": "ERR"}]'), " ",
      t("A version that breaks an accepted sample is refused.")),
    field(t("Rules (JSON)"), editor),
    errors,
    el("div", { class: "toolbar" },
      field(t("Note"), note), check,
      can("admin") ? save : el("span", { class: "muted", id: "rules-readonly" },
        t("Only an administrator can save cleaning rules."))),
    el("h3", {}, t("Saved versions")),
    table([t("Version"), t("Saved at"), t("By"), t("Note"), t("Rules")], history,
      { attrs: { id: "rules-history" }, empty: t("No cleaning rules saved yet.") }),
    el("h3", {}, t("Upstream changes and rule versions over time")),
    table([t("When"), t("What"), t("Summary")], timeline, { attrs: { id: "rules-timeline" },
      empty: t("No upstream change recorded yet.") }));
}

function diffText(diff) {
  return Object.entries(diff || {}).map(([name, [stored, wouldBe]]) =>
    `${name}: ${JSON.stringify(stored)} → ${JSON.stringify(wouldBe)}`).join("\n");
}

function replayResult(messages, applied) {
  const changed = messages.filter((m) => Object.keys(m.diff || {}).length).length;
  const failed = messages.filter((m) => m.error).length;
  const rows = messages.map((m) => [
    time(m.receivedAt, { seconds: true }), m.channelOrderId || "—", m.outcomeBefore,
    m.ruleVersion === null ? "—" : String(m.ruleVersion),
    Object.keys(m.diff || {}).length ? el("pre", { class: "diff" }, diffText(m.diff)) : el("span", { class: "muted" },
      t("no difference")),
    m.supersedes ? t("replaces {order}", { order: m.supersedes }) : "",
    m.error ? el("span", { class: "late" }, m.error) : "",
    m.applied ? t("applied") : t("not applied"),
  ]);
  return el("div", { id: "replay-result", "data-applied": String(applied) },
    el("div", { class: "figures" },
      el("div", { class: "figure" }, el("span", { class: "number", id: "replay-messages" }, messages.length),
        t("messages")),
      el("div", { class: "figure" }, el("span", { class: "number", id: "replay-changed" }, changed),
        t("would change")),
      el("div", { class: "figure" }, el("span", { class: "number", id: "replay-failed" }, failed), t("errors"))),
    table([t("Received"), t("Channel order no."), t("Outcome then"), t("Rule version"), t("Difference"),
      t("Supersedes"), t("Error"), t("Applied")], rows, { attrs: { id: "replay-table" },
      empty: t("No recorded messages in this window.") }));
}

function replaySection(channel, hours) {
  const windowSelect = select(WINDOWS.map(([v, label]) => [v, label()]), hours, { id: "replay-window" });
  const out = el("div", { id: "replay-out" });
  let window = null;
  const apply = button(t("Apply the replay"), async (event) => {
    const answer = await confirmAction(t("Apply today's rules to the messages of this window? Orders change and this cannot be undone."), { ok: t("Apply") });
    if (!answer) return;
    await act(event.target, async () => {
      const payload = checked((await gql(REPLAY, { input: { channel, ...window, apply: true } })).replayChannelMessages);
      out.replaceChildren(replayResult(payload.messages, true));
      apply.hidden = true;
      return payload.messages.filter((m) => m.applied).length;
    }, (n) => t("Replay applied to {n} messages.", { n }));
  }, { id: "replay-apply", class: "danger", hidden: true });
  const dry = button(t("Dry run"), async (event) => {
    const to = new Date();
    window = { receivedFrom: new Date(to - Number(windowSelect.value) * 3600e3).toISOString(),
      receivedTo: to.toISOString() };
    await act(event.target, async () => {
      const payload = checked((await gql(REPLAY, { input: { channel, ...window, apply: false } })).replayChannelMessages);
      out.replaceChildren(replayResult(payload.messages, false));
      apply.hidden = !payload.messages.length;
      return payload.messages.length;
    }, (n) => t("Dry run done: {n} messages, nothing changed.", { n }));
  }, { id: "replay-dry", class: "primary" });
  return el("section", { "aria-labelledby": "replay-title" },
    el("h2", { id: "replay-title" }, t("Replay under today's rules")),
    el("p", { class: "muted" }, t("A dry run shows what each recorded message would become now; apply it once the difference is right.")),
    el("div", { class: "toolbar" }, field(t("Window"), windowSelect), dry, apply),
    out);
}

const EVIDENCE = `mutation Evidence($input: ReplayEvidenceInput!) {
  replayEvidenceEvents(input: $input) {
    events { messageId receivedAt eventKey orderReference verdict drift error applied outcome }
    userErrors { field message code } } }`;

const PAYMENTS = `mutation Payments($input: ReplayPaymentsInput!) {
  replayPaymentPostings(input: $input) {
    payments { messageId receivedAt verdict providerTxnId amount currency error applied outcome }
    userErrors { field message code } } }`;

function verdictName(code) {
  const names = {
    RECORD: t("would be recorded"), POST: t("would be posted"), ON_FILE: t("already on file"),
    NO_MONEY: t("moves no money"), REFUSED: t("refused"),
  };
  return names[code] || code;
}

/** Minor units as a decimal amount, without a float. */
function minor(amount, currency) {
  if (amount === null || amount === undefined) return "—";
  const sign = amount < 0 ? "-" : "";
  const digits = String(Math.abs(amount)).padStart(3, "0");
  return `${sign}${digits.slice(0, -2)}.${digits.slice(-2)} ${currency || ""}`.trim();
}

function eventRows(kind, items) {
  if (kind === "PAYMENT") {
    return items.map((p) => [time(p.receivedAt, { seconds: true }), p.providerTxnId || "—", minor(p.amount, p.currency),
      verdictName(p.verdict), p.error ? el("span", { class: "late" }, p.error) : "", p.applied ? t("applied") : t("not applied")]);
  }
  return items.map((e) => [time(e.receivedAt, { seconds: true }), e.eventKey || "—", e.orderReference || "—",
    verdictName(e.verdict), e.drift.join("; "), e.error ? el("span", { class: "late" }, e.error) : "",
    e.applied ? t("applied") : t("not applied")]);
}

function upstreamReplaySection(hours) {
  // Replaying payments into the ledger, even as a dry run, is an administrator's: operations gets the others.
  const kinds = ["WAREHOUSE", "CARRIER", ...(can("admin") ? ["PAYMENT"] : [])];
  const kind = select(kinds.map((k) => [k, upstreamName(k)]), "WAREHOUSE", { id: "events-kind" });
  const source = el("input", { type: "text", id: "events-source", size: 18, placeholder: "WH1 · SF · alipay" });
  const windowSelect = select(WINDOWS.map(([v, label]) => [v, label()]), hours, { id: "events-window" });
  const out = el("div", { id: "events-out" });
  let asked = null;
  const run = async (apply) => {
    const input = { ...asked.window, apply };
    if (asked.kind === "PAYMENT") {
      const payload = checked((await gql(PAYMENTS, { input: { provider: asked.source, ...input } })).replayPaymentPostings);
      return payload.payments;
    }
    const payload = checked((await gql(EVIDENCE, { input: { upstream: asked.kind, source: asked.source, ...input } }))
      .replayEvidenceEvents);
    return payload.events;
  };
  const show = (items, applied) => {
    const columns = asked.kind === "PAYMENT"
      ? [t("Received"), t("Provider transaction"), t("Amount"), t("Verdict"), t("Error"), t("Applied")]
      : [t("Received"), t("Event"), t("Order"), t("Verdict"), t("Drift"), t("Error"), t("Applied")];
    const pending = items.filter((i) => i.verdict === "RECORD" || i.verdict === "POST").length;
    out.replaceChildren(el("div", { id: "events-result", "data-applied": String(applied), "data-kind": asked.kind },
      el("div", { class: "figures" },
        el("div", { class: "figure" }, el("span", { class: "number", id: "events-count" }, items.length), t("messages")),
        el("div", { class: "figure" }, el("span", { class: "number", id: "events-pending" }, pending),
          t("not yet on file"))),
      table(columns, eventRows(asked.kind, items), { attrs: { id: "events-table" },
        empty: t("No recorded messages in this window.") })));
    return pending;
  };
  const apply = button(t("Apply the replay"), async (event) => {
    const answer = await confirmAction(t("Record what is not yet on file from this window? This cannot be undone."),
      { ok: t("Apply") });
    if (!answer) return;
    await act(event.target, async () => {
      const items = await run(true);
      show(items, true);
      apply.hidden = true;
      return items.filter((i) => i.applied).length;
    }, (n) => t("Replay applied to {n} messages.", { n }));
  }, { id: "events-apply", class: "danger", hidden: true });
  const dry = button(t("Dry run"), async (event) => {
    const to = new Date();
    asked = { kind: kind.value, source: source.value.trim(), window: {
      receivedFrom: new Date(to - Number(windowSelect.value) * 3600e3).toISOString(), receivedTo: to.toISOString() } };
    await act(event.target, async () => {
      const pending = show(await run(false), false);
      apply.hidden = !pending;
      return pending;
    }, (n) => t("Dry run done: {n} messages not yet on file, nothing changed.", { n }));
  }, { id: "events-dry", class: "primary" });
  return el("section", { "aria-labelledby": "events-title" },
    el("h2", { id: "events-title" }, t("Replay warehouse, carrier and payment messages")),
    el("p", { class: "muted" }, t("Recorded messages through today's watch rules: what is already on file and what applying would add.")),
    el("div", { class: "toolbar" }, field(t("Upstream"), kind), field(t("Source"), source), field(t("Window"), windowSelect),
      dry, apply),
    out);
}

export default {
  id: "intake",
  title: () => t("Intake"),
  roles: ["ops"],
  async render(root, params) {
    const channel = CHANNELS.includes(params.get("channel")) ? params.get("channel") : CHANNELS[0];
    const upstream = params.get("upstream") || "";
    const [drift, rules] = await Promise.all([
      gql(DRIFT, { channel: upstream === "CHANNEL" ? channel : null, upstream: upstream || null }),
      gql(RULES, { channel }),
    ]);
    const channelSelect = select(CHANNELS.map((c) => [c, channelName(c)]), channel, { id: "intake-channel" });
    const rerender = async () => {
      root.replaceChildren();
      await this.render(root, params);
    };
    root.replaceChildren(
      el("h1", {}, t("Intake")),
      choices([field(t("Channel"), channelSelect)], () => go("intake", { channel: channelSelect.value, upstream }),
        { id: "channel-form" }),
      driftSection(drift.driftAlerts.nodes, upstream, channel),
      rulesSection(channel, rules, rerender),
      replaySection(channel, params.get("hours") || "24"),
      upstreamReplaySection(params.get("hours") || "24"),
    );
  },
};
