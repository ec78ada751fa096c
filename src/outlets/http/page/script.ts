/**
 * The status page's script (plain ES2020, no framework), served as /app.js. It loads the
 * history once for the sparklines, then lives on /events: `status` redraws the daemon facts
 * and LEDs, `reading` the latest reading and the sparklines, `shutdown` the countdown
 * banner. When the stream drops it says "disconnected" and reconnects (resuming from the
 * last reading's id). Everything is written with textContent: task values are not markup.
 *
 * Kept free of backticks and dollar-brace so it can live in this string; a test compiles it.
 */
export const SCRIPT = String.raw`'use strict';
(function () {
  var MAX_POINTS = 240, MAX_SERIES = 24, RECONNECT_MS = 3000;
  var $ = function (id) { return document.getElementById(id); };
  var status = null, statusAt = 0, latest = null, history = [], source = null, lastId = '', countdownEnd = 0, retry = 0;
  var SVG = 'http://www.w3.org/2000/svg';

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function num(v) { return typeof v === 'number' && isFinite(v); }
  function fmt(v) { return num(v) ? String(Math.round(v * 1000) / 1000) : String(v); }

  /** Numeric leaves of a value as [path, number] (booleans as 0/1), depth-limited. */
  function leaves(value, prefix, out, depth) {
    if (out.length >= MAX_SERIES) return out;
    if (typeof value === 'boolean') value = value ? 1 : 0;
    if (num(value)) { out.push([prefix || 'value', value]); return out; }
    if (!value || typeof value !== 'object' || depth >= 4) return out;
    Object.keys(value).forEach(function (k) { leaves(value[k], prefix ? prefix + '.' + k : k, out, depth + 1); });
    return out;
  }
  function task() { return status ? status.task : ''; }
  function unit(path) {
    var t = task();
    if (t === 'board' && path.indexOf('loadAvg') !== 0) return ' \u00b0C';
    if (t === 'ds18b20' && path.indexOf('sensors.') === 0) return ' \u00b0C';
    return '';
  }
  function label(path) {
    var t = task();
    if (t === 'board') {
      if (path === 'socTempC') return 'SoC temperature';
      if (path.indexOf('zones.') === 0) return path.slice(6);
      var w = { 'loadAvg.0': '1 min', 'loadAvg.1': '5 min', 'loadAvg.2': '15 min' }[path];
      if (w) return 'load ' + w;
    }
    if (t === 'ds18b20' && path.indexOf('sensors.') === 0) return path.slice(8);
    return path;
  }

  function duration(ms) {
    var s = Math.max(0, Math.floor(ms / 1000)), d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
    return (d ? d + ' d ' : '') + (d || h ? h + ' h ' : '') + (d || h || m ? m + ' min ' : '') + (s % 60) + ' s';
  }

  function renderStatus() {
    if (!status) return;
    $('device').textContent = status.deviceId;
    document.title = status.deviceId + ' \u2013 pinetd';
    var st = $('state');
    st.textContent = status.state;
    st.className = 'state-' + status.state;
    $('clients').textContent = String(status.clients);
    $('task').textContent = status.task + ' (' + status.gpio + ' GPIO)';
    var lt = status.lastTask;
    $('lastTask').textContent = lt ? (lt.ok ? 'ok' : 'failed: ' + (lt.error ? lt.error.code : '?')) + ', ' + lt.durationMs + ' ms' : 'not yet';
    $('pauses').textContent = status.pauses + (status.taskFailures ? ' (' + status.taskFailures + ' failed)' : '');
    $('footer').textContent = 'pinetd ' + status.version + ' \u00b7 node ' + status.node + ' \u00b7 ' + status.arch + ' \u00b7 pid ' + status.pid;
    var leds = clear($('leds')), roles = Object.keys(status.leds || {});
    if (roles.length === 0) leds.appendChild(el('p', 'muted', 'no LEDs configured'));
    roles.forEach(function (role) {
      var s = status.leds[role], d = el('span', 'led ' + role + ' ' + s);
      d.title = role + ': ' + s;
      d.setAttribute('data-role', role);
      d.setAttribute('data-state', s);
      d.appendChild(el('i'));
      d.appendChild(el('span', '', role));
      leds.appendChild(d);
    });
    if (status.state === 'draining' && !countdownEnd) countdownEnd = Date.now() + status.remainingS * 1000;
    tick();
  }

  function row(table, name, value, cls, field) {
    var tr = el('tr'), td = el('td', cls, value);
    tr.appendChild(el('th', '', name));
    if (field) td.setAttribute('data-field', field);
    tr.appendChild(td);
    table.appendChild(tr);
  }

  function renderReading() {
    var box = clear($('reading'));
    if (!latest) { box.appendChild(el('p', 'muted', 'no reading yet')); return; }
    box.setAttribute('data-at', latest.at);
    $('readingAt').textContent = new Date(latest.at).toLocaleTimeString();
    var v = latest.value, t = task(), table = el('table');
    if (t === 'board' && v) {
      row(table, 'SoC temperature', num(v.socTempC) ? fmt(v.socTempC) + ' \u00b0C' : 'n/a', 'big', 'socTempC');
      Object.keys(v.zones || {}).forEach(function (z) { row(table, z, fmt(v.zones[z]) + ' \u00b0C', '', 'zones.' + z); });
      if (v.loadAvg) row(table, 'load average', v.loadAvg.map(fmt).join('  '), '', 'loadAvg');
    } else if (t === 'ds18b20' && v) {
      Object.keys(v.sensors || {}).forEach(function (s) {
        var c = v.sensors[s];
        row(table, s, num(c) ? fmt(c) + ' \u00b0C' : 'failed: ' + ((v.errors || {})[s] || '?'), num(c) ? 'big' : 'failed', 'sensors.' + s);
      });
    } else if (t === 'gpio-inputs' && v) {
      Object.keys(v).forEach(function (n) { row(table, n, v[n] ? 'closed' : 'open', v[n] ? 'closed' : 'open', n); });
    } else if (v && typeof v === 'object') {
      flat(v, '', table, 0);
    } else {
      row(table, 'value', fmt(v), 'big', 'value');
    }
    box.appendChild(table);
  }
  function flat(v, prefix, table, depth) {
    Object.keys(v).forEach(function (k) {
      var p = prefix ? prefix + '.' + k : k, x = v[k];
      if (x && typeof x === 'object' && depth < 3) flat(x, p, table, depth + 1);
      else row(table, p, x === null ? 'null' : typeof x === 'object' ? JSON.stringify(x) : fmt(x), '', p);
    });
  }

  function renderSparks() {
    var box = clear($('sparks')), series = {}, order = [];
    history.forEach(function (entry, i) {
      leaves(entry.value, '', [], 0).forEach(function (pair) {
        if (!series[pair[0]]) { if (order.length >= MAX_SERIES) return; series[pair[0]] = []; order.push(pair[0]); }
        series[pair[0]].push([i, pair[1]]);
      });
    });
    if (order.length === 0) { box.appendChild(el('p', 'muted', 'no numeric values yet')); return; }
    order.forEach(function (path) {
      var pts = series[path], vals = pts.map(function (p) { return p[1]; });
      var min = Math.min.apply(null, vals), max = Math.max.apply(null, vals), span = max - min || 1, n = Math.max(1, history.length - 1);
      var card = el('div', 'spark'), head = el('div');
      card.setAttribute('data-series', path);
      head.appendChild(el('span', 'name', label(path) + ' '));
      head.appendChild(el('span', 'now', fmt(vals[vals.length - 1]) + unit(path)));
      card.appendChild(head);
      var svg = document.createElementNS(SVG, 'svg'), line = document.createElementNS(SVG, 'polyline');
      svg.setAttribute('viewBox', '0 0 100 30');
      svg.setAttribute('preserveAspectRatio', 'none');
      line.setAttribute('points', pts.map(function (p) { return (p[0] / n * 100).toFixed(2) + ',' + (max === min ? 15 : 28 - (p[1] - min) / span * 26).toFixed(2); }).join(' '));
      svg.appendChild(line);
      card.appendChild(svg);
      var range = el('div', 'range');
      range.appendChild(el('span', '', 'min ' + fmt(min)));
      range.appendChild(el('span', '', vals.length + ' readings'));
      range.appendChild(el('span', '', 'max ' + fmt(max)));
      card.appendChild(range);
      box.appendChild(card);
    });
  }

  function addReading(r) {
    var last = history[history.length - 1];
    if (last && r.at <= last.at) return false;
    history.push(r);
    lastId = r.at;
    if (history.length > MAX_POINTS) history.splice(0, history.length - MAX_POINTS);
    latest = r;
    return true;
  }

  function tick() {
    if (status) $('uptime').textContent = duration(status.uptimeMs + (status.state === 'draining' ? 0 : Date.now() - statusAt));
    var banner = $('banner');
    if (countdownEnd) {
      banner.hidden = false;
      $('countdown').textContent = String(Math.max(0, Math.ceil((countdownEnd - Date.now()) / 1000)));
    } else banner.hidden = true;
  }

  function online(up) {
    var c = $('conn');
    c.textContent = up ? 'live' : 'disconnected';
    c.className = 'conn ' + (up ? 'live' : 'down');
    $('offline').hidden = up;
  }

  function connect() {
    clearTimeout(retry);
    source = new EventSource(lastId ? '/events?lastEventId=' + encodeURIComponent(lastId) : '/events');
    source.onopen = function () { online(true); };
    source.addEventListener('status', function (e) {
      status = JSON.parse(e.data);
      statusAt = Date.now();
      if (status.state !== 'draining') countdownEnd = 0;
      renderStatus();
      renderReading();
    });
    source.addEventListener('reading', function (e) {
      if (addReading(JSON.parse(e.data))) { renderReading(); renderSparks(); }
    });
    source.addEventListener('shutdown', function (e) {
      countdownEnd = Date.now() + JSON.parse(e.data).remainingS * 1000;
      tick();
    });
    source.onerror = function () {
      online(false);
      // The browser retries a dropped stream by itself; a refused one (503) it gives up on.
      if (source.readyState === 2) retry = setTimeout(connect, RECONNECT_MS);
    };
  }

  setInterval(tick, 1000);
  fetch('/api/history?n=' + MAX_POINTS, { cache: 'no-store' })
    .then(function (r) { return r.ok ? r.json() : []; })
    .then(function (list) { list.forEach(addReading); renderSparks(); })
    .catch(function () {})
    .then(connect);
})();
`;
