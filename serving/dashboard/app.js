// The planners' dashboard: reads the JSON API with the key kept in sessionStorage (for this tab
// only) and draws the charts the API specifies (Vega-Lite, vendored vega). Data goes into the
// page with textContent only.
"use strict";

const KEY_STORAGE = "narcotrend.apiKey";
const NO_KEY_HINT = "Enter an API key above to see alerts, series and routes " +
  "(an admin makes one with `narcotrend keys create`; it is kept for this tab only).";
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

// --- charts: Vega-Lite specs from the API (serving/charts.py, the same the e-mail renders) ---
// drawn by the vendored vega-embed; `ast` + the interpreter: no eval, so a strict CSP holds.
const EMBED_OPTIONS = { actions: false, renderer: "svg", ast: true,
                        expr: window.vegaInterpreter && window.vegaInterpreter.expressionInterpreter };

async function drawChart(container, name, path, emptyText = "nothing to show with this key") {
  container.dataset.chart = name;
  const spec = await api(path);
  if (Object.values(spec.datasets || {}).every((rows) => !rows.length)) {
    emptyChart(container, name, emptyText);
    return;
  }
  await vegaEmbed(container, spec, EMBED_OPTIONS);
  container.dataset.drawn = "true";
}

function emptyChart(container, name, text) {
  container.dataset.chart = name;
  container.replaceChildren();
  const note = document.createElement("p");
  note.className = "muted";
  note.textContent = text;
  container.appendChild(note);
}

const STATUS_VIEWS = { active: ["open", "acknowledged"], silenced: ["silenced"], resolved: ["resolved"] };
const statusQuery = (view) => STATUS_VIEWS[view].map((s) => `status=${s}`).join("&");

async function loadAlerts() {
  await Promise.all([drawChart($("alerts-chart"), "alerts-by-severity", "/v1/charts/severity"),
                     loadAlertsTable()]);
}

