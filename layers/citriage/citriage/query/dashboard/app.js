// The citriage dashboard: plain JavaScript over the query API (docs/api.md), no build step.
// Every value from the API is put in the page as text (never as HTML), and only http(s) URLs
// become links. The token is asked for once and kept in this browser's localStorage.
"use strict";

const TOKEN_KEY = "citriage-token";
const main = () => document.getElementById("main");
const VERDICTS = ["passed", "failed_new", "failed_known", "infra", "no_results"];
const GRID_RUNS = 15;

// ---- small DOM helpers -------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = String(value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function safeUrl(url) {
  try {
    const parsed = new URL(String(url));
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch (e) {
    return null;
  }
}

function link(url, text) {
  const href = safeUrl(url);
  return href ? el("a", { href, rel: "noopener noreferrer", target: "_blank", text }) : el("span", { text });
}

function route(hash, text) {
  return el("a", { href: hash, text });
}

function verdict(value) {
  return el("span", { class: `verdict ${VERDICTS.includes(value) ? value : ""}`, text: String(value).replace("_", " ") });
}

function when(value) {
  if (!value) return "";
  const date = new Date(value);
  return isNaN(date) ? String(value) : date.toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

function show(...nodes) {
  // Sections may be nested lists, and absent (null): flattened, as `el` does with children.
  main().replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined && n !== false));
}

function table(headings, rows) {
  return el(
    "div",
    { class: "scroll" },
    el("table", {}, el("thead", {}, el("tr", {}, headings.map((h) => el("th", { text: h })))), el("tbody", {}, rows))
  );
}

// ---- the API -------------------------------------------------------------------------------

class NeedsToken extends Error {}

async function api(path, params) {
  const token = localStorage.getItem(TOKEN_KEY);
  if (!token) throw new NeedsToken("");
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") query.set(name, value);
  }
  const url = path + (query.toString() ? `?${query}` : "");
  const response = await fetch(url, { headers: { Authorization: `Bearer ${token}`, Accept: "application/json" } });
  if (response.status === 401 || response.status === 403) {
    localStorage.removeItem(TOKEN_KEY);
    throw new NeedsToken("That token was refused: ask for a new one (citriage tokens create).");
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || `HTTP ${response.status}`);
  return body;
}

const seg = (value) => encodeURIComponent(value);

// ---- views -----------------------------------------------------------------------------------

function tokenForm(message) {
  const input = el("input", { type: "password", id: "token", name: "token", autocomplete: "off", required: true,
    placeholder: "citr_…" });
  const form = el(
    "form",
    { class: "token", onsubmit: (event) => {
      event.preventDefault();
      localStorage.setItem(TOKEN_KEY, input.value.trim());
      render();
    } },
    el("h1", { text: "API token" }),
    el("p", { class: message ? "error" : "muted", text: message ||
      "The dashboard reads the query API with a token (citriage tokens create; citriage serve writes one to out/api-token). This browser keeps it." }),
    el("label", { for: "token", text: "Token" }),
    input,
    el("button", { type: "submit", text: "Use this token" })
  );
  show(form);
  input.focus();
}

