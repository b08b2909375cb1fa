// The viewer's one page: plain HTML and script, no build step. Lists calls (filters by op,
// status, roots only), shows a trace as a tree with a waterfall (timings, tokens, time to first
// token, tokens/s), a call's inputs and outputs (images as thumbnails), feedback buttons, and the
// objects with their versions. Server-sent events from /api/events refresh what is shown.

export const VIEWER_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sluice traces</title>
<style>
body{font:13px system-ui,sans-serif;margin:0;display:grid;grid-template-columns:38% 62%;height:100vh}
header{grid-column:1/3;padding:6px 10px;background:#123;color:#fff;display:flex;gap:10px;align-items:center}
section{overflow:auto;padding:8px;border-right:1px solid #ddd}
table{border-collapse:collapse;width:100%}td,th{padding:3px 5px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap}
tr.call{cursor:pointer}tr.call:hover,tr.selected{background:#eef5ff}
.status-error{color:#b00}.status-cancelled{color:#a60}.status-running{color:#06c}
.row{display:flex;align-items:center;gap:6px;cursor:pointer;padding:1px 0}.row:hover{background:#f4f8ff}
.bar{position:relative;height:10px;flex:1;background:#f3f3f3}.bar i{position:absolute;top:0;height:10px;background:#58a}
.bar i.llm{background:#a5c}.bar b{position:absolute;top:0;height:10px;width:2px;background:#e80}
.name{width:260px;overflow:hidden;text-overflow:ellipsis}
pre{white-space:pre-wrap;background:#f7f7f7;padding:6px;max-height:260px;overflow:auto}
img.thumb{max-width:160px;max-height:120px;border:1px solid #ccc;margin:2px}
</style></head><body>
<header><b>Sluice traces</b>
<label>op <select id="op"><option value="">all</option></select></label>
<label>status <select id="status"><option value="">all</option><option>ok</option><option>error</option><option>cancelled</option><option>running</option></select></label>
<label><input type="checkbox" id="roots" checked> roots only</label>
<span id="live">connecting</span></header>
<section><table><thead><tr><th>op</th><th>status</th><th>started</th><th>ms</th><th>tokens</th></tr></thead><tbody id="calls"></tbody></table>
<h3>Objects</h3><div id="objects"></div></section>
<section><div id="trace"></div><div id="detail"></div></section>
<script>
const $ = (s) => document.querySelector(s);
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
let selectedTrace = null, selectedCall = null, updates = 0;
const tokens = (c) => c.summary && c.summary.usage ? c.summary.usage.inputTokens + '/' + c.summary.usage.outputTokens : '';
const dur = (c) => c.endedAt ? Math.round(c.endedAt - c.startedAt) : '';
async function loadCalls() {
  const q = new URLSearchParams();
  if ($('#op').value) q.append('op', $('#op').value);
  if ($('#status').value) q.set('status', $('#status').value);
  if ($('#roots').checked) q.set('rootsOnly', '1');
  const { calls, ops } = await (await fetch('/api/calls?' + q)).json();
  const current = $('#op').value;
  $('#op').innerHTML = '<option value="">all</option>' + ops.map((o) => '<option' + (o === current ? ' selected' : '') + '>' + esc(o) + '</option>').join('');
  $('#calls').innerHTML = calls.map((c) => '<tr class="call' + (c.traceId === selectedTrace ? ' selected' : '') + '" data-id="' + c.id + '" data-trace="' + c.traceId + '">' +
    '<td>' + esc(c.displayName || c.op) + '</td><td class="status-' + c.status + '">' + c.status + '</td><td>' + new Date(c.startedAt).toLocaleTimeString() +
    '</td><td>' + dur(c) + '</td><td>' + tokens(c) + '</td></tr>').join('');
  $('#calls').dataset.count = String(calls.length);
}
async function loadTrace(traceId) {
  selectedTrace = traceId;
  const { calls } = await (await fetch('/api/calls?sort=startedAt&limit=10000&traceId=' + traceId)).json();
  if (calls.length === 0) { $('#trace').innerHTML = ''; return; }
  const t0 = Math.min(...calls.map((c) => c.startedAt));
  const t1 = Math.max(...calls.map((c) => c.endedAt || Date.now()));
  const span = Math.max(1, t1 - t0);
  const children = new Map();
  const ids = new Set(calls.map((c) => c.id));
  for (const c of calls) { const p = ids.has(c.parentId) ? c.parentId : ''; if (!children.has(p)) children.set(p, []); children.get(p).push(c); }
  const rows = [];
  const walk = (parent, depth) => { for (const c of children.get(parent) || []) { rows.push([c, depth]); walk(c.id, depth + 1); } };
  walk('', 0);
  $('#trace').innerHTML = '<h3>Trace ' + traceId.slice(0, 8) + '</h3>' + rows.map(([c, d]) => {
    const left = (100 * (c.startedAt - t0)) / span, width = Math.max(0.5, (100 * ((c.endedAt || t1) - c.startedAt)) / span);
    const ttft = c.firstOutputAt ? '<b style="left:' + (100 * (c.firstOutputAt - t0)) / span + '%"></b>' : '';
    return '<div class="row span" data-id="' + c.id + '"><span class="name" style="padding-left:' + d * 14 + 'px">' + esc(c.displayName || c.op) +
      '</span><span class="bar"><i class="' + esc(c.kind) + '" style="left:' + left + '%;width:' + width + '%"></i>' + ttft + '</span><span>' + dur(c) + ' ms</span></div>';
  }).join('');
  if (!selectedCall || !ids.has(selectedCall)) selectedCall = rows[0][0].id;
  await loadCall(selectedCall);
}
function parts(captured) {
  if (!captured || !Array.isArray(captured.parts)) return '<pre>' + esc(JSON.stringify(captured, null, 2)) + '</pre>';
  return captured.parts.map((p) => p.blob
    ? (p.mimetype.startsWith('image/') ? '<img class="thumb" alt="' + esc(p.mimetype) + '" src="/api/blobs/' + p.blob + '">' : '<div>' + esc(p.mimetype) + ' blob, ' + p.bytes + ' bytes</div>')
    : '<pre data-substream="' + esc(p.substream || '') + '">' + esc(p.text ?? JSON.stringify(p.toolCall || p.toolResult || p)) + '</pre>').join('') +
    (captured.truncated ? '<div>(truncated; ' + captured.count + ' parts)</div>' : '');
}
async function loadCall(id) {
  selectedCall = id;
  const res = await fetch('/api/calls/' + id);
  if (!res.ok) return;
  const c = await res.json();
  const ms = c.endedAt ? c.endedAt - c.startedAt : 0;
  const ttft = c.firstOutputAt ? Math.round(c.firstOutputAt - c.startedAt) : null;
  const out = c.summary.usage ? c.summary.usage.outputTokens : 0;
  const tps = out && c.endedAt && c.firstOutputAt && c.endedAt > c.firstOutputAt ? (out / ((c.endedAt - c.firstOutputAt) / 1000)).toFixed(1) : '';
  $('#detail').innerHTML = '<h3 id="call-title">' + esc(c.displayName || c.op) + ' <small class="status-' + c.status + '">' + c.status + '</small></h3>' +
    '<div id="timings">' + Math.round(ms) + ' ms' + (ttft !== null ? ', first output ' + ttft + ' ms' : '') + (c.summary.usage ? ', tokens ' + tokens(c) : '') + (tps ? ', ' + tps + ' tokens/s' : '') + '</div>' +
    '<div>' + ['👍', '👎'].map((t) => '<button class="feedback" data-type="' + t + '">' + t + '</button>').join(' ') +
    ' <span id="feedback">' + c.feedback.map((f) => esc(f.type)).join(' ') + '</span></div>' +
    (c.exception ? '<h4>Exception</h4><pre class="exception">' + esc(c.exception.name + ': ' + c.exception.message) + '</pre>' : '') +
    '<h4>Inputs</h4><div id="inputs">' + parts(c.inputs) + '</div><h4>Output</h4><div id="output">' + parts(c.output) + '</div>' +
    '<h4>Attributes</h4><pre>' + esc(JSON.stringify(c.attributes, null, 2)) + '</pre>';
}
async function loadObjects() {
  const { objects } = await (await fetch('/api/objects')).json();
  const byName = new Map();
  for (const o of objects) { if (!byName.has(o.name)) byName.set(o.name, []); byName.get(o.name).push(o); }
  $('#objects').innerHTML = [...byName].map(([name, versions]) => '<details class="object" data-name="' + esc(name) + '"><summary>' + esc(name) + ' (' + versions.length + ' versions)</summary>' +
    versions.map((v, i) => '<div class="version">v' + i + ' ' + v.digest.slice(0, 8) + '<pre>' + esc(JSON.stringify(v.value, null, 2).slice(0, 2000)) + '</pre></div>').join('') + '</details>').join('');
}
document.addEventListener('click', async (e) => {
  const row = e.target.closest('tr.call');
  if (row) { selectedCall = row.dataset.id; await loadTrace(row.dataset.trace); await loadCalls(); return; }
  const span = e.target.closest('.span');
  if (span) { await loadCall(span.dataset.id); return; }
  const fb = e.target.closest('button.feedback');
  if (fb && selectedCall) {
    await fetch('/api/feedback', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ callId: selectedCall, type: fb.dataset.type }) });
    await loadCall(selectedCall);
  }
});
for (const id of ['#op', '#status', '#roots']) $(id).addEventListener('change', loadCalls);
let pending = null;
const refresh = () => { if (pending) return; pending = setTimeout(async () => { pending = null; await loadCalls(); await loadObjects(); if (selectedTrace) await loadTrace(selectedTrace); updates++; document.body.dataset.updates = String(updates); }, 100); };
const source = new EventSource('/api/events');
source.onopen = () => { $('#live').textContent = 'live'; };
source.onmessage = () => refresh();
source.onerror = () => { $('#live').textContent = 'reconnecting'; };
loadCalls(); loadObjects();
</script></body></html>`;
