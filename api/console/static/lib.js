// orderhub console: what every page shares. Pages import from here; only console.js boots the shell.
"use strict";

export const TOKEN_KEY = "orderhub.staffToken";
const SVG = "http://www.w3.org/2000/svg";

export const state = { me: null, language: "zh-CN", timezone: "Asia/Shanghai", messages: {} };

// Keys a page asked for that the catalog lacks: the browser tests read this and fail on any.
window.orderhubMissing = window.orderhubMissing || [];

/** The sentence in the page's language; `{name}` placeholders filled from params. */
export function t(id, params = {}) {
  let text = state.messages[id];
  if (text === undefined) {
    if (!window.orderhubMissing.includes(id)) window.orderhubMissing.push(id);
    text = id;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

export function el(tag, attrs = {}, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

function headers(extra = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return { "Accept-Language": state.language, ...(token ? { Authorization: `Bearer ${token}` } : {}), ...extra };
}

async function answer(response) {
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(t("The server answered {status}.", { status: response.status }), "HTTP");
  }
  if (body.errors && body.errors.length) {
    const code = body.errors[0].extensions && body.errors[0].extensions.code;
    if (code === "UNAUTHENTICATED") window.dispatchEvent(new CustomEvent("orderhub:signed-out"));
    throw new ApiError(body.errors.map((e) => e.message).join("; "), code);
  }
  return body.data;
}

/** One GraphQL operation; resolves to `data`, rejects with an ApiError on GraphQL errors. */
export async function gql(query, variables = {}) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify({ query, variables }),
  });
  return answer(response);
}

/** A GraphQL multipart upload (one file at `variables.<path>`), reporting progress as a fraction 0..1. */
export function upload(query, variables, path, file, onProgress = () => {}) {
  const form = new FormData();
  form.append("operations", JSON.stringify({ query, variables }));
  form.append("map", JSON.stringify({ 0: [`variables.${path}`] }));
  form.append("0", file, file.name);
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", "/graphql");
    for (const [name, value] of Object.entries(headers({ "GraphQL-Require-Preflight": "1" }))) {
      request.setRequestHeader(name, value);
    }
    request.upload.addEventListener("progress", (e) => e.lengthComputable && onProgress(e.loaded / e.total));
    request.addEventListener("load", () => {
      onProgress(1);
      answer(new Response(request.responseText, { status: request.status })).then(resolve, reject);
    });
    request.addEventListener("error", () => reject(new ApiError(t("The upload failed."), "NETWORK")));
    request.send(form);
  });
}

/** A mutation payload's userErrors as one thrown ApiError; the payload itself when there are none. */
export function checked(payload) {
  if (payload && payload.userErrors && payload.userErrors.length) {
    const text = payload.userErrors.map((e) => (e.field && e.field.length ? `${e.field.join(".")}: ` : "") + e.message);
    throw new ApiError(text.join("; "), payload.userErrors[0].code);
  }
  return payload;
}

export function can(...roles) {
  const mine = (state.me && state.me.roles) || [];
  return mine.includes("ADMIN") || roles.some((r) => mine.includes(r.toUpperCase()));
}

function parts(iso, options) {
  const format = new Intl.DateTimeFormat("en-CA", { timeZone: state.timezone, hourCycle: "h23", ...options });
  return Object.fromEntries(format.formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
}

/** An API time (UTC ISO 8601) on the merchant's clock: `2026-12-07 18:05`. */
export function time(iso, { seconds = false } = {}) {
  if (!iso) return "—";
  const p = parts(iso, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    ...(seconds ? { second: "2-digit" } : {}) });
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}${seconds ? `:${p.second}` : ""}`;
}

/** The merchant's calendar day of an API time: `2026-12-07`. */
export function day(iso) {
  if (!iso) return "—";
  const p = parts(iso, { year: "numeric", month: "2-digit", day: "2-digit" });
  return `${p.year}-${p.month}-${p.day}`;
}

/** `{amount, currencyCode}` as the API gives it (a decimal string), grouped for reading, never through a float. */
export function money(m) {
  if (!m) return "—";
  const [whole, fraction] = String(m.amount).split(".");
  const sign = whole.startsWith("-") ? "-" : "";
  const digits = whole.replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${sign}${digits}${fraction !== undefined ? `.${fraction}` : ""} ${m.currencyCode}`;
}