async function runsView(params) {
  const filters = {
    job: params.get("job") || "", project: params.get("project") || "", verdict: params.get("verdict") || "",
    change: params.get("change") || "",
  };
  const inputs = {
    job: el("input", { name: "job", value: filters.job, size: 18 }),
    project: el("input", { name: "project", value: filters.project, size: 16 }),
    change: el("input", { name: "change", value: filters.change, size: 8 }),
    verdict: el("select", { name: "verdict" }, el("option", { value: "", text: "any" }),
      VERDICTS.map((v) => el("option", { value: v, text: v.replace("_", " "), selected: v === filters.verdict }))),
  };
  const form = el(
    "form",
    { class: "filters", onsubmit: (event) => {
      event.preventDefault();
      const query = new URLSearchParams();
      for (const [name, input] of Object.entries(inputs)) if (input.value) query.set(name, input.value);
      location.hash = `#/runs?${query}`;
    } },
    Object.entries(inputs).map(([name, input]) => el("label", {}, name, input)),
    el("button", { type: "submit", text: "Filter" })
  );
  const body = el("tbody");
  const more = el("button", { class: "more", type: "button", text: "More", hidden: true });
  const rows = (page) => {
    for (const run of page.items) {
      body.append(el("tr", { "data-run": run.run_id },
        el("td", {}, el("a", { href: `#/run/${seg(run.run_id)}`, title: "the run's report" }, verdict(run.verdict))),
        el("td", {}, route(`#/job/${seg(run.job)}?source=${seg(run.source)}`, run.job)),
        el("td", { class: "hide-narrow" }, route(`#/run/${seg(run.run_id)}`, run.run_id)),
        el("td", { class: "hide-narrow", text: run.project || "" }),
        el("td", { text: when(run.when) }),
        el("td", { class: "num", text: `${run.tests.failed}/${run.tests.total}` }),
        el("td", { class: "hide-narrow" }, link(run.log_url, "logs"))));
    }
    more.hidden = !page.cursor;
    more.onclick = async () => rows(await api("/runs", { ...filters, cursor: page.cursor }));
  };
  const page = await api("/runs", filters);
  show(el("h1", { text: "Runs" }), form,
    el("div", { class: "scroll" }, el("table", { id: "runs" },
      el("thead", {}, el("tr", {}, ["verdict", "job", "run", "project", "ended", "failed", "logs"].map((h, i) =>
        el("th", { text: h, class: [2, 3, 6].includes(i) ? "hide-narrow" : null })))), body)),
    more);
  rows(page);
  if (!page.items.length) body.append(el("tr", {}, el("td", { colspan: 7, class: "muted", text: "No run matches." })));
}

async function runView(runId) {
  const report = await api(`/runs/${seg(runId)}`);
  const run = report.run;
  const facts = el("dl", { class: "facts" },
    el("dt", { text: "verdict" }), el("dd", {}, verdict(report.verdict), " ", report.verdict_reason || ""),
    el("dt", { text: "job" }), el("dd", {}, route(`#/job/${seg(run.job)}?source=${seg(run.source)}`, run.job)),
    el("dt", { text: "source" }), el("dd", { text: run.source }),
    el("dt", { text: "build" }), el("dd", { text: run.build_id }),
    run.project ? [el("dt", { text: "project" }), el("dd", { text: run.project })] : [],
    run.change_url ? [el("dt", { text: "change" }), el("dd", {}, link(run.change_url, run.change || run.change_url))] : [],
    el("dt", { text: "ended" }), el("dd", { text: when(run.end_time || report.analyzed_at) }),
    el("dt", { text: "tests" }), el("dd", { text: `${report.tests.failed} failed of ${report.tests.total}, ${report.tests.skipped} skipped` }),
    el("dt", { text: "logs" }), el("dd", {}, link(run.log_url, run.log_url)));
  const groups = [["new", "New failures"], ["known", "Known issues"], ["infra", "Infrastructure"]];
  const sections = groups.map(([cls, title]) => {
    const failures = report.failures.filter((f) => f.classification === cls);
    if (!failures.length) return null;
    return [el("h2", { text: `${title} (${failures.length})` }), failures.map((f) => el("div", { class: `failure ${cls}` },
      el("div", {}, el("span", { class: "test", text: f.test_id }), f.env ? el("span", { class: "muted", text: ` (${f.env})` }) : null),
      f.known_issue ? el("div", {}, link(f.known_issue.bug_url, `${f.known_issue.id}: ${f.known_issue.title}`)) : null,
      f.message ? el("pre", { text: f.message }) : null,
      f.evidence.filter((e) => e.excerpt).slice(0, 2).map((e) =>
        el("div", { class: "muted", text: `${e.file || ""}${e.line ? ":" + e.line : ""} ${e.excerpt}` })),
      route(`#/test/${seg(f.test_id)}`, "history")))];
  });
  const unlisted = (report.unlisted || []).map((g) => el("div", { class: `failure ${g.classification}` },
    el("div", { text: `${g.count} more ${g.classification} failures: ${g.message || ""}` }),
    el("div", { class: "muted", text: (g.examples || []).join(", ") })));
  const infra = (report.infra || []).map((i) => el("div", { class: "failure infra" },
    el("div", { text: `${i.category} (${i.rule})` }), el("pre", { text: `${i.file || ""}${i.line ? ":" + i.line : ""} ${i.excerpt}` })));
  const hits = (report.log_hits || []).map((h) => el("div", { class: "failure known" },
    link(h.issue.bug_url, `${h.issue.id}: ${h.issue.title}`), el("pre", { text: h.excerpt })));
  show(el("h1", {}, `${run.job} `, verdict(report.verdict)), facts, sections,
    unlisted.length ? [el("h2", { text: "Not listed one by one" }), unlisted] : [],
    infra.length ? [el("h2", { text: "Infrastructure findings" }), infra] : [],
    hits.length ? [el("h2", { text: "Known issues in the logs" }), hits] : [],
    report.notes.length ? [el("h2", { text: "Notes" }), el("ul", {}, report.notes.map((n) => el("li", { text: n })))] : [],
    Object.keys(report.components || {}).length ? [el("h2", { text: "Components" }),
      table(["component", "version"], Object.entries(report.components).map(([k, v]) => el("tr", {}, el("td", { text: k }), el("td", { text: v }))))] : []);
}

