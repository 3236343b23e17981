// orderhub console shell: sign-in, the pages a role may open, the language, and the page router.
"use strict";

import { TOKEN_KEY, el, gql, showError, notify, state, t } from "./lib.js";

// Page modules under pages/, in menu order. Each exports default { id, title(), roles, render(root, params) };
// roles: the staff roles that may open it (admin may open every page).
const PAGES = ["health", "orders", "exceptions", "money", "buyers", "intake", "settings"];
const modules = new Map();

const ME = "query Me { me { email roles language } }";

async function loadCatalog(language) {
  const response = await fetch(`/console/messages/${language}.json`);
  const body = await response.json();
  state.language = body.language;
  state.timezone = body.timezone;
  state.messages = body.messages;
  document.documentElement.lang = body.language;
  document.getElementById("language").value = body.language;
}

function roleName(role) {
  const names = { ADMIN: t("administrator"), OPS: t("operations"), CS: t("customer service"), FINANCE: t("finance") };
  return names[role] || role;
}

function browserLanguage() {
  const tag = (navigator.languages && navigator.languages[0]) || navigator.language || "zh-CN";
  return tag.toLowerCase().startsWith("en") ? "en" : "zh-CN";
}

function label() {
  document.title = t("orderhub console");
  document.getElementById("skip").textContent = t("Skip to the page");
  document.querySelector("#language-label span").textContent = t("Language");
  document.getElementById("sign-out").textContent = t("Sign out");
  document.getElementById("login-title").textContent = t("Staff sign-in");
  document.getElementById("email-label").textContent = t("Email");
  document.getElementById("password-label").textContent = t("Password");
  document.getElementById("login-submit").textContent = t("Sign in");
}

function pageModule(id) {
  if (!modules.has(id)) {
    const loading = import(`./pages/${id}.js`).then((module) => module.default);
    loading.catch(() => modules.delete(id)); // fetched again next time, not failed for good
    modules.set(id, loading);
  }
  return modules.get(id);
}

function allowed(page) {
  const roles = state.me.roles.map((r) => r.toLowerCase());
  return roles.includes("admin") || page.roles.some((r) => roles.includes(r));
}

async function menu() {
  // The page modules are fetched together, not one after another: the menu needs every one's title and roles.
  const pages = (await Promise.all(PAGES.map(pageModule))).filter(allowed);
  const nav = document.getElementById("nav");
  nav.replaceChildren(...pages.map((p) => el("a", { href: `#/${p.id}`, "data-page": p.id }, p.title())));
  nav.hidden = false;
  markCurrent();
  return pages;
}

function markCurrent() {
  const open = document.body.dataset.page;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === open) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function currentId() {
  return location.hash.replace(/^#\/?/, "").split("?")[0];
}

async function route() {
  if (!state.me) return;
  // The page asked for is drawn as soon as its own module is in; the menu follows when all of them are.
  const listed = menu();
  listed.catch((error) => showError(error.message));
  const id = currentId();
  const asked = PAGES.includes(id) ? await pageModule(id).catch(() => null) : null;
  const page = asked && allowed(asked) ? asked : (await listed)[0];
  const root = document.getElementById("page");
  if (!page) {
    root.replaceChildren(el("p", { class: "empty" }, t("No page is open to your roles.")));
    document.body.dataset.loaded = "true";
    return;
  }
  document.body.dataset.loaded = "false";
  document.body.dataset.page = page.id;
  markCurrent();
  showError("");
  notify("");
  const section = el("div", { "data-page": page.id });
  root.replaceChildren(section);
  try {
    await page.render(section, new URLSearchParams(location.hash.includes("?") ? location.hash.split("?")[1] : ""));
  } catch (error) {
    showError(error.message);
  }
  document.body.dataset.loaded = "true";
}

function showLogin(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.me = null;
  document.getElementById("login").hidden = false;
  document.getElementById("nav").hidden = true;
  document.getElementById("who").hidden = true;
  document.getElementById("sign-out").hidden = true;
  document.getElementById("page").replaceChildren();
  document.body.dataset.loaded = "false";
  showError(message || "");
  document.getElementById("email").focus();
}

async function enter(asked = gql(ME)) {
  const data = await asked;
  state.me = data.me;
  if (!state.me) {
    showLogin(t("This account is disabled."));
    return;
  }
  if (state.me.language) {
    const wanted = state.me.language === "EN" ? "en" : "zh-CN";
    if (wanted !== state.language) await loadCatalog(wanted);
  }
  label();
  document.getElementById("login").hidden = true;
  const who = document.getElementById("who");
  who.textContent = `${state.me.email} (${state.me.roles.map(roleName).join(", ")})`;
  who.hidden = false;
  document.getElementById("sign-out").hidden = false;
  await route();
}

async function signIn(event) {
  event.preventDefault();
  showError("");
  const input = { email: document.getElementById("email").value, password: document.getElementById("password").value };
  try {
    const data = await gql(
      "mutation Login($input: StaffLoginInput!) { staffLogin(input: $input) { token userErrors { message } } }",
      { input },
    );
    if (!data.staffLogin.token) {
      showError(data.staffLogin.userErrors.map((e) => e.message).join("; "));
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, data.staffLogin.token);
    document.getElementById("password").value = "";
    await enter();
  } catch (error) {
    showError(error.message);
  }
}

async function changeLanguage(event) {
  const language = event.target.value;
  if (state.me) document.body.dataset.loaded = "false"; // the page is redrawn in the new language: not ready until then
  await loadCatalog(language);
  label();
  if (state.me) {
    try {
      await gql("mutation Speak($input: SetMyLanguageInput!) { setMyLanguage(input: $input) { userErrors { message } } }",
        { input: { language: language === "en" ? "EN" : "ZH_CN" } });
      state.me.language = language === "en" ? "EN" : "ZH_CN";
    } catch (error) {
      showError(error.message);
    }
    await enter();
  }
}

async function start() {
  document.getElementById("login-form").addEventListener("submit", signIn);
  document.getElementById("sign-out").addEventListener("click", () => showLogin(""));
  document.getElementById("language").addEventListener("change", changeLanguage);
  window.addEventListener("hashchange", route);
  window.addEventListener("orderhub:signed-out", () => showLogin(t("Please sign in again.")));
  const asked = new URLSearchParams(location.search).get("lang");
  state.language = asked === "en" || asked === "zh-CN" ? asked : browserLanguage();
  const signedIn = Boolean(sessionStorage.getItem(TOKEN_KEY));
  // Who is signed in, the catalog and the pages' modules are asked for at once: none needs another's answer.
  const me = signedIn ? gql(ME) : null;
  me?.catch(() => {}); // awaited, and its failure shown, in enter()
  if (signedIn) PAGES.forEach((id) => pageModule(id).catch(() => {}));
  await loadCatalog(state.language);
  label();
  if (!signedIn) {
    showLogin("");
    return;
  }
  try {
    await enter(me);
  } catch (error) {
    showLogin(error.message);
  }
}

start();
