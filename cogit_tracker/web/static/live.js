// The live board (/cogit/live): asks /cogit/api/live for the board every few seconds (short
// polling; why, in web/live.py) and redraws its two tables in place; between two answers the
// elapsed times, ETAs and heartbeat ages keep ticking from the last one. Served as a file
// because the pages' Content-Security-Policy forbids inline script. Every text from a run (a
// label, a phase's name, a failure message) goes in through textContent, never as markup.
(function () {
  "use strict";
  var section = document.getElementById("live");
  if (!section) { return; }
  var api = section.dataset.api;
  var pollMs = (Number(section.dataset.poll) || 3) * 1000;
  var stopUrl = section.dataset.stop || "";
  var board = null;        // the last answer
  var gotAt = 0;           // when it came (performance.now(), so the reader's clock may be off)
  var stopping = {};       // campaign label -> what its Stop request answered so far

  // ---- formats: as the server's fmt_value (cogit_tracker/table.py) writes them
  function duration(seconds) {
    var s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    var sec = s % 60, two = function (n) { return (n < 10 ? "0" : "") + n; };
    if (h) { return h + "h " + two(m) + "m"; }
    if (m) { return m + "m " + two(sec) + "s"; }
    return sec + "s";
  }
  function seconds(v) { return v === null || v === undefined ? "" : duration(v); }
  function usd(v) {
    if (v === null || v === undefined) { return ""; }
    if (Math.abs(v) >= 0.01 || v === 0) {
      return "$" + v.toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2});
    }
    return "$" + v.toFixed(4);
  }
  function percent(v) { return v === null || v === undefined ? "" : Math.round(v * 100) + "%"; }

  // ---- DOM, text only
  function cell(text, className, title) {
    var td = document.createElement("td");
    if (className) { td.className = className; }
    if (title) { td.title = title; }
    td.textContent = text || "";
    return td;
  }
  function note(td, text) {  // a reason under a status
    if (!text) { return td; }
    var div = document.createElement("div");
    div.className = "reason";
    div.textContent = text;
    td.appendChild(div);
    return td;
  }
  function row(className, campaign, runId, cells) {
    var tr = document.createElement("tr");
    tr.className = className;
    tr.dataset.campaign = campaign;
    if (runId) { tr.dataset.run = runId; }
    cells.forEach(function (td) { tr.appendChild(td); });
    return tr;
  }

  // ---- one run's figures, dt seconds after the board was read
  function ticking(r, dt) {
    var running = r.status === "RUNNING";
    var age = r.heartbeat_age_s === null ? null : r.heartbeat_age_s + (running ? dt : 0);
    var stale = r.stale || (running && age !== null && age > board.stale_after_s);
    var reason = r.stale_reason || (stale ? "no heartbeat for " + duration(age) +
      " (stale after " + duration(board.stale_after_s) + "): its process is gone" : "");
    return {
      elapsed: r.elapsed_s + (running ? dt : 0),
      eta: r.eta_s === null ? null : Math.max(r.eta_s - (stale ? 0 : dt), 0),
      age: age, stale: stale, reason: reason
    };
  }
  function statusCell(r, t) {
    return note(cell(r.status + (t.stale ? " (stale)" : ""), "status " + r.status), t.reason);
  }
  function progressCell(r) {
    var td = cell("", "progress");
    if (r.progress === null) { return td; }
    var bar = document.createElement("progress");
    bar.max = 1;
    bar.value = Math.min(Math.max(r.progress, 0), 1);
    var pct = document.createElement("span");
    pct.className = "pct";
    pct.textContent = percent(r.progress);
    td.appendChild(bar);
    td.appendChild(document.createTextNode(" "));
    td.appendChild(pct);
    return td;
  }
  function figures(r, t) {
    return [cell(seconds(t.elapsed), "n elapsed"), progressCell(r), cell(seconds(t.eta), "n eta"),
            cell(usd(r.cost_usd), "n cost"), cell(usd(r.projected_cost_usd), "n projected")];
  }
  function heartbeatCell(t) {
    return cell(seconds(t.age) + (t.stale ? " (stale)" : ""),
                "n heartbeat" + (t.stale ? " stale" : ""), t.reason);
  }
  function jobCell(r, nodes) {
    if (!(r.ranks > 1)) { return cell("", "job"); }
    return cell(r.ranks + " ranks" + (nodes > 1 ? " on " + nodes + " nodes" : ""), "job");
  }
  function budgetCell(c) {
    return cell(c.budget_usd ? percent(c.budget_spent) + " of " + usd(c.budget_usd) : "",
                "n budget");
  }

  // ---- Stop (web/stop.py's POST /cogit/api/stop, form field `campaign`): offered only when
  // the server has the route and the board says this reader may stop this campaign.
  function stopCell(c) {
    var td = cell("", "actions");
    if (!stopUrl || !c.can_stop) { return td; }
    var state = stopping[c.campaign];
    var button = document.createElement("button");
    button.type = "button";
    button.className = "stop";
    button.textContent = state ? state : "Stop";
    button.disabled = !!state;
    button.addEventListener("click", function () { requestStop(c.campaign, c.experiment); });
    td.appendChild(button);
    return td;
  }
  function requestStop(campaign, experiment) {
    if (!window.confirm("Stop campaign " + campaign + "? Its running phase ends as stopped.")) {
      return;
    }
    stopping[campaign] = "stopping…";
    redraw();
    fetch(stopUrl, {method: "POST", credentials: "same-origin",
                    headers: {"Accept": "application/json"},
                    body: new URLSearchParams({campaign: campaign, experiment: experiment})})
      .then(function (resp) {
        if (resp.ok) {
          return resp.json().then(function (out) {
            stopping[campaign] = out.outcome === "reaped" ? "reaped" : "stop asked";
          });
        }
        return resp.json().then(function (body) { throw new Error(body.error || resp.status); },
                                function () { throw new Error("HTTP " + resp.status); });
      })
      .catch(function (err) {
        delete stopping[campaign];
        window.alert("The stop was refused: " + err.message);
      })
      .then(function () { redraw(); poll(true); });
  }

  // ---- the two tables
  function runningRows(dt) {
    var out = [];
    board.running.forEach(function (c) {
      var t = ticking(c, dt);
      var what = cell("", "what");
      var link = document.createElement("a");
      link.href = "/cogit/campaign?campaign=" + encodeURIComponent(c.uid || c.run_id);
      link.textContent = c.campaign;
      what.appendChild(link);
      out.push(row("campaign", c.campaign, c.run_id, [what, cell(c.experiment),
        statusCell(c, t)].concat(figures(c, t), [budgetCell(c), heartbeatCell(t),
        jobCell(c, c.nodes_count), stopCell(c)])));
      c.phases.forEach(function (p) {
        var tp = ticking(p, dt);
        out.push(row("phase", c.campaign, p.run_id, [cell("└ " + p.phase, "what"), cell(""),
          statusCell(p, tp)].concat(figures(p, tp), [cell(""), heartbeatCell(tp), jobCell(p, 1),
          cell("")])));
        p.nodes.forEach(function (n) {
          var what = cell("  └ " + n.node, "what"), detail = cell(n.what);
          detail.colSpan = 8;
          out.push(row("sub node", c.campaign, null, [what, detail,
            cell(seconds(n.heartbeat_age_s === null ? null : n.heartbeat_age_s + dt), "n"),
            cell(""), cell("")]));
        });
      });
    });
    return out;
  }
  function endedRows(dt) {
    return board.just_ended.map(function (e) {
      var ago = e.ended_ms ? (board.now_ms - e.ended_ms) / 1000 + dt : null;
      return row(e.kind, e.campaign, e.run_id, [cell(e.campaign, "what"), cell(e.phase),
        cell(e.experiment), note(cell(e.ending, "status " + e.status), e.failure_message),
        cell(ago === null ? "" : duration(ago) + " ago", "n ended"),
        cell(seconds(e.elapsed_s), "n elapsed"), cell(percent(e.progress), "n pct"),
        cell(usd(e.cost_usd), "n cost")]);
    });
  }
  function fill(id, rows) {
    var body = document.querySelector("#" + id + " tbody");
    body.replaceChildren.apply(body, rows);
    document.getElementById(id + "-empty").hidden = rows.length > 0;
  }
  function redraw() {
    if (!board) { return; }
    var dt = (performance.now() - gotAt) / 1000;
    fill("running", runningRows(dt));
    fill("ended", endedRows(dt));
  }

  // ---- polling
  var stateLine = document.getElementById("live-state");
  var timer = null;
  function said(text, failed) {
    stateLine.textContent = text;
    stateLine.classList.toggle("off", !!failed);
  }
  function poll(now) {
    if (timer) { clearTimeout(timer); }
    if (now !== true && document.hidden) { timer = setTimeout(poll, pollMs); return; }
    fetch(api, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (resp) {
        if (!resp.ok) { throw new Error("HTTP " + resp.status); }
        return resp.json();
      })
      .then(function (data) {
        board = data;
        gotAt = performance.now();
        said("Updates by itself every " + pollMs / 1000 + " s; last looked " +
             new Date().toLocaleTimeString() + ".", false);
        redraw();
      })
      .catch(function (err) {
        said("Not updated since the last look (" + err.message + "); trying again.", true);
      })
      .then(function () { timer = setTimeout(poll, pollMs); });
  }
  setInterval(redraw, 1000);
  poll(true);
}());