async function jobsView() {
  const page = await api("/jobs", { limit: 200 });
  const rows = page.items.map((job) => {
    const strip = el("div", { class: "strip", "data-job": job.job });
    api(`/jobs/${seg(job.job)}/history`, { source: job.source, limit: GRID_RUNS }).then((history) => {
      strip.replaceChildren(...history.items.map((r) =>
        el("a", { class: r.verdict, href: `#/run/${seg(r.run_id)}`, title: `${r.verdict} ${when(r.when)}` })));
    }).catch(() => {});
    return el("tr", {},
      el("td", {}, route(`#/job/${seg(job.job)}?source=${seg(job.source)}`, job.job)),
      el("td", { class: "hide-narrow", text: job.source }),
      el("td", {}, verdict(job.last_run.verdict)),
      el("td", { class: "num", text: job.pass_rate === null ? "–" : `${Math.round(job.pass_rate * 100)}%` }),
      el("td", {}, strip));
  });
  show(el("h1", { text: "Jobs" }), rows.length ? table(["job", "source", "last", "passed", "recent runs (newest first)"], rows)
    : el("p", { class: "muted", text: "No job has been analysed yet." }));
}

async function jobView(job, params) {
  const history = await api(`/jobs/${seg(job)}/history`, { source: params.get("source"), limit: GRID_RUNS });
  const runs = history.items;
  const tests = [...new Set(runs.flatMap((r) => Object.keys(r.failed || {})))].sort();
  const cell = (run, test) => {
    const failed = (run.failed || {})[test];
    const state = failed ? failed.classification : run.has_results && !run.failed_truncated ? "passed" : "unknown";
    return el("td", { class: `cell ${state}`, title: `${state} in ${run.run_id}` },
      el("a", { href: `#/run/${seg(run.run_id)}`, "aria-label": `${state} in ${run.run_id}` }));
  };
  const head = el("tr", {}, el("th", { text: "test \\ run (newest first)" }), runs.map((r) =>
    el("th", { class: "run" }, el("div", { class: "strip" },
      el("a", { class: r.verdict, href: `#/run/${seg(r.run_id)}`, title: `${r.verdict} ${when(r.when)}` })))));
  const rows = tests.map((test) => el("tr", {}, el("td", { class: "test" }, route(`#/test/${seg(test)}`, test)), runs.map((r) => cell(r, test))));
  show(el("h1", { text: job }),
    el("p", { class: "muted", text: `${runs.length} most recent runs; a row per test that failed in one of them.` }),
    el("div", { class: "scroll" }, el("table", { class: "grid", id: "grid" }, el("thead", {}, head), el("tbody", {}, rows))),
    tests.length ? null : el("p", { class: "muted", text: "No test failed in these runs." }));
}

