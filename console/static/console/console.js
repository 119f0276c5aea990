/* The operator console: live map + queue + report detail with actions (every change via the API). */
"use strict";
(function () {
  const { t, el, api, ago, wib } = window.geo;
  const REF = window.LIVE_REF;
  const statusName = Object.fromEntries(REF.statuses.map((s) => [s.code, s.name]));
  const catName = Object.fromEntries(REF.categories.map((c) => [c.code, c.name]));
  const live = new window.LiveMap({});
  window.consoleMap = live;  // for the browser tests and the bench
  let selected = null;

  // --- filters --------------------------------------------------------------------------------
  const form = document.getElementById("filters");
  const fill = (name, items) => {
    for (const it of items) form.elements[name].appendChild(el("option", { value: it.code }, it.name));
  };
  fill("opd", REF.opds);
  fill("kecamatan", REF.kecamatan);
  fill("category", REF.categories);
  fill("status", REF.statuses);
  const startOfDayWIB = () => {
    const now = new Date(Date.now() + 7 * 3600e3);
    return Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - 7 * 3600e3;
  };
  function filterFn() {
    const f = Object.fromEntries(new FormData(form).entries());
    let since = 0;
    if (f.time === "today") since = startOfDayWIB();
    else if (f.time) since = Date.now() - Number(f.time) * 3600e3;
    return (r) =>
      (!f.opd || r.opd === f.opd) && (!f.kecamatan || r.kec === f.kecamatan) &&
      (!f.category || r.cat === f.category) && (f.status ? r.st === f.status : r.open) &&
      (!since || Date.parse(r.at) >= since);
  }
  form.addEventListener("change", () => { live.filter = filterFn(); live.refilter(); });
  live.filter = filterFn();

  // --- tabs -----------------------------------------------------------------------------------
  function showTab(name) {
    for (const b of document.querySelectorAll(".tabs button")) b.classList.toggle("active", b.dataset.tab === name);
    for (const s of document.querySelectorAll(".tab")) s.classList.toggle("hidden", s.id !== name);
  }
  for (const b of document.querySelectorAll(".tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));

  // --- queue ----------------------------------------------------------------------------------
  const GROUPS = [
    ["new", (r) => ["received", "routed", "reopened"].includes(r.st) && !r.esc],
    ["awaiting", (r) => r.st === "awaiting_supervisor" && !r.esc],
    ["escalated", (r) => r.esc],
    ["overdue", (r) => r.over],
  ];
  let queueTimer = null;
  function renderQueueSoon() { clearTimeout(queueTimer); queueTimer = setTimeout(renderQueue, 150); }
  function renderQueue() {
    const box = document.getElementById("queue");
    const reports = Array.from(live.reports.values()).filter((r) => r.open && live.filter(r));
    box.replaceChildren();
    let total = 0;
    for (const [key, test] of GROUPS) {
      const items = reports.filter(test).sort((a, b) => a.pr - b.pr || Date.parse(a.at) - Date.parse(b.at));
      total += key === "overdue" ? 0 : items.length;
      box.appendChild(el("h3", { dataset: { group: key } }, t(key), " ", el("span", { class: "count" }, String(items.length))));
      const list = el("ul", { class: "queue", dataset: { group: key } });
      for (const r of items.slice(0, 200)) {
        list.appendChild(el("li", { dataset: { id: r.id, status: r.st }, class: r.id === selected ? "sel" : "", onclick: () => select(r.id) },
          el("span", { class: `dot st-${r.st}` }), el("b", {}, r.id), " ", catName[r.cat] || r.cat, " · ",
          statusName[r.st] || r.st, " · ", ago(r.at), el("br"), el("span", { class: "muted" }, r.txt)));
      }
      if (!items.length) list.appendChild(el("li", { class: "muted" }, t("no_items")));
      box.appendChild(list);
    }
    document.getElementById("queue-count").textContent = String(total);
  }
  setInterval(renderQueue, 30000);

  live.onChange((kind, f) => {
    if (kind === "select") select(f);
    if (kind === "reports" || kind === "report") renderQueueSoon();
    if (kind === "report" && f.id === selected && current && f.v !== current.properties.version) changedMeanwhile(f);
  });

  // --- detail ---------------------------------------------------------------------------------
  async function select(id) {
    selected = id;
    showTab("detail");
    await loadDetail(id, false);
    const r = live.reports.get(id);
    if (r) live.map.panTo([r.lat, r.lon]);
  }

  // The panel is put together from the APIs every client uses: the report (incidents), its
  // dispatch (dispatch), who could take it and the cameras near it (the console's read models).
  async function fetchDetail(id) {
    const key = encodeURIComponent(id);
    const [report, dispatch, cands] = await Promise.all([
      api(`/api/reports/${key}/`),
      api(`/api/reports/${key}/dispatch/`),
      api(`/console/api/reports/${key}/candidates/`),
    ]);
    const [lon, lat] = report.geometry.coordinates;
    const cams = await api(`/console/api/cameras/?lat=${lat}&lon=${lon}`);
    const holder = dispatch.holder;
    Object.assign(report.properties, {
      public_id: report.id,
      dispatch: dispatch.state,
      holder: holder ? holder.supervisor : null,
      holder_name: holder ? holder.name : null,
      step: holder ? holder.state : "",
      candidates: cands.candidates,
      cameras: cams.cameras,
    });
    return report;
  }

  let current = null;
  async function loadDetail(id, quiet, notice) {
    const box = document.getElementById("detail");
    try {
      const data = await fetchDetail(id);
      current = data;
      renderDetail(data, notice || (quiet ? box.querySelector(".notice") : null));
    } catch (e) {
      box.replaceChildren(el("p", { class: "error" }, t("error"), ": ", e.message));
    }
  }

  // Someone else changed the open report: say so, keep what the operator is looking at (their
  // next action is checked against the version they saw and refused if it is stale).
  function changedMeanwhile(f) {
    const box = document.getElementById("detail");
    if (box.querySelector("[data-testid=changed-banner]")) return;
    const who = f.ev && f.ev.by ? f.ev.by : "";
    box.insertBefore(el("p", { class: "notice conflict", role: "status", "data-testid": "changed-banner" },
      t("conflict"), who ? ` (${who})` : "", " ",
      el("button", { type: "button", onclick: () => loadDetail(f.id, false) }, t("reload"))), box.firstChild);
  }

  function section(title, ...children) {
    return el("section", { class: "sub" }, el("h4", {}, title), ...children);
  }

  function renderDetail(data, keepNotice) {
    const p = data.properties;
    const box = document.getElementById("detail");
    const parts = [];
    if (keepNotice) parts.push(keepNotice);
    parts.push(el("h2", { "data-testid": "detail-id" }, p.public_id, " ", el("span", { class: `badge st-${p.status}`, "data-testid": "detail-status", dataset: { status: p.status } }, statusName[p.status] || p.status)));
    parts.push(el("p", {}, el("b", {}, p.category_name), " · ", p.opd_name, " · ", t("priority"), " ", String(p.priority)));
    parts.push(el("p", {}, p.kecamatan_name || "-", " / ", p.kelurahan_name || "-", " · ", wib(p.created_at)));
    parts.push(section(t("description"), el("p", { class: "desc", "data-testid": "detail-description" }, p.description || "-"),
      p.address ? el("p", {}, t("address"), ": ", p.address) : ""));
    parts.push(section(t("reporter"), el("p", {}, [p.reporter_name, p.reporter_phone, p.reporter_email, p.reporter_handle].filter(Boolean).join(" · ") || "-")));
    if (p.media && p.media.length) {
      parts.push(section(t("media"), el("div", { class: "media" }, p.media.map((m) => m.kind === "video"
        ? el("video", { src: m.url, controls: true, preload: "metadata" })
        : el("a", { href: m.url, target: "_blank", rel: "noopener" }, el("img", { src: m.thumbnail_url || m.url, alt: p.public_id }))))));
    }
    const holder = p.holder ? p.holder_name : t("none");
    parts.push(el("p", {}, t("holder"), ": ", el("b", { "data-testid": "holder" }, holder), p.step ? ` (${t("step_" + p.step)})` : ""));
    if (p.dispatch && p.dispatch.reason) parts.push(el("p", { class: "notice", "data-testid": "awaiting-reason" }, t("awaiting"), ": ", p.dispatch.reason));
    parts.push(section(t("candidates"), candidatesTable(p)));
    if (p.likely_duplicates.length) {
      parts.push(section(t("duplicates"), el("ul", {}, p.likely_duplicates.map((d) => el("li", {},
        el("a", { href: "#", onclick: (e) => { e.preventDefault(); select(d.original); } }, d.original), " ",
        d.category, " · ", Math.round(d.distance_m) + " m", " · ", statusName[d.status] || d.status, " ",
        d.decision === "pending" && p.allowed_next.includes("duplicate") && !p.holder
          ? el("button", { type: "button", onclick: () => act("merge", { original: d.original }) }, t("merge")) : d.decision)))));
    }
    parts.push(section(t("cams_near"), p.cameras.length ? el("ul", { "data-testid": "cameras" }, p.cameras.map((c) => el("li", {},
      c.name, " · ", Math.round(c.distance_m) + " m ",
      c.snapshot_url ? el("a", { href: c.snapshot_url, target: "_blank", rel: "noopener" }, t("snapshot")) : "", " ",
      c.stream_url ? el("a", { href: c.stream_url, target: "_blank", rel: "noopener" }, t("stream")) : ""))) : el("p", { class: "muted" }, t("none"))));
    parts.push(section(t("actions"), actionsBox(p)));
    parts.push(section(t("timeline"), el("ol", { class: "timeline", "data-testid": "timeline" }, p.timeline.slice().reverse().map((ev) => el("li", {},
      el("span", { class: "muted" }, wib(ev.at)), " ", ev.actor_label || "", " ", ev.kind,
      ev.to_status ? ` → ${statusName[ev.to_status] || ev.to_status}` : "", ev.note ? ` · ${ev.note}` : "")))));
    box.replaceChildren(...parts);
  }

  function candidatesTable(p) {
    if (!p.candidates.length) return el("p", { class: "muted" }, t("none"));
    const canDispatch = p.allowed_next.includes("dispatched") || p.status === "received";
    return el("table", { class: "cands", "data-testid": "candidates" },
      el("tr", {}, el("th", {}, t("supervisors")), el("th", {}, t("distance")), el("th", {}, t("workload")), el("th", {}, "")),
      p.candidates.map((c) => el("tr", { class: c.eligible ? "ok" : "outside", dataset: { supervisor: c.supervisor_id } },
        el("td", {}, c.name, el("br"), el("span", { class: `pill pres-${c.state}` }, t("presence_" + c.state)),
          c.eligible ? "" : el("span", { class: "muted" }, " ", t("outside_rule"), ": ", c.reasons.join("; "))),
        el("td", {}, c.distance_m === null || c.distance_m === undefined ? "-"
          : c.distance_m < 1000 ? Math.round(c.distance_m) + " m" : (c.distance_m / 1000).toFixed(1) + " km"),
        el("td", {}, String(c.workload)),
        el("td", {}, canDispatch && c.supervisor_id !== p.holder
          ? el("button", { type: "button", class: "primary", "data-testid": "dispatch-" + c.supervisor_id,
              onclick: () => p.holder ? promptAct("reassign", { supervisor: c.supervisor_id }) : act("dispatch", { supervisor: c.supervisor_id }) },
              p.holder ? t("reassign") : t("dispatch"))
          : ""))));
  }

  function actionsBox(p) {
    const box = el("div", { class: "actions" });
    const note = el("input", { name: "note", placeholder: t("note") + " / " + t("reason"), "data-testid": "action-note" });
    box.appendChild(note);
    const btn = (action, label, extra) => el("button", { type: "button", "data-testid": "action-" + action, onclick: () => act(action, Object.assign({ note: note.value }, extra ? extra() : {})) }, label);
    const open = !["resolved", "closed", "rejected", "duplicate", "referred"].includes(p.status);
    // While a supervisor holds the report it is theirs to resolve: cancel the order first.
    if (p.allowed_next.includes("resolved") && !p.holder) box.appendChild(btn("resolve", t("resolve")));
    if (p.allowed_next.includes("rejected") && !p.holder) box.appendChild(btn("reject", t("reject")));
    if (p.allowed_next.includes("referred")) {
      const to = el("input", { name: "referred_to", placeholder: t("referred_to") });
      box.appendChild(el("div", {}, to, btn("refer", t("refer"), () => ({ referred_to: to.value }))));
    }
    if (open) {
      const sel = el("select", { name: "category", "data-testid": "recategorise-select" }, REF.categories.map((c) => el("option", { value: c.code, selected: c.code === p.category }, c.name)));
      box.appendChild(el("div", {}, sel, btn("recategorise", t("recategorise"), () => ({ category: sel.value }))));
    }
    if (p.holder) box.appendChild(btn("cancel", t("cancel_order")));
    box.appendChild(btn("note", t("add_note")));
    return box;
  }

  function promptAct(action, extra) {
    const reason = document.querySelector("[data-testid=action-note]").value || window.prompt(t("reason")) || "";
    return act(action, Object.assign({ note: reason }, extra));
  }

  // Each action is the domain API's own endpoint, sent with the version the operator saw (a
  // change meanwhile is refused with 409, saying who changed it, and nothing is saved).
  const isOpd = (code) => REF.opds.some((o) => o.code === code);
  const ACTIONS = {
    dispatch: (x) => ["dispatch", { supervisor: x.supervisor }],
    reassign: (x) => ["reassign", { supervisor: x.supervisor, reason: x.note }],
    cancel: (x) => ["cancel", { reason: x.note }],
    refer: (x) => ["refer", Object.assign({ reason: x.note || x.referred_to },
      isOpd(x.referred_to) ? { opd: x.referred_to } : { outside: x.referred_to })],
    recategorise: (x) => ["recategorise", { category: x.category, note: x.note }],
    merge: (x) => ["merge", { original: x.original, note: x.note || "" }],
    reject: (x) => ["status", { status: "rejected", note: x.note }],
    resolve: (x) => ["status", { status: "resolved", note: x.note }],
    note: (x) => ["notes", { note: x.note }],
  };

  async function act(action, params) {
    const p = current.properties;
    const [endpoint, body] = ACTIONS[action](params);
    try {
      await api(`/api/reports/${encodeURIComponent(p.public_id)}/${endpoint}/`, {
        method: "POST", json: Object.assign(body, { version: p.version }),
      });
      await loadDetail(p.public_id, false, el("p", { class: "notice ok", role: "status" }, t("saved")));
    } catch (e) {
      const cls = e.status === 409 ? "notice conflict" : "notice error";
      const notice = el("p", { class: cls, role: "alert", "data-testid": e.status === 409 ? "conflict" : "action-error" },
        e.status === 409 ? t("conflict") + ": " : t("error") + ": ", e.message);
      await loadDetail(p.public_id, true);
      const fresh = document.getElementById("detail");
      fresh.insertBefore(notice, fresh.firstChild);
    }
  }

  // --- start ----------------------------------------------------------------------------------
  live.load().then((seq) => { renderQueue(); live.startLive(seq); window.consoleReady = true; });
})();
