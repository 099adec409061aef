// Keys: spend against budget, limits, last used; create and revoke (issue 12's key API).
import { api, ApiError } from "../api.js";
import { h } from "../dom.js";

export async function render(view) {
  view.append(h("div", { class: "page-head" }, h("h1", {}, "Keys")));
  try {
    await api("/console/api/keys");
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      view.append(h("div", { class: "alert", id: "keys-unavailable" }, "The keys API is not available in this gateway."));
      return;
    }
    throw err;
  }
}