async function testView(testId) {
  const history = await api(`/tests/${seg(testId)}/history`, { limit: 50 });
  show(el("h1", { text: testId }),
    el("h2", { text: "Failure rate per job (last 20 runs with results)" }),
    table(["job", "source", "failed", "runs", "rate"], history.jobs.map((j) => el("tr", {},
      el("td", {}, route(`#/job/${seg(j.job)}?source=${seg(j.source)}`, j.job)), el("td", { text: j.source }),
      el("td", { class: "num", text: j.failed }), el("td", { class: "num", text: j.runs }),
      el("td", { class: "num", text: j.failure_rate === null ? "–" : `${Math.round(j.failure_rate * 100)}%` })))),
    el("h2", { text: "Runs it failed in" }),
    table(["ended", "job", "run", "as"], history.failures.map((f) => el("tr", {},
      el("td", { text: when(f.when) }), el("td", { text: f.job }), el("td", {}, route(`#/run/${seg(f.run_id)}`, f.run_id)),
      el("td", {}, f.known_issue ? route(`#/known-issue/${seg(f.known_issue)}`, f.known_issue) : f.classification)))));
}

async function knownIssuesView() {
  const issues = await api("/known-issues");
  show(el("h1", { text: "Known issues" }), issues.length ? table(["id", "title", "bug", "hits", "runs", "last hit"],
    issues.map((s) => el("tr", {},
      el("td", {}, route(`#/known-issue/${seg(s.issue.id)}`, s.issue.id)), el("td", { text: s.issue.title }),
      el("td", { class: "hide-narrow" }, link(s.issue.bug_url, "bug")), el("td", { class: "num", text: s.stats.hits || 0 }),
      el("td", { class: "num", text: s.stats.runs_hit || 0 }), el("td", { text: when(s.stats.last_hit_at) }))))
    : el("p", { class: "muted", text: "No signature yet (citriage known-issues add)." }));
}

function chart(hits, days) {
  // Hits per day over the last `days` days, as bars (elastic-recheck's graph, smaller).
  const counts = new Array(days).fill(0);
  const now = new Date();
  const endOfToday = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) + 86400000;
  for (const hit of hits) {
    const daysAgo = Math.floor((endOfToday - Date.parse(hit.when)) / 86400000);
    if (daysAgo >= 0 && daysAgo < days) counts[days - 1 - daysAgo] += 1;
  }
  const max = Math.max(1, ...counts);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "chart");
  svg.setAttribute("viewBox", `0 0 ${days * 10} 50`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `runs hit per day, last ${days} days`);
  const background = document.createElementNS(ns, "rect");
  background.setAttribute("class", "bg");
  background.setAttribute("width", days * 10);
  background.setAttribute("height", 50);
  svg.append(background);
  counts.forEach((count, i) => {
    const bar = document.createElementNS(ns, "rect");
    const height = (count / max) * 46;
    bar.setAttribute("class", "bar");
    bar.setAttribute("x", i * 10 + 1);
    bar.setAttribute("width", 8);
    bar.setAttribute("y", 50 - height);
    bar.setAttribute("height", height);
    bar.setAttribute("data-count", count);
    const title = document.createElementNS(ns, "title");
    title.textContent = `${count} run(s), ${days - 1 - i} day(s) ago`;
    bar.append(title);
    svg.append(bar);
  });
  return el("figure", { class: "chart" }, svg,
    el("figcaption", { class: "muted", text: `${days} days ago … today; at most ${max} run(s) a day` }));
}

