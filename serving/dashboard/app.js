// The planners' dashboard: reads the JSON API with the key kept in sessionStorage (for this tab
// only) and draws the charts with charts.js. Data goes into the page with textContent only.
"use strict";

const KEY_STORAGE = "narcotrend.apiKey";
const SEVERITIES = [["low", "#6f9bc9"], ["medium", "#d9a21b"], ["high", "#e0702b"], ["critical", "#c81d32"]];
const $ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${sessionStorage.getItem(KEY_STORAGE)}` } });
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new ApiError(response.status, String(detail));
  }
  return response.json();
}

// One encoded path segment: a `..` inside an id can never climb to another route.
const seriesPath = (id) => encodeURIComponent(id);
const query = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v != null)).toString();

function say(text) { $("message").textContent = text; }

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

// Evidence values as a planner reads them: 3 significant digits, small p/q values as 1.2e-5,
// nested objects (route shares) as "key value" pairs.
function readable(value) {
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) < 0.001 && value !== 0 ? value.toExponential(1) : String(Number(value.toPrecision(3)));
  }
  if (Array.isArray(value)) return value.map(readable).join(", ");
  if (value && typeof value === "object") return Object.entries(value).map(([k, v]) => `${k} ${readable(v)}`).join(", ");
  return String(value);
}

function evidenceText(evidence) {
  return Object.entries(evidence || {}).map(([k, v]) => `${k}: ${readable(v)}`).join("; ");
}

async function loadAlerts() {
  const counts = await Promise.all(SEVERITIES.map(([severity]) => api(`/v1/alerts?${query({ status: "open", severity, limit: 1 })}`)));
  Charts.bars($("alerts-chart"), "alerts-by-severity",
              SEVERITIES.map(([label, color], i) => ({ label, color, value: counts[i].total })));
  await loadAlertsTable();
}

async function loadAlertsTable() {
  const status = $("alerts-status").value;
  const page = await api(`/v1/alerts?${query({ status, limit: 10 })}`);
  $("alerts-caption").textContent = page.total ? `${page.items.length} most severe of ${page.total} ${status} alerts`
    : `no ${status} alert in this key's regions`;
  const body = $("alerts-table").querySelector("tbody");
  body.replaceChildren();
  for (const alert of page.items) {
    const row = document.createElement("tr");
    const sev = cell(row, "");
    const badge = document.createElement("span");
    badge.className = `sev sev-${alert.severity}`;
    badge.textContent = alert.severity;
    sev.appendChild(badge);
    const type = cell(row, "");
    const link = document.createElement("a");
    link.href = alertHref(alert.id);
    link.textContent = alert.type.replace("_", " ");
    link.addEventListener("click", (event) => { event.preventDefault(); openAlert(alert.id); });
    type.appendChild(link);
    cell(row, `${alert.geo} (${alert.region})`);
    cell(row, alert.drug);
    cell(row, alert.period);
    cell(row, evidenceText(alert.evidence), "evidence");
    body.appendChild(row);
  }
}

// Data-quality notices (reporting_change): why a country's series were not alerted on.
async function loadNotices() {
  const page = await api(`/v1/notices?${query({ limit: 10 })}`);
  const body = $("notices-table").querySelector("tbody");
  body.replaceChildren();
  for (const notice of page.items) {
    const row = document.createElement("tr");
    const periods = notice.periods.map((p) => p.period);
    cell(row, notice.geo);
    cell(row, periods.length > 1 ? `${periods[0]}..${periods[periods.length - 1]}` : periods[0] || "");
    cell(row, notice.status);
    cell(row, notice.evidence.summary || "");
    body.appendChild(row);
  }
  if (!page.items.length) {
    const row = document.createElement("tr");
    cell(row, "none").colSpan = 4;
    body.appendChild(row);
  }
}

