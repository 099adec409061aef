// The console shell: session, navigation between pages (#/page), sign-in and sign-out.
import { api, ApiError, setCsrf } from "./api.js";
import { clear, errorBox, h } from "./dom.js";
import * as overview from "./pages/overview.js";
import * as providers from "./pages/providers.js";
import * as keys from "./pages/keys.js";
import * as requests from "./pages/requests.js";
import * as catalog from "./pages/catalog.js";

const PAGES = { overview, providers, keys, requests, catalog };
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const login = document.getElementById("login");
const who = document.getElementById("who");
const signOut = document.getElementById("sign-out");
const refresh = document.getElementById("refresh");
let session = null;

function showLogin(message = "") {
  session = null;
  setCsrf(null);
  nav.hidden = true;
  signOut.hidden = true;
  refresh.hidden = true;
  who.textContent = "";
  clear(main);
  login.hidden = false;
  document.getElementById("login-error").textContent = message;
  document.getElementById("login-key").focus();
}

function signedIn(body) {
  session = body;
  setCsrf(body.csrf_token);
  login.hidden = true;
  nav.hidden = false;
  signOut.hidden = false;
  refresh.hidden = false;
  who.textContent = body.open_mode ? "open mode (no keys configured)" : `signed in as ${body.key}`;
  route();
}

const INSECURE = "This page is not a secure context (plain http on a host other than localhost): the browser will "
  + "not keep the Secure session cookie. Open the console over HTTPS.";

async function start() {
  if (!window.isSecureContext) return showLogin(INSECURE);
  try {
    const body = await api("/console/api/session");
    // Open mode needs no key, but changes still need a session's CSRF token: make one.
    if (!body.csrf_token && body.open_mode) signedIn(await api("/console/session", { method: "POST", body: { key: "" } }));
    else signedIn(body);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) showLogin();
    else showLogin(err.message);
  }
}

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("login-key");
  try {
    const body = await api("/console/session", { method: "POST", body: { key: input.value.trim() } });
    input.value = "";
    signedIn(body);
  } catch (err) {
    document.getElementById("login-error").textContent = err.message;
  }
});

signOut.addEventListener("click", async () => {
  try {
    await api("/console/session", { method: "DELETE" });
  } finally {
    showLogin("Signed out.");
  }
});

let rendering = 0;

async function route() {
  if (!session) return;
  const [name, ...rest] = (location.hash.replace(/^#\/?/, "") || "overview").split("/");
  const page = PAGES[name] ? name : "overview";
  for (const link of nav.querySelectorAll("a")) {
    if (link.dataset.page === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const ticket = ++rendering;
  const view = h("div", { class: "page", id: `page-${page}` });
  clear(main).append(view);
  document.body.dataset.page = page;
  document.body.dataset.ready = "";
  try {
    await PAGES[page].render(view, { args: rest.map(decodeURIComponent), session });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return showLogin("Your session ended; sign in again.");
    view.append(errorBox(err));
  }
  if (ticket === rendering) document.body.dataset.ready = page;
}

refresh.addEventListener("click", () => route());
window.addEventListener("hashchange", route);
start();
