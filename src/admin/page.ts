/**
 * "Status > Unified Communications" as one page. Static HTML + a small script that polls /api/status, so the
 * page shows whatever sections the node has today and any a plane adds later (rendered generically).
 * A token, when the admin API needs one, is taken from the page's #token=… fragment (never sent in URLs).
 */
export const STATUS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Status &gt; Unified Communications</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1d2630}
header{background:#04405e;color:#fff;padding:12px 20px;display:flex;flex-wrap:wrap;gap:6px 16px;align-items:baseline}
header h1{font-size:18px;margin:0;white-space:nowrap}#maint{color:#ffcf4d;font-weight:bold}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:14px;padding:14px}
section{background:#fff;border-radius:6px;padding:10px 14px;box-shadow:0 1px 2px #0002;overflow:auto}
h2{font-size:15px;margin:4px 0 8px}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #e3e7eb;padding:3px 6px;text-align:left;vertical-align:top;font-size:13px}
th{color:#52606d;font-weight:600;width:34%}.up{color:#0a7d2c;font-weight:bold}.down{color:#b3261e;font-weight:bold}
.badge{display:inline-block;padding:3px 10px;border-radius:4px;color:#fff;font-weight:bold;margin:0 0 6px}
.badge.up{background:#0a7d2c;color:#fff}.badge.down{background:#b3261e;color:#fff}
.alarm-error{color:#b3261e}.alarm-warning{color:#8a5a00}#alarms,#s-discovery{grid-column:1/-1}.muted{color:#7b8794}
</style></head><body>
<header><h1>Status &gt; Unified Communications</h1><span id="node"></span><span id="maint"></span><span id="drain"></span><span id="updated" class="muted"></span></header>
<main id="sections"><section id="alarms"><h2>Alarms</h2><div class="body muted">loading…</div></section></main>
<script>
const TITLES={domains:'Domains and services',traversal:'Traversal link',discovery:'Discovered nodes and zones',
registrations:'Registrations',xmpp:'XMPP streams',calls:'Calls',media:'Calls and media',http:'HTTPS proxy and allow list',
allowList:'Allow list',intrusion:'Intrusion protection',sip:'SIP: registrations and calls',turn:'TURN server'};
const HEADER=['node','role','started','maintenance','drain','alarms'];
const token=(location.hash.match(/token=([^&]+)/)||[])[1];
const esc=s=>String(s).replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
function cell(v){
  if(v===null||v===undefined)return '<span class="muted">–</span>';
  if(Array.isArray(v)){
    if(!v.length)return '<span class="muted">none</span>';
    if(v.every(x=>x&&typeof x==='object'&&!Array.isArray(x))){
      const cols=[...new Set(v.flatMap(Object.keys))];
      return '<table><tr>'+cols.map(c=>'<th>'+esc(c)+'</th>').join('')+'</tr>'+v.map(r=>'<tr>'+cols.map(c=>'<td>'+cell(r[c])+'</td>').join('')+'</tr>').join('')+'</table>';
    }
    return v.map(x=>typeof x==='object'?cell(x):esc(x)).join('<br>');
  }
  if(typeof v==='object')return '<table>'+Object.entries(v).map(([k,x])=>'<tr><th>'+esc(k)+'</th><td>'+cell(x)+'</td></tr>').join('')+'</table>';
  if(k_state(v))return '<span class="'+(v==='up'?'up':'down')+'">'+esc(v)+'</span>';
  return esc(v);
}
function k_state(v){return v==='up'||v==='down'||v==='connecting'||v==='listening'}
function render(doc){
  document.getElementById('node').textContent=doc.role+' '+doc.node+' · started '+doc.started;
  const d=doc.drain;
  document.getElementById('maint').textContent=doc.maintenance?'(Maintenance mode)':'';
  document.getElementById('drain').textContent=!doc.maintenance||!d?'':d.drained?'drained: no calls or chat sessions left; safe to stop'+(d.registrations?' ('+d.registrations+' registrations move as clients refresh)':''):'draining: '+Object.entries(d.active).map(([k,v])=>k+' '+v).join(', ');
  document.getElementById('updated').textContent='updated '+new Date().toLocaleTimeString();
  const al=doc.alarms||[];
  document.querySelector('#alarms .body').innerHTML=al.length?'<table>'+al.map(a=>'<tr class="alarm-'+esc(a.severity)+'"><th>'+esc(a.id)+'</th><td>'+esc(a.message)+'<br><span class="muted">since '+esc(a.since)+'</span></td></tr>').join('')+'</table>':'<span class="muted">no alarms</span>';
  const main=document.getElementById('sections');
  for(const [name,val] of Object.entries(doc)){
    if(HEADER.includes(name))continue;
    let s=document.getElementById('s-'+name);
    if(!s){s=document.createElement('section');s.id='s-'+name;s.innerHTML='<h2>'+esc(TITLES[name]||name)+'</h2><div class="body"></div>';main.appendChild(s);}
    let html=cell(val);
    if(name==='traversal'&&val&&val.state)html='<p id="link-state" class="badge '+(val.state==='up'?'up':'down')+'">link '+esc(val.state)+'</p>'+html;
    s.querySelector('.body').innerHTML=html;
  }
}
async function poll(){
  try{
    const r=await fetch('/api/status',{headers:token?{authorization:'Bearer '+decodeURIComponent(token)}:{},cache:'no-store'});
    if(!r.ok)throw new Error('HTTP '+r.status);
    render(await r.json());
  }catch(e){document.getElementById('updated').textContent='admin API unreachable: '+e.message;}
  setTimeout(poll,1000);
}
poll();
</script></body></html>
`;
