/* SIGAP field app: shift, GPS pings buffered offline and uploaded as a batch, orders with actions. */
"use strict";
(function () {
  const { t, el, api, ago } = window.geo;
  const CFG = JSON.parse(document.getElementById("field-config").textContent);
  const KEY = "sigap-pings";
  let shiftOn = false;
  let watchId = null;
  let lastFix = null;
  let flushing = false;

  const buffer = {
    read() { try { return JSON.parse(localStorage.getItem(KEY) || "[]"); } catch (e) { return []; } },
    write(list) { localStorage.setItem(KEY, JSON.stringify(list.slice(-5000))); show(); },
    add(p) { const l = this.read(); l.push(p); this.write(l); },
  };

  function show() {
    document.getElementById("pending").textContent = String(buffer.read().length);
    const net = document.getElementById("netstate");
    net.textContent = navigator.onLine ? "online" : t("offline");
    net.dataset.online = navigator.onLine ? "1" : "0";
    document.getElementById("shiftstate").textContent = shiftOn ? t("shift_on") : t("shift_off");
    document.getElementById("lastfix").textContent = lastFix ? ago(new Date(lastFix).toISOString()) : "-";
  }

  function record(pos) {
    document.getElementById("gpserror").classList.add("hidden");
    lastFix = pos.timestamp || Date.now();
    const c = pos.coords;
    buffer.add({ time: Math.round(lastFix), lat: c.latitude, lon: c.longitude, accuracy: c.accuracy,
      speed: c.speed, heading: c.heading });
    flush();
  }

  function gpsError(err) {
    const box = document.getElementById("gpserror");
    if (err.code === 3) return;  // a slow fix (timeout): the next one comes; not the user's problem
    box.textContent = t("gps_denied") + (err.message ? " (" + err.message + ")" : "");
    box.classList.remove("hidden");
  }

  async function flush() {
    if (flushing || !navigator.onLine) return;
    const batch = buffer.read().slice(0, 500);
    if (!batch.length) return;
    flushing = true;
    try {
      await api("/api/tracking/pings/", { method: "POST", json: { pings: batch } });  // as this supervisor's session
      const rest = buffer.read().slice(batch.length);  // the same fixes, sent: the server stores each once
      buffer.write(rest);
    } catch (e) {
      if (e.status && e.status >= 400 && e.status < 500 && e.status !== 429 && e.status !== 408) {
        buffer.write(buffer.read().slice(batch.length));  // refused as bad input: retrying cannot help
      }
    } finally {
      flushing = false;
    }
  }

  function startGPS() {
    if (!("geolocation" in navigator)) return gpsError({ message: "no geolocation" });
    const opts = { enableHighAccuracy: true, maximumAge: 5000, timeout: 20000 };
    watchId = navigator.geolocation.watchPosition(record, gpsError, opts);
    clearInterval(startGPS.timer);
    // A phone standing still fires no watch events; a fix every few seconds keeps presence fresh.
    startGPS.timer = setInterval(() => navigator.geolocation.getCurrentPosition(record, gpsError, opts), CFG.fixSeconds * 1000);
  }
  function stopGPS() {
    if (watchId !== null) navigator.geolocation.clearWatch(watchId);
    watchId = null;
    clearInterval(startGPS.timer);
  }

  async function shift(action) {
    try {
      await api("/field/api/shift/", { method: "POST", json: { action } });
    } catch (e) { /* offline: the state still changes here; pings carry the truth */ }
    shiftOn = action === "start";
    if (shiftOn) startGPS(); else { stopGPS(); flush(); }
    show();
  }

  // --- orders -----------------------------------------------------------------------------------
  const NEXT = {
    offered: ["acknowledge", "decline"],
    acknowledged: ["en_route", "on_site", "decline"],
    en_route: ["on_site", "resolve"],
    on_site: ["resolve"],
  };
  // dispatch's API for a supervisor's phone: the order's step and the report it is for
  const ENDPOINT = { acknowledge: "acknowledge", decline: "decline", en_route: "en-route", on_site: "on-site",
    resolve: "resolve", photo: "notes" };
  function shown(order) {
    const r = order.report;
    const [lon, lat] = r.location.coordinates;
    return { order: order.id, id: r.public_id, step: order.state, priority: r.priority, offered: order.offered_at,
      category: r.category_name, description: r.description, address: r.address, kelurahan: r.kelurahan,
      kecamatan: r.kecamatan, lat, lon };
  }
  async function loadOrders() {
    try {
      const mine = (await api("/api/my/orders/")).map(shown);
      mine.sort((a, b) => a.priority - b.priority || Date.parse(b.offered) - Date.parse(a.offered));  // most urgent first
      renderOrders(mine);
    } catch (e) { /* offline: keep the list shown */ }
  }
  function renderOrders(orders) {
    const box = document.getElementById("orders");
    if (!orders.length) { box.replaceChildren(el("p", { class: "muted" }, t("no_orders"))); return; }
    box.replaceChildren(...orders.map((o) => {
      const note = el("input", { name: "note", placeholder: t("note"), "data-testid": "note-" + o.id });
      const photo = el("input", { type: "file", accept: "image/*", capture: "environment", "data-testid": "photo-" + o.id });
      const buttons = (NEXT[o.step] || []).map((step) => el("button", {
        type: "button", class: step === "decline" ? "" : "primary", "data-testid": `${step}-${o.id}`,
        onclick: () => doStep(o, step, note, photo),
      }, t(step)));
      buttons.push(el("button", { type: "button", "data-testid": `photo-send-${o.id}`, onclick: () => doStep(o, "photo", note, photo) }, t("photo")));
      return el("article", { class: "order", dataset: { id: o.id, step: o.step } },
        el("h3", {}, o.category, " ", el("span", { class: "pill" }, t("step_" + o.step))),
        el("p", {}, o.description || "-"),
        el("p", { class: "muted" }, [o.address, o.kelurahan, o.kecamatan].filter(Boolean).join(", ")),
        el("p", {}, el("a", { href: `geo:${o.lat},${o.lon}` }, `${o.lat.toFixed(5)}, ${o.lon.toFixed(5)}`)),
        note, photo, el("p", { class: "buttons" }, buttons),
        el("p", { class: "error hidden", role: "alert" }));
    }));
  }
  async function doStep(order, step, noteInput, photoInput) {
    const fd = new FormData();
    let note = noteInput.value;
    if (step === "decline" && !note) note = window.prompt(t("decline_reason")) || "";
    fd.append(step === "decline" ? "reason" : "note", note);
    if (photoInput.files.length && (step === "resolve" || step === "photo")) fd.append("photo", photoInput.files[0]);
    try {
      await api(`/api/my/orders/${order.order}/${ENDPOINT[step]}/`, { method: "POST", body: fd });
      await loadOrders();
    } catch (e) {
      const box = document.querySelector(`article[data-id="${CSS.escape(order.id)}"] .error`);
      if (box) { box.textContent = e.message; box.classList.remove("hidden"); }
    }
  }

  document.getElementById("shift-start").addEventListener("click", () => shift("start"));
  document.getElementById("shift-end").addEventListener("click", () => shift("end"));
  window.addEventListener("online", () => { show(); flush(); });
  window.addEventListener("offline", show);
  setInterval(() => { flush(); show(); }, CFG.flushSeconds * 1000);
  setInterval(loadOrders, 10000);

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/field/sw.js", { scope: "/field/" }).catch(() => { /* works without it */ });
  }
  api("/field/api/me/").then((me) => {
    if (me.shift_started_at) { shiftOn = true; startGPS(); }
    show();
  }).catch(show);
  loadOrders();
  flush();
  window.sigap = { flush, buffer, loadOrders };
})();
