/* The live map shared by the console and the leadership view: boundaries with open-report counts,
   reports (clustered), supervisors coloured by presence with the age of their last ping, CCTV. */
"use strict";
(function () {
  const { t, el, api, ago, LiveFeed } = window.geo;
  const REF = JSON.parse(document.getElementById("ref-data").textContent);
  const CFG = JSON.parse(document.getElementById("map-config").textContent);
  const PRESENCE_COLOURS = { on_duty: "#1a9850", out_of_area: "#fdae61", stale: "#f46d43", offline: "#888", off_shift: "#bbb" };

  class LiveMap {
    constructor(opts) {
      this.opts = opts || {};
      this.reports = new Map();      // public id -> feature
      this.sups = new Map();         // supervisor id -> feature
      this.reportMarkers = new Map();
      this.supMarkers = new Map();
      this.kecLabels = new Map();
      this.filter = () => true;
      this.listeners = [];
      this.map = L.map("map", { zoomControl: true, maxZoom: 19, minZoom: 10 }).setView([-6.19, 106.64], 12);
      if (CFG.tiles) {
        L.tileLayer(CFG.tiles, { maxZoom: 19, attribution: CFG.attribution }).addTo(this.map);
      }
      this.kecLayer = L.geoJSON(null, { style: { color: "#0b4f8a", weight: 2, fillOpacity: 0.05 } }).addTo(this.map);
      this.kelLayer = L.geoJSON(null, { style: { color: "#6a8caf", weight: 1, dashArray: "3", fillOpacity: 0 } });
      this.reportLayer = L.markerClusterGroup({ maxClusterRadius: 40, disableClusteringAtZoom: 17 }).addTo(this.map);
      this.supLayer = L.layerGroup().addTo(this.map);
      this.camLayer = L.layerGroup();
      const overlays = {};
      overlays[t("kecamatan")] = this.kecLayer;
      overlays[t("kelurahan")] = this.kelLayer;
      overlays[t("reports")] = this.reportLayer;
      overlays[t("supervisors")] = this.supLayer;
      overlays[t("cameras")] = this.camLayer;
      L.control.layers(null, overlays, { collapsed: !!this.opts.compact }).addTo(this.map);
      L.control.scale({ imperial: false }).addTo(this.map);
      this.map.on("overlayadd", (e) => { if (e.layer === this.kelLayer && !this.kelLoaded) this.loadKelurahan(); });
      setInterval(() => this.refreshAges(), 5000);
    }

    onChange(fn) { this.listeners.push(fn); }
    changed(kind, f) { for (const fn of this.listeners) fn(kind, f); }

    async load() {
      const [kec, reps, sups] = await Promise.all([
        api("/api/kecamatan/"),
        api("/console/api/reports/"),
        api("/console/api/supervisors/"),
      ]);
      this.kecLayer.clearLayers();
      this.kecLayer.addData(kec);
      this.kecLayer.eachLayer((layer) => {
        const p = layer.feature.properties;
        layer.bindTooltip("", { permanent: true, direction: "center", className: "keclabel" });
        this.kecLabels.set(p.code, { layer, name: p.name });
      });
      if (!this.fitted) { this.map.fitBounds(this.kecLayer.getBounds()); this.fitted = true; }
      this.replaceReports(reps.features);
      this.replaceSupervisors(sups.features);
      if (!this.opts.noCameras) this.loadCameras();
      return Math.min(reps.seq, sups.seq);
    }

    async loadKelurahan() {
      this.kelLoaded = true;
      this.kelLayer.addData(await api("/api/kelurahan/"));
      this.kelLayer.eachLayer((layer) => layer.bindTooltip("", { sticky: true }));
      this.updateCounts();
    }

    async loadCameras() {
      const data = await api("/console/api/cameras/");
      this.camLayer.clearLayers();
      for (const c of data.cameras) {
        const m = L.marker([c.lat, c.lon], { icon: L.divIcon({ className: "cam", html: "", iconSize: [14, 14] }) });
        m.bindPopup(() => el("div", {}, el("strong", {}, c.name), el("br"), c.opd + " " + (c.direction || ""), el("br"),
          c.snapshot_url ? el("a", { href: c.snapshot_url, target: "_blank", rel: "noopener" }, t("snapshot")) : "",
          " ", c.stream_url ? el("a", { href: c.stream_url, target: "_blank", rel: "noopener" }, t("stream")) : ""));
        m.addTo(this.camLayer);
      }
    }

    startLive(seq) {
      this.feed = new LiveFeed("/ws/console/", {
        event: (msg) => this.apply(msg),
        resync: async () => { await this.load(); },
        status: (s) => {
          const node = document.getElementById("livestate");
          if (!node) return;
          node.dataset.state = s;
          node.textContent = s === "live" ? "● " + t("live") : s === "denied" ? t("offline") : "○ " + t("reconnecting");
        },
      });
      this.feed.start(seq);
    }

    apply(msg) {
      const d = msg.data;
      if (msg.kind === "report") this.upsertReport(d);
      else if (msg.kind === "position" || msg.kind === "presence") this.upsertSupervisor(d, msg.kind);
    }

    // --- reports --------------------------------------------------------------------------------
    replaceReports(list) {
      this.reportLayer.clearLayers();
      this.reports.clear();
      this.reportMarkers.clear();
      for (const f of list) this.upsertReport(f, true);
      this.updateCounts();
      this.changed("reports");
    }

    upsertReport(f, bulk) {
      const held = this.reports.get(f.id);
      if (held && Date.parse(held.v) > Date.parse(f.v)) return;  // an older state arriving late
      this.reports.set(f.id, f);
      let m = this.reportMarkers.get(f.id);
      const visible = this.filter(f);
      if (m) {
        m.setLatLng([f.lat, f.lon]);
        m.setIcon(this.reportIcon(f));
        if (!visible) { this.reportLayer.removeLayer(m); this.reportMarkers.delete(f.id); }
      } else if (visible) {
        m = L.marker([f.lat, f.lon], { icon: this.reportIcon(f), title: f.id });
        m.on("click", () => this.changed("select", f.id));
        this.reportMarkers.set(f.id, m);
        this.reportLayer.addLayer(m);
      }
      if (!bulk) { this.updateCounts(); this.changed("report", f); }
    }

    reportIcon(f) {
      const cls = `rep st-${f.st} pr-${f.pr}${f.over ? " over" : ""}${f.open ? "" : " done"}`;
      return L.divIcon({ className: cls, html: "", iconSize: [16, 16] });
    }

    refilter() {
      const list = Array.from(this.reports.values());
      this.reportLayer.clearLayers();
      this.reportMarkers.clear();
      for (const f of list) this.upsertReport(f, true);
      this.updateCounts();
      this.changed("reports");
    }

    updateCounts() {
      const kec = new Map(), kel = new Map();
      for (const f of this.reports.values()) {
        if (!f.open || !this.filter(f)) continue;
        kec.set(f.kec, (kec.get(f.kec) || 0) + 1);
        kel.set(f.kel, (kel.get(f.kel) || 0) + 1);
      }
      for (const [code, { layer, name }] of this.kecLabels) {
        const n = kec.get(code) || 0;
        layer.setTooltipContent(el("span", { dataset: { kec: code, count: n } }, name, " ", el("b", {}, String(n))));
        layer.setStyle({ fillOpacity: Math.min(0.05 + n * 0.02, 0.4) });
      }
      this.kelLayer.eachLayer((layer) => {
        const p = layer.feature.properties;
        layer.setTooltipContent(el("span", {}, p.name, ": ", String(kel.get(p.code) || 0), " ", t("open_reports")));
      });
    }

    // --- supervisors ----------------------------------------------------------------------------------
    replaceSupervisors(list) {
      this.supLayer.clearLayers();
      this.sups.clear();
      this.supMarkers.clear();
      for (const f of list) this.upsertSupervisor(f, "snapshot");
    }

    upsertSupervisor(f, kind) {
      const held = this.sups.get(f.id);
      if (held && held.t && f.t && Date.parse(held.t) > Date.parse(f.t)) {
        if (kind === "presence") held.state = f.state; else return;
        f = held;
      }
      this.sups.set(f.id, f);
      if (f.lat === null || f.lon === null) return;
      let m = this.supMarkers.get(f.id);
      if (!m) {
        m = L.marker([f.lat, f.lon], { icon: this.supIcon(f), title: f.name, zIndexOffset: 1000 });
        m.bindTooltip("", { direction: "top", offset: [0, -8] });
        m.addTo(this.supLayer);
        this.supMarkers.set(f.id, m);
      } else {
        m.setLatLng([f.lat, f.lon]);
        m.setIcon(this.supIcon(f));
      }
      m.setTooltipContent(this.supLabel(f));
      window.__lastSupervisorUpdate = { id: f.id, at: performance.now(), t: f.t };
      this.changed("supervisor", f);
    }

    supIcon(f) {
      return L.divIcon({ className: `sup pres-${f.state}`, html: "", iconSize: [14, 14] });
    }

    supLabel(f) {
      return el("span", {}, f.name, " (", f.opd, ") · ", t("presence_" + f.state), " · ", t("last_ping"), " ", ago(f.t));
    }

    refreshAges() {
      for (const [id, m] of this.supMarkers) m.setTooltipContent(this.supLabel(this.sups.get(id)));
    }
  }

  window.LiveMap = LiveMap;
  window.LIVE_REF = REF;
  window.LIVE_CFG = CFG;
  window.PRESENCE_COLOURS = PRESENCE_COLOURS;
})();
