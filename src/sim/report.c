/*
 * report.html: one self-contained page (style, script and data inline; no
 * network, no other file) that draws a run, or the variants of a `kmm
 * compare`, side by side.
 *
 * Linux counterpart: none; it shows what /proc/vmstat, /proc/zoneinfo,
 * /proc/slabinfo and page-types(1) show of a live system, over time.
 *
 * The C side writes the page's skeleton and the data (each run's JSON from
 * sim_ts_json()) in a <script type="application/json"> block; the script
 * below builds every chart as inline SVG when the page loads: free pages
 * per zone against the watermarks, memory use by kind, the LRU lists,
 * fault, scan and reclaim rates, swap space and traffic, the largest slab
 * caches, and the physical memory map of a chosen snapshot. Every chart
 * has a title, axis labels with units and a legend. Deltas ("per snapshot
 * interval") are computed in the page from the cumulative counters.
 */
#include "timeseries.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* clang-format off */
static const char report_css[] =
	"body { font: 14px/1.4 system-ui, sans-serif; margin: 16px 24px; color: #222; background: #fff; }\n"
	"h1 { font-size: 22px; margin: 0 0 8px; }\n"
	"h2 { font-size: 18px; margin: 24px 0 4px; border-bottom: 1px solid #ccc; }\n"
	"h3 { font-size: 15px; margin: 4px 0; }\n"
	".note { color: #555; margin: 2px 0 8px; }\n"
	".runs { display: flex; flex-wrap: wrap; gap: 16px; }\n"
	".run { flex: 1 1 560px; min-width: 560px; }\n"
	"pre { background: #f6f6f6; padding: 8px; white-space: pre-wrap; }\n"
	"svg.chart { display: inline-block; vertical-align: top; margin: 6px 8px 6px 0; background: #fff; }\n"
	"svg.map { display: block; }\n"
	"svg text { font: 11px system-ui, sans-serif; fill: #222; }\n"
	"svg .ctitle { font-weight: bold; font-size: 13px; }\n"
	"svg .alabel { fill: #444; }\n"
	"svg .grid { stroke: #eee; }\n"
	"svg .axis { stroke: #888; }\n"
	"table.cmp { border-collapse: collapse; margin: 8px 0; }\n"
	"table.cmp td, table.cmp th { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }\n"
	"table.cmp th:first-child, table.cmp td:first-child { text-align: left; }\n"
	"select { margin: 4px 0; }\n";

