/**
 * The report's assets, inlined into the page: its stylesheet and a few lines of optional script for
 * quicker tooltips. Nothing is loaded from elsewhere (the page's Content-Security-Policy forbids it).
 */

/** The report's stylesheet. */
export const STYLE = `
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa;--ok:#1a7f37;--ok-bg:#dafbe1;--bad:#cf222e;--bad-bg:#ffebe9;--warn-bg:#fff8c5;--warn:#7d4e00;
--sans:-apple-system,BlinkMacSystemFont,"Segoe UI","Noto Sans",Helvetica,Arial,sans-serif;--mono:ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,"Liberation Mono",monospace}
*{box-sizing:border-box}
body{margin:0;background:#fff;color:var(--fg);font:14px/1.5 var(--sans)}
main{max-width:1080px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:22px;margin:0;font-weight:600}
h2{font-size:18px;font-weight:600;margin:0 0 8px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:15px;font-weight:600;margin:20px 0 6px}
section{margin-top:28px}
code,pre,.mono{font-family:var(--mono);font-size:12.5px}
.muted{color:var(--muted)}.small{font-size:12px}.center{text-align:center}
.status{border:1px solid var(--line);border-left-width:6px;border-radius:6px;padding:14px 18px}
.status.passed{border-left-color:var(--ok)}.status.failed{border-left-color:var(--bad);background:var(--bad-bg)}
.status-line{display:flex;align-items:center;gap:12px;flex-wrap:wrap}
.badge{font-weight:700;font-size:13px;letter-spacing:.04em;text-transform:uppercase;color:#fff;border-radius:4px;padding:3px 10px}
.passed .badge{background:var(--ok)}.failed .badge{background:var(--bad)}
.run-id{font-family:var(--mono);font-weight:500;font-size:18px;word-break:break-all}
.failures{margin:10px 0 0;padding-left:20px;color:var(--bad);font-weight:500}
.limit{margin:10px 0 0;font-weight:600}.limit.instrument{color:var(--warn)}.limit.pipeline{color:var(--bad)}
.limit .small{font-weight:400;margin-left:6px}
.warnings{margin:10px 0 0;padding-left:20px;color:var(--warn)}
.note{margin:4px 0 10px;padding:8px 12px;border-left:3px solid #d4a72c;background:var(--warn-bg);color:var(--warn);max-width:860px}
.limit-line{font-weight:600;margin:4px 0}
.evidence{margin:4px 0 0;padding-left:20px}
svg.plot .saturation{stroke:#57606a;stroke-width:1.2;stroke-dasharray:5 4}
svg.plot .limit-label{font-size:11.5px}
.stop{margin:8px 0 0}
.banner{margin-top:14px;padding:10px 14px;border:1px solid #d4a72c;border-radius:6px;background:var(--warn-bg);color:var(--warn)}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:10px 24px;margin:0}
.facts div{min-width:0}.facts dt{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}.facts dd{margin:0;overflow-wrap:anywhere}
.command{margin-top:14px}.command .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
pre{margin:4px 0 0;padding:10px 12px;background:var(--soft);border:1px solid var(--line);border-radius:6px;white-space:pre-wrap;overflow-wrap:anywhere}
details{margin-top:10px}summary{cursor:pointer;color:var(--muted)}
.explain{color:var(--muted);margin:4px 0 10px;max-width:860px}
.how{font-weight:400}figure .how{margin:8px 0 0;max-width:860px}
tr.has-how>*{border-bottom:none;padding-bottom:2px}table.numbers tr.how-row td{text-align:left;padding-top:0}
svg.plot{display:block;width:100%;height:auto;background:#fff}
svg.plot text{font-family:var(--sans);fill:var(--muted)}
svg.plot .tick{font-size:12px}
svg.plot .axis-title{font-size:12.5px;fill:var(--fg)}
svg.plot .no-data{font-size:15px}
svg.plot .grid{stroke:#e6eaef;stroke-width:1}
svg.plot .grid.minor{stroke:#f1f3f5}
svg.plot .frame{fill:none;stroke:#aab4be;stroke-width:1}
svg.plot .line{fill:none;stroke-width:2;stroke-linejoin:round;stroke-linecap:round}
svg.plot .line.under{stroke-width:4.5;stroke-opacity:.55}
svg.plot .target{stroke:#57606a;stroke-width:1.5;stroke-dasharray:6 4}
svg.plot .area{opacity:.12;stroke:none}
svg.plot .warmup{fill:#eef1f4}
svg.plot .warmup-label{font-size:11.5px;font-style:italic;paint-order:stroke;stroke:rgba(255,255,255,.75);stroke-width:3px;stroke-linejoin:round}
svg.plot .pt{opacity:0;stroke:#fff;stroke-width:1.5}
svg.plot .pt:hover{opacity:1}
svg.plot .mark-label{font-size:12px;fill:var(--fg);paint-order:stroke;stroke:rgba(255,255,255,.85);stroke-width:4px;stroke-linejoin:round}
svg.plot .clipped path{fill:none;stroke:var(--fg);stroke-width:1.5}
svg.plot .band{fill:transparent}
figure.chart{margin:0}
svg.plot .band:hover{fill:rgba(31,35,40,.06)}
.legend{display:flex;flex-wrap:wrap;gap:6px 18px;list-style:none;padding:0;margin:6px 0 0 80px}
.legend li{display:block}
.legend .absent{color:var(--muted);font-style:italic}
.legend .figure{color:var(--muted);font-variant-numeric:tabular-nums}
.swatch{display:inline-block;width:14px;height:3px;border-radius:2px;margin-right:6px;vertical-align:middle}
.line-swatch{display:inline-block;width:28px;height:8px;vertical-align:middle;margin-right:6px;flex:none}
.swatch.dashed{height:0;border-top:2px dashed #57606a;background:none}
.swatch.warmup{height:10px;background:#eef1f4;border:1px solid var(--line)}
.scroll{overflow-x:auto;margin-top:14px}
table{border-collapse:collapse;width:100%}
caption{text-align:left;color:var(--muted);font-size:12px;padding-bottom:4px}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{font-size:12px;color:var(--muted);font-weight:600;border-bottom:2px solid var(--line)}
table.numbers td{text-align:right;font-variant-numeric:tabular-nums}
table.numbers thead th:not(:first-child){text-align:right}
table.numbers td.center{text-align:center}
table.numbers tbody th{font-weight:500}
table.diff td:nth-child(-n+4),table.diff thead th:nth-child(-n+4){text-align:left}
table.kv th{width:160px;color:var(--muted);font-weight:500}
table.assertions td:nth-child(2){white-space:nowrap}
.pill{display:inline-block;font-size:12px;font-weight:600;border-radius:10px;padding:1px 9px;margin-right:6px;background:var(--soft);color:var(--muted);border:1px solid var(--line)}
.pill.ok{background:var(--ok-bg);color:var(--ok);border-color:#aceebb}.pill.bad{background:var(--bad-bg);color:var(--bad);border-color:#ffcecb}
.ok{color:var(--ok);font-weight:500}.bad{color:var(--bad);font-weight:500}
.verdict{margin:8px 0 4px}
.errors{color:var(--bad)}
footer{margin-top:36px;padding-top:12px;border-top:1px solid var(--line);color:var(--muted);font-size:12px}
.tip{position:fixed;z-index:10;pointer-events:none;background:#1f2328;color:#fff;font:12px/1.45 var(--mono);padding:6px 9px;border-radius:5px;white-space:pre;box-shadow:0 2px 8px rgba(0,0,0,.2)}
@media (max-width:640px){main{padding:16px 12px}.legend{margin-left:0}table{font-size:12.5px}th,td{padding:5px 6px}
svg.plot .tick,svg.plot .axis-title{font-size:17px}svg.plot .warmup-label,svg.plot .mark-label,svg.plot .limit-label{font-size:15px}}
`;