async function knownIssueView(issueId) {
  const status = await api(`/known-issues/${seg(issueId)}`, { limit: 200 });
  const issue = status.issue;
  show(el("h1", { text: `${issue.id}: ${issue.title}` }),
    el("dl", { class: "facts" },
      el("dt", { text: "bug" }), el("dd", {}, link(issue.bug_url, issue.bug_url)),
      el("dt", { text: "pattern" }), el("dd", {}, el("code", { text: issue.pattern || "" })),
      el("dt", { text: "hits" }), el("dd", { text: `${status.stats.hits || 0} failures in ${status.stats.runs_hit || 0} runs` })),
    el("h2", { text: "Runs hit per day" }), chart(status.recent_hits, 30),
    el("h2", { text: "Runs it explained lately" }),
    table(["ended", "job", "run", "test"], status.recent_hits.map((h) => el("tr", {},
      el("td", { text: when(h.when) }), el("td", { text: h.job }), el("td", {}, route(`#/run/${seg(h.run_id)}`, h.run_id)),
      el("td", { class: "test", text: h.test_id ? `${h.test_id}${h.tests > 1 ? ` (+${h.tests - 1})` : ""}` : "log line" })))));
}

function hours(seconds) {
  const minutes = Math.round(seconds / 60);
  return minutes >= 60 ? `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m` : `${minutes}m`;
}

function timeline(incidents, since, until) {
  // One bar per incident over the period: from its start to its end (or now), open ones red.
  const ns = "http://www.w3.org/2000/svg";
  const span = until - since;
  const height = Math.max(1, incidents.length) * 14 + 4;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "timeline");
  svg.setAttribute("viewBox", `0 0 1000 ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "incidents over the period");
  const background = document.createElementNS(ns, "rect");
  background.setAttribute("class", "bg");
  background.setAttribute("width", 1000);
  background.setAttribute("height", height);
  svg.append(background);
  incidents.forEach((incident, i) => {
    const start = Math.max(since, Date.parse(incident.opened_at));
    const end = Math.min(until, incident.closed_at ? Date.parse(incident.closed_at) : until);
    const bar = document.createElementNS(ns, "rect");
    bar.setAttribute("class", `bar ${incident.state}`);
    bar.setAttribute("x", ((start - since) / span) * 1000);
    // At least a visible mark: a 20-minute outage is a sliver of a month.
    bar.setAttribute("width", Math.max(8, ((end - start) / span) * 1000));
    if (start + ((8 / 1000) * span) > until) bar.setAttribute("x", 992);
    bar.setAttribute("y", i * 14 + 3);
    bar.setAttribute("height", 10);
    bar.setAttribute("data-incident", incident.id);
    const title = document.createElementNS(ns, "title");
    title.textContent = `${incident.category} ${incident.service || ""}: ${when(incident.opened_at)} – ${incident.closed_at ? when(incident.closed_at) : "now"}`;
    bar.append(title);
    svg.append(bar);
  });
  return el("figure", { class: "chart" }, svg,
    el("figcaption", { class: "muted", text: `${when(new Date(since).toISOString())} … now; open incidents in red` }));
}

async function incidentsView() {
  let incidents, report;
  try {
    [incidents, report] = await Promise.all([api("/incidents", { since: "30d" }), api("/incidents/report", { since: "30d" })]);
  } catch (error) {
    if (error instanceof NeedsToken) throw error;
    return show(el("h1", { text: "Incidents" }), el("p", { class: "muted", text: error.message }));
  }
  const until = Date.now();
  const since = until - 30 * 86400000;
  show(el("h1", { text: "Incidents" }),
    el("p", { text: `Last 30 days: ${report.incidents} incident(s), ${hours(report.downtime_seconds)} down, ${report.runs} run(s) hit, ${report.ci_hours_lost.toFixed(1)} CI hours lost.` }),
    incidents.length ? timeline([...incidents].reverse(), since, until) : el("p", { class: "muted", text: "No incident in the last 30 days." }),
    el("h2", { text: "Downtime per service" }),
    table(["category", "service", "incidents", "down", "runs", "CI hours"], report.rows.map((r) => el("tr", {},
      el("td", { text: r.category }), el("td", { text: r.service || "–" }), el("td", { class: "num", text: r.incidents }),
      el("td", { class: "num", text: hours(r.downtime_seconds) }), el("td", { class: "num", text: r.runs }),
      el("td", { class: "num", text: r.ci_hours_lost.toFixed(1) })))),
    el("h2", { text: "Incidents" }),
    table(["opened", "state", "what", "runs", "jobs"], incidents.map((i) => el("tr", { "data-incident": i.id },
      el("td", { text: when(i.opened_at) }), el("td", { text: i.state }),
      el("td", {}, route(`#/incident/${seg(i.id)}`, `${i.category} ${i.service || ""}`)),
      el("td", { class: "num", text: i.run_count }), el("td", { text: i.jobs.join(", ") })))));
}

