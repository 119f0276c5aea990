/* The citizens' page: category, pin (or GPS), description, photos or video; then the follow-up link. */
"use strict";
(function () {
  const { t, el, csrf } = window.geo;
  const REF = JSON.parse(document.getElementById("ref-data").textContent);
  const CFG = JSON.parse(document.getElementById("map-config").textContent);
  const form = document.getElementById("report-form");
  for (const c of REF.categories) form.elements.category.appendChild(el("option", { value: c.code }, c.name));

  const map = L.map("pinmap", { maxZoom: 19 }).setView([-6.19, 106.64], 12);
  if (CFG.tiles) L.tileLayer(CFG.tiles, { maxZoom: 19, attribution: CFG.attribution }).addTo(map);
  fetch("/api/kecamatan/", { headers: { Accept: "application/json" } })
    .then((r) => (r.ok ? r.json() : null))
    .then((data) => { if (data) L.geoJSON(data, { style: { color: "#0b4f8a", weight: 1, fillOpacity: 0.03 } }).addTo(map); })
    .catch(() => { /* the pin still works without the outline */ });
  let pin = null;
  function place(lat, lon) {
    if (pin) pin.setLatLng([lat, lon]); else pin = L.marker([lat, lon], { draggable: true }).addTo(map);
    map.setView([lat, lon], Math.max(map.getZoom(), 15));
    document.getElementById("pinstate").textContent = t("pin_placed") + ` (${lat.toFixed(5)}, ${lon.toFixed(5)})`;
    form.dataset.pinned = "1";
  }
  map.on("click", (e) => place(e.latlng.lat, e.latlng.lng));
  document.getElementById("use-gps").addEventListener("click", () => {
    navigator.geolocation.getCurrentPosition((p) => place(p.coords.latitude, p.coords.longitude),
      (err) => { document.getElementById("pinstate").textContent = t("gps_denied") + " (" + err.message + ")"; },
      { enableHighAccuracy: true, timeout: 15000 });
  });

  const key = (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).slice(0, 100);
  function showErrors(body) {
    for (const p of form.querySelectorAll(".field-error")) p.textContent = "";
    for (const [field, msgs] of Object.entries(body || {})) {
      const box = form.querySelector(`.field-error[data-for="${CSS.escape(field)}"]`) || form.querySelector('.field-error[data-for="detail"]');
      box.textContent = Array.isArray(msgs) ? msgs.join(" ") : String(msgs);
    }
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!form.elements.category.value) return showErrors({ category: [t("need_category")] });
    if (!pin) return showErrors({ location: [t("need_location")] });
    const fd = new FormData();
    const ll = pin.getLatLng();
    fd.append("category", form.elements.category.value);
    fd.append("description", form.elements.description.value);
    fd.append("address", form.elements.address.value);
    fd.append("reporter_name", form.elements.reporter_name.value);
    fd.append("reporter_phone", form.elements.reporter_phone.value);
    fd.append("channel", "web");
    fd.append("location", JSON.stringify({ type: "Point", coordinates: [ll.lng, ll.lat] }));
    for (const f of form.elements.files.files) fd.append("files", f);
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    button.textContent = t("sending");
    try {
      const res = await fetch("/api/reports/", {
        method: "POST", body: fd, credentials: "same-origin",
        headers: { "X-CSRFToken": csrf(), "Idempotency-Key": key, Accept: "application/json" },
      });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) { showErrors(body); return; }
      const id = body.id;
      const link = `/r/${encodeURIComponent(id)}`;
      const result = document.getElementById("result");
      result.replaceChildren(el("h2", {}, t("sent")), el("p", {}, el("b", { "data-testid": "public-id" }, id)),
        el("p", {}, el("a", { href: link, "data-testid": "follow-link" }, t("follow"))));
      result.classList.remove("hidden");
      form.classList.add("hidden");
    } catch (err) {
      showErrors({ detail: [t("offline")] });
    } finally {
      button.disabled = false;
      button.textContent = button.dataset.label || button.textContent;
    }
  });
  form.querySelector("button[type=submit]").dataset.label = form.querySelector("button[type=submit]").textContent;
})();