/** Faster tooltips than the native <title> ones (which stay as the fallback without script). */
export const TOOLTIP_SCRIPT = `
(function () {
  var tip = document.createElement('div');
  tip.className = 'tip';
  tip.hidden = true;
  document.body.appendChild(tip);
  document.querySelectorAll('[data-tip] > title').forEach(function (t) { t.remove(); });
  function owner(node) { return node && node.closest ? node.closest('[data-tip]') : null; }
  document.addEventListener('pointerover', function (e) {
    var el = owner(e.target);
    if (!el) { tip.hidden = true; return; }
    tip.textContent = el.getAttribute('data-tip');
    tip.hidden = false;
  });
  document.addEventListener('pointermove', function (e) {
    if (tip.hidden) return;
    var x = e.clientX + 14, y = e.clientY + 14;
    if (x + tip.offsetWidth > window.innerWidth - 4) x = e.clientX - tip.offsetWidth - 14;
    if (y + tip.offsetHeight > window.innerHeight - 4) y = e.clientY - tip.offsetHeight - 14;
    tip.style.left = Math.max(4, x) + 'px';
    tip.style.top = Math.max(4, y) + 'px';
  });
  document.addEventListener('pointerout', function (e) { if (!owner(e.relatedTarget)) tip.hidden = true; });
})();
`;
