// The console's own script (served from /console/assets/console.js; no inline script, no
// third-party code). The pages work as server-rendered HTML; this file sends their forms to the
// JSON API in cookie mode (the session lives in HttpOnly cookies, the CSRF token in a readable
// one), fills the lists, and runs the passkey ceremonies. No token is ever kept in storage or
// put in a URL: the one token the page holds, a sign-in's two-factor challenge, lives in a
// variable of this script.
"use strict";
(function () {
  const body = document.body;
  const base = body.dataset.base || "";
  const csrfName = body.dataset.csrfCookie || "usermgmt_session_csrf";
  const api = (path) => `${base}/api/v1${path}`;
  const page = (path) => `${base}${path}`;

  const cookie = (name) => {
    const found = document.cookie.split(";").map((c) => c.trim()).find((c) => c.startsWith(`${name}=`));
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  };

  // Plain words for the codes people meet; the API's own message otherwise. The code stays
  // visible beside it, for support.
  const WORDS = {
    INVALID_CREDENTIALS: "The email, username or password is not right.",
    ACCOUNT_LOCKED: "Too many sign-in attempts: this account is locked for a while. Try again later.",
    RATE_LIMITED: "Too many attempts from here. Wait a moment, then try again.",
    INVALID_2FA_CODE: "That code is not right. Use the current code from your app, or a backup code.",
    INVALID_2FA_CHALLENGE: "This sign-in took too long. Start again with your password.",
    INCORRECT_PASSWORD: "The password is not right.",
    ACCOUNT_SUSPENDED: "This account is suspended. Contact an administrator.",
    CSRF_FAILED: "This page is out of date. Reload it and try again.",
    UNAUTHENTICATED: "You are signed out. Sign in again.",
    FORBIDDEN: "You are not allowed to do that.",
  };

  async function call(method, path, payload, options = {}) {
    const headers = { "x-auth-mode": "cookie", accept: "application/json" };
    const init = { method, headers, credentials: "same-origin" };
    if (method !== "GET") {
      headers["x-csrf-token"] = cookie(csrfName);
    }
    if (payload instanceof FormData) {
      init.body = payload;
    } else if (payload !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    const response = await fetch(api(path), init);
    if (options.raw) return response;
    let answer;
    try {
      answer = await response.json();
    } catch (_) {
      answer = { success: false, message: "The server answered something unexpected.", code: "BAD_ANSWER" };
    }
    const sessionGone = ["UNAUTHENTICATED", "INVALID_TOKEN", "INVALID_REFRESH_TOKEN", "REFRESH_TOKEN_REUSED"].includes(answer.code);
    if (response.status === 401 && sessionGone && body.dataset.signedIn === "true" && !options.allow401) {
      // The session ended (signed out elsewhere, revoked, suspended): back to the sign-in page.
      window.location.assign(page(`/signin?ended=1`));
      throw new Error("signed out");
    }
    return answer;
  }

  function say(target, answer, ok) {
    const box = target.querySelector("[data-status]") || target;
    box.textContent = "";
    box.className = ok ? "status ok" : "status error";
    box.setAttribute("role", ok ? "status" : "alert");
    const words = ok ? answer.message : (WORDS[answer.code] || answer.message || "Something went wrong.");
    const p = document.createElement("p");
    p.textContent = words;
    box.append(p);
    if (!ok && Array.isArray(answer.errors)) {
      const list = document.createElement("ul");
      for (const e of answer.errors) {
        const li = document.createElement("li");
        li.textContent = `${e.field}: ${e.message}`;
        list.append(li);
      }
      box.append(list);
    }
    if (!ok && answer.code) {
      const code = document.createElement("p");
      code.className = "code";
      code.textContent = `Code: ${answer.code}`;
      box.append(code);
    }
  }

  function formJson(form) {
    const out = {};
    for (const el of form.elements) {
      if (!el.name || el.disabled) continue;
      if (el.type === "checkbox" && el.value !== "on") {
        // A group of checkboxes with values: the checked ones, as a list.
        out[el.name] = out[el.name] || [];
        if (el.checked) out[el.name].push(el.value);
        continue;
      }
      if (el.type === "checkbox") { out[el.name] = el.checked; continue; }
      if (el.value === "" && el.dataset.optional !== undefined) continue;
      if (el.dataset.emptyList !== undefined) { out[el.name] = []; continue; }
      out[el.name] = el.dataset.number !== undefined ? Number(el.value) : el.value;
    }
    return out;
  }

  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "text") node.textContent = v;
      else if (k.startsWith("data-")) node.setAttribute(k, v);
      else node.setAttribute(k, v);
    }
    for (const child of children) node.append(child);
    return node;
  };
  const when = (t) => (t ? new Date(t).toLocaleString() : "—");
  const firstArray = (data) => Object.values(data || {}).find(Array.isArray) || (Array.isArray(data) ? data : []);

  // ----- what a form does after a success -----
  const next = () => {
    const wanted = new URLSearchParams(window.location.search).get("next") || "";
    // Only a path of this console: never an open redirect.
    return wanted.startsWith(`${base}/`) && !wanted.startsWith("//") ? wanted : page("/account");
  };
  let challenge = null; // the two-factor challenge token of this sign-in (memory only)

  const AFTER = {
    reload: () => window.location.reload(),
    account: () => window.location.assign(next()),
    signin(answer, form) {
      if (answer.data && answer.data.twoFactorRequired) {
        challenge = answer.data.challengeToken;
        form.hidden = true;
        const step = document.getElementById("two-factor-step");
        step.hidden = false;
        const passkey = document.getElementById("two-factor-passkey");
        if (passkey) passkey.hidden = !(answer.data.methods || []).includes("passkey");
        step.querySelector("input").focus();
        return;
      }
      window.location.assign(next());
    },
    message(answer, form) {
      say(form, answer, true);
      // A password or code typed here is not left on the page; the lists show the change.
      for (const field of form.querySelectorAll("input[type=password], input[autocomplete=one-time-code]")) field.value = "";
      refreshLists();
    },
    totpSetup(answer) {
      const box = document.getElementById("totp-setup");
      box.hidden = false;
      document.getElementById("totp-qr").src = answer.data.qrCode;
      document.getElementById("totp-secret").textContent = answer.data.secret;
      box.querySelector("input").focus();
    },
    backupCodes(answer) {
      const box = document.getElementById("backup-codes");
      box.hidden = false;
      const list = box.querySelector("ul");
      list.textContent = "";
      for (const code of answer.data.backupCodes || []) list.append(el("li", { text: code }));
      box.querySelector("p").focus();
    },
    // The key is shown once, in the page only; the list shows its prefix from now on.
    apiKeyCreated(answer, form) {
      const box = document.getElementById("api-key-created");
      box.hidden = false;
      document.getElementById("api-key-secret").textContent = answer.data.key;
      form.reset();
      refreshLists();
      box.querySelector("p").focus();
    },
    signedOut: () => window.location.assign(page("/signin")),
    // The access cookie now carries the impersonation: the user's account, with its banner.
    impersonating: () => window.location.assign(page("/account")),
    // The administrator's fresh session is in the cookies: back to the user's admin page.
    impersonationEnded: (answer, button) => window.location.assign(button.dataset.next || page("/admin")),
  };

  // ----- forms -----
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!form.dataset.api) return;
    event.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    const [method, template] = form.dataset.api.split(" ");
    let payload;
    if (form.enctype === "multipart/form-data") payload = new FormData(form);
    else payload = formJson(form);
    // A `{field}` in the path takes that field's value (and the body loses it).
    const path = template.replace(/\{(\w+)\}/g, (_, name) => {
      const value = payload[name];
      delete payload[name];
      return encodeURIComponent(value || "");
    });
    if (form.dataset.challenge !== undefined) payload.challengeToken = challenge;
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      const answer = await call(method, path, method === "GET" ? undefined : payload, { allow401: form.dataset.public !== undefined });
      if (answer.success) {
        const then = AFTER[form.dataset.then || "message"];
        then(answer, form);
        if (form.dataset.then && form.dataset.then !== "message") say(form, answer, true);
      } else {
        say(form, answer, false);
      }
    } catch (err) {
      if (String(err.message) !== "signed out") say(form, { message: "The server could not be reached." }, false);
    } finally {
      if (button) button.disabled = false;
    }
  });

  // Buttons that call one endpoint (revoke, unlock, suspend, …): data-call="METHOD /path".
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-call]");
    if (!button) return;
    event.preventDefault();
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    const [method, path] = button.dataset.call.split(" ");
    const status = document.getElementById(button.dataset.status || "page-status");
    button.disabled = true;
    const answer = await call(method, path, method === "GET" || method === "DELETE" ? undefined : {});
    button.disabled = false;
    if (status) say(status, answer, answer.success);
    if (answer.success && button.dataset.then) AFTER[button.dataset.then](answer, button);
    else if (answer.success) refreshLists();
  });

  // ----- lists filled from the API: <section data-list="/path" data-columns="a,b"> -----
  const RENDER = {
    sessions(rows, table) {
      for (const s of rows) {
        const device = s.deviceInfo ? [s.deviceInfo.browser, s.deviceInfo.os].filter(Boolean).join(" on ") : s.userAgent;
        const action = s.isCurrent
          ? el("strong", { text: "This device" })
          : el("button", { type: "button", class: "secondary", "data-call": `DELETE /sessions/${s.id}`, "data-status": "sessions-list-status", "aria-label": `Sign out ${device || "session"}` , text: "Sign out" });
        table.append(el("tr", { "data-session": s.id, "data-current": String(!!s.isCurrent) },
          el("td", { text: device || "Unknown device" }), el("td", { text: s.ipAddress || "—" }),
          el("td", { text: when(s.lastActivity) }), el("td", {}, action)));
      }
    },
    passkeys(rows, table) {
      for (const p of rows) {
        table.append(el("tr", {}, el("td", { text: p.name }), el("td", { text: when(p.createdAt) }),
          el("td", { text: when(p.lastUsedAt) }),
          el("td", {}, el("button", { type: "button", class: "secondary", "data-call": `DELETE /passkeys/${p.id}`, "data-status": "passkeys-status", text: "Remove" }))));
      }
    },
    identities(rows, table) {
      for (const i of rows) {
        table.append(el("tr", {}, el("td", { text: i.provider }), el("td", { text: i.email || "—" }),
          el("td", { text: when(i.createdAt) }),
          el("td", {}, el("button", { type: "button", class: "secondary", "data-call": `DELETE /users/identities/${i.id}`,
            "data-status": "identities-list-status", "data-confirm": `Unlink ${i.provider}?`, "aria-label": `Unlink ${i.provider}`, text: "Unlink" }))));
      }
    },
    apiKeys(rows, table) {
      for (const k of rows) {
        table.append(el("tr", { "data-key": k.id }, el("td", { text: k.name }), el("td", {}, el("code", { text: k.prefix })),
          el("td", { text: (k.scopes || []).join(", ") || "self-service" }), el("td", { text: k.expiresAt ? when(k.expiresAt) : "never" }),
          el("td", { text: when(k.lastUsedAt) }),
          el("td", {}, el("button", { type: "button", class: "danger", "data-call": `DELETE /api-keys/${k.id}`,
            "data-status": "api-keys-list-status", "data-confirm": `Revoke the key ${k.name}? Programs using it stop at once.`,
            "aria-label": `Revoke ${k.name}`, text: "Revoke" }))));
      }
    },
    users(rows, table) {
      for (const u of rows) {
        const state = u.isSuspended ? "suspended" : (u.isActive ? "active" : "inactive");
        table.append(el("tr", { "data-user": u.id },
          el("td", {}, el("a", { href: page(`/admin/users/${u.id}`), text: u.username })),
          el("td", { text: u.email }), el("td", { text: state }),
          el("td", { text: u.emailVerified ? "yes" : "no" }), el("td", { text: (u.roles || []).join(", ") }),
          el("td", { text: when(u.createdAt) })));
      }
    },
    generic(rows, table, columns) {
      for (const row of rows) {
        const tr = el("tr");
        for (const c of columns) {
          const v = row[c];
          tr.append(el("td", { text: v === null || v === undefined ? "—" : (typeof v === "object" ? JSON.stringify(v) : (/At$|Date$/.test(c) ? when(v) : String(v))) }));
        }
        table.append(tr);
      }
    },
  };
  let lastRows = {};

  async function fillList(section) {
    const table = section.querySelector("tbody");
    const query = section.dataset.query === "location" ? window.location.search : "";
    const answer = await call("GET", `${section.dataset.list}${query}`);
    table.textContent = "";
    const status = section.querySelector("[data-status]");
    if (!answer.success) { if (status) say(section, answer, false); return; }
    const rows = firstArray(answer.data);
    lastRows[section.id] = rows;
    const render = RENDER[section.dataset.render] || RENDER.generic;
    render(rows, table, (section.dataset.columns || "").split(","));
    if (!rows.length) table.append(el("tr", {}, el("td", { colspan: "6", text: "Nothing here yet." })));
    const pager = section.querySelector("[data-pager]");
    if (pager && answer.data.totalPages !== undefined) {
      pager.textContent = "";
      const params = new URLSearchParams(window.location.search);
      const current = answer.data.page || 1;
      // A listing that stopped counting (totalExact false) has more rows past this page.
      const exact = answer.data.totalExact !== false;
      const of = exact ? `of ${Math.max(1, answer.data.totalPages)} (${answer.data.total} in all)`
        : `of more than ${answer.data.totalPages} (more than ${answer.data.total} in all)`;
      pager.append(el("span", { text: `Page ${current} ${of}` }));
      for (const [label, n] of [["Previous", current - 1], ["Next", current + 1]]) {
        if (n < 1 || (exact && n > answer.data.totalPages)) continue;
        params.set("page", String(n));
        pager.append(el("a", { href: `?${params}`, class: "button secondary", text: label }));
      }
    }
  }
  function refreshLists() {
    for (const section of document.querySelectorAll("[data-list]")) fillList(section);
    const detail = document.querySelector("[data-detail]");
    if (detail) fillDetail(detail);
  }

  // ----- the admin's user detail -----
  async function fillDetail(section) {
    const answer = await call("GET", section.dataset.detail);
    const dl = section.querySelector("dl");
    dl.textContent = "";
    if (!answer.success) { say(section, answer, false); return; }
    const u = answer.data.user || {};
    const facts = [
      ["Username", u.username], ["Email", u.email], ["Name", [u.firstName, u.lastName].filter(Boolean).join(" ") || "—"],
      ["Email verified", u.emailVerified ? "yes" : "no"], ["Active", u.isActive ? "yes" : "no"],
      ["Suspended", u.isSuspended ? "yes" : "no"], ["Two-factor", u.twoFactorEnabled ? "on" : "off"],
      ["Roles", (u.roles || []).join(", ")], ["Created", when(u.createdAt)], ["Last sign-in", when(u.lastLoginAt)],
      ["Active sessions", String((answer.data.sessions || []).length)],
    ];
    if (answer.data.lockout) facts.push(["Locked until", when(answer.data.lockout.lockedUntil)]);
    for (const [k, v] of facts) dl.append(el("dt", { text: k }), el("dd", { text: v === undefined ? "—" : String(v) }));
    section.dataset.state = u.isSuspended ? "suspended" : "active";
  }

  // ----- audit CSV (built from the rows shown: the export is what the filters selected) -----
  const csvCell = (v) => {
    let s = v === null || v === undefined ? "" : (typeof v === "object" ? JSON.stringify(v) : String(v));
    if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`; // no formulas in a spreadsheet
    return `"${s.replace(/"/g, '""')}"`;
  };
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-csv]");
    if (!button) return;
    const rows = lastRows[button.dataset.csv] || [];
    const columns = ["createdAt", "action", "userId", "actorId", "resource", "resourceId", "ipAddress", "userAgent", "details"];
    const text = [columns.join(","), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(","))].join("\r\n");
    const link = el("a", { href: URL.createObjectURL(new Blob([text], { type: "text/csv" })), download: "audit.csv" });
    document.body.append(link);
    link.click();
    link.remove();
  });

  // ----- GDPR export: a download of the API's JSON attachment -----
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-export]");
    if (!button) return;
    const response = await call("GET", "/account/export", undefined, { raw: true });
    const link = el("a", { href: URL.createObjectURL(await response.blob()), download: "my-data.json" });
    document.body.append(link);
    link.click();
    link.remove();
  });

  // ----- passkeys (WebAuthn): the ceremonies of the API's passkey endpoints -----
  const b64url = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const bytes = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const assertion = (got) => ({
    id: got.id, rawId: b64url(got.rawId), type: got.type,
    response: {
      authenticatorData: b64url(got.response.authenticatorData),
      clientDataJSON: b64url(got.response.clientDataJSON),
      signature: b64url(got.response.signature),
      userHandle: got.response.userHandle ? b64url(got.response.userHandle) : null,
    },
    extensions: got.getClientExtensionResults(),
  });
  const getOptions = (pk) => ({ publicKey: { ...pk, challenge: bytes(pk.challenge),
    allowCredentials: (pk.allowCredentials || []).map((c) => ({ ...c, id: bytes(c.id) })) } });

  async function passkeyRegister(button) {
    const status = document.getElementById("passkeys-status");
    const name = (document.getElementById("passkey-name") || {}).value || "Passkey";
    const options = await call("POST", "/passkeys/register/options", {});
    if (!options.success) return say(status, options, false);
    const pk = options.data.publicKey;
    let created;
    try {
      created = await navigator.credentials.create({ publicKey: { ...pk, challenge: bytes(pk.challenge),
        user: { ...pk.user, id: bytes(pk.user.id) },
        excludeCredentials: (pk.excludeCredentials || []).map((c) => ({ ...c, id: bytes(c.id) })) } });
    } catch (_) {
      return say(status, { message: "The passkey was not created (cancelled or not supported here)." }, false);
    }
    const answer = await call("POST", "/passkeys/register/verify", { ceremonyId: options.data.ceremonyId, name,
      credential: { id: created.id, rawId: b64url(created.rawId), type: created.type,
        response: { attestationObject: b64url(created.response.attestationObject),
          clientDataJSON: b64url(created.response.clientDataJSON),
          transports: created.response.getTransports ? created.response.getTransports() : [] },
        extensions: created.getClientExtensionResults() } });
    say(status, answer, answer.success);
    if (answer.success) refreshLists();
    button.focus();
  }

  async function passkeySignIn(secondFactor) {
    const status = document.getElementById(secondFactor ? "two-factor-status" : "signin-status");
    const options = secondFactor
      ? await call("POST", "/auth/login/2fa/passkey-options", { challengeToken: challenge }, { allow401: true })
      : await call("POST", "/auth/passkey/options", {}, { allow401: true });
    if (!options.success) return say(status, options, false);
    let got;
    try {
      got = await navigator.credentials.get(getOptions(options.data.publicKey));
    } catch (_) {
      return say(status, { message: "No passkey was used (cancelled or not supported here)." }, false);
    }
    const answer = secondFactor
      ? await call("POST", "/auth/login/2fa", { challengeToken: challenge, ceremonyId: options.data.ceremonyId, credential: assertion(got) }, { allow401: true })
      : await call("POST", "/auth/passkey/verify", { ceremonyId: options.data.ceremonyId, credential: assertion(got) }, { allow401: true });
    if (answer.success) window.location.assign(next());
    else say(status, answer, false);
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-passkey]");
    if (!button) return;
    event.preventDefault();
    const kind = button.dataset.passkey;
    if (kind === "register") passkeyRegister(button);
    else passkeySignIn(kind === "second-factor");
  });

  // ----- sign-in with a configured provider: the list comes from the API -----
  async function providers(box) {
    const answer = await call("GET", "/auth/oauth/providers", undefined, { allow401: true });
    const list = firstArray(answer.data);
    if (!answer.success || !list.length) return;
    box.hidden = false;
    const ul = box.querySelector("ul");
    for (const p of list) {
      const id = p.id || p.name;
      ul.append(el("li", {}, el("a", { class: "button secondary", href: api(`/auth/oauth/${encodeURIComponent(id)}/authorize`), text: `Continue with ${p.displayName || id}` })));
    }
  }

  // ----- pages that act on arrival -----
  async function arrive() {
    const params = new URLSearchParams(window.location.search);
    const main = document.querySelector("main");
    if (main.dataset.page === "verify-email") {
      const box = document.getElementById("verify-status");
      const token = params.get("token");
      // The token leaves the address bar before anything else happens (history, screenshots).
      window.history.replaceState(null, "", window.location.pathname);
      if (!token) return say(box, { message: "This link has no token. Open the link from the email again." }, false);
      const answer = await call("POST", "/auth/verify-email", { token }, { allow401: true });
      say(box, answer.success ? { message: "Your email address is confirmed. You can sign in now." } : answer, answer.success);
    }
    if (main.dataset.page === "reset-password") {
      const token = params.get("token");
      window.history.replaceState(null, "", window.location.pathname);
      const field = document.getElementById("reset-token");
      if (field && token) field.value = token;
    }
    if (main.dataset.page === "oauth-success") {
      // The provider's sign-in came back with a one-time code: exchanged for a cookie session.
      const code = params.get("code");
      window.history.replaceState(null, "", window.location.pathname);
      const box = document.getElementById("oauth-status");
      if (params.get("linked")) return window.location.replace(page("/account"));
      if (!code) return say(box, { message: `The sign-in did not complete (${params.get("error") || "no code"}).`, code: params.get("error") || undefined }, false);
      const answer = await call("POST", "/auth/oauth/exchange", { code }, { allow401: true });
      if (answer.success) window.location.replace(next());
      else say(box, answer, false);
    }
    if (main.dataset.page === "accept-invitation") {
      // The token stays in this script only; the address bar loses it.
      const token = params.get("token");
      window.history.replaceState(null, "", window.location.pathname);
      const box = document.getElementById("invitation-status");
      for (const button of document.querySelectorAll("[data-invitation]")) {
        button.addEventListener("click", async () => {
          if (!token) return say(box, { message: "This link has no token. Open the link from the email again." }, false);
          const answer = await call("POST", `/invitations/${button.dataset.invitation}`, { token }, { allow401: true });
          say(box, answer, answer.success);
          if (answer.success) for (const b of document.querySelectorAll("[data-invitation]")) b.disabled = true;
        });
      }
    }
    if (main.dataset.page === "resume") {
      // The access cookie expired (or the session ended): one refresh from the refresh cookie,
      // then back to the page, else to the sign-in page.
      const answer = await call("POST", "/auth/refresh", {}, { allow401: true });
      const target = document.getElementById("resume").dataset.next || page("/account");
      if (answer.success) window.location.replace(target);
      else window.location.replace(page(`/signin?next=${encodeURIComponent(target)}`));
    }
    if (params.get("ended") && document.getElementById("signin-status")) {
      say(document.getElementById("signin-status"), { message: "Your session ended. Sign in again." }, false);
    }
    const box = document.getElementById("providers");
    if (box) providers(box);
    refreshLists();
  }
  arrive();
})();
