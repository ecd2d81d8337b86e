// `slmc-check soak --ui`: a small live page on loopback only. GET / is a self-contained HTML page
// (no external assets: it must open on an air-gapped operator machine) that polls GET /state, the
// soak timeline as JSON, and draws the cycle timeline as SVG.
import { Hono } from "hono";
import { serveFetch, type Served } from "../core/serve.ts";
import type { TimelineView } from "./timeline.ts";

export const UI_HOST = "127.0.0.1";

export function uiApp(view: () => TimelineView): Hono {
  const app = new Hono();
  app.get("/", (c) => c.html(PAGE));
  app.get("/state", (c) => {
    c.header("cache-control", "no-store");
    return c.json(view());
  });
  return app;
}

export async function serveUi(view: () => TimelineView, port: number): Promise<Served> {
  return serveFetch(uiApp(view).fetch, UI_HOST, port);
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>slmc-check soak</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.2em;margin:0 0 .3em} .meta{color:#555;margin-bottom:1em}
table{border-collapse:collapse;margin-top:1em} td,th{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
.pass{color:#17702f}.fail,.error{color:#b00020}.running{color:#8a5a00}.skip{color:#777}
svg text{font:11px system-ui,sans-serif}
</style></head><body>
<h1>slmc-check soak — live timeline</h1>
<div class="meta" id="meta">waiting for the first update…</div>
<svg id="timeline" width="960" height="150" role="img" aria-label="soak timeline"></svg>
<table><thead><tr><th>step</th><th>status</th><th>start</th><th>duration</th><th>detail</th></tr></thead><tbody id="steps"></tbody></table>
<script>
const colors={kill:"#e07b00",reboot:"#3366cc",load:"#888"};
const statusColor={pass:"#17702f",fail:"#b00020",error:"#b00020",running:"#8a5a00",skip:"#999"};
const esc=(s)=>String(s).replace(/[&<>"]/g,(c)=>({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
function draw(v){
  const span=Math.max(v.elapsedMs,1000),w=900,x=(ms)=>30+ms/span*w;
  let svg='<line x1="30" y1="120" x2="'+(30+w)+'" y2="120" stroke="#999"/>';
  for(const s of v.steps){
    const end=s.endMs===null?v.elapsedMs:s.endMs,y=s.kind==="reboot"?20:s.kind==="kill"?55:85;
    svg+='<rect class="step" x="'+x(s.startMs)+'" y="'+y+'" width="'+Math.max(2,x(end)-x(s.startMs))+'" height="24" fill="'+(colors[s.kind]||"#888")+'" stroke="'+(statusColor[s.status]||"#000")+'" stroke-width="2"><title>'+esc(s.id+": "+s.status+" "+s.detail)+'</title></rect>';
  }
  for(const r of v.load){
    svg+='<circle class="request" cx="'+x(r.endMs)+'" cy="135" r="3" fill="'+(r.ok?"#17702f":"#b00020")+'"><title>'+esc((r.ok?"completed":"failed: "+r.error)+" at "+(r.endMs/1000).toFixed(1)+" s")+'</title></circle>';
  }
  svg+='<text x="30" y="14">reboots</text><text x="30" y="50">kill -9</text><text x="30" y="148">load</text>';
  document.getElementById("timeline").innerHTML=svg;
  document.getElementById("meta").textContent="state "+v.state+" · cycle "+v.cycle+" of "+v.plan.reboots+" · "+(v.elapsedMs/1000).toFixed(0)+" s elapsed · failures so far "+v.failures+" · load "+v.load.filter((r)=>r.ok).length+"/"+v.load.length+" completed";
  document.getElementById("steps").innerHTML=v.steps.map((s)=>'<tr><td>'+esc(s.id)+'</td><td class="'+esc(s.status)+'">'+esc(s.status)+'</td><td>'+(s.startMs/1000).toFixed(1)+' s</td><td>'+(s.endMs===null?"…":((s.endMs-s.startMs)/1000).toFixed(1)+" s")+'</td><td>'+esc(s.detail)+'</td></tr>').join("");
}
async function poll(){
  try{const r=await fetch("/state",{cache:"no-store"});draw(await r.json());}
  catch(e){document.getElementById("meta").textContent="soak finished or unreachable ("+e.message+")";return;}
  setTimeout(poll,1000);
}
poll();
</script></body></html>
`;
