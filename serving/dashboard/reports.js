// The dashboard's link to reports (/v1/reports/{geo}): the API needs the key as a bearer header,
// which a plain <a href> cannot send, so the report is fetched and opened from a blob URL.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("report-form");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const geo = encodeURIComponent(document.getElementById("report-geo").value.trim());
    const period = encodeURIComponent(document.getElementById("report-period").value.trim());
    const kind = document.getElementById("report-kind").value;
    const format = document.getElementById("report-format").value;
    const note = document.getElementById("report-note");
    const path = `/v1/reports/${geo}${format === "pdf" ? ".pdf" : ""}?period=${period}&kind=${kind}`;
    note.textContent = "making the report…";
    const response = await fetch(path, {
      headers: { Authorization: `Bearer ${sessionStorage.getItem("narcotrend.apiKey")}` } });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      note.textContent = `no report: ${body.detail || response.status}`;
      return;
    }
    window.open(URL.createObjectURL(await response.blob()), "_blank", "noopener");
    note.textContent = "";
  });
});
