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
  // the countries concerned as a small graph: one node per country (its area by its seizures),
  // an edge between every two (the group links them), labels and titles as text only
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNS, "svg");
  const shares = group.per_country, n = shares.length, size = 220, centre = size / 2;
  const top = Math.max(1, ...shares.map((s) => s.seizures));
  const at = shares.map((_, i) => {
    const angle = 2 * Math.PI * i / n - Math.PI / 2, r = n > 1 ? 70 : 0;
    return [centre + r * Math.cos(angle), centre + r * Math.sin(angle)];
  });
  svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("width", String(size));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const edge = document.createElementNS(svgNS, "line");
      edge.setAttribute("x1", String(at[i][0])); edge.setAttribute("y1", String(at[i][1]));
      edge.setAttribute("x2", String(at[j][0])); edge.setAttribute("y2", String(at[j][1]));
      edge.setAttribute("stroke", "#9aa5b1");
      svg.appendChild(edge);
    }
  }
  shares.forEach((share, i) => {
    const node = document.createElementNS(svgNS, "circle");
    node.setAttribute("cx", String(at[i][0])); node.setAttribute("cy", String(at[i][1]));
    node.setAttribute("r", String(8 + 14 * Math.sqrt(share.seizures / top)));
    node.setAttribute("fill", "#6f9bc9");
    node.dataset.country = share.country;
    const title = document.createElementNS(svgNS, "title");
    title.textContent = `${share.country}: ${share.seizures} seizures, ${share.first_month}–${share.last_month}`;
    node.appendChild(title);
    const label = document.createElementNS(svgNS, "text");
    label.setAttribute("x", String(at[i][0])); label.setAttribute("y", String(at[i][1] + 4));
    label.setAttribute("text-anchor", "middle"); label.setAttribute("font-size", "10");
    label.textContent = `${share.country} ${share.seizures}`;
    svg.append(node, label);
  });
  $("links-countries").replaceChildren(svg);
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