export function percent(value, digits = 2) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(digits)}%`;
}

/** A duration in seconds as days, hours and minutes, in the page's language. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const minutes = Math.round(seconds / 60);
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  if (d) return h ? t("{d} d {h} h", { d, h }) : t("{d} d", { d });
  if (h) return m ? t("{h} h {m} min", { h, m }) : t("{h} h", { h });
  return t("{m} min", { m });
}

/** A table of rows; a cell may be text, a number (right-aligned) or a Node. */
export function table(columns, rows, { caption = null, empty = null, attrs = {} } = {}) {
  if (!rows.length) return el("p", { class: "empty" }, empty || t("Nothing to show."));
  const numeric = columns.map((_, i) => rows.every((r) => typeof r[i] === "number"));
  return el("table", attrs,
    caption ? el("caption", {}, caption) : null,
    el("thead", {}, el("tr", {}, columns.map((c, i) => el("th", { scope: "col", class: numeric[i] ? "number" : null }, c)))),
    el("tbody", {}, rows.map((r) => el("tr", {}, r.map((cell, i) => el("td", { class: numeric[i] ? "number" : null }, cell))))));
}

export function button(label, onclick, attrs = {}) {
  return el("button", { type: "button", ...attrs, onclick }, label);
}

export function field(label, control) {
  return el("label", {}, el("span", {}, label), control);
}

export function select(options, value, attrs = {}) {
  return el("select", attrs, options.map(([v, label]) => el("option", { value: v, selected: v === value }, label)));
}

/** Choices that redraw the page, applied by a Show button rather than on change: arrowing through a select's
 * options with the keyboard changes it at every step, and must not reload the page at each. */
export function choices(fields, apply, attrs = {}) {
  const form = el("form", { class: "toolbar", ...attrs }, fields, el("button", { type: "submit" }, t("Show")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  return form;
}

export function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message || "";
  box.hidden = !message;
}

export function notify(message) {
  document.getElementById("status").textContent = message || "";
}

/** Runs an action from a button: disables it meanwhile, shows the outcome; resolves to the action's result or null. */
export async function act(control, action, done = null) {
  showError("");
  notify("");
  if (control) control.disabled = true;
  try {
    const result = await action();
    if (done) notify(typeof done === "function" ? done(result) : done);
    return result;
  } catch (error) {
    showError(error.message);
    return null;
  } finally {
    if (control) control.disabled = false;
  }
}

/** Asks before an action that cannot be taken back; with `reason`, the person must say why. */
export function confirmAction(text, { reason = null, ok = null } = {}) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  const reasonLabel = document.getElementById("confirm-reason-label");
  const reasonBox = document.getElementById("confirm-reason");
  reasonLabel.hidden = reason === null;
  reasonLabel.querySelector("span").textContent = reason || "";
  reasonBox.value = "";
  reasonBox.required = reason !== null;
  document.getElementById("confirm-cancel").textContent = t("Cancel");
  document.getElementById("confirm-ok").textContent = ok || t("Confirm");
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const confirmed = dialog.returnValue === "ok" && (reason === null || reasonBox.value.trim() !== "");
      resolve(confirmed ? { reason: reasonBox.value.trim() } : null);
    }, { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    (reason === null ? document.getElementById("confirm-cancel") : reasonBox).focus();
  });
}

/** The page's address parameters (`#/orders?q=123` -> q=123). */
export function params() {
  const hash = location.hash.replace(/^#\/?/, "");
  return new URLSearchParams(hash.includes("?") ? hash.slice(hash.indexOf("?") + 1) : "");
}

export function go(page, values = {}) {
  const query = new URLSearchParams(Object.entries(values).filter(([, v]) => v !== null && v !== undefined && v !== ""));
  const text = query.toString();
  location.hash = `#/${page}${text ? `?${text}` : ""}`;
}
