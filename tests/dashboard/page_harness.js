// Runs the dashboard page's script against a minimal DOM and a real snapshot:
//   node page_harness.js PAGE.html SNAPSHOT.json
// Prints the rendered score, grade and the number of pattern rows; any
// exception or console.error fails (exit 1). Stands in for a browser where
// none is installed; the page uses only the DOM calls stubbed here.
"use strict";
const fs = require("fs");
const [page, snap] = process.argv.slice(2).map((f) => fs.readFileSync(f, "utf8"));
const script = page.split("<script>")[1].split("</script>")[0];
const byId = {};
class Node {
  constructor(tag) { this.tagName = tag; this.children = []; this.style = {}; this.attrs = {}; this.className = ""; this._text = ""; }
  get firstChild() { return this.children[0] || null; }
  appendChild(c) { this.children.push(c); return c; }
  removeChild(c) { this.children.splice(this.children.indexOf(c), 1); return c; }
  setAttribute(k, v) { this.attrs[k] = String(v); }
  set textContent(t) { this._text = String(t); this.children = []; }
  get textContent() { return this._text + this.children.map((c) => c.textContent).join(""); }
}
for (const m of page.matchAll(/id="([a-z]+)"/g)) byId[m[1]] = new Node("div");
let errors = 0;
const ctx = {
  document: {
    getElementById: (id) => { if (!byId[id]) throw new Error("no element #" + id); return byId[id]; },
    createElement: (t) => new Node(t),
    createElementNS: (ns, t) => new Node(t),
  },
  fetch: () => Promise.resolve({ json: () => Promise.resolve(JSON.parse(snap)) }),
  setInterval: () => 0,
  console: { error: (...a) => { errors++; console.log("console.error:", ...a); }, log: console.log },
};
const run = new Function(...Object.keys(ctx), script);
run(...Object.values(ctx));
setTimeout(() => {
  const data = JSON.parse(snap).data;
  const score = byId.score.textContent, grade = byId.grade.textContent;
  const rows = byId.patterns.children.length - 1;
  console.log(JSON.stringify({ score, grade, rows, updated: byId.updated.textContent }));
  const ok = errors === 0 && score === data.health.score.toFixed(0) && grade === data.health.grade &&
    byId.updated.textContent.startsWith("updated") && byId.trend.children.length === (data.queries.trend.minutes.length ? 2 : 0);
  process.exit(ok ? 0 : 1);
}, 100);