static const char report_js[] =
	"\"use strict\";\n"
	"var NS = \"http://www.w3.org/2000/svg\";\n"
	"var COLORS = [\"#1f77b4\", \"#d62728\", \"#2ca02c\", \"#ff7f0e\", \"#9467bd\", \"#8c564b\", \"#e377c2\", \"#7f7f7f\", \"#17becf\", \"#bcbd22\"];\n"
	"var STATES = [\n"
	"  [\"a\", \"free, order 0\", \"#c6e9c6\"], [\"b\", \"free, order 1\", \"#b2e0b2\"], [\"c\", \"free, order 2\", \"#9dd79d\"],\n"
	"  [\"d\", \"free, order 3\", \"#88ce88\"], [\"e\", \"free, order 4\", \"#73c473\"], [\"f\", \"free, order 5\", \"#5eba5e\"],\n"
	"  [\"g\", \"free, order 6\", \"#4aae4a\"], [\"h\", \"free, order 7\", \"#3a9e3a\"], [\"i\", \"free, order 8\", \"#2e8b2e\"],\n"
	"  [\"j\", \"free, order 9\", \"#237823\"], [\"k\", \"free, order 10\", \"#186418\"], [\"p\", \"free, per-CPU lists\", \"#e5f5a0\"],\n"
	"  [\"A\", \"anonymous\", \"#d62728\"], [\"F\", \"file (page cache)\", \"#1f77b4\"], [\"S\", \"slab\", \"#ff7f0e\"],\n"
	"  [\"T\", \"page table\", \"#9467bd\"], [\"K\", \"other kernel\", \"#8c564b\"], [\"R\", \"reserved\", \"#444444\"],\n"
	"  [\".\", \"hole\", \"#ffffff\"]\n"
	"];\n"
	"var STATE = {};\n"
	"STATES.forEach(function (s) { STATE[s[0]] = s; });\n"
	"\n"
	"function el(name, attrs, parent) {\n"
	"  var e = document.createElementNS(NS, name);\n"
	"  for (var k in attrs) e.setAttribute(k, attrs[k]);\n"
	"  if (parent) parent.appendChild(e);\n"
	"  return e;\n"
	"}\n"
	"function text(parent, x, y, s, attrs) {\n"
	"  var t = el(\"text\", Object.assign({x: x, y: y}, attrs || {}), parent);\n"
	"  t.textContent = s;\n"
	"  return t;\n"
	"}\n"
	"function html(name, cls, parent, content) {\n"
	"  var e = document.createElement(name);\n"
	"  if (cls) e.className = cls;\n"
	"  if (content !== undefined) e.textContent = content;\n"
	"  if (parent) parent.appendChild(e);\n"
	"  return e;\n"
	"}\n"
	"function fmt(v) {\n"
	"  var a = Math.abs(v);\n"
	"  if (a >= 1e9) return (v / 1e9).toFixed(a >= 1e10 ? 0 : 1) + \"G\";\n"
	"  if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + \"M\";\n"
	"  if (a >= 1e4) return (v / 1e3).toFixed(a >= 1e5 ? 0 : 1) + \"k\";\n"
	"  return String(Math.round(v * 100) / 100);\n"
	"}\n"
	"function niceMax(v) {\n"
	"  if (v <= 0) return 1;\n"
	"  var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;\n"
	"  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;\n"
	"}\n"
	"function col(run, name) {\n"
	"  var i = run.cols.indexOf(name);\n"
	"  return run.rows.map(function (r) { return i < 0 ? 0 : r[i]; });\n"
	"}\n"
	"function deltas(v) {\n"
	"  return v.map(function (x, i) { return i ? Math.max(0, x - v[i - 1]) : 0; });\n"
	"}\n"
	"\n"
	"/* A line chart: title, axis labels with units, a legend, one polyline per series. */\n"
	"function lineChart(o) {\n"
	"  var W = 560, L = 64, R = 12, T = 30, B = 46, PH = 200;\n"
	"  /* Legend entries laid out first: rows under the axis label. */\n"
	"  var lay = [], lx = L, ly = 0;\n"
	"  o.series.forEach(function (s) {\n"
	"    var w = 30 + s.name.length * 6.5;\n"
	"    if (lx + w > W - R && lx > L) { lx = L; ly++; }\n"
	"    lay.push([lx, ly]);\n"
	"    lx += w;\n"
	"  });\n"
	"  var H = T + PH + B + (ly + 1) * 16;\n"
	"  var svg = el(\"svg\", {width: W, height: H, viewBox: \"0 0 \" + W + \" \" + H, \"class\": \"chart\", role: \"img\"});\n"
	"  el(\"title\", {}, svg).textContent = o.title;\n"
	"  text(svg, W / 2, 18, o.title, {\"text-anchor\": \"middle\", \"class\": \"ctitle\"});\n"
	"  var xs = o.x, n = xs.length;\n"
	"  var xmin = n ? xs[0] : 0, xmax = n ? xs[n - 1] : 1;\n"
	"  if (xmax <= xmin) xmax = xmin + 1;\n"
	"  var ymax = 0;\n"
	"  o.series.forEach(function (s) { s.y.forEach(function (v) { if (v > ymax) ymax = v; }); });\n"
	"  ymax = niceMax(ymax);\n"
	"  var pw = W - L - R, ph = PH;\n"
	"  function X(v) { return L + (v - xmin) / (xmax - xmin) * pw; }\n"
	"  function Y(v) { return T + ph - v / ymax * ph; }\n"
	"  var g = el(\"g\", {\"class\": \"axes\"}, svg);\n"
	"  for (var i = 0; i <= 4; i++) {\n"
	"    var yv = ymax * i / 4;\n"
	"    el(\"line\", {x1: L, x2: L + pw, y1: Y(yv), y2: Y(yv), \"class\": \"grid\"}, g);\n"
	"    text(g, L - 4, Y(yv) + 4, fmt(yv), {\"text-anchor\": \"end\"});\n"
	"    var xv = Math.round(xmin + (xmax - xmin) * i / 4);\n"
	"    text(g, X(xv), T + ph + 14, fmt(xv), {\"text-anchor\": \"middle\"});\n"
	"  }\n"
	"  el(\"line\", {x1: L, x2: L, y1: T, y2: T + ph, \"class\": \"axis\"}, g);\n"
	"  el(\"line\", {x1: L, x2: L + pw, y1: T + ph, y2: T + ph, \"class\": \"axis\"}, g);\n"
	"  text(g, L + pw / 2, T + ph + 30, o.xlabel, {\"text-anchor\": \"middle\", \"class\": \"alabel\"});\n"
	"  text(g, 12, T + ph / 2, o.ylabel, {\"text-anchor\": \"middle\", \"class\": \"alabel\", transform: \"rotate(-90 12 \" + (T + ph / 2) + \")\"});\n"
	"  o.series.forEach(function (s, k) {\n"
	"    var c = s.color || COLORS[k % COLORS.length];\n"
	"    var pts = s.y.map(function (v, i) { return X(xs[i]).toFixed(1) + \",\" + Y(v).toFixed(1); }).join(\" \");\n"
	"    var attrs = {points: pts, fill: \"none\", stroke: c, \"stroke-width\": 2, \"class\": \"series\"};\n"
	"    if (s.dash) attrs[\"stroke-dasharray\"] = s.dash;\n"
	"    el(\"polyline\", attrs, svg);\n"
	"    if (n === 1) el(\"circle\", {cx: X(xs[0]), cy: Y(s.y[0]), r: 3, fill: c}, svg);\n"
	"    var y0 = T + ph + B + lay[k][1] * 16 - 4, x0 = lay[k][0];\n"
	"    var la = {x1: x0, x2: x0 + 18, y1: y0 - 4, y2: y0 - 4, stroke: c, \"stroke-width\": 2, \"class\": \"legend-key\"};\n"
	"    if (s.dash) la[\"stroke-dasharray\"] = s.dash;\n"
	"    el(\"line\", la, svg);\n"
	"    text(svg, x0 + 22, y0, s.name, {\"class\": \"legend\"});\n"
	"  });\n"
	"  return svg;\n"
	"}\n"
	"\n"
	"function barChart(o) {\n"
	"  var W = 560, rowH = 20, L = 170, R = 70, T = 30, B = 40;\n"
	"  var H = T + B + Math.max(1, o.items.length) * rowH;\n"
	"  var svg = el(\"svg\", {width: W, height: H, viewBox: \"0 0 \" + W + \" \" + H, \"class\": \"chart\", role: \"img\"});\n"
	"  el(\"title\", {}, svg).textContent = o.title;\n"
	"  text(svg, W / 2, 18, o.title, {\"text-anchor\": \"middle\", \"class\": \"ctitle\"});\n"
	"  var max = niceMax(Math.max.apply(null, [1].concat(o.items.map(function (i) { return i.value; }))));\n"
	"  var pw = W - L - R;\n"
	"  o.items.forEach(function (it, k) {\n"
	"    var y = T + k * rowH;\n"
	"    el(\"rect\", {x: L, y: y + 3, width: Math.max(1, it.value / max * pw), height: rowH - 6, fill: COLORS[1], \"class\": \"bar\"}, svg);\n"
	"    text(svg, L - 6, y + rowH - 6, it.name, {\"text-anchor\": \"end\"});\n"
	"    text(svg, L + it.value / max * pw + 4, y + rowH - 6, fmt(it.value));\n"
	"  });\n"
	"  if (!o.items.length) text(svg, W / 2, T + 14, \"(no slab caches)\", {\"text-anchor\": \"middle\"});\n"
	"  text(svg, L + pw / 2, H - 20, o.xlabel, {\"text-anchor\": \"middle\", \"class\": \"alabel\"});\n"
	"  el(\"rect\", {x: L, y: H - 14, width: 12, height: 10, fill: COLORS[1]}, svg);\n"
	"  text(svg, L + 16, H - 5, o.legend, {\"class\": \"legend\"});\n"
	"  return svg;\n"
	"}\n"
	"\n"
	"/* The physical memory map of one snapshot: a row of cells per zone, runs of one state merged. */\n"
	"function memoryMap(run, map) {\n"
	"  var PER = 128, C = 4, W = PER * C + 20;\n"
	"  var rows = 0;\n"
	"  run.zones.forEach(function (z) { rows += Math.ceil(z.cells / PER) + 5; });\n"
	"  var H = 30 + rows * C + 16 * run.zones.length + 10;\n"
	"  var svg = el(\"svg\", {width: W, height: H, viewBox: \"0 0 \" + W + \" \" + H, \"class\": \"chart map\", role: \"img\"});\n"
	"  var title = \"Physical memory map, snapshot \" + run.snaps[map.sample] + \" (one cell = \" + run.cellPages + \" page\" + (run.cellPages > 1 ? \"s\" : \"\") + \" of 4 KiB)\";\n"
	"  el(\"title\", {}, svg).textContent = title;\n"
	"  text(svg, W / 2, 18, title, {\"text-anchor\": \"middle\", \"class\": \"ctitle\"});\n"
	"  var y = 30;\n"
	"  run.zones.forEach(function (z) {\n"
	"    text(svg, 10, y + 11, \"Node \" + z.node + \", zone \" + z.name + \": pfn \" + z.start + \" to \" + (z.start + z.pages - 1) + \" (\" + fmt(z.pages * 4096 / 1048576) + \" MiB)\", {\"class\": \"legend\"});\n"
	"    y += 16;\n"
	"    var cells = map.cells.substr(z.first, z.cells);\n"
	"    for (var r = 0; r * PER < cells.length; r++) {\n"
	"      var row = cells.substr(r * PER, PER);\n"
	"      var start = 0;\n"
	"      for (var i = 1; i <= row.length; i++) {\n"
	"        if (i === row.length || row[i] !== row[start]) {\n"
	"          var st = STATE[row[start]] || STATE[\".\"];\n"
	"          el(\"rect\", {x: 10 + start * C, y: y, width: (i - start) * C, height: C, fill: st[2], \"class\": \"cell\", \"data-state\": st[1]}, svg);\n"
	"          start = i;\n"
	"        }\n"
	"      }\n"
	"      y += C;\n"
	"    }\n"
	"    y += 4 * C;\n"
	"  });\n"
	"  return svg;\n"
	"}\n"
	"\n"
	"function mapLegend(parent) {\n"
	"  var W = 560, H = 16 * Math.ceil(STATES.length / 3) + 24;\n"
	"  var svg = el(\"svg\", {width: W, height: H, viewBox: \"0 0 \" + W + \" \" + H, \"class\": \"chart\", role: \"img\"});\n"
	"  el(\"title\", {}, svg).textContent = \"Legend of the memory map\";\n"
	"  text(svg, 4, 14, \"Legend: the state most pages of a cell are in\", {\"class\": \"ctitle\"});\n"
	"  STATES.forEach(function (s, i) {\n"
	"    var x = 4 + (i % 3) * 186, y = 24 + Math.floor(i / 3) * 16;\n"
	"    el(\"rect\", {x: x, y: y, width: 12, height: 12, fill: s[2], stroke: \"#999\"}, svg);\n"
	"    text(svg, x + 16, y + 10, s[1], {\"class\": \"legend\"});\n"
	"  });\n"
	"  parent.appendChild(svg);\n"
	"}\n"
	"\n"
	"function section(title, note, id) {\n"
	"  var s = html(\"section\", null, document.getElementById(\"main\"));\n"
	"  if (id) s.id = id;\n"
	"  html(\"h2\", null, s, title);\n"
	"  if (note) html(\"p\", \"note\", s, note);\n"
	"  return html(\"div\", \"runs\", s);\n"
	"}\n"
	"function runBox(parent, run) {\n"
	"  var d = html(\"div\", \"run\", parent);\n"
	"  if (RUNS.length > 1) html(\"h3\", null, d, run.name);\n"
	"  return d;\n"
	"}\n"
	"\n"
	"function render() {\n"
	"  var head = document.getElementById(\"summary\");\n"
	"  RUNS.forEach(function (run) {\n"
	"    var d = html(\"div\", \"run\", head);\n"
	"    if (RUNS.length > 1) html(\"h3\", null, d, run.name);\n"
	"    html(\"pre\", null, d, run.summary);\n"
	"  });\n"
	"  var xl = \"operations run\";\n"
	"  var box = section(\"Free pages per zone\", \"Free pages of each zone against its min, low and high watermarks: below low, kswapd wakes; below min, allocations reclaim directly.\");\n"
	"  RUNS.forEach(function (run) {\n"
	"    var d = runBox(box, run), x = col(run, \"ops\");\n"
	"    run.zones.forEach(function (z) {\n"
	"      var p = \"node\" + z.node + \"_\" + z.name + \"_\";\n"
	"      d.appendChild(lineChart({title: \"Node \" + z.node + \" \" + z.name + \": free pages and watermarks\", xlabel: xl, ylabel: \"pages (4 KiB)\", x: x, series: [\n"
	"        {name: \"free\", y: col(run, p + \"free\")},\n"
	"        {name: \"min\", y: col(run, p + \"min\"), dash: \"4 3\", color: \"#d62728\"},\n"
	"        {name: \"low\", y: col(run, p + \"low\"), dash: \"4 3\", color: \"#ff7f0e\"},\n"
	"        {name: \"high\", y: col(run, p + \"high\"), dash: \"4 3\", color: \"#2ca02c\"}]}));\n"
	"    });\n"
	"  });\n"
	"  box = section(\"Memory use\", \"Where the pages went: anonymous and file pages mapped or cached, slab and page tables.\");\n"
	"  RUNS.forEach(function (run) {\n"
	"    var slab = col(run, \"slab_bytes\").map(function (b) { return b / 4096; });\n"
	"    runBox(box, run).appendChild(lineChart({title: \"Memory use by kind\", xlabel: xl, ylabel: \"pages (4 KiB)\", x: col(run, \"ops\"), series: [\n"
	"      {name: \"anonymous\", y: col(run, \"nr_anon_pages\")}, {name: \"file\", y: col(run, \"nr_file_pages\")},\n"
	"      {name: \"slab\", y: slab}, {name: \"page tables\", y: col(run, \"nr_page_table_pages\")}]}));\n"
	"  });\n"
	"  box = section(\"LRU lists\", \"Pages on each LRU list (the reclaim layer's view of memory); empty while no layer puts pages on them.\");\n"
	"  RUNS.forEach(function (run) {\n"
	"    runBox(box, run).appendChild(lineChart({title: \"LRU list sizes\", xlabel: xl, ylabel: \"pages (4 KiB)\", x: col(run, \"ops\"), series: [\n"
	"      {name: \"inactive anon\", y: col(run, \"nr_inactive_anon\")}, {name: \"active anon\", y: col(run, \"nr_active_anon\")},\n"
	"      {name: \"inactive file\", y: col(run, \"nr_inactive_file\")}, {name: \"active file\", y: col(run, \"nr_active_file\")},\n"
	"      {name: \"unevictable\", y: col(run, \"nr_unevictable\")}]}));\n"
	"  });\n"
	"  box = section(\"Faults, scans and reclaim\", \"Events between one snapshot and the next.\");\n"
	"  RUNS.forEach(function (run) {\n"
	"    runBox(box, run).appendChild(lineChart({title: \"Fault, scan and reclaim rates\", xlabel: xl, ylabel: \"events per snapshot interval\", x: col(run, \"ops\"), series: [\n"
	"      {name: \"page faults\", y: deltas(col(run, \"pgfault\"))}, {name: \"major faults\", y: deltas(col(run, \"pgmajfault\"))},\n"
	"      {name: \"pages scanned\", y: deltas(col(run, \"pgscan\"))}, {name: \"pages reclaimed\", y: deltas(col(run, \"pgsteal\"))}]}));\n"
	"  });\n"
	"  box = section(\"Swap\", \"Swap slots in use against the swap space switched on, and pages written to and read from swap.\");\n"
	"  RUNS.forEach(function (run) {\n"
	"    var d = runBox(box, run);\n"
	"    d.appendChild(lineChart({title: \"Swap space\", xlabel: xl, ylabel: \"pages (4 KiB)\", x: col(run, \"ops\"), series: [\n"
	"      {name: \"used\", y: col(run, \"swap_used\")}, {name: \"total\", y: col(run, \"swap_total\"), dash: \"4 3\"}]}));\n"
	"    d.appendChild(lineChart({title: \"Swap traffic\", xlabel: xl, ylabel: \"pages per snapshot interval\", x: col(run, \"ops\"), series: [\n"
	"      {name: \"swapped out\", y: deltas(col(run, \"pswpout\"))}, {name: \"swapped in\", y: deltas(col(run, \"pswpin\"))}]}));\n"
	"  });\n"
	"  box = section(\"Largest slab caches\", \"At the end of the run, by the memory of their slabs.\");\n"
	"  RUNS.forEach(function (run) {\n"
	"    runBox(box, run).appendChild(barChart({title: \"Largest slab caches\", xlabel: \"KiB in slabs\", legend: \"KiB of slab pages (active objects in /proc/slabinfo)\",\n"
	"      items: run.slabs.map(function (s) { return {name: s.name, value: s.bytes / 1024}; })}));\n"
	"  });\n"
	"  box = section(\"Physical memory map\", \"Each cell is a run of page frames, coloured by what most of them hold. Choose a snapshot.\", \"map\");\n"
	"  mapLegend(box.parentNode.insertBefore(html(\"div\", null, null), box));\n"
	"  RUNS.forEach(function (run) {\n"
	"    var d = runBox(box, run);\n"
	"    if (!run.maps.length) { html(\"p\", null, d, \"(no snapshots)\"); return; }\n"
	"    var sel = html(\"select\", null, d);\n"
	"    run.maps.forEach(function (m, i) {\n"
	"      var o = html(\"option\", null, sel, \"snapshot \" + run.snaps[m.sample] + \": \" + run.labels[m.sample].replace(/^\\t/, \"\").replace(\"\\t\", \", \"));\n"
	"      o.value = i;\n"
	"    });\n"
	"    sel.value = run.maps.length - 1;\n"
	"    var holder = html(\"div\", null, d);\n"
	"    function show() {\n"
	"      holder.textContent = \"\";\n"
	"      holder.appendChild(memoryMap(run, run.maps[+sel.value]));\n"
	"    }\n"
	"    sel.addEventListener(\"change\", show);\n"
	"    show();\n"
	"  });\n"
	"}\n"
	"document.addEventListener(\"DOMContentLoaded\", function () {\n"
	"  render();\n"
	"  if (location.hash) { var t = document.getElementById(location.hash.substr(1)); if (t) t.scrollIntoView(); }\n"
	"});\n";
/* clang-format on */

static void html_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else
			fputc(*s, f);
	}
}

int sim_report_write(const char *path, const char *title, const char *const *runs, int nruns,
		     const char *table_html)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", f);
	html_escape(f, title);
	fputs("</title>\n<style>\n", f);
	fputs(report_css, f);
	fputs("</style>\n</head>\n<body>\n<h1>", f);
	html_escape(f, title);
	fputs("</h1>\n<div id=\"summary\" class=\"runs\"></div>\n", f);
	if (table_html) {
		fputs("<section><h2>Side by side</h2>\n", f);
		fputs(table_html, f);
		fputs("</section>\n", f);
	}
	fputs("<div id=\"main\"></div>\n<script type=\"application/json\" id=\"data\">[", f);
	for (int i = 0; i < nruns; i++) {
		if (i)
			fputs(",\n", f);
		fputs(runs[i], f); /* JSON with '<', '>' and '&' escaped: no "</script>" */
	}
	fputs("]</script>\n<script>\nvar RUNS = "
	      "JSON.parse(document.getElementById(\"data\").textContent);\n",
	      f);
	fputs(report_js, f);
	fputs("</script>\n</body>\n</html>\n", f);
	int ret = ferror(f) ? -EIO : 0;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}