async function incidentView(incidentId) {
  const incident = await api(`/incidents/${seg(incidentId)}`);
  show(el("h1", { text: `${incident.category} ${incident.service || ""} (${incident.state})` }),
    el("dl", { class: "facts" },
      el("dt", { text: "from" }), el("dd", { text: when(incident.opened_at) }),
      el("dt", { text: "to" }), el("dd", { text: incident.closed_at ? `${when(incident.closed_at)} (${incident.closed_by})` : "still open" }),
      el("dt", { text: "runs hit" }), el("dd", { text: incident.run_count }),
      el("dt", { text: "jobs" }), el("dd", { text: incident.jobs.join(", ") }),
      el("dt", { text: "CI time lost" }), el("dd", { text: hours(incident.ci_seconds_lost) }),
      el("dt", { text: "rules" }), el("dd", { text: incident.rules.join(", ") })),
    el("h2", { text: "Evidence" }), incident.evidence.map((line) => el("pre", { text: line })),
    el("h2", { text: "Runs" }), el("ul", {}, incident.runs.map((id) => el("li", {}, route(`#/run/${seg(id)}`, id)))));
}

async function statusView() {
  const status = await api("/status");
  show(el("h1", { text: "Status" }),
    el("h2", { text: "Queues" }),
    table(["queue", "waiting", "in flight"], status.queues.map((q) => el("tr", {},
      el("td", { text: q.name }), el("td", { class: "num", text: q.waiting }), el("td", { class: "num", text: q.in_flight })))),
    el("h2", { text: "Last run per source" }),
    table(["source", "job", "verdict", "ended"], Object.entries(status.last_run_by_source).map(([source, r]) => el("tr", {},
      el("td", { text: source }), el("td", { text: r.job }), el("td", {}, verdict(r.verdict)), el("td", { text: when(r.when) })))),
    el("h2", { text: "Open incidents" }),
    status.open_incidents.length ? el("ul", {}, status.open_incidents.map((i) => el("li", {},
      route(`#/incident/${seg(i.id)}`, `${i.category} ${i.service || ""}`), ` since ${when(i.opened_at)}, ${i.run_count} run(s)`)))
      : el("p", { class: "muted", text: "None." }),
    el("h2", { text: `Last hour: ${status.analyses_last_hour} analyses` }),
    el("ul", {}, Object.entries(status.verdicts_last_hour).map(([v, n]) => el("li", {}, verdict(v), ` ${n}`))));
}

// ---- routing ---------------------------------------------------------------------------------

async function render() {
  const [path, query] = (location.hash.replace(/^#/, "") || "/runs").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  for (const a of document.querySelectorAll("header nav a")) {
    const section = { job: "jobs", incident: "incidents", run: "runs" }[parts[0]] || parts[0];
    a.classList.toggle("current", a.dataset.view === section);
  }
  if (!localStorage.getItem(TOKEN_KEY)) return tokenForm("");
  show(el("p", { class: "muted", text: "Loading…" }));
  try {
    switch (parts[0]) {
      case "run": return await runView(parts[1]);
      case "jobs": return await jobsView();
      case "job": return await jobView(parts[1], params);
      case "test": return await testView(parts[1]);
      case "known-issues": return await knownIssuesView();
      case "known-issue": return await knownIssueView(parts[1]);
      case "status": return await statusView();
      case "incidents": return await incidentsView();
      case "incident": return await incidentView(parts[1]);
      default: return await runsView(params);
    }
  } catch (error) {
    if (error instanceof NeedsToken) return tokenForm(error.message);
    show(el("h1", { text: "Could not load this" }), el("p", { class: "error", text: error.message }));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("forget-token").addEventListener("click", () => {
    localStorage.removeItem(TOKEN_KEY);
    render();
  });
  window.addEventListener("hashchange", render);
  render();
});
