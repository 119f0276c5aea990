/* The leadership view: read-only live map and today's numbers. */
"use strict";
(function () {
  const { t, el, api } = window.geo;
  const live = new window.LiveMap({ compact: true });
  window.consoleMap = live;
  live.filter = (r) => r.open;

  async function numbers() {
    const n = await api("/console/api/today/");
    const card = (key, value) => el("div", { class: "num", dataset: { key } }, el("b", {}, value === null ? "-" : String(value)), el("span", {}, t(key)));
    document.getElementById("numbers").replaceChildren(
      card("reports_today", n.reports_today), card("open_now", n.open_now), card("dispatched_today", n.dispatched_today),
      card("resolved_today", n.resolved_today), card("median_dispatch", n.median_minutes_to_dispatch),
      card("on_duty", `${n.supervisors_on_duty}/${n.supervisors_active}`));
    document.getElementById("by-opd").replaceChildren(el("table", {}, n.by_opd.map((r) =>
      el("tr", {}, el("td", {}, r.name), el("td", {}, String(r.reports)), el("td", {}, String(r.open))))));
  }
  let timer = null;
  live.onChange((kind) => { if (kind === "report") { clearTimeout(timer); timer = setTimeout(numbers, 1000); } });
  setInterval(numbers, 60000);
  live.load().then((seq) => { live.startLive(seq); numbers(); window.consoleReady = true; });
})();
