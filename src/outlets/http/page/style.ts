/** The status page's stylesheet: one column on a phone, a grid on a wide screen; light and dark. */
export const CSS = `:root {
  color-scheme: light dark;
  --bg: #f4f5f7; --card: #fff; --fg: #1d2430; --muted: #667085; --line: #d9dde3;
  --ok: #2e9e44; --warn: #b26a00; --bad: #c62828; --accent: #2563eb;
  --led-ready: #2e9e44; --led-activity: #e0a800; --led-task: #2563eb; --led-error: #d32f2f;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #111418; --card: #1b2027; --fg: #e6e9ee; --muted: #98a2b3; --line: #2c333d; --accent: #6ea8ff; --ok: #4cc764; --warn: #f0a93b; --bad: #ff6b6b; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display: flex; align-items: center; justify-content: space-between; gap: 1rem; padding: .8rem 1rem; border-bottom: 1px solid var(--line); background: var(--card); }
h1 { font-size: 1.25rem; margin: 0; overflow-wrap: anywhere; }
h2 { font-size: .95rem; margin: 0 0 .6rem; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
h2 small { text-transform: none; letter-spacing: 0; font-weight: normal; }
main { display: grid; gap: .8rem; padding: .8rem; grid-template-columns: repeat(auto-fit, minmax(min(100%, 18rem), 1fr)); max-width: 70rem; margin: 0 auto; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: .6rem; padding: .9rem 1rem; min-width: 0; }
.wide { grid-column: 1 / -1; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.conn { font-size: .85rem; padding: .15rem .6rem; border-radius: 1rem; border: 1px solid var(--line); white-space: nowrap; }
.conn.live { color: var(--ok); border-color: var(--ok); }
.conn.down { color: var(--bad); border-color: var(--bad); }
.banner { padding: .7rem 1rem; font-weight: 600; text-align: center; }
.banner.drain { background: var(--bad); color: #fff; }
.banner.warn { background: var(--warn); color: #fff; }
.state-draining { color: var(--bad); font-weight: 600; }
.state-serving { color: var(--ok); }
.leds { display: flex; flex-wrap: wrap; gap: 1rem; }
.led { display: flex; align-items: center; gap: .4rem; }
.led i { width: 1.1rem; height: 1.1rem; border-radius: 50%; border: 2px solid var(--line); background: transparent; }
.led.on i { border-color: transparent; }
.led.on.ready i, .led.blinking.ready i { background: var(--led-ready); box-shadow: 0 0 .6rem var(--led-ready); }
.led.on.activity i { background: var(--led-activity); box-shadow: 0 0 .6rem var(--led-activity); }
.led.on.task i { background: var(--led-task); box-shadow: 0 0 .6rem var(--led-task); }
.led.on.error i { background: var(--led-error); box-shadow: 0 0 .6rem var(--led-error); }
.led.blinking i { animation: blink .5s steps(1) infinite; }
@keyframes blink { 50% { opacity: .15; } }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
th { font-weight: normal; color: var(--muted); width: 45%; }
td.big { font-size: 1.35rem; font-weight: 600; }
.open { color: var(--warn); font-weight: 600; }
.closed { color: var(--ok); font-weight: 600; }
.failed { color: var(--bad); }
.muted { color: var(--muted); margin: 0; }
.sparks { display: grid; gap: .6rem; grid-template-columns: repeat(auto-fill, minmax(min(100%, 15rem), 1fr)); }
.spark { border: 1px solid var(--line); border-radius: .4rem; padding: .4rem .6rem; }
.spark .name { font-size: .85rem; color: var(--muted); overflow-wrap: anywhere; }
.spark .now { font-weight: 600; font-variant-numeric: tabular-nums; }
.spark svg { display: block; width: 100%; height: 2.2rem; }
.spark polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; vector-effect: non-scaling-stroke; }
.spark .range { font-size: .75rem; color: var(--muted); display: flex; justify-content: space-between; }
footer { text-align: center; color: var(--muted); font-size: .8rem; padding: 1rem; }
`;
