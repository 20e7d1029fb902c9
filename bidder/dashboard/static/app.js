// Live dashboard: polls /dashboard/api every few seconds and redraws tables and the chart.
"use strict";
const REFRESH_MS = 3000;
const token = new URLSearchParams(location.search).get("token");
const apiUrl = "/dashboard/api" + (token ? "?token=" + encodeURIComponent(token) : "");
let chart = null;

const money = (micros) => (micros === null || micros === undefined) ? "–" : (micros / 1e6).toFixed(4);
const pct = (x) => (x === null || x === undefined) ? "–" : (100 * x).toFixed(2) + "%";
const num = (x, d) => (x === null || x === undefined) ? "–" : Number(x).toFixed(d);

function cell(tr, id, text, raw) {
  const td = document.createElement("td");
  if (id) td.id = id;
  if (raw !== undefined && raw !== null) td.dataset.raw = String(raw);
  td.textContent = text;
  tr.appendChild(td);
  return td;
}

function renderCampaigns(rows) {
  const body = document.querySelector("#campaigns tbody");
  body.replaceChildren();
  for (const r of rows) {
    const tr = document.createElement("tr");
    const p = "c-" + r.id + "-";
    cell(tr, p + "id", r.id).title = r.name;
    const spend = cell(tr, p + "spend-today", money(r.spend_today_micros), r.spend_today_micros);
    spend.className = r.spend_today_micros > r.planned_today_micros * 1.1 ? "over" : "under";
    cell(tr, p + "plan-today", money(r.planned_today_micros), r.planned_today_micros);
    cell(tr, p + "budget-daily", money(r.budget_daily_micros), r.budget_daily_micros);
    cell(tr, p + "spend", money(r.spend_total_micros), r.spend_total_micros);
    cell(tr, p + "pacing", r.pacing_mode + " ×" + num(r.pacing_multiplier * r.plan_multiplier, 2));
    cell(tr, p + "bids", String(r.bids), r.bids);
    cell(tr, p + "impressions", String(r.impressions), r.impressions);
    cell(tr, p + "win-rate", pct(r.win_rate), r.win_rate);
    cell(tr, p + "clicks", String(r.clicks), r.clicks);
    cell(tr, p + "ctr", pct(r.ctr), r.ctr);
    cell(tr, p + "cpc", money(r.cpc_micros), r.cpc_micros);
    cell(tr, p + "cpm", num(r.cpm, 3), r.cpm);
    cell(tr, p + "unique", String(r.unique_users), r.unique_users);
    cell(tr, p + "cost-per-unique", money(r.cost_per_unique_micros), r.cost_per_unique_micros);
    cell(tr, p + "pctr", num(r.pctr_mean_bids, 5), r.pctr_mean_bids);
    body.appendChild(tr);
  }
}

function renderBreakdown(id, rows) {
  const table = document.getElementById(id);
  table.replaceChildren();
  const head = document.createElement("tr");
  for (const h of ["campaign", "key", "bids", "impr.", "clicks", "spend"]) {
    const th = document.createElement("th"); th.textContent = h; head.appendChild(th);
  }
  table.appendChild(head);
  for (const r of rows) {
    const tr = document.createElement("tr");
    cell(tr, null, r.campaign);
    cell(tr, null, String(r.key)).style.textAlign = "left";
    cell(tr, null, String(r.bids), r.bids);
    cell(tr, null, String(r.impressions), r.impressions);
    cell(tr, null, String(r.clicks), r.clicks);
    cell(tr, null, money(r.spend_micros), r.spend_micros);
    table.appendChild(tr);
  }
}

function renderCalibration(c) {
  const body = document.querySelector("#calibration tbody");
  body.replaceChildren();
  for (const [label, value, id] of [
    ["impressions", String(c.impressions), "cal-impressions"],
    ["clicks", String(c.clicks), "cal-clicks"],
    ["observed CTR", pct(c.observed_ctr), "cal-observed"],
    ["predicted CTR (mean pCTR of impressions)", pct(c.predicted_ctr), "cal-predicted"],
  ]) {
    const tr = document.createElement("tr");
    cell(tr, null, label);
    cell(tr, id, value);
    body.appendChild(tr);
  }
}

function renderPlan(plan) {
  const div = document.getElementById("plan");
  div.replaceChildren();
  const p = document.createElement("div");
  p.id = "plan-version";
  p.textContent = "plan version " + plan.version;
  div.appendChild(p);
  const campaigns = Object.keys(plan.arm_shares);
  if (!campaigns.length) {
    const none = document.createElement("div");
    none.textContent = "no arm shares yet (uniform)";
    div.appendChild(none);
  }
  for (const cid of campaigns) {
    const t = document.createElement("table");
    const cap = document.createElement("caption"); cap.textContent = cid; t.appendChild(cap);
    for (const [arm, share] of Object.entries(plan.arm_shares[cid])) {
      const tr = document.createElement("tr");
      cell(tr, null, arm);
      const td = cell(tr, null, pct(share), share);
      const bar = document.createElement("span"); bar.className = "bar";
      bar.style.width = Math.round(100 * share) + "px"; td.prepend(bar);
      t.appendChild(tr);
    }
    div.appendChild(t);
  }
}

function renderChart(h) {
  const data = [h.hour, h.bids, h.impressions, h.clicks];
  if (chart) { chart.setData(data); return; }
  const el = document.getElementById("hourly-chart");
  chart = new uPlot({
    width: Math.max(400, el.clientWidth || 700), height: 240,
    scales: { x: { time: false } },
    axes: [{ label: "hour" }, {}],
    series: [
      { label: "hour" },
      { label: "bids", stroke: "#4e79a7", width: 2 },
      { label: "impressions", stroke: "#f28e2b", width: 2 },
      { label: "clicks", stroke: "#59a14f", width: 2 },
    ],
  }, data, el);
}

async function refresh() {
  try {
    const resp = await fetch(apiUrl, { cache: "no-store" });
    if (!resp.ok) throw new Error("HTTP " + resp.status);
    const s = await resp.json();
    document.getElementById("meta").textContent =
      "updated " + new Date(s.now * 1000).toISOString().replace(".000", "") +
      " · model " + s.model_version + " · config " + String(s.config_version).slice(0, 12) +
      " · plan v" + s.plan.version + " · " + s.decisions + " decisions · " + s.currency;
    renderCampaigns(s.campaigns);
    renderBreakdown("by-media", s.breakdowns.media);
    renderBreakdown("by-creative", s.breakdowns.creative);
    renderBreakdown("by-hour", s.breakdowns.hour);
    renderCalibration(s.calibration);
    renderPlan(s.plan);
    renderChart(s.hourly);
    document.body.dataset.loaded = "1";
  } catch (err) {
    document.getElementById("meta").textContent = "refresh failed: " + err.message;
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