// The top rows are distinct incidents (one event at several levels is one row), most severe first.
async function loadAlertsTable() {
  const view = $("alerts-status").value;
  const geo = $("alerts-geo").value.trim(); // a country, region or division (ISO3:NAME)
  const where = geo ? `${query({ geo })}&` : "";
  const [page, alerts] = await Promise.all([
    api(`/v1/incidents?${statusQuery(view)}&${where}limit=10`),
    api(`/v1/alerts?${view === "active" ? "" : statusQuery(view) + "&"}${where}limit=1`)]);
  const word = view === "active" ? "active" : view;
  $("alerts-picture").textContent = `${alerts.total} ${word} alert${alerts.total === 1 ? "" : "s"} in ` +
    `${page.total} incident${page.total === 1 ? "" : "s"}`;
  $("alerts-picture").dataset.alerts = String(alerts.total);
  $("alerts-picture").dataset.incidents = String(page.total);
  $("alerts-caption").textContent = page.total ? `${page.items.length} most severe of ${page.total} ${word} incidents`
    : `no ${word} incident in this key's regions`;
  const body = $("alerts-table").querySelector("tbody");
  body.replaceChildren();
  for (const incident of page.items) {
    const row = document.createElement("tr");
    row.dataset.incident = incident.id;
    row.dataset.members = incident.members.join(" ");
    const sev = cell(row, "");
    const badge = document.createElement("span");
    badge.className = `sev sev-${incident.severity}`;
    badge.textContent = incident.severity;
    sev.appendChild(badge);
    const title = cell(row, "");
    const link = document.createElement("a");
    link.href = alertHref(incident.lead.id);
    link.textContent = incident.headline;
    link.addEventListener("click", (event) => { event.preventDefault(); openAlert(incident.lead.id); });
    title.appendChild(link);
    const more = incident.members.length - 1;
    cell(row, `${incident.lead.geo} (${incident.regions.join(", ")})` + (more ? ` + ${more} more` : ""));
    cell(row, incident.period);
    cell(row, incident.status);
    cell(row, incident.summary, "evidence");
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
  await drawChart($("trends-chart"), "top-trends", "/v1/charts/trends?limit=10",
                  "no active emerging trend in this key's regions");
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
  if (!preferred.length) emptyChart($("series-chart"), "series-forecast", "no series visible with this key");
  return preferred.length > 0;
}

const seriesChartPath = (id, period) => `/v1/charts/series/${seriesPath(id)}` + (period ? `?${query({ mark_period: period })}` : "");

async function loadSeries(markPeriod) {
  const id = $("series-select").value;
  if (!id) return;
  $("series-note").textContent = "";
  try {
    const forecast = await api(`/v1/forecasts/${seriesPath(id)}`);
    // the notes say what the numbers assume (a silent series, an aggregate's silent countries)
    $("series-note").textContent = [`forecast by ${forecast.model || "the champion"}, from ` +
      (forecast.model_version ? `champion model version ${forecast.model_version}` : forecast.source),
      ...(forecast.notes || [])].join("; ");
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    $("series-note").textContent = `no forecast: ${err.message}`;
  }
  await drawChart($("series-chart"), "series-forecast", seriesChartPath(id, markPeriod));
}

function routeParams() {
  return { drug: $("routes-drug").value.trim(), destination: $("routes-destination").value.trim(),
           attribute: $("routes-attribute").value, metric: $("routes-metric").value };
}

// The shares over time, and beside them where the flows of the last 12 months came from: one
// line per departure -> seizing country on the vendored world map (the map the reports draw).
async function loadRoutes() {
  const { drug, destination } = routeParams();
  await Promise.all([
    drawChart($("routes-chart"), "route-shares", `/v1/charts/routes?${query(routeParams())}`),
    drawChart($("routes-map"), "route-map", `/v1/charts/route-map?${query({ drug, destination })}`,
              "no flows with a known departure country for this key")]);
}

// How seizures were hidden (concealment methods, seizures with no text as "unknown"), by the
// seizing country or region: the route-shares chart with attribute=concealment.
const concealmentParams = () => ({ drug: $("concealment-drug").value.trim(),
  destination: $("concealment-place").value.trim(), attribute: "concealment", metric: "seizures" });

async function loadConcealment() {
  await drawChart($("concealment-chart"), "concealment-shares", `/v1/charts/routes?${query(concealmentParams())}`);
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
    ["When", `since ${alert.period}, seen in data through ${alert.detected_at}`],
    ["Score", `${alert.score} (ranks alerts of a type: severity first, then strength of evidence)`]];
  if (alert.route) {
    fields.push(["Route", alert.route.destination
      ? `${alert.route.attribute.replace("_", " ")} to ${alert.route.destination}`
      : `${alert.route.attribute.replace("_", " ")} in ${alert.geo}`]);
    if ((alert.route.gaining || []).length) fields.push(["Gaining", alert.route.gaining.join(", ")]);
    if ((alert.route.losing || []).length) fields.push(["Losing", alert.route.losing.join(", ")]);
  }
  // the evidence is the figures table beside (serving/alerting/evidence.py), not a key dump
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
  $("alert-summary").textContent = alert.summary;
  const list = $("alert-fields");
  list.replaceChildren();
  for (const [term, text] of alertFields(alert)) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = text;
    list.append(dt, dd);
  }
  const figures = $("alert-figures").querySelector("tbody");
  figures.replaceChildren();
  for (const figure of alert.figures) {
    const row = document.createElement("tr");
    cell(row, figure.name);
    cell(row, figure.value);
    figures.appendChild(row);
  }
  $("alert-panel").hidden = false;
  // The alert's chart sits next to it, its period marked.
  if (alert.route && alert.route.attribute === "concealment") {
    $("alert-note").textContent = "The concealment shares beside show this alert's methods.";
    $("concealment-drug").value = alert.drug;
    $("concealment-place").value = alert.geo;
    await guarded(() => drawChart($("alert-chart"), "alert-chart", `/v1/charts/routes?${query(concealmentParams())}`));
    await guarded(loadConcealment);
  } else if (alert.route) {
    $("alert-note").textContent = "The route shares beside show this alert's flows.";
    $("routes-drug").value = alert.drug;
    $("routes-destination").value = alert.route.destination;
    $("routes-attribute").value = alert.route.attribute;
    $("routes-metric").value = alert.metric;  // the measure the shift was found in
    await guarded(() => drawChart($("alert-chart"), "alert-chart", `/v1/charts/routes?${query(routeParams())}`));
    await guarded(loadRoutes);
  } else {
    $("alert-note").textContent = "The chart beside shows this alert's series, its period marked.";
    const series = `${alert.geo}/${alert.drug}/${alert.metric}`;
    selectSeries(series, alert.region);
    await guarded(() => drawChart($("alert-chart"), "alert-chart", seriesChartPath(series, alert.period)));
    await guarded(() => loadSeries(alert.period));
  }
  $("alert-panel").scrollIntoView();
}

// The first chart a planner sees is the series of the most severe incident, its period marked,
// not the first series alphabetically.
async function showTopAlertSeries() {
  const top = (await api("/v1/incidents?limit=5")).items.map((i) => i.lead).find((a) => !a.route);
  if (!top) return;
  selectSeries(`${top.geo}/${top.drug}/${top.metric}`, top.region);
  await loadSeries(top.period);
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
  await Promise.all([guarded(loadWho), guarded(loadAlerts), guarded(loadNotices), guarded(loadTrends),
                     guarded(loadRoutes), guarded(loadConcealment),
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
  $("forget-key").addEventListener("click", () => { forgetKey(); say(`Key forgotten. ${NO_KEY_HINT}`); });
  $("series-select").addEventListener("change", () => guarded(loadSeries));
  $("routes-form").addEventListener("submit", (event) => { event.preventDefault(); guarded(loadRoutes); });
  $("concealment-form").addEventListener("submit", (event) => { event.preventDefault(); guarded(loadConcealment); });
  $("alerts-status").addEventListener("change", () => guarded(loadAlertsTable));
  $("alerts-geo").addEventListener("change", () => guarded(loadAlertsTable));
  window.addEventListener("popstate", () => { if (sessionStorage.getItem(KEY_STORAGE)) loadAll(); });
  if (sessionStorage.getItem(KEY_STORAGE)) loadAll();
  else if (linkedAlertId()) say("Enter your API key to see the linked alert.");
  else say(NO_KEY_HINT);
});
