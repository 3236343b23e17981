// Money: upload a provider's or bank's statement, reconcile it, read the run by drift type and work its to-check list.
"use strict";

import {
  act, button, can, checked, choices, confirmAction, el, field, gql, money, percent, select, t, table, time, upload,
} from "../lib.js";

const RUN_FIELDS = `id provider periodStart periodEnd statementLines matched matchRate gapsClosedByQuery
  drifts { drift count }
  items(first: 100) { nodes { id drift providerTransactionId voucherId resolution resolvedBy note
    systemAmount { amount currencyCode } statementAmount { amount currencyCode } } }`;
const RUNS = `query MoneyRuns { reconRuns(first: 30) { nodes { id provider periodStart periodEnd matchRate } } }`;
const RUN = `query MoneyRun($id: ID!) { reconRun(id: $id) { ${RUN_FIELDS} } }`;
const UPLOAD = `mutation MoneyUpload($input: UploadStatementInput!) { uploadStatement(input: $input) {
  statement { id provider filename lines alreadyImported } held { id reason }
  userErrors { field message code } } }`;
const RECONCILE = `mutation MoneyReconcile($input: RunReconciliationInput!) { runReconciliation(input: $input) {
  runs { id } userErrors { field message code } } }`;
const RESOLVE = `mutation MoneyResolve($input: ResolveReconItemInput!) { resolveReconItem(input: $input) {
  item { id resolution } userErrors { field message code } } }`;

function driftName(code) {
  const names = {
    AMOUNT_MISMATCH: t("Amounts differ from the statement"),
    CURRENCY_MISMATCH: t("Currencies differ from the statement"),
    MISSING_IN_STATEMENT: t("Paid here, not on the statement"),
    MISSING_IN_SYSTEM: t("On the statement, not paid here"),
    DUPLICATE_IN_STATEMENT: t("Listed twice on the statement"),
    DUPLICATE_NOTIFICATION: t("Payment notified twice"),
    DELAYED_CALLBACK: t("Payment notice came late"),
    STATUS_MISMATCH: t("Statuses differ from the statement"),
  };
  return names[code] || code;
}

function resolutionName(item) {
  if (item.resolution === "REVERSED") return t("Reversed by {who}", { who: item.resolvedBy || "" });
  if (item.resolution === "EXPLAINED") return t("Explained by {who}", { who: item.resolvedBy || "" });
  return t("Still to check");
}

function uploader(root, show) {
  const progress = el("progress", { max: 1, value: 0, "aria-label": t("Upload progress"), hidden: true });
  const outcome = el("p", { class: "muted", "data-upload-outcome": true });
  const provider = el("input", { type: "text", id: "money-provider", name: "provider", autocomplete: "off" });
  const input = el("input", { type: "file", id: "money-file", accept: ".csv,.txt,.xlsx,text/csv" });

  async function send(file) {
    if (!file) return;
    progress.hidden = false;
    progress.value = 0;
    outcome.textContent = t("Uploading {name}…", { name: file.name });
    const variables = { input: { file: null, provider: provider.value.trim() || null } };
    const done = await act(null, async () => {
      const data = await upload(UPLOAD, variables, "input.file", file, (fraction) => { progress.value = fraction; });
      const payload = checked(data.uploadStatement);
      if (payload.held) {
        outcome.textContent = t("The file's layout changed, so it was held and not imported: {reason}",
          { reason: payload.held.reason });
        return null;
      }
      const s = payload.statement;
      if (s.alreadyImported) {
        outcome.textContent = t("{name} was imported before ({lines} lines); nothing new to reconcile.",
          { name: s.filename, lines: s.lines });
        return null;
      }
      outcome.textContent = t("{name}: {lines} lines imported from {provider}. Reconciling…",
        { name: s.filename, lines: s.lines, provider: s.provider });
      const run = checked((await gql(RECONCILE, { input: { statementIds: [s.id] } })).runReconciliation);
      outcome.textContent = t("{name}: {lines} lines imported from {provider} and reconciled; the run is below.",
        { name: s.filename, lines: s.lines, provider: s.provider });
      return run.runs[0] || null;
    });
    if (done) await show(done.id);
  }

  input.addEventListener("change", () => send(input.files[0]));
  const zone = el("div", { class: "drop", "data-drop": true },
    el("p", {}, t("Drop a statement file here, or choose one:")),
    field(t("Statement file"), input),
    field(t("Provider (bank statements only)"), provider),
    progress, outcome);
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    send(e.dataTransfer.files[0]);
  });
  root.append(el("section", { "aria-labelledby": "money-upload" },
    el("h2", { id: "money-upload" }, t("Upload a statement")), zone));
}