async function loadTrends() {
  const page = await api("/v1/trends?limit=10");
  Charts.hbars($("trends-chart"), "top-trends", page.items.map((t) => ({
    label: `${t.geo} · ${t.drug} (${t.metric})`, value: t.score, detail: evidenceText(t.evidence),
    color: (SEVERITIES.find(([s]) => s === t.severity) || [null, "#1f6fb2"])[1],
  })));
}

async function loadSeriesList() {
  const page = await api("/v1/series?metric=kg&drug_level=group&limit=500");
  const select = $("series-select");
  select.replaceChildren();
  const preferred = page.items.filter((s) => s.geo_level === "country").concat(page.items.filter((s) => s.geo_level !== "country"));
  for (const s of preferred) {
    const option = document.createElement("option");
    option.value = s.unique_id;
    option.textContent = `${s.unique_id} (${s.region})`;
    select.appendChild(option);
  }
  if (!preferred.length) Charts.empty($("series-chart"), "series-forecast", "no series visible with this key");
  return preferred.length > 0;
}

async function loadSeries() {
  const id = $("series-select").value;
  if (!id) return;
  const history = await api(`/v1/series/${seriesPath(id)}`);
  let forecast = { points: [] };
  $("series-note").textContent = "";
  try {
    forecast = await api(`/v1/forecasts/${seriesPath(id)}`);
    $("series-note").textContent = `forecast by ${forecast.model || "the champion"}, from ` +
      (forecast.model_version ? `champion model version ${forecast.model_version}` : forecast.source);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    $("series-note").textContent = `no forecast: ${err.message}`;
  }
  Charts.forecastBand($("series-chart"), "series-forecast", history.points, forecast.points);
}

async function loadRoutes() {
  const params = { drug: $("routes-drug").value.trim(), destination: $("routes-destination").value.trim(),
                   attribute: $("routes-attribute").value, metric: $("routes-metric").value };
  const flows = await api(`/v1/routes?${query(params)}`);
  Charts.stackedShares($("routes-chart"), "route-shares", flows.keys, flows.shares);
}

// --- one alert, opened from a digest e-mail's link (/?alert=<id>) or from the table -----------
const alertHref = (id) => `?${query({ alert: id })}`;
const linkedAlertId = () => new URLSearchParams(window.location.search).get("alert");

function openAlert(id) {
  window.history.pushState(null, "", alertHref(id));
  return guarded(() => showAlert(id));
}

function alertFields(alert) {
  const fields = [["Type", alert.type.replace("_", " ")], ["Severity", alert.severity],
    ["Status", alert.status], ["Where", `${alert.geo} (${alert.geo_level}, ${alert.region})`],
    ["Drug", `${alert.drug} (${alert.drug_level})`], ["Measure", alert.metric],
    ["Period", alert.period], ["Detected on data up to", alert.detected_at], ["Score", String(alert.score)]];
  if (alert.route) {
    fields.push(["Route", `${alert.route.attribute.replace("_", " ")} to ${alert.route.destination}`]);
    if ((alert.route.gaining || []).length) fields.push(["Gaining", alert.route.gaining.join(", ")]);
    if ((alert.route.losing || []).length) fields.push(["Losing", alert.route.losing.join(", ")]);
  }
  for (const [key, value] of Object.entries(alert.evidence || {})) {
    fields.push([key.replaceAll("_", " "), readable(value)]);
  }
  if (alert.first_detected_at) fields.push(["First detected", alert.first_detected_at]);
  (alert.episodes || []).slice(0, -1).forEach((episode, i) => {
    const moved = episode.route ? ` (gaining ${(episode.route.gaining || []).join(", ") || "-"}, losing ${(episode.route.losing || []).join(", ") || "-"})` : "";
    fields.push([`Episode ${i + 1}`, `${episode.opened}..${episode.resolved || "open"}, ${episode.severity}: ${(episode.evidence || {}).summary || ""}${moved}`]);
  });
  return fields;
}

