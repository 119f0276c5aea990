/* Shared helpers: safe DOM building (text only, never HTML from data), CSRF, JSON fetch, i18n, live feed. */
"use strict";
(function () {
  const T = JSON.parse(document.getElementById("i18n-strings").textContent);

  function t(key, arg) {
    const s = T[key] || key;
    return arg === undefined ? s : s.replace("%s", String(arg));
  }

  // el("div", {class: "x", onclick: fn}, "text", childNode, ...): children are text nodes or nodes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  // A message for a refusal: the API's `detail`, else each field's messages ({"note": ["..."]}).
  function problem(body) {
    if (!body || typeof body !== "object") return "";
    if (body.detail) return String(body.detail);
    return Object.entries(body).map(([k, v]) => `${k}: ${[].concat(v).join(" ")}`).join("; ");
  }

  // Every API answers in the page's language (the user's choice, else Bahasa Indonesia).
  async function api(url, options) {
    const opts = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
    opts.headers = Object.assign({ Accept: "application/json", "Accept-Language": document.documentElement.lang || "id" }, opts.headers);
    if (opts.method && opts.method !== "GET") {
      opts.headers["X-CSRFToken"] = csrf();
      if (opts.json !== undefined) {
        opts.headers["Content-Type"] = "application/json";
        opts.body = JSON.stringify(opts.json);
      }
    }
    const res = await fetch(url, opts);
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) {
      const err = new Error(problem(body) || res.statusText);
      err.status = res.status;
      err.body = body;
      throw err;
    }
    return body;
  }

  function ago(iso) {
    if (!iso) return t("never");
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 120) return t("ago_s", s);
    if (s < 7200) return t("ago_m", Math.round(s / 60));
    return t("ago_h", Math.round(s / 3600));
  }

  const WIB = new Intl.DateTimeFormat("id-ID", {
    timeZone: "Asia/Jakarta", day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  function wib(iso) { return iso ? WIB.format(new Date(iso)) + " WIB" : "-"; }

  /* A WebSocket that reconnects with backoff and asks for what it missed (?since=<last seq>). */
  class LiveFeed {
    constructor(path, handlers) {
      this.path = path;
      this.h = handlers;
      this.seq = 0;
      this.delay = 500;
      this.stopped = false;
    }
    start(seq) { this.seq = seq || 0; this.connect(); }
    url() {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      return `${proto}//${location.host}${this.path}?since=${this.seq}`;
    }
    connect() {
      if (this.stopped) return;
      this.h.status && this.h.status("connecting");
      const ws = new WebSocket(this.url());
      this.ws = ws;
      ws.onopen = () => { this.delay = 500; };
      ws.onmessage = (m) => {
        const msg = JSON.parse(m.data);
        if (msg.type === "hello") { this.h.status && this.h.status("live"); }
        else if (msg.type === "resync") { this.seq = msg.seq; this.h.resync && this.h.resync(msg.seq); }
        else if (msg.type === "event") {
          // A gap in the sequence: events were dropped on the way (a busy channel layer drops
          // messages to a slow consumer). Ask for them now; late, older states are ignored by
          // the handlers, which compare versions.
          if (this.seq > 0 && msg.seq > this.seq + 1 && Date.now() - (this.askedAt || 0) > 2000) {
            this.askedAt = Date.now();
            ws.send(JSON.stringify({ type: "catchup", since: this.seq }));
          }
          if (msg.seq > this.seq) this.seq = msg.seq;
          this.h.event(msg);
        }
      };
      ws.onclose = (e) => {
        if (e.code === 4403) { this.h.status && this.h.status("denied"); return; }
        this.h.status && this.h.status("reconnecting");
        const wait = this.delay;
        this.delay = Math.min(this.delay * 2, 10000);
        setTimeout(() => this.connect(), wait);
      };
      ws.onerror = () => { try { ws.close(); } catch (e) { /* closing anyway */ } };
      clearInterval(this.heartbeat);
      this.heartbeat = setInterval(() => {
        if (ws.readyState === 1) ws.send(JSON.stringify({ type: "ping" }));
      }, 20000);
    }
    drop() { if (this.ws) this.ws.close(); }  // used by tests to simulate a network drop
  }

  window.geo = { t, el, api, csrf, ago, wib, LiveFeed };
})();
