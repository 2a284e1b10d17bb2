// Reads dashboard.json every second and fills the page. Plain browser JavaScript, no build step.
"use strict";

const OUTCOMES = ["executed", "replayed", "conflict", "mismatch", "invalid", "too_large",
  "bypassed", "fail_open", "fail_closed"];
const REFRESH_MS = 1000;
let previous = null;

function text(id, value) {
  document.getElementById(id).textContent = value;
}

function ms(value) {
  if (value === undefined || value === null || Number.isNaN(value)) return "–";
  return value < 1 ? value.toFixed(3) : value < 100 ? value.toFixed(2) : value.toFixed(0);
}

function buildOutcomes() {
  const box = document.getElementById("outcomes");
  for (const name of OUTCOMES) {
    const tile = document.createElement("div");
    tile.className = "outcome zero " + name;
    tile.innerHTML = '<div class="label"></div><div class="count">0</div><div class="rate">&nbsp;</div>';
    tile.querySelector(".label").textContent = name;
    tile.querySelector(".count").id = "outcome-" + name;
    tile.querySelector(".rate").id = "rate-" + name;
    box.appendChild(tile);
  }
}

function render(data, now) {
  for (const name of OUTCOMES) {
    const count = data.outcomes[name] || 0;
    text("outcome-" + name, count.toLocaleString("en"));
    document.getElementById("outcome-" + name).parentElement.classList.toggle("zero", count === 0);
    if (previous) {
      const seconds = (now - previous.at) / 1000;
      const rate = (count - (previous.data.outcomes[name] || 0)) / seconds;
      text("rate-" + name, rate > 0 ? "+" + rate.toFixed(1) + "/s" : "\u00a0");
    }
  }
  text("store-name", data.store.name);
  text("store-serving", data.store.serving);
  const breaker = document.getElementById("store-breaker");
  breaker.textContent = data.store.breaker === "none" ? "n/a (no breaker)" : data.store.breaker;
  breaker.className = "badge " + data.store.breaker;
  text("store-fallbacks", data.fallbacks.toLocaleString("en"));
  text("inflight", data.inflight);
  text("stale", data.staleRecovered.toLocaleString("en"));

  const body = document.getElementById("latency");
  body.replaceChildren();
  if (data.latency.length === 0) {
    const row = body.insertRow();
    const cell = row.insertCell();
    cell.colSpan = 5;
    cell.textContent = "no store calls yet";
  }
  for (const t of data.latency) {
    const row = body.insertRow();
    row.id = "latency-" + t.store + "-" + t.op;
    for (const value of [t.store, t.op, t.count.toLocaleString("en"), ms(t.p50Ms), ms(t.p99Ms)]) {
      row.insertCell().textContent = value;
    }
  }
  text("latency-note", "Percentiles over about the last " + data.percentileWindowSeconds
    + " s; calls since the application started.");
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const response = await fetch("dashboard.json", { cache: "no-store" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    const data = await response.json();
    const now = Date.now();
    render(data, now);
    previous = { data: data, at: now };
    status.textContent = "updated " + new Date(now).toLocaleTimeString("en-GB")
      + " · every second from dashboard.json";
    status.className = "";
  } catch (e) {
    status.textContent = "cannot read dashboard.json (" + e.message + "); retrying";
    status.className = "stale";
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

buildOutcomes();
refresh();
