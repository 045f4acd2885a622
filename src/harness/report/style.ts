// The report's inline stylesheet and script (the file must open from disk with no other file).
export const STYLE = `
:root { --red: #c62828; --red-bg: #fdecea; --green: #2e7d32; --green-bg: #e8f5e9; --grey: #757575; --hot: #e65100; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 24px 40px; color: #212121; }
code, pre, .ladder text { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
header { margin: 0 -24px 16px; padding: 14px 24px; color: #fff; }
header.red { background: var(--red); } header.green { background: var(--green); }
header h1 { margin: 0; font-size: 26px; } header p { margin: 4px 0 0; opacity: .9; }
.counts { font-weight: normal; font-size: 18px; }
h2 { margin: 22px 0 8px; font-size: 18px; }
.failures { border: 2px solid var(--red); background: var(--red-bg); padding: 4px 14px 8px; border-radius: 6px; }
.failures h2 { color: var(--red); margin-top: 6px; }
.failures ul { margin: 0; padding-left: 18px; } .failures li { margin: 3px 0; }
.fail-link { color: var(--red); font-weight: 600; } .why { color: #4e342e; }
a.jump { font-weight: 600; color: #b71c1c; }
.hint { color: var(--grey); margin: 0 0 6px; }
table.matrix { border-collapse: collapse; }
.matrix th, .matrix td { border: 1px solid #ddd; padding: 3px 8px; text-align: center; white-space: nowrap; }
.matrix th.scn { text-align: left; font-weight: 500; }
.matrix thead th { background: #f5f5f5; } .matrix th.hook { text-transform: uppercase; letter-spacing: .05em; }
.matrix td a { display: block; text-decoration: none; color: inherit; }
.matrix td.failed { background: var(--red); color: #fff; font-weight: 600; }
.matrix td.passed { background: var(--green-bg); color: var(--green); }
.matrix td.skipped { background: #f5f5f5; color: var(--grey); }
.matrix td.known_failure { background: #fff3e0; color: #e65100; } .matrix td.unexpected_pass { background: var(--red); color: #fff; font-weight: 600; }
.matrix td.none { color: #9e9e9e; font-size: 12px; font-style: italic; }
.matrix td:hover { outline: 2px solid #1565c0; }
section.result { border: 1px solid #ddd; border-left: 6px solid #bbb; border-radius: 4px; padding: 6px 14px 10px; margin: 12px 0; }
section.result.failed, section.result.unexpected_pass { border-left-color: var(--red); } section.result.passed { border-left-color: var(--green); }
section.result.known_failure { border-left-color: #ef6c00; }
section.result:target { box-shadow: 0 0 0 3px #90caf9; }
.result h3 { margin: 4px 0 8px; font-size: 16px; }
.badge { padding: 1px 7px; border-radius: 10px; font-size: 12px; color: #fff; }
.badge.failed, .badge.unexpected_pass { background: var(--red); } .badge.passed { background: var(--green); } .badge.skipped { background: var(--grey); }
.badge.known_failure { background: #ef6c00; }
.bh { color: #455a64; font-weight: normal; } .dur { color: var(--grey); font-weight: normal; font-size: 12px; margin-left: 8px; }
a.up { float: right; font-size: 12px; font-weight: normal; }
table.checks { border-collapse: collapse; width: 100%; }
.checks td { vertical-align: top; padding: 2px 6px; border-bottom: 1px solid #f0f0f0; }
.checks tr.failed .cname { color: var(--red); font-weight: 600; } .checks tr.passed { color: #555; }
.checks td.mark { width: 1.5em; } .checks tr.failed td.mark { color: var(--red); font-weight: 700; } .checks tr.passed td.mark { color: var(--green); }
pre.msg { background: var(--red-bg); border: 1px solid #f5c6cb; padding: 6px 8px; margin: 3px 0 6px; white-space: pre-wrap; word-break: break-word; font-size: 12.5px; }
pre.error { font-weight: 600; }
.log pre { background: #fff8e1; border: 1px solid #ffe082; padding: 6px 8px; margin: 3px 0; font-size: 12.5px; white-space: pre-wrap; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 8px 0; }
dl.meta dt { color: var(--grey); } dl.meta dd { margin: 0; }
code.cmd { background: #eceff1; padding: 1px 5px; border-radius: 3px; }
.files a { margin-right: 10px; }
button.copy { font-size: 11px; padding: 0 6px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
figure.chart { margin: 4px 0; border: 1px solid #e0e0e0; padding: 4px; } figure.chart.bad { border-color: var(--red); }
figcaption { font-size: 12px; color: #555; max-width: 420px; }
.suspects { background: var(--red-bg); border: 1px solid #f5c6cb; padding: 6px 10px; margin: 8px 0; border-radius: 4px; }
.suspects ol { margin: 4px 0 0; padding-left: 20px; } .suspects code { font-size: 12px; color: #4e342e; }
details > summary { cursor: pointer; font-weight: 600; margin: 8px 0 4px; }
.legend { font-weight: normal; color: var(--grey); margin-left: 12px; font-size: 12px; }
.legend .hot { color: var(--hot); font-weight: 700; } .legend .bad { color: var(--red); font-weight: 700; }
.scroll { overflow: auto; max-height: 640px; border: 1px solid #e0e0e0; }
svg.ladder { display: block; }
.lhead { position: sticky; top: 0; z-index: 1; background: #fff; border-bottom: 1px solid #cfd8dc; width: max-content; }
.ladder .life { stroke: #b0bec5; stroke-width: 1.5; }
.ladder .head rect { fill: #eceff1; stroke: #90a4ae; } .ladder .head.lb rect { fill: #e3f2fd; stroke: #1565c0; }
.ladder .head text { font-size: 13px; font-weight: 700; }
.ladder .arrow { stroke: #37474f; stroke-width: 1.3; } .ladder .ah { fill: #37474f; }
.ladder .pkt.bad .arrow { stroke: var(--red); stroke-width: 2; } .ladder .ah.bad { fill: var(--red); }
.ladder .lbl { font-size: 10.5px; fill: #263238; } .ladder .pkt.bad .lbl { fill: var(--red); font-weight: 700; }
.ladder .hot { fill: var(--hot); font-weight: 700; text-decoration: underline; }
.ladder .time { font-size: 10.5px; fill: var(--grey); }
.ladder .tr { font-size: 10px; fill: #1565c0; } .ladder .tr.bad { fill: var(--red); font-weight: 700; }
.ladder .trhead { font-size: 11px; fill: #1565c0; font-weight: 700; }
.ladder .bg { fill: transparent; } .ladder .pkt:hover .bg { fill: #f5f5f5; }
.ladder .pkt.bad .bg { fill: #fdecea; }
.ladder .pkt:target .bg { fill: #ffe082; }
table.ct { border-collapse: collapse; font-size: 12.5px; }
.ct th, .ct td { border-bottom: 1px solid #eee; padding: 3px 8px; text-align: left; vertical-align: top; }
.chip { display: inline-block; padding: 0 6px; margin: 1px 2px; border-radius: 9px; font-size: 11.5px; border: 1px solid transparent; }
.chip small { color: #555; }
.st-new { background: #fff3e0; border-color: #ffcc80; } .st-est { background: var(--green-bg); border-color: #a5d6a7; }
.st-end { background: #ede7f6; border-color: #b39ddb; } .st-none { background: #eee; }
.st-drop { background: var(--red); color: #fff; } .st-drop small { color: #fff; }
table.diff { border-collapse: collapse; margin: 4px 0; font-size: 12.5px; }
.diff th { text-align: left; vertical-align: top; padding: 2px 8px; font-weight: 600; } .diff td { padding: 1px 6px; }
.diff td.side { color: var(--grey); } .diff mark { background: #ffcdd2; color: #b71c1c; font-weight: 700; }
`;

// Copy buttons, and a link to a packet opens the ladder that holds it (a closed <details> hides its target).
export const SCRIPT = `
document.addEventListener('click', (e) => {
  const b = e.target.closest('button.copy');
  if (b) { navigator.clipboard?.writeText(b.dataset.copy).then(() => { b.textContent = 'copied'; }, () => {}); }
});
function openTarget() {
  const id = decodeURIComponent(location.hash.slice(1));
  const t = id && document.getElementById(id);
  if (!t) return;
  for (let d = t.closest('details'); d; d = d.parentElement && d.parentElement.closest('details')) d.open = true;
  const box = t instanceof SVGElement ? t.closest('.scroll') : null;
  if (box) {
    // A packet row: scroll the ladder's own box so the row sits mid-box (below the sticky node names), then the box into view.
    box.scrollTop += t.getBoundingClientRect().top - box.getBoundingClientRect().top - box.clientHeight / 2;
    box.scrollIntoView({ block: 'center' });
  } else t.scrollIntoView({ block: 'start' });
}
window.addEventListener('hashchange', openTarget);
window.addEventListener('load', openTarget);
openTarget();
`;
