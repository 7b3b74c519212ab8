// The linked-cases panel (issue 21): cross-border case groups the key may see, the countries
// each concerns (seizure counts per country), and a timeline of the seizures in the key's
// regions. Uses app.js's `api` and `$`; data goes into the page with textContent only.
"use strict";

function linkCell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
  return td;
}

function sharedText(shared) {
  return Object.entries(shared || {}).filter(([, v]) => v != null).map(([k, v]) => `${k} ${v}`).join(", ");
}

function drawCountries(group) {
  const box = $("links-countries");
  box.replaceChildren();
  for (const share of group.per_country) {
    const chip = document.createElement("span");
    chip.className = "chip";
    chip.textContent = `${share.country} · ${share.seizures} (${share.first_month}–${share.last_month})`;
    box.appendChild(chip);
  }
}

function drawTimeline(points) {
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNS, "svg");
  const months = [...new Set(points.map((p) => p.month))].sort();
  const totals = months.map((m) => points.filter((p) => p.month === m).reduce((s, p) => s + p.seizures, 0));
  const top = Math.max(1, ...totals), width = Math.max(120, months.length * 28);
  svg.setAttribute("viewBox", `0 0 ${width} 90`);
  svg.setAttribute("role", "img");
  months.forEach((month, i) => {
    const bar = document.createElementNS(svgNS, "rect");
    const h = 60 * totals[i] / top;
    bar.setAttribute("x", String(i * 28 + 4)); bar.setAttribute("y", String(70 - h));
    bar.setAttribute("width", "20"); bar.setAttribute("height", String(h));
    bar.setAttribute("fill", "#6f9bc9");
    const title = document.createElementNS(svgNS, "title");
    title.textContent = `${month}: ${totals[i]} seizures`;
    bar.appendChild(title);
    const label = document.createElementNS(svgNS, "text");
    label.setAttribute("x", String(i * 28 + 4)); label.setAttribute("y", "85");
    label.setAttribute("font-size", "8");
    label.textContent = month.slice(2);
    svg.append(bar, label);
  });
  $("links-timeline").replaceChildren(svg);
}

async function showLinkGroup(groupId) {
  const group = await api(`/v1/links/${encodeURIComponent(groupId)}`);
  $("links-detail").hidden = false;
  $("links-title").textContent = `${group.group_id}: ${group.drug}, ${group.n_seizures} seizures, ` +
    `${group.n_in_scope} in your regions; they share ${sharedText(group.shared) || "their signature"}`;
  drawCountries(group);
  drawTimeline(group.timeline);
}

async function loadLinks() {
  const page = await api(`/v1/links?${query({ cross_border: $("links-cross").checked ? "true" : "", limit: 50 })}`);
  const body = $("links-table").querySelector("tbody");
  body.replaceChildren();
  for (const group of page.items) {
    const row = document.createElement("tr");
    const link = document.createElement("a");
    link.href = "#";
    link.textContent = group.group_id;
    link.addEventListener("click", (event) => { event.preventDefault(); guarded(() => showLinkGroup(group.group_id)); });
    linkCell(row, "").appendChild(link);
    linkCell(row, group.drug || "");
    linkCell(row, group.countries.join(", "));
    linkCell(row, String(group.n_seizures));
    linkCell(row, `${group.first_month}–${group.last_month}`);
    linkCell(row, sharedText(group.shared));
    body.appendChild(row);
  }
  $("links-note").textContent = page.total ? `${page.total} groups` : "No linked cases yet: run `narcotrend link`.";
}

document.addEventListener("DOMContentLoaded", () => {
  $("links-cross").addEventListener("change", () => guarded(loadLinks));
  new MutationObserver(() => {
    if (document.body.dataset.loaded === "true") guarded(loadLinks);
  }).observe(document.body, { attributes: true, attributeFilter: ["data-loaded"] });
});