async function showAlert(id) {
  let alert;
  try {
    alert = await api(`/v1/alerts/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      $("alert-panel").hidden = true;
      say(`Alert ${id} was not found, or it lies outside this key's regions.`);
      return;
    }
    throw err;
  }
  say("");
  $("alert-title").textContent = `Alert: ${alert.type.replace("_", " ")} · ${alert.geo} · ${alert.drug}`;
  const list = $("alert-fields");
  list.replaceChildren();
  for (const [term, text] of alertFields(alert)) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = text;
    list.append(dt, dd);
  }
  $("alert-panel").hidden = false;
  $("alert-note").textContent = alert.route ? "The route shares below show this alert's flows."
    : "The series chart below shows this alert's series.";
  if (alert.route) {
    $("routes-drug").value = alert.drug;
    $("routes-destination").value = alert.route.destination;
    $("routes-attribute").value = alert.route.attribute;
    $("routes-metric").value = alert.metric;  // the measure the shift was found in
    await guarded(loadRoutes);
  } else {
    selectSeries(`${alert.geo}/${alert.drug}/${alert.metric}`, alert.region);
    await guarded(loadSeries);
  }
  $("alert-panel").scrollIntoView();
}

// The first chart a planner sees is the series of the most severe open alert, not the first
// series alphabetically.
async function showTopAlertSeries() {
  const top = (await api("/v1/alerts?status=open&limit=5")).items.find((a) => !a.route);
  if (!top) return;
  selectSeries(`${top.geo}/${top.drug}/${top.metric}`, top.region);
  await loadSeries();
}

function selectSeries(id, region) {
  const select = $("series-select");
  if (![...select.options].some((option) => option.value === id)) {
    const option = document.createElement("option");
    option.value = id;
    option.textContent = `${id} (${region})`;
    select.prepend(option);
  }
  select.value = id;
}

async function guarded(task) {
  try { await task(); } catch (err) {
    if (err instanceof ApiError && err.status === 401) { forgetKey(); say("That key was refused (missing, unknown or revoked)."); return; }
    say(`Could not load: ${err.message}`);
  }
}

async function loadWho() {
  const me = await api("/v1/me");
  $("who").textContent = `${me.role} key ${me.prefix}… · ` +
    (me.regions ? me.regions.join(", ") : "all regions") + (me.name ? ` · ${me.name}` : "");
}

async function loadAll() {
  say("");
  $("panels").hidden = false;
  $("forget-key").hidden = false;
  await Promise.all([guarded(loadWho), guarded(loadAlerts), guarded(loadNotices), guarded(loadTrends), guarded(loadRoutes),
                     guarded(async () => { if (await loadSeriesList()) await loadSeries(); })]);
  const linked = linkedAlertId();
  if (linked) await guarded(() => showAlert(linked));
  else {
    $("alert-panel").hidden = true;
    await guarded(showTopAlertSeries);
  }
  document.body.dataset.loaded = "true";
}

function forgetKey() {
  sessionStorage.removeItem(KEY_STORAGE);
  $("who").textContent = "";
  $("panels").hidden = true;
  $("forget-key").hidden = true;
  document.body.dataset.loaded = "false";
}

document.addEventListener("DOMContentLoaded", () => {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORAGE, $("api-key").value.trim());
    $("api-key").value = "";
    loadAll();
  });
  $("forget-key").addEventListener("click", () => { forgetKey(); say("Key forgotten."); });
  $("series-select").addEventListener("change", () => guarded(loadSeries));
  $("routes-form").addEventListener("submit", (event) => { event.preventDefault(); guarded(loadRoutes); });
  $("alerts-status").addEventListener("change", () => guarded(loadAlertsTable));
  window.addEventListener("popstate", () => { if (sessionStorage.getItem(KEY_STORAGE)) loadAll(); });
  if (sessionStorage.getItem(KEY_STORAGE)) loadAll();
  else if (linkedAlertId()) say("Enter your API key to see the linked alert.");
});
