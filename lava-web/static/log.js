// LAVA web UI: the job log, live. Lines arrive as Server-Sent Events from
// /scheduler/job/ID/log/live (each event's id is the number of lines so
// far, so a reconnecting browser resumes at the next line). Only the rows
// in view are in the page, so a log of any length stays responsive.
// Action sections ("start: 1.2 name" .. "end: 1.2 name") fold on click.
(function () {
  "use strict";
  const view = document.getElementById("log");
  if (!view) return;
  const job = view.dataset.job;
  const spacer = view.querySelector(".log-spacer");
  const rowsBox = view.querySelector(".log-rows");
  const counter = document.getElementById("log-count");
  const follow = document.getElementById("log-follow");
  const showDebug = document.getElementById("log-debug");
  const ROW = 18; // px: .log-row's height in lava.css
  const EXTRA = 30; // rows drawn above and below the view

  const lines = []; // {lvl, dt, text, section}
  const sections = []; // {start, end, level, name, collapsed}
  const openSections = []; // indices into sections, innermost last
  let shown = null; // indices of the lines shown; null: every line
  let pending = false;
  let ended = null;
  let firstDrawn = false;

  // A stored line is a YAML flow mapping; nearly always JSON as well.
  // Otherwise: drop "!" tags and turn YAML-only escapes into JSON ones.
  const YAML_ESCAPES = { e: "\\u001b", N: "\\u0085", _: "\\u00a0", L: "\\u2028", P: "\\u2029",
    a: "\\u0007", v: "\\u000b", "0": "\\u0000", " ": " ", "\t": "\\t" };
  function parse(text) {
    try { return JSON.parse(text); } catch (e) { /* YAML only */ }
    const json = text
      .replace(/(^|[{,[]\s*|:\s*)!\s+(?=")/g, "$1")
      .replace(/\\(x[0-9a-fA-F]{2}|U[0-9a-fA-F]{8}|.)/g, function (all, esc) {
        if (esc[0] === "x") return "\\u00" + esc.slice(1);
        if (esc[0] === "U") {
          const cp = parseInt(esc.slice(1), 16);
          return JSON.stringify(String.fromCodePoint(cp)).slice(1, -1);
        }
        return Object.prototype.hasOwnProperty.call(YAML_ESCAPES, esc) ? YAML_ESCAPES[esc] : all;
      });
    try { return JSON.parse(json); } catch (e) { return { lvl: "info", msg: text }; }
  }

  function messageText(lvl, msg) {
    if (typeof msg === "string") return msg;
    if (lvl === "results" && msg && typeof msg === "object") {
      let text = (msg.definition || "") + "/" + (msg.case || "") + ": " + (msg.result || "");
      if (msg.measurement !== undefined) text += " " + msg.measurement + " " + (msg.units || "");
      return text;
    }
    return JSON.stringify(msg);
  }

  const START = /^start: ([0-9.]+) (\S+)/;
  const END = /^end: ([0-9.]+) (\S+)(?: \(duration ([0-9:]+)\))?/;

  function add(raw) {
    if (!raw) return;
    const record = parse(raw);
    const lvl = String(record.lvl || "info");
    const text = messageText(lvl, record.msg);
    const index = lines.length;
    const line = { lvl: lvl, dt: record.dt || "", text: text, section: -1 };
    if (lvl === "info" || lvl === "debug") {
      let m = START.exec(text);
      if (m) {
        line.section = sections.length;
        sections.push({ start: index, end: -1, level: m[1], name: m[2], duration: "", collapsed: false });
        openSections.push(line.section);
      } else if ((m = END.exec(text))) {
        for (let k = openSections.length - 1; k >= 0; k--) {
          const s = sections[openSections[k]];
          if (s.level === m[1]) {
            s.end = index;
            s.duration = m[3] || "";
            openSections.length = k;
            break;
          }
        }
      }
    }
    if (line.section >= 0 || /^end: /.test(text)) treeChanged = true;
    lines.push(line);
  }

  // The pipeline as a tree: every action the log has started, its
  // duration from its end line, its result from the lava suite (or pass
  // once it ended); a click shows it in the log.
  let treeChanged = false;
  const SYMBOLS = { pass: "✔ ", fail: "✘ ", incomplete: "✘ ", running: "▶ ", skip: "■ " };
  function drawTree() {
    treeChanged = false;
    const box = document.getElementById("pipeline");
    if (!box || sections.length === 0) return;
    let results = {};
    try { results = JSON.parse(box.dataset.results || "{}"); } catch (e) { results = {}; }
    const html = sections.map(function (s) {
      const depth = Math.min(s.level.split(".").length - 1, 6);
      const result = results[s.level] || (s.end >= 0 ? "pass" : (ended ? "incomplete" : "running"));
      const duration = s.duration ? s.duration.replace(/^00:/, "") : (s.end >= 0 ? "" : "…");
      return '<li class="depth-' + depth + '"><a href="#L' + (s.start + 1) + '" data-line="' + (s.start + 1) +
        '"><span class="level">' + escapeHtml(s.level) + '</span> <span class="name">' + escapeHtml(s.name) +
        '</span></a> <span class="badge b-' + escapeHtml(result).replace(/[^a-z]/g, "") + '">' +
        (SYMBOLS[result] || "") + escapeHtml(result) +
        '</span> <span class="duration">' + escapeHtml(duration) + "</span></li>";
    });
    box.innerHTML = html.join("");
  }

  function rebuild() {
    const debug = showDebug ? showDebug.checked : true;
    const folded = sections.some(function (s) { return s.collapsed; });
    if (debug && !folded) { shown = null; return; }
    const out = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (!debug && line.lvl === "debug") continue;
      out.push(i);
      if (line.section >= 0 && sections[line.section].collapsed) {
        const end = sections[line.section].end;
        i = end >= 0 ? end : lines.length;
      }
    }
    shown = out;
  }

  function count() { return shown === null ? lines.length : shown.length; }
  function lineAt(row) { return shown === null ? row : shown[row]; }

  function escapeHtml(text) {
    return text.replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  }

  function draw() {
    pending = false;
    const total = count();
    spacer.style.height = (total * ROW) + "px";
    if (follow && follow.checked && !ended) view.scrollTop = view.scrollHeight;
    const first = Math.max(0, Math.floor(view.scrollTop / ROW) - EXTRA);
    const last = Math.min(total, Math.ceil((view.scrollTop + view.clientHeight) / ROW) + EXTRA);
    const html = [];
    for (let row = first; row < last; row++) {
      const i = lineAt(row);
      const line = lines[i];
      let cls = "log-row lvl-" + line.lvl.replace(/[^a-z]/g, "");
      let extra = "";
      if (line.section >= 0) {
        const s = sections[line.section];
        cls += " section" + (s.collapsed ? " collapsed" : "");
        extra = ' role="button" tabindex="0" aria-expanded="' + !s.collapsed + '" data-section="' + line.section + '"';
      }
      if (location.hash === "#L" + (i + 1)) cls += " target-line";
      html.push('<div class="' + cls + '" id="L' + (i + 1) + '"' + extra + '><a class="ln" href="#L' + (i + 1) + '">' + (i + 1) +
        '</a><span class="lv">' + escapeHtml(line.lvl) + '</span><span class="msg">' + escapeHtml(line.text) + "</span></div>");
    }
    rowsBox.style.transform = "translateY(" + (first * ROW) + "px)";
    rowsBox.innerHTML = html.join("");
    if (counter) {
      counter.textContent = lines.length + " lines" + (ended ? " · job " + ended.health.toLowerCase() : " · live");
    }
    if (treeChanged) drawTree();
    if (!firstDrawn && lines.length > 0) {
      firstDrawn = true;
      performance.mark("log-first-rows");
    }
  }

  function schedule() {
    if (!pending) {
      pending = true;
      requestAnimationFrame(draw);
    }
  }

  function toggle(index) {
    const s = sections[index];
    if (!s) return;
    s.collapsed = !s.collapsed;
    rebuild();
    schedule();
  }

  function goTo(lineNumber) {
    const i = lineNumber - 1;
    let row = i;
    if (shown !== null) {
      row = shown.findIndex(function (n) { return n >= i; });
      if (row < 0) row = shown.length - 1;
    }
    if (follow) follow.checked = false;
    view.scrollTop = Math.max(0, row * ROW - view.clientHeight / 3);
    schedule();
  }

  view.addEventListener("scroll", function () {
    if (follow && follow.checked && view.scrollTop + view.clientHeight < view.scrollHeight - 2 * ROW && !pending) {
      follow.checked = false; // the reader scrolled up
    }
    schedule();
  });
  view.addEventListener("click", function (e) {
    const row = e.target.closest(".section");
    if (row && !e.target.closest("a")) toggle(Number(row.dataset.section));
  });
  view.addEventListener("keydown", function (e) {
    const row = e.target.closest && e.target.closest(".section");
    if (row && (e.key === "Enter" || e.key === " ")) {
      e.preventDefault();
      toggle(Number(row.dataset.section));
    } else if (e.key === "End") {
      view.scrollTop = view.scrollHeight;
    } else if (e.key === "Home") {
      view.scrollTop = 0;
    }
  });
  if (follow) follow.addEventListener("change", schedule);
  if (showDebug) showDebug.addEventListener("change", function () { rebuild(); schedule(); });
  function setAll(collapsed) {
    sections.forEach(function (s) { s.collapsed = collapsed && s.end >= 0 && s.level.indexOf(".") >= 0; });
    rebuild();
    schedule();
  }
  const collapseButton = document.getElementById("log-collapse");
  if (collapseButton) collapseButton.addEventListener("click", function () { setAll(true); });
  const expandButton = document.getElementById("log-expand");
  if (expandButton) expandButton.addEventListener("click", function () { setAll(false); });
  const top = document.getElementById("log-top");
  if (top) top.addEventListener("click", function () { if (follow) follow.checked = false; view.scrollTop = 0; });
  const bottom = document.getElementById("log-bottom");
  if (bottom) bottom.addEventListener("click", function () { view.scrollTop = view.scrollHeight; });
  document.addEventListener("click", function (e) {
    const link = e.target.closest("a[data-line]");
    if (link) goTo(Number(link.dataset.line));
  });
  window.addEventListener("hashchange", function () {
    const m = /^#L(\d+)$/.exec(location.hash);
    if (m) goTo(Number(m[1]));
  });

  // The summary, results and pipeline again: when the job starts (its
  // first lines) and when it ends.
  function refreshState(final) {
    fetch("/scheduler/job/" + job + "/state", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html) {
          const fresh = new DOMParser().parseFromString(html, "text/html");
          ["job-state", "job-results"].forEach(function (id) {
            const old = document.getElementById(id);
            const part = fresh.getElementById(id);
            if (old && part) {
              old.replaceWith(document.importNode(part, true));
              if (window.lavaLocalTimes) window.lavaLocalTimes(document.getElementById(id));
            }
          });
          drawTree();
        }
        if (final) view.dataset.ended = "true";
      });
  }
  let startSeen = false;

  let source = null;
  let lastId = 0; // the server's count of lines sent (the events' ids)
  let failures = 0;
  function connect() {
    source = new EventSource("/scheduler/job/" + job + "/log/live?line=" + lastId);
    source.addEventListener("reset", function () {
      // the master rebuilt the log (lines it had lost): start again
      lines.length = 0;
      sections.length = 0;
      openSections.length = 0;
      shown = null;
      lastId = 0;
      treeChanged = true;
      schedule();
    });
    source.addEventListener("lines", function (e) {
      failures = 0;
      const id = Number(e.lastEventId);
      if (id >= 0) lastId = id;
      const data = e.data.split("\n");
      for (let k = 0; k < data.length; k++) add(data[k]);
      if (shown !== null) rebuild();
      schedule();
      const summary = document.getElementById("job-state");
      if (!startSeen && summary && ["Submitted", "Scheduling", "Scheduled"].indexOf(summary.dataset.state) >= 0) {
        startSeen = true;
        refreshState(false);
      }
    });
    source.addEventListener("end", function (e) {
      source.close();
      try { ended = JSON.parse(e.data); } catch (err) { ended = { state: "Finished", health: "Unknown" }; }
      performance.mark("log-complete");
      schedule();
      refreshState(true);
    });
    source.onerror = function () {
      // the browser reconnects by itself (with Last-Event-ID) unless the
      // server refused the stream: then try again from the last line, a
      // few times
      if (source.readyState === EventSource.CLOSED && !ended) {
        failures += 1;
        if (failures <= 5) {
          setTimeout(connect, 2000 * failures);
        } else if (counter) {
          counter.textContent = lines.length + " lines · the live log stopped: reload the page";
        }
      }
    };
  }
  window.lavaLog = {
    lines: function () { return lines.length; },
    ended: function () { return ended; },
    sections: function () { return sections.length; },
    text: function (i) { return lines[i] ? lines[i].dt + " " + lines[i].text : null; },
    goTo: goTo,
    toggle: toggle,
  };
  connect();
  schedule();
})();
