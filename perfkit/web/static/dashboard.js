/* perfkit dashboard: polls the JSON API and draws tiles, SVG charts and tables.
 * No framework, no CDN, no inline code (the page's CSP allows scripts and styles
 * from this origin only). Every value from the API goes into the page with
 * textContent, never as HTML: endpoint names and alert messages come from
 * request paths and users. */
(function () {
  "use strict";

  var PREFIX = document.body.dataset.prefix || "/perfkit";
  var TOKEN_KEY = "perfkit.token";
  var POLL_MS = 5000;
  var SVG = "http://www.w3.org/2000/svg";
  var H = 170;
  var PAD = { left: 52, right: 10, top: 10, bottom: 22 };
  var MAX_DOTS = 90; // more points than this: draw the line and the latest dot only

  var state = {
    timer: null, paused: false, busy: false, last: null, history: null, failures: 0,
    accessFor: null, // the token GET /api/access was last asked with
    live: [], prev: null, // request rate between two polls: a live line before the first minute ends
    range: 3600, // the charts' time range in seconds (15 min, 1 h, 6 h or 24 h)
    health: null, // the last /health report: the badge also weighs the firing alerts
    historyAt: 0, historyRange: 0, // when and for which range the system history was fetched
    recommendations: null, recommendationsAt: 0,
    querySort: "total_time",
    endpointDetail: null, // {key, users} of the endpoint page shown
  };
  var RANGES = { 900: "last 15 min", 3600: "last 1 h", 21600: "last 6 h", 86400: "last 24 h" };

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  // ---------------------------------------------------------------- formatting
  function isNum(v) { return typeof v === "number" && isFinite(v); }
  function sig3(x) { return String(Number(x.toPrecision(3))); } // 3 significant digits, no "1.50"
  function fmtDur(s) {
    if (!isNum(s)) return "—";
    if (s === 0) return "0";
    if (s < 0.001) return sig3(s * 1e6) + " µs";
    if (s < 1) return sig3(s * 1000) + " ms";
    return sig3(s) + " s";
  }
  function fmtNum(n, digits) {
    if (!isNum(n)) return "—";
    return n.toLocaleString("en", { maximumFractionDigits: digits === undefined ? 1 : digits });
  }
  function fmtPct(n) { return isNum(n) ? fmtNum(n, n < 10 ? 2 : 1) + " %" : "—"; }
  function fmtBytes(n) {
    if (!isNum(n)) return "—";
    var units = ["B", "KB", "MB", "GB", "TB"], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return (i ? n.toFixed(1) : String(n)) + " " + units[i];
  }
  function fmtAgo(seconds) {
    if (!isNum(seconds)) return "—";
    seconds = Math.max(0, seconds);
    if (seconds < 90) return Math.round(seconds) + " s";
    if (seconds < 5400) return Math.round(seconds / 60) + " min";
    if (seconds < 172800) return (seconds / 3600).toFixed(1) + " h";
    return Math.round(seconds / 86400) + " d";
  }
  function toEpoch(v) {
    if (isNum(v)) return v;
    if (typeof v === "string") { var t = Date.parse(v); return isNaN(t) ? null : t / 1000; }
    return null;
  }
  function fmtTime(epoch, withSeconds) {
    if (!isNum(epoch)) return "—";
    var d = new Date(epoch * 1000);
    var hh = String(d.getHours()).padStart(2, "0"), mm = String(d.getMinutes()).padStart(2, "0");
    return withSeconds ? hh + ":" + mm + ":" + String(d.getSeconds()).padStart(2, "0") : hh + ":" + mm;
  }

  // ---------------------------------------------------------------- API access
  function AuthError(message) { this.message = message; }
  function HttpError(status, message, retryAfter) {
    this.status = status; this.message = message; this.retryAfter = retryAfter;
  }

  function api(path, body) {
    var headers = { Accept: "application/json" };
    var token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = "Bearer " + token;
    var init = { headers: headers, cache: "no-store", credentials: "same-origin" };
    if (body !== undefined) {
      init.method = "POST";
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(PREFIX + path, init)
      .then(function (res) {
        return res.json().catch(function () { return null; }).then(function (body) {
          if (res.status === 401) throw new AuthError((body && body.detail) || "a token is needed");
          // /health answers 503 with a full report when critical: still a report
          if (!res.ok && !(path === "/health" && body && body.status)) {
            var detail = body && (body.detail || body.error);
            throw new HttpError(res.status, path + ": HTTP " + res.status + (detail ? " (" + detail + ")" : ""),
              Number(res.headers.get("Retry-After")) || 0);
          }
          return body;
        });
      });
  }

  // ---------------------------------------------------------------- DOM helpers
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svgEl(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  // a route or a query as text with line-break chances after / _ , = & ? and a dot before
  // a letter (never inside 0.05), so a
  // narrow column wraps "/users/{id}/orders" between its parts and not inside a word
  function breakable(text, after) {
    var frag = document.createDocumentFragment();
    String(text).split(after || /(?<=[\/_,=&?])|(?<=\.)(?=[A-Za-z])/).forEach(function (part, i) {
      if (i) frag.appendChild(document.createElement("wbr"));
      frag.appendChild(document.createTextNode(part));
    });
    var span = el("span");
    span.appendChild(frag);
    return span;
  }
  function endpointLink(key) {
    var a = el("a", "ep-link");
    a.href = "#endpoint=" + encodeURIComponent(key);
    a.appendChild(breakable(key));
    return a;
  }
  // "last 24 h" or "since start" when the process is younger than the window
  function windowLabel(snap) {
    var hours = snap.requests.summary.window_hours;
    if (!isNum(hours) || snap.uptime_seconds < hours * 3600) return "since start";
    return "last " + fmtNum(hours, 0) + " h";
  }
  function setWindows(root, text) {
    $all(".window:not(.fixed)", root).forEach(function (w) { w.textContent = "· " + text; });
  }

  function setTile(name, value, sub, level) {
    var tile = $('[data-tile="' + name + '"]');
    $(".value", tile).classList.remove("split");
    tile.classList.remove("ok", "warn", "crit", "off");
    if (level) tile.classList.add(level);
    $(".value", tile).textContent = value;
    var subNode = $(".sub", tile);
    clear(subNode);
    subNode.appendChild(breakable(sub || "", /(?<=_)/)); // PERFKIT_RATE_LIMIT wraps at its _
    tile.dataset.state = level || "";
  }
  function tileOff(name, why) { setTile(name, "not in use", why, "off"); }

  // columns: [{label, get(row) -> text, cls?, bad?(row) -> bool}]
  function fillTable(name, rows, columns, emptyText) {
    var card = $('[data-table="' + name + '"]');
    var body = $("tbody", card);
    clear(body);
    card.dataset.rows = String(rows.length);
    if (!rows.length) {
      var tr = el("tr"), td = el("td", "empty", emptyText);
      td.colSpan = $all("thead th", card).length;
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    rows.forEach(function (row) {
      var tr = el("tr");
      columns.forEach(function (col) {
        var value = col.get(row);
        var td = el("td", col.cls || "");
        if (value instanceof Node) td.appendChild(value); else td.textContent = value;
        if (col.title) td.title = col.title(row);
        if (col.bad && col.bad(row)) td.classList.add("bad");
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  // ---------------------------------------------------------------- charts
  // the top of the y axis: four gridline steps of 1, 2, 2.5 or 5 times a power of ten
  function niceMax(v) {
    if (!isNum(v) || v <= 0) return 1;
    var raw = v / 4, p = Math.pow(10, Math.floor(Math.log10(raw))), steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * p >= raw) return 4 * steps[i] * p;
    return 40 * p;
  }

  /* Draw series [{name, cls, points: [[epochSeconds, value|null], ...]}] into a chart figure.
   * opts: {fmt(value) -> text, yMax?: fixed top, empty: text when there is no point}. */
  function drawChart(name, series, opts) {
    var fig = $('[data-chart="' + name + '"]');
    var plot = $(".plot", fig), legend = $(".legend", fig);
    fig.classList.remove("off");
    clear(plot); clear(legend);
    var W = Math.max(Math.round(plot.clientWidth) || 0, 240);
    var svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": name + " chart" });
    var all = [];
    series.forEach(function (s) { s.points.forEach(function (p) { if (isNum(p[1])) all.push(p); }); });
    fig.dataset.points = String(all.length);
    svg.dataset.points = String(all.length);
    plot.appendChild(svg);
    if (!all.length) {
      var t = svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" });
      t.textContent = opts.empty || "no data yet";
      svg.appendChild(t);
      return;
    }
    var t0 = Math.min.apply(null, all.map(function (p) { return p[0]; }));
    var t1 = Math.max.apply(null, all.map(function (p) { return p[0]; }));
    if (isNum(opts.t0)) { t0 = opts.t0; t1 = Math.max(opts.t1, t1); } // the chosen time range
    if (t1 - t0 < 60) { t0 -= 30; t1 += 30; } // one point: give it a minute of room
    fig.dataset.span = String(Math.round(t1 - t0));
    var iw = W - PAD.left - PAD.right, ih = H - PAD.top - PAD.bottom;
    function x(t) { return PAD.left + ((t - t0) / (t1 - t0)) * iw; }
    var y, grid = [];
    if (opts.log) {
      // log scale: p50 at 2 ms and p99 at 800 ms both stay readable
      var pos = all.map(function (p) { return p[1]; }).filter(function (v) { return v > 0; });
      var lo = Math.floor(Math.log10(pos.length ? Math.min.apply(null, pos) : 1e-3));
      var hi = Math.ceil(Math.log10(pos.length ? Math.max.apply(null, pos) : 1));
      if (hi <= lo) hi = lo + 1;
      y = function (v) {
        var l = Math.log10(Math.max(v, Math.pow(10, lo)));
        return PAD.top + ih - ((Math.min(l, hi) - lo) / (hi - lo)) * ih;
      };
      for (var e = lo; e <= hi; e++) grid.push(Math.pow(10, e));
    } else {
      var yMax = opts.yMax || niceMax(Math.max.apply(null, all.map(function (p) { return p[1]; })) * 1.1);
      y = function (v) { return PAD.top + ih - (Math.min(v, yMax) / yMax) * ih; };
      for (var q = 0; q <= 4; q++) grid.push((yMax * q) / 4);
    }
    fig.dataset.scale = opts.log ? "log" : "linear";

    for (var g = 0; g < grid.length; g++) {
      var gv = grid[g], gy = y(gv);
      svg.appendChild(svgEl("line", { x1: PAD.left, x2: W - PAD.right, y1: gy, y2: gy, class: "gridline" }));
      var label = svgEl("text", { x: PAD.left - 6, y: gy + 3, "text-anchor": "end", class: "axis" });
      label.textContent = opts.fmt(gv);
      svg.appendChild(label);
    }
    [t0, (t0 + t1) / 2, t1].forEach(function (tt, i) {
      var lx = svgEl("text", {
        x: x(tt), y: H - 6, class: "axis", "text-anchor": ["start", "middle", "end"][i],
      });
      lx.textContent = fmtTime(tt, t1 - t0 < 600); // seconds too when the span is short
      svg.appendChild(lx);
    });

    series.forEach(function (s) {
      var pts = s.points.filter(function (p) { return isNum(p[1]); });
      var d = "", gap = true;
      s.points.forEach(function (p) {
        if (!isNum(p[1])) { gap = true; return; } // no data that minute: break the line
        d += (gap ? "M" : "L") + x(p[0]).toFixed(1) + " " + y(p[1]).toFixed(1) + " ";
        gap = false;
      });
      var g2 = svgEl("g", { "data-series": s.name, "data-points": pts.length });
      if (d) g2.appendChild(svgEl("path", { d: d.trim(), class: "line s-" + s.cls }));
      var dots = pts.length > MAX_DOTS ? pts.slice(-1) : pts;
      dots.forEach(function (p) {
        var c = svgEl("circle", { cx: x(p[0]).toFixed(1), cy: y(p[1]).toFixed(1), r: 2.5, class: "dot s-" + s.cls });
        var tip = svgEl("title");
        tip.textContent = s.name + " " + fmtTime(p[0], true) + ": " + opts.fmt(p[1]);
        c.appendChild(tip);
        g2.appendChild(c);
      });
      svg.appendChild(g2);
      var li = el("li");
      li.appendChild(el("span", "swatch s-" + s.cls));
      li.appendChild(document.createTextNode(s.name + " "));
      li.appendChild(el("b", "", pts.length ? opts.fmt(pts[pts.length - 1][1]) : "—"));
      legend.appendChild(li);
    });
  }

  function chartOff(name, why) {
    var fig = $('[data-chart="' + name + '"]');
    var plot = $(".plot", fig);
    clear(plot); clear($(".legend", fig));
    fig.classList.add("off");
    fig.dataset.points = "0";
    plot.textContent = "not in use — " + why;
  }

  // ---------------------------------------------------------------- rendering
  function renderHealth(health) { state.health = health; renderBadge(); }

  // the header's status: the worse of /health and the alerts firing now, so the badge
  // never says healthy above a critical alert on the same page
  var RANK = { unknown: 0, healthy: 1, info: 1, warning: 2, critical: 3 };
  function renderBadge() {
    var badge = $("#health"), health = state.health, snap = state.last;
    var status = (health && health.status) || "unknown";
    var notes = ["health: " + status];
    Object.keys((health && health.checks) || {}).forEach(function (k) {
      var c = health.checks[k] || {};
      notes.push(k + ": " + (c.status || "?") + (c.error ? " (" + c.error + ")" : ""));
      (c.warnings || []).forEach(function (w) { notes.push("  " + w); });
    });
    var active = (snap && snap.alerts && !snap.alerts.error && snap.alerts.active) || [];
    active.forEach(function (a) {
      var sev = a.severity === "critical" ? "critical" : a.severity === "warning" ? "warning" : null;
      if (sev && RANK[sev] > RANK[status]) status = sev;
      notes.push("alert " + a.name + ": " + a.severity + " firing");
    });
    badge.className = "badge badge-" + status;
    badge.dataset.status = status;
    badge.textContent = status;
    badge.title = notes.join("\n");
  }

  // Tile colours come from the alert rules in force (snapshot.thresholds), so a
  // tile turns amber or red exactly when its alert would; no thresholds, no colour.
  function toneOf(snap, metric, value, fallback) {
    var t = snap.thresholds && snap.thresholds[metric];
    if (!t || !isNum(value)) return fallback === undefined ? "" : fallback;
    var c = t.comparison;
    function past(limit) {
      if (!isNum(limit)) return false;
      return c === "<" ? value < limit : c === "<=" ? value <= limit : c === ">" ? value > limit : value >= limit;
    }
    return past(t.critical) ? "crit" : past(t.warning) ? "warn" : "ok";
  }

  function renderTiles(snap) {
    var req = snap.requests.summary, q = snap.queries && snap.queries.summary;
    setWindows($("#overview .tiles"), windowLabel(snap));
    setTile("requests", fmtNum(req.count, 0), fmtNum(req.rate, 2) + " req/s average · " + req.in_progress + " in flight now");
    renderErrorTile("errors", req, toneOf(snap, "requests.error_rate", req.error_rate));
    setTile("latency", fmtDur(req.p95), "p50 " + fmtDur(req.p50) + " · p99 " + fmtDur(req.p99) + " · " + fmtNum(req.slow, 0) + " slow");
    if (q) {
      setTile("queries", fmtNum(q.count, 0), "p95 " + fmtDur(q.p95) + " · " + fmtPct(q.slow_rate) + " slow",
        toneOf(snap, "queries.slow_rate", q.slow_rate));
    }

    var alerts = snap.alerts;
    if (!alerts || alerts.error) tileOff("alerts", alerts ? alerts.error : "no alert manager registered");
    else {
      var active = alerts.active || [];
      var crit = active.filter(function (a) { return a.severity === "critical"; }).length;
      setTile("alerts", String(active.length), crit ? crit + " critical" : active.length ? "warnings only" : "all quiet",
        crit ? "crit" : active.length ? "warn" : "ok");
    }

    var cache = snap.cache;
    if (!cache || cache.error) tileOff("cache", cache ? cache.error : "no cache registered");
    else if (!cache.total_requests) setTile("cache", "—", "no lookups yet · " + (cache.backend || cache.cache_type || ""));
    else {
      setTile("cache", fmtPct(cache.hit_rate), fmtNum(cache.hits, 0) + " hits · " + fmtNum(cache.misses, 0) +
        " misses · " + (cache.backend || cache.cache_type || ""), toneOf(snap, "cache.hit_rate", cache.hit_rate));
    }

    var b = snap.backups;
    if (!b || b.error) tileOff("backups", b ? b.error : "set PERFKIT_DATABASE_URL");
    else {
      var newest = b.newest && toEpoch(b.newest.timestamp);
      var failed = toEpoch(b.last_failure);
      var now = toEpoch(snap.generated_at) || Date.now() / 1000;
      var sub = newest ? "newest " + fmtAgo(now - newest) + " ago · " + fmtBytes(b.total_size_bytes) : "none yet";
      var level = "ok";
      if (failed && (!newest || failed > newest)) { sub = "last run failed: " + (b.last_error || "error"); level = "crit"; }
      else if (!newest) level = "warn";
      setTile("backups", fmtNum(b.total_backups, 0), sub, level);
    }

    var sys = snap.system;
    if (!sys || sys.error || !sys.current) tileOff("system", sys ? sys.error : "no system monitor registered");
    else {
      var m = sys.current, hs = (sys.health && sys.health.status) || "";
      setTile("system", fmtNum(m.cpu_percent, 0) + " %",
        "RAM " + fmtNum(m.ram_percent, 0) + " % · disk " + fmtNum(m.disk_percent, 0) + " %",
        hs === "critical" ? "crit" : hs === "warning" ? "warn" : "ok");
    }
  }

  // 5xx and 4xx side by side: a page of 404s is not healthy just because nothing crashed
  var CLIENT_WARN = 20; // % of 4xx that turns the tile amber (no alert rule covers 4xx)
  function renderErrorTile(name, row, tone5xx) {
    var count = row.count || 0, e4 = count ? (100 * (row.client_errors || 0)) / count : 0;
    var e5 = isNum(row.error_rate) ? row.error_rate : 0;
    var tone = tone5xx || (count ? "ok" : "");
    if (e4 >= CLIENT_WARN && tone !== "crit") tone = "warn";
    setTile(name, "", fmtNum(row.errors, 0) + " 5xx · " + fmtNum(row.client_errors, 0) + " 4xx of " + fmtNum(count, 0), tone);
    var value = $('[data-tile="' + name + '"] .value');
    clear(value);
    value.classList.add("split");
    [[e5, "5xx"], [e4, "4xx"]].forEach(function (part, i) {
      var span = el("span", "part", fmtPct(part[0]) + " ");
      span.appendChild(el("small", "", part[1]));
      if (i) value.appendChild(document.createTextNode(" "));
      value.appendChild(span);
    });
  }

  function renderCharts(snap) {
    var trends = snap.requests.trends || [];
    var now = toEpoch(snap.generated_at) || Date.now() / 1000;
    var started = toEpoch(snap.started_at) || 0;
    var cutoff = now - state.range;
    var span = { t0: cutoff, t1: now };
    $all(".range-label").forEach(function (l) { l.textContent = RANGES[state.range]; });
    var rows = trends.filter(function (r) { return r.timestamp >= cutoff - 60; });
    // per-second rate: a minute's count over the seconds of it that have passed since start
    var byMinute = {};
    rows.forEach(function (r) { byMinute[r.timestamp] = r; });
    var rate = [], p50 = [], p95 = [], p99 = [], e5 = [], e4 = [];
    if (rows.length) {
      for (var t = rows[0].timestamp; t <= rows[rows.length - 1].timestamp; t += 60) {
        var r = byMinute[t];
        var secs = Math.min(t + 60, now) - Math.max(t, started); // of this minute, while up
        var at = Math.min(t + 30, now); // a minute's figures belong to its middle (or to now)
        rate.push([at, r ? r.count / Math.max(secs, 1) : 0]);
        p50.push([at, r ? r.p50 : null]); p95.push([at, r ? r.p95 : null]); p99.push([at, r ? r.p99 : null]);
        e5.push([at, r ? r.error_rate : null]);
        e4.push([at, r && r.count ? (100 * (r.client_errors || 0)) / r.count : null]);
      }
    }
    var live = state.live.filter(function (p) { return p[0] >= cutoff; });
    drawChart("rate", [
      { name: "minute average", cls: "rate", points: rate },
      { name: "live (between refreshes)", cls: "live", points: live },
    ],
      { fmt: function (v) { return fmtNum(v, v < 10 ? 2 : 1); }, empty: "no requests yet", t0: span.t0, t1: span.t1 });
    drawLatency("latency", p50, p95, p99, span);
    drawErrors("errors", e5, e4, span);

    if (!snap.system || snap.system.error) {
      chartOff("system", "no system monitor registered");
    } else {
      var hist = (state.history || []).slice();
      if (!hist.length && snap.system.current) hist = [snap.system.current];
      var step = Math.max(1, Math.ceil(hist.length / 240)); // keep the SVG light
      var sample = hist.filter(function (_, i) { return i % step === 0 || i === hist.length - 1; });
      function line(key) { return sample.map(function (m) { return [toEpoch(m.timestamp), m[key]]; }); }
      drawChart("system", [
        { name: "CPU now", cls: "cpu", points: line("cpu_percent") },
        { name: "RAM now", cls: "ram", points: line("ram_percent") },
        { name: "disk now", cls: "disk", points: line("disk_percent") },
      ], { fmt: function (v) { return fmtNum(v, 0) + "%"; }, yMax: 100, empty: "no samples yet", t0: span.t0, t1: span.t1 });
    }
  }

  // legends name their window: the latest minute, not the tiles' whole window
  function drawLatency(name, p50, p95, p99, span) {
    drawChart(name, [
      { name: "p50 latest minute", cls: "p50", points: p50 },
      { name: "p95", cls: "p95", points: p95 },
      { name: "p99", cls: "p99", points: p99 },
    ], { fmt: fmtDur, log: true, empty: "no requests yet", t0: span.t0, t1: span.t1 });
  }
  function drawErrors(name, e5, e4, span) {
    drawChart(name, [
      { name: "5xx latest minute", cls: "c5xx", points: e5 },
      { name: "4xx", cls: "c4xx", points: e4 },
    ], { fmt: function (v) { return fmtNum(v, v < 1 ? 2 : 1) + "%"; }, empty: "no requests yet", t0: span.t0, t1: span.t1 });
  }

  function endpointKey(row) { return row.key || (row.method + " " + row.endpoint); }

  function renderTables(snap) {
    var alerts = snap.alerts;
    if (!alerts || alerts.error) {
      fillTable("alerts", [], [], alerts ? "unavailable: " + alerts.error : "not in use — no alert manager registered");
    } else {
      fillTable("alerts", alerts.active || [], [
        { get: function (a) { return el("span", "sev sev-" + a.severity, a.severity); } },
        { get: function (a) { return breakable(a.name); }, cls: "key" },
        { get: function (a) { return breakable(a.message || ""); } },
        { get: function (a) { return isNum(a.value) ? fmtNum(a.value, 3) : "—"; }, cls: "num opt" },
        { get: function (a) { return isNum(a.threshold) ? fmtNum(a.threshold, 3) : "—"; }, cls: "num opt" },
        { get: function (a) { return fmtTime(toEpoch(a.started_at), true); }, cls: "time opt" },
      ], "no active alerts");
    }
    var endpoints = (snap.requests.endpoints || []).slice(0, 10);
    setWindows($("#overview .tables"), windowLabel(snap));
    fillTable("top", endpoints, [
      { get: function (r) { return endpointLink(endpointKey(r)); }, cls: "key" },
      { get: function (r) { return fmtNum(r.count, 0); }, cls: "num" },
      { get: function (r) { return fmtPct(r.error_rate); }, cls: "num", bad: function (r) { return r.errors > 0; } },
      { get: function (r) { return fmtDur(r.p50); }, cls: "num opt" },
      { get: function (r) { return fmtDur(r.p95); }, cls: "num" },
      { get: function (r) { return fmtDur(r.p99); }, cls: "num opt" },
      { get: function (r) { return isNum(r.avg_request_bytes) ? fmtBytes(r.avg_request_bytes) : "—"; }, cls: "num opt" },
      { get: function (r) { return r.count ? fmtBytes(r.bytes_sent / r.count) : "—"; }, cls: "num opt" },
    ], "no requests yet");
    var orgs = ((snap.queries && snap.queries.organizations) || []).slice(0, 10);
    fillTable("query-orgs", orgs, [
      { get: function (r) { return r.id === OTHER ? "(others)" : breakable(r.id); }, cls: "key" },
      { get: function (r) { return fmtNum(r.count, 0); }, cls: "num" },
      { get: function (r) { return fmtNum(r.slow, 0); }, cls: "num", bad: function (r) { return r.slow > 0; } },
      { get: function (r) { return fmtNum(r.errors, 0); }, cls: "num opt", bad: function (r) { return r.errors > 0; } },
      { get: function (r) { return fmtDur(r.avg); }, cls: "num opt" },
      { get: function (r) { return fmtDur(r.total_time); }, cls: "num" },
    ], "no queries from an identified organization yet");
    fillTable("slowest", (snap.requests.slowest_endpoints || []).slice(0, 10), [
      { get: function (r) { return endpointLink(endpointKey(r)); }, cls: "key" },
      { get: function (r) { return fmtDur(r.p95); }, cls: "num" },
      { get: function (r) { return fmtDur(r.p99); }, cls: "num" },
      { get: function (r) { return fmtDur(r.max); }, cls: "num opt" },
      { get: function (r) { return fmtNum(r.slow, 0); }, cls: "num", bad: function (r) { return r.slow > 0; } },
      { get: function (r) { return fmtNum(r.count, 0); }, cls: "num opt" },
    ], "no requests yet");
    var slowReq = (snap.requests.slow || []).slice(-10).reverse();
    fillTable("slow-requests", slowReq, [
      { get: function (r) { return fmtTime(toEpoch(r.timestamp), true); }, cls: "time" },
      { get: function (r) { return breakable(r.method + " " + (r.path || r.endpoint)); }, cls: "key",
        title: function (r) { return "route " + r.endpoint + (r.request_id ? " · request id " + r.request_id : ""); } },
      { get: function (r) { return String(r.status); }, cls: "num", bad: function (r) { return r.status >= 500; } },
      { get: function (r) { return fmtDur(r.duration); }, cls: "num" },
    ], "no slow requests");
    var slowQ = ((snap.queries && snap.queries.slow) || []).slice(-10).reverse();
    fillTable("slow-queries", slowQ, [
      { get: function (r) { return fmtTime(toEpoch(r.timestamp), true); }, cls: "time" },
      { get: function (r) { return breakable(r.fingerprint); }, cls: "key" },
      { get: function (r) { return r.operation || ""; }, cls: "opt" },
      { get: function (r) { return fmtDur(r.duration); }, cls: "num" },
    ], "no slow queries");
    renderQueries(snap);
    renderBackups(snap);
    renderRecommendations();
  }

  // every query fingerprint, sortable by count, p95, total time or errors
  var QUERY_ROWS = 50;
  function renderQueries(snap) {
    var rows = ((snap.queries && snap.queries.fingerprints) || []).slice();
    var key = state.querySort;
    rows.sort(function (a, b) { return (b[key] || 0) - (a[key] || 0) || (a.fingerprint < b.fingerprint ? -1 : 1); });
    $all('[data-table="queries"] th').forEach(function (th) {
      var button = $("button", th);
      if (button) th.setAttribute("aria-sort", button.dataset.sort === key ? "descending" : "none");
    });
    $("#queries-info").textContent = rows.length > QUERY_ROWS ? "· top " + QUERY_ROWS + " of " + rows.length : "";
    fillTable("queries", rows.slice(0, QUERY_ROWS), [
      { get: function (r) { return breakable(r.fingerprint); }, cls: "key" },
      { get: function (r) { return r.operation || ""; }, cls: "opt" },
      { get: function (r) { return fmtNum(r.count, 0); }, cls: "num" },
      { get: function (r) { return fmtDur(r.p95); }, cls: "num" },
      { get: function (r) { return fmtDur(r.total_time); }, cls: "num" },
      { get: function (r) { return fmtNum(r.errors || 0, 0); }, cls: "num", bad: function (r) { return r.errors > 0; } },
    ], "no queries recorded yet");
  }

  // each backup was checked when it was made (the engine's own check and its sha256)
  // before it was listed; `perfkit backup verify` checks it again on demand
  function renderBackups(snap) {
    var b = snap.backups;
    if (!b || b.error) {
      fillTable("backups", [], [], b ? "unavailable: " + b.error : "not in use — set PERFKIT_DATABASE_URL");
      return;
    }
    var now = toEpoch(snap.generated_at) || Date.now() / 1000;
    fillTable("backups", (b.backups || []).slice(0, 10), [
      { get: function (r) { return breakable(r.filename); }, cls: "key" },
      { get: function (r) { return fmtBytes(r.size_bytes); }, cls: "num" },
      { get: function (r) { var t = toEpoch(r.timestamp); return t ? fmtAgo(now - t) : "—"; }, cls: "num" },
      { get: function (r) { return r.sha256 ? "✓ when made" : "no checksum"; },
        title: function (r) { return r.sha256 ? "sha256 " + r.sha256 + (r.encrypted ? " · encrypted" : "") : ""; },
        bad: function (r) { return !r.sha256; } },
    ], "no backups yet");
  }

  function renderRecommendations() {
    var list = $("#recommendations"), recs = state.recommendations;
    clear(list);
    var items = recs === null ? ["…"] : recs.error ? ["unavailable: " + recs.error] :
      recs.length ? recs : ["Nothing to recommend: every figure is within its levels."];
    list.dataset.items = String(recs && recs.length ? recs.length : 0);
    items.forEach(function (text) { list.appendChild(el("li", recs && recs.length ? "" : "muted", text)); });
  }

  // ---------------------------------------------------------------- one endpoint's page
  function currentEndpoint() {
    var m = /^#endpoint=(.+)$/.exec(location.hash);
    if (!m) return null;
    try { return decodeURIComponent(m[1]); } catch (e) { return null; }
  }

  // the endpoint page's top users come from GET /api/requests/endpoints/{key}
  function loadEndpointDetail() {
    var key = currentEndpoint();
    if (key === null) return null;
    var path = "/api/requests/endpoints/" + encodeURIComponent(key).replace(/%2F/g, "/");
    return api(path).then(function (row) {
      state.endpointDetail = { key: key, users: row.users || [] };
    }, function (err) {
      if (err instanceof AuthError) throw err;
      state.endpointDetail = { key: key, users: [] }; // no request to it yet: a 404
    });
  }

  function renderEndpoint(snap) {
    var key = currentEndpoint(), view = $("#endpoint-view");
    $("#overview").hidden = key !== null;
    view.hidden = key === null;
    if (key === null) return;
    $("#endpoint-title").textContent = "";
    $("#endpoint-title").appendChild(breakable(key));
    var row = (snap.requests.endpoints || []).filter(function (r) { return endpointKey(r) === key; })[0];
    var missing = $("#endpoint-missing");
    missing.hidden = !!row;
    missing.textContent = row ? "" : "No requests to " + key + " in this window.";
    row = row || { count: 0, errors: 0, client_errors: 0, statuses: {} };
    view.dataset.endpoint = key;
    setWindows(view, windowLabel(snap));
    var sizes = row.count ? " · in " + fmtBytes(row.avg_request_bytes || 0) + " · out " + fmtBytes((row.bytes_sent || 0) / row.count) : "";
    setTile("ep-requests", fmtNum(row.count, 0), fmtNum(row.slow || 0, 0) + " slow" + sizes);
    renderErrorTile("ep-errors", row, toneOf(snap, "requests.error_rate", row.error_rate));
    setTile("ep-p50", fmtDur(row.p50), "median");
    setTile("ep-p95", fmtDur(row.p95), "p90 " + fmtDur(row.p90));
    setTile("ep-p99", fmtDur(row.p99), "avg " + fmtDur(row.avg));
    setTile("ep-max", fmtDur(row.max), "min " + fmtDur(row.min));
    var slow = (snap.requests.slow || []).filter(function (r) { return r.method + " " + r.endpoint === key; });
    fillTable("ep-slow", slow.slice(-20).reverse(), [
      { get: function (r) { return fmtTime(toEpoch(r.timestamp), true); }, cls: "time" },
      { get: function (r) { return breakable(r.path || r.endpoint); }, cls: "key" },
      { get: function (r) { return String(r.status); }, cls: "num", bad: function (r) { return r.status >= 500; } },
      { get: function (r) { return fmtDur(r.duration); }, cls: "num" },
      { get: function (r) { return r.user_id || "—"; }, cls: "opt" },
    ], "no slow request kept for this endpoint");
    var detail = state.endpointDetail;
    var users = detail && detail.key === key ? detail.users : null;
    fillTable("ep-users", users || [], [
      { get: function (u) { return breakable(u.id === OTHER ? "(others)" : u.id); }, cls: "key" },
      { get: function (u) { return fmtNum(u.count, 0); }, cls: "num" },
      { get: function (u) { return fmtNum(u.errors, 0); }, cls: "num", bad: function (u) { return u.errors > 0; } },
      { get: function (u) { return fmtDur(u.avg); }, cls: "num opt" },
      { get: function (u) { return fmtDur(u.max); }, cls: "num" },
    ], users ? "no identified user (see the identify hook)" : "…");
    var statuses = Object.keys(row.statuses || {}).map(function (code) {
      return { code: code, count: row.statuses[code] };
    }).sort(function (a, b) { return b.count - a.count; });
    fillTable("ep-statuses", statuses, [
      { get: function (r) { return r.code; }, cls: "time", bad: function (r) { return Number(r.code) >= 500; } },
      { get: function (r) { return fmtNum(r.count, 0); }, cls: "num" },
      { get: function (r) { return row.count ? fmtPct((100 * r.count) / row.count) : "—"; }, cls: "num" },
    ], "no requests");
  }

  // ---------------------------------------------------------------- request guards
  var GUARDS_HOWTO = "set PERFKIT_RATE_LIMIT (e.g. 100/minute) or PERFKIT_MAX_CONTENT_LENGTH (e.g. 16MiB)";
  var OTHER = "__other__"; // perfkit's overflow label once too many endpoints/clients were seen

  function renderGuards(snap) {
    var g = snap.guards, info = $("#guards-info");
    if (!g || g.error) {
      var why = g ? "unavailable: " + g.error : "not in use — " + GUARDS_HOWTO;
      if (g) setTile("guards", "—", why, "warn");
      else tileOff("guards", "set PERFKIT_RATE_LIMIT or PERFKIT_MAX_CONTENT_LENGTH");
      info.textContent = "";
      fillTable("guard-endpoints", [], [], why);
      fillTable("guard-clients", [], [], g ? "unavailable" : "not in use");
      return;
    }
    var byEndpoint = g.rate_limited || {}, clientsBy = g.limited_clients_by_endpoint || {};
    var limited = 0;
    var endpoints = Object.keys(byEndpoint).map(function (k) {
      limited += byEndpoint[k] || 0;
      return { endpoint: k, count: byEndpoint[k], clients: clientsBy[k] };
    }).sort(function (a, b) { return b.count - a.count || (a.endpoint < b.endpoint ? -1 : 1); });
    var tooLarge = g.too_large || 0, rate = g.rejection_rate;
    setTile("guards", fmtNum(limited + tooLarge, 0),
      fmtNum(limited, 0) + " rate-limited · " + fmtNum(tooLarge, 0) + " too large · " + fmtPct(rate) + " refused (5 min)",
      toneOf(snap, "guards.rejection_rate", rate));
    var limits = g.limits || [], parts = [];
    parts.push(limits.length ? "limit " + limits.join("; ") : "no rate limit");
    parts.push(isNum(g.max_content_length) ? "body ≤ " + fmtBytes(g.max_content_length) : "no body limit");
    if (limits.length) parts.push(g.storage === "redis" ? "shared in Redis" : "per process");
    if (g.fallbacks) parts.push(fmtNum(g.fallbacks, 0) + " Redis fallbacks");
    info.textContent = "· " + parts.join(" · ");
    function label(k) { return k === OTHER ? "(others)" : k; }
    fillTable("guard-endpoints", endpoints.slice(0, 10), [
      { get: function (r) { return label(r.endpoint); }, cls: "key" },
      { get: function (r) { return fmtNum(r.count, 0); }, cls: "num bad" },
      { get: function (r) { return isNum(r.clients) ? fmtNum(r.clients, 0) : "—"; }, cls: "num" },
    ], limits.length ? "no request refused (429) yet" : "no rate limit — set PERFKIT_RATE_LIMIT");
    fillTable("guard-clients", (g.top_limited_clients || []).slice(0, 10), [
      { get: function (r) { return label(r.client); }, cls: "key" },
      { get: function (r) { return fmtNum(r.count, 0); }, cls: "num" },
    ], limits.length ? "no client limited yet" : "—");
  }

  function trackLive(snap) {
    var t = toEpoch(snap.generated_at), count = snap.requests.summary.count, prev = state.prev;
    // the summary is windowed: a count that went down (reset, window edge) gives no point
    if (prev && t > prev.t && count >= prev.count) state.live.push([t, (count - prev.count) / (t - prev.t)]);
    state.prev = { t: t, count: count };
    while (state.live.length && (state.live[0][0] < t - 3600 || state.live.length > 720)) state.live.shift();
  }

  function render() {
    var snap = state.last;
    if (!snap) return;
    renderTiles(snap);
    renderCharts(snap);
    renderTables(snap);
    renderGuards(snap);
    renderEndpoint(snap);
    renderBadge();
    $("#meta").textContent = "v" + snap.version + " · up " + fmtAgo(snap.uptime_seconds) +
      " · updated " + fmtTime(toEpoch(snap.generated_at), true);
    renderScope(snap);
  }

  // figures of one worker among several: say so above everything else
  function renderScope(snap) {
    var note = $("#scope-note");
    note.hidden = !snap.scope_note;
    note.textContent = snap.scope_note ? "This worker only — " + snap.scope_note.replace(/^this worker only: /, "") : "";
  }

  // ---------------------------------------------------------------- admin actions
  // shown only when GET /api/access says this tab may change state: a read token sees none
  var ACTIONS = {
    "cleanup": ["/api/maintenance", { action: "cleanup" }, "Cleanup done."],
    "reset-counters": ["/api/maintenance", { action: "reset-counters" }, "Counters reset."],
    "clear-cache": ["/api/cache/clear", {}, "Cache cleared."],
  };

  function checkAccess() {
    var token = sessionStorage.getItem(TOKEN_KEY) || "";
    if (state.accessFor === token) return null;
    return api("/api/access").then(function (access) {
      state.accessFor = token;
      $("#admin").hidden = !(access && access.admin);
      document.body.dataset.role = access && access.admin ? "admin" : "read";
    });
  }

  function runAction(name) {
    var action = ACTIONS[name], result = $("#admin-result");
    if (name === "reset-counters" && !window.confirm("Reset every counter?")) return;
    result.textContent = "Working…";
    api(action[0], action[1]).then(function () {
      result.textContent = action[2];
      poll();
    }, function (err) {
      result.textContent = "Refused: " + (err.message || err);
    });
  }

  // ---------------------------------------------------------------- polling
  function setStatus(text, isError) {
    var s = $("#status");
    s.textContent = text;
    s.classList.toggle("error", !!isError);
  }

  function showLogin(message) {
    $("#login").hidden = false;
    $("#login-error").textContent = message || "";
    $("#token").focus();
    setStatus("Waiting for a token.", false);
  }

  function schedule(ms) {
    clearTimeout(state.timer);
    if (!state.paused) state.timer = setTimeout(poll, ms);
  }

  function poll() {
    if (state.busy || state.paused) return;
    state.busy = true;
    var health = api("/health").then(renderHealth, function () { renderHealth(null); });
    api("/api/snapshot")
      .then(function (snap) {
        state.last = snap;
        trackLive(snap);
        var recs = null, now = Date.now();
        var detail = loadEndpointDetail();
        if (now - state.recommendationsAt > 30000) {
          recs = api("/api/recommendations").then(function (r) {
            state.recommendations = (r && r.recommendations) || [];
            state.recommendationsAt = now;
          }, function (err) {
            if (err instanceof AuthError) throw err;
            state.recommendations = { error: err.message || String(err) };
          });
        }
        recs = Promise.all([recs, detail]);
        if (!snap.system || snap.system.error) return recs;
        // a long range is fetched once a minute: a day of samples is large
        var fresh = state.historyRange === state.range && (state.range <= 3600 || now - state.historyAt < 60000);
        if (fresh) return recs;
        var range = state.range;
        return Promise.all([recs, api("/api/system/history?minutes=" + range / 60).then(function (h) {
          state.history = h.history || [];
          state.historyAt = now;
          state.historyRange = range;
        })]);
      })
      .then(function () { return health; })
      .then(checkAccess)
      .then(function () {
        state.failures = 0;
        $("#login").hidden = true;
        $("#app").hidden = false;
        render();
        setStatus("Live · refreshes every " + POLL_MS / 1000 + " s", false);
        document.body.dataset.ready = "1";
        schedule(POLL_MS);
      })
      .catch(function (err) {
        if (err instanceof AuthError) {
          var had = sessionStorage.getItem(TOKEN_KEY);
          sessionStorage.removeItem(TOKEN_KEY);
          state.accessFor = null;
          $("#admin").hidden = true;
          showLogin(had ? "The token was not accepted: " + err.message : "");
          return; // polling resumes when a token is entered
        }
        state.failures += 1;
        var wait = Math.min(60000, POLL_MS * Math.pow(2, Math.min(state.failures, 4)));
        if (err instanceof HttpError && err.retryAfter) wait = Math.max(wait, err.retryAfter * 1000);
        setStatus("Cannot refresh (" + (err.message || err) + "); retrying in " + Math.round(wait / 1000) + " s", true);
        schedule(wait);
      })
      .then(function () { state.busy = false; });
  }

  function init() {
    $("#api-path").textContent = PREFIX + "/api/snapshot";
    $("#login").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var token = $("#token").value.trim();
      if (!token) { $("#login-error").textContent = "Enter the token."; return; }
      sessionStorage.setItem(TOKEN_KEY, token);
      $("#token").value = "";
      $("#login-error").textContent = "";
      setStatus("Connecting…", false);
      poll();
    });
    $all(".range button").forEach(function (button) {
      button.addEventListener("click", function () {
        state.range = Number(button.dataset.range);
        $all(".range button").forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
        document.body.dataset.range = String(state.range);
        if (state.last) renderCharts(state.last);
        if (state.historyRange !== state.range) { clearTimeout(state.timer); poll(); }
      });
    });
    $all("button.sort").forEach(function (button) {
      button.addEventListener("click", function () {
        state.querySort = button.dataset.sort;
        if (state.last) renderQueries(state.last);
      });
    });
    window.addEventListener("hashchange", function () {
      if (!state.last) return;
      renderEndpoint(state.last);
      window.scrollTo(0, 0);
      var loading = loadEndpointDetail();
      if (loading) loading.then(function () { renderEndpoint(state.last); }, function () {});
    });
    $all("#admin button").forEach(function (button) {
      button.addEventListener("click", function () { runAction(button.dataset.action); });
    });
    $("#pause").addEventListener("click", function () {
      state.paused = !state.paused;
      this.textContent = state.paused ? "Resume" : "Pause";
      this.setAttribute("aria-pressed", String(state.paused));
      if (state.paused) { clearTimeout(state.timer); setStatus("Paused", false); } else poll();
    });
    // a hidden tab does not poll; it refreshes as soon as it is shown again
    document.addEventListener("visibilitychange", function () {
      if (document.hidden) clearTimeout(state.timer);
      else if (!state.paused && $("#login").hidden) poll();
    });
    var resizeTimer = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () { if (state.last) renderCharts(state.last); }, 150);
    });
    poll();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