function figures(run) {
  const figure = (label, value, name) => el("div", { class: "figure" },
    el("span", { class: "number", "data-figure": name }, value), el("span", { class: "muted" }, label));
  return el("div", { class: "figures" },
    figure(t("Statement match rate"), percent(run.matchRate), "match-rate"),
    figure(t("Statement lines"), run.statementLines, "lines"),
    figure(t("Matched lines"), run.matched, "matched"),
    figure(t("Still to check"), run.items.nodes.filter((i) => !i.resolution).length, "open"),
    figure(t("Gaps closed by a payment query"), run.gapsClosedByQuery, "gaps"));
}

function itemActions(item, rerender) {
  if (item.resolution || !can("finance")) return "";
  const controls = [];
  if (item.voucherId) {
    const reverse = button(t("Reverse payment"), async () => {
      const answer = await confirmAction(
        t("Reverse the payment {txn}? A reversing voucher is appended; this cannot be undone.",
          { txn: item.providerTransactionId }),
        { reason: t("Why reverse it"), ok: t("Reverse payment") });
      if (!answer) return;
      const ok = await act(reverse, async () => checked((await gql(RESOLVE,
        { input: { itemId: item.id, resolution: "REVERSED", note: answer.reason } })).resolveReconItem),
      t("Payment reversed."));
      if (ok) await rerender();
    }, { class: "danger", "data-reverse": item.id });
    controls.push(reverse);
  }
  const explain = button(t("Explain it"), async () => {
    const answer = await confirmAction(t("Close {txn} with an explanation?", { txn: item.providerTransactionId }),
      { reason: t("What explains it"), ok: t("Close the item") });
    if (!answer) return;
    const ok = await act(explain, async () => checked((await gql(RESOLVE,
      { input: { itemId: item.id, resolution: "EXPLAINED", note: answer.reason } })).resolveReconItem),
    t("Item closed."));
    if (ok) await rerender();
  }, { "data-explain": item.id });
  controls.push(explain);
  return el("span", { class: "toolbar" }, controls);
}

async function showRun(box, id) {
  const run = (await gql(RUN, { id })).reconRun;
  if (!run) {
    box.replaceChildren(el("p", { class: "empty" }, t("No such reconciliation run.")));
    return;
  }
  const rerender = () => showRun(box, id);
  const amount = (m) => (m ? money(m) : "—");
  box.replaceChildren(
    el("h2", {}, t("Run of {provider}, {start} to {end}",
      { provider: run.provider, start: time(run.periodStart), end: time(run.periodEnd) })),
    figures(run),
    el("h3", {}, t("Differences by type")),
    table([t("Kind of difference"), t("Lines or payments")], run.drifts.map((d) => [driftName(d.drift), d.count]),
      { empty: t("No differences: every line matched."), attrs: { "data-table": "drifts", class: "narrow" } }),
    el("h3", {}, t("To-check list")),
    table([t("Kind of difference"), t("Provider transaction"), t("Our amount"), t("Statement amount"),
      t("Check state"), t("Note on closing"), t("What to do")],
    run.items.nodes.map((i) => [driftName(i.drift), i.providerTransactionId, amount(i.systemAmount),
      amount(i.statementAmount), resolutionName(i), i.note || "", itemActions(i, rerender)]),
    { empty: t("Nothing to check."), attrs: { "data-table": "items" } }));
}

/** The runs' picker and the chosen run, redrawn in place so the upload's outcome stays on the page. */
async function runs(area, chosenId) {
  const list = (await gql(RUNS)).reconRuns.nodes;
  const chosen = chosenId || (list[0] && list[0].id);
  const show = async (id) => {
    history.replaceState(null, "", `#/money?run=${encodeURIComponent(id)}`);
    await runs(area, id);
  };
  const box = el("section", { "aria-live": "polite", "data-run": chosen || "" });
  const picker = select(list.map((r) => [r.id, t("{provider}: {start} to {end} ({rate})",
    { provider: r.provider, start: time(r.periodStart), end: time(r.periodEnd), rate: percent(r.matchRate) })]),
  chosen, { id: "money-run" });
  const again = button(t("Reconcile every statement not yet reconciled"), async () => {
    const result = await act(again, async () => checked((await gql(RECONCILE, { input: {} })).runReconciliation),
      (r) => t("{count} run(s) finished.", { count: r.runs.length }));
    if (result && result.runs.length) await show(result.runs[0].id);
  }, { class: "primary" });
  const fresh = el("div", {}, el("section", {}, el("div", { class: "toolbar" },
    list.length ? choices([field(t("Reconciliation run"), picker)], () => show(picker.value), { id: "run-form" }) : null,
    again)), box);
  if (chosen) await showRun(box, chosen);
  else box.append(el("p", { class: "empty" }, t("No reconciliation has run yet.")));
  area.replaceChildren(fresh);
  return show;
}

export default {
  id: "money",
  title: () => t("Money"),
  roles: ["finance"],
  async render(root, params) {
    root.append(el("h1", {}, t("Money: statements and reconciliation")));
    const area = el("div");
    const show = await runs(area, params.get("run"));
    uploader(root, show);
    root.append(area);
  },
};
