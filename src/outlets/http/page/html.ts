/**
 * The status page's HTML document. Script and stylesheet are separate same-origin routes
 * (/app.js, /app.css): the page's own CSP (default-src 'self') forbids inline ones. Every
 * value is filled in by the script with textContent, never parsed as markup.
 */
export const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>pinetd</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<header>
  <h1><span id="device">pinetd</span></h1>
  <span id="conn" class="conn">connecting</span>
</header>
<div id="banner" class="banner drain" role="status" hidden>Shutting down in <b id="countdown">-</b> s</div>
<div id="offline" class="banner warn" role="status" hidden>disconnected &mdash; reconnecting&hellip;</div>
<main>
  <section class="card">
    <h2>Daemon</h2>
    <dl class="facts">
      <dt>state</dt><dd id="state">-</dd>
      <dt>clients</dt><dd id="clients">-</dd>
      <dt>uptime</dt><dd id="uptime">-</dd>
      <dt>task</dt><dd id="task">-</dd>
      <dt>last run</dt><dd id="lastTask">-</dd>
      <dt>pauses</dt><dd id="pauses">-</dd>
    </dl>
  </section>
  <section class="card">
    <h2>LEDs</h2>
    <div id="leds" class="leds"></div>
  </section>
  <section class="card wide">
    <h2>Latest reading <small id="readingAt"></small></h2>
    <div id="reading" data-at=""><p class="muted">no reading yet</p></div>
  </section>
  <section class="card wide">
    <h2>History</h2>
    <div id="sparks" class="sparks"><p class="muted">no history yet</p></div>
  </section>
</main>
<footer id="footer"></footer>
</body>
</html>
`;

/** A lit LED, 16 px: the tab icon. */
export const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="6" fill="#2e9e44" stroke="#1b5e29" stroke-width="1.5"/></svg>
`;
