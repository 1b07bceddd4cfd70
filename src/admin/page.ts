/**
 * The node's status page, laid out as an Expressway administrator knows it: "Status > Unified Communications"
 * (every section a plane publishes, generically, so a new plane shows up without a change here), registrations
 * and calls with search, one call's legs with their media, alarms with Acknowledge, and maintenance mode on and off.
 * Static HTML and a small script over the admin API; nested objects are flattened to dotted rows and lists get
 * full-width tables that wrap, so no value is ever cut off in a narrow panel. A token, when the admin API needs
 * one, is taken from the page's #token=… fragment (never sent in URLs).
 */
export const STATUS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Status &gt; Unified Communications</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1d2630}
header{background:#04405e;color:#fff;padding:10px 20px;display:flex;flex-wrap:wrap;gap:6px 16px;align-items:center}
header h1{font-size:18px;margin:0;white-space:nowrap}#maint{color:#ffcf4d;font-weight:bold}
header button{margin-left:auto}
nav{display:flex;gap:2px;padding:0 14px;background:#e3e9ee;flex-wrap:wrap}
nav button{border:0;background:none;padding:8px 14px;font:inherit;cursor:pointer;border-bottom:3px solid transparent}
nav button[aria-selected=true]{border-bottom-color:#04405e;font-weight:600}
button.act{background:#fff;border:1px solid #9aa5b1;border-radius:4px;padding:3px 10px;font:inherit;cursor:pointer;color:#1d2630}
button.act:hover{background:#eef2f5}
.view{padding:14px}.view[hidden]{display:none}
#sections{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,420px),1fr));gap:14px}
section{background:#fff;border-radius:6px;padding:10px 14px;box-shadow:0 1px 2px #0002;min-width:0}
section.wide,#alarms,#s-cluster{grid-column:1/-1}
h2{font-size:15px;margin:4px 0 8px}h3{font-size:13px;margin:10px 0 4px;color:#52606d}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #e3e7eb;padding:3px 6px;text-align:left;vertical-align:top;font-size:13px;overflow-wrap:anywhere;word-break:break-word}
table.kv th{color:#52606d;font-weight:600;width:40%}
table.list th{color:#52606d;font-weight:600;background:#f7f9fa}
.up{color:#0a7d2c;font-weight:bold}.down{color:#b3261e;font-weight:bold}
.badge{display:inline-block;padding:3px 10px;border-radius:4px;color:#fff;font-weight:bold;margin:0 0 6px}
.badge.up{background:#0a7d2c;color:#fff}.badge.down{background:#b3261e;color:#fff}
.alarm-error{color:#b3261e}.alarm-warning{color:#8a5a00}.muted{color:#7b8794}
.search{display:flex;gap:8px;flex-wrap:wrap;margin:0 0 10px}.search input{padding:4px 8px;font:inherit;min-width:14em}
#error{color:#b3261e;padding:0 20px}
</style></head><body>
<header><h1>Status &gt; Unified Communications</h1><span id="node"></span><span id="maint"></span><span id="drain"></span><span id="updated" class="muted"></span>
<button id="maint-toggle" class="act" type="button">Maintenance mode</button></header>
<nav role="tablist"><button id="tab-overview" role="tab" aria-selected="true">Overview</button><button id="tab-registrations" role="tab">Registrations</button><button id="tab-calls" role="tab">Calls</button><button id="tab-alarms" role="tab">Alarms</button></nav>
<p id="error" role="alert"></p>
<div id="view-overview" class="view"><main id="sections">
<section id="alarms"><h2>Alarms</h2><div class="body muted">loading…</div></section>
<section id="s-cluster"><h2>Cluster peers</h2><div class="body muted">This node runs alone.</div></section>
</main></div>
<div id="view-registrations" class="view" hidden><section><h2>Registrations</h2>
<form class="search" id="reg-form"><input id="reg-user" placeholder="user (any part of the name)" aria-label="user"><input id="reg-domain" placeholder="domain" aria-label="domain"><button class="act">Search</button></form>
<div id="reg-list" class="muted">loading…</div></section></div>
<div id="view-calls" class="view" hidden><section><h2>Calls</h2>
<form class="search" id="call-form"><input id="call-user" placeholder="user (any part of the name)" aria-label="user"><input id="call-domain" placeholder="domain" aria-label="domain"><button class="act">Search</button></form>
<div id="call-list" class="muted">loading…</div></section>
<section id="call-detail" hidden style="margin-top:14px"><h2>Call</h2><div class="body"></div></section></div>
<div id="view-alarms" class="view" hidden><section><h2>Alarms</h2><div id="alarm-list" class="muted">loading…</div></section></div>
<script>
const TITLES={domains:'Domains and services',traversal:'Traversal link',discovery:'Discovered nodes and zones',
registrations:'Registrations',xmpp:'XMPP streams',calls:'Calls',media:'Calls and media',http:'HTTPS proxy and allow list',
allowList:'Allow list',intrusion:'Intrusion protection',sip:'SIP: registrations and calls',turn:'TURN server',store:'State store',sharedConfig:'Shared configuration'};
const HEADER=['node','role','version','started','maintenance','drain','alarms'];
/* Expressway's order: the link first, then what rides it; a section a plane adds later goes before the store. */
const ORDER=['traversal','domains','discovery','sip','media','turn','http','xmpp','intrusion'];
const rank=id=>{const i=ORDER.indexOf(id.slice(2));return id==='alarms'?-1:id==='s-cluster'?1e3:id==='s-store'?999:i<0?500:i;};
const token=(location.hash.match(/token=([^&]+)/)||[])[1];
const AUTH=token?{authorization:'Bearer '+decodeURIComponent(token)}:{};
const $=id=>document.getElementById(id);
const esc=s=>String(s).replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
const isObj=v=>v!==null&&typeof v==='object'&&!Array.isArray(v);
async function api(path,body){
  const r=await fetch(path,{method:body?'POST':'GET',headers:{...AUTH,...(body?{'content-type':'application/json'}:{})},body:body?JSON.stringify(body):undefined,cache:'no-store'});
  const j=await r.json().catch(()=>({}));
  if(!r.ok)throw new Error('HTTP '+r.status+(j.error?': '+j.error:''));
  return j;
}
function scalar(v){
  if(v===null||v===undefined)return '<span class="muted">–</span>';
  if(v==='up'||v==='down'||v==='connecting')return '<span class="'+(v==='up'?'up':'down')+'">'+esc(v)+'</span>';
  return esc(v);
}
/* One line for a nested value inside a list cell: a call leg's media, a map of counters. */
function compact(v){
  if(Array.isArray(v)){
    if(v.length&&v.every(x=>isObj(x)&&'stream' in x))return v.map(s=>'stream '+s.stream+': a in '+(s.a?s.a.packetsIn:0)+' out '+(s.a?s.a.packetsOut:0)+', b in '+(s.b?s.b.packetsIn:0)+' out '+(s.b?s.b.packetsOut:0)).join('<br>');
    return v.map(x=>isObj(x)?compact(x):esc(x)).join(', ')||'<span class="muted">none</span>';
  }
  if(isObj(v))return Object.entries(v).map(([k,x])=>esc(k)+' '+(isObj(x)||Array.isArray(x)?compact(x):scalar(x))).join(', ')||'<span class="muted">none</span>';
  return scalar(v);
}
function listTable(rows){
  if(!rows.length)return '<span class="muted">none</span>';
  if(!rows.every(isObj))return rows.map(esc).join('<br>');
  const cols=[...new Set(rows.flatMap(Object.keys))];
  return '<table class="list"><tr>'+cols.map(c=>'<th>'+esc(c)+'</th>').join('')+'</tr>'+rows.map(r=>'<tr>'+cols.map(c=>'<td>'+(isObj(r[c])||Array.isArray(r[c])?compact(r[c]):scalar(r[c]))+'</td>').join('')+'</tr>').join('')+'</table>';
}
/* A section as dotted key/value rows, and each list of records as a table of its own below them. */
function sectionHtml(val){
  if(Array.isArray(val))return listTable(val);
  if(!isObj(val))return '<table class="kv"><tr><td>'+scalar(val)+'</td></tr></table>';
  const rows=[],lists=[];
  const walk=(o,p)=>{for(const [k,v] of Object.entries(o)){const key=p?p+'.'+k:k;
    if(isObj(v)&&Object.keys(v).length)walk(v,key);
    else if(Array.isArray(v)&&v.some(isObj))lists.push([key,v]);
    else if(Array.isArray(v))rows.push([key,v.length?v.map(esc).join('<br>'):'<span class="muted">none</span>']);
    else rows.push([key,isObj(v)?'<span class="muted">none</span>':scalar(v)]);}};
  walk(val,'');
  return (rows.length?'<table class="kv">'+rows.map(([k,v])=>'<tr><th>'+esc(k)+'</th><td>'+v+'</td></tr>').join('')+'</table>':'')+
    lists.map(([k,v])=>'<h3>'+esc(k)+' ('+v.length+')</h3>'+listTable(v)).join('');
}
function alarmsHtml(al){
  if(!al.length)return '<span class="muted">no alarms</span>';
  return '<table class="list">'+al.map(a=>'<tr class="alarm-'+esc(a.severity)+'"><th>'+esc(a.id)+'</th><td>'+esc(a.message)+'<br><span class="muted">'+esc(a.severity)+' since '+esc(a.since)+'</span></td><td>'+
    (a.acknowledged?'<span class="muted">acknowledged '+esc(a.acknowledged)+'</span>':'<button class="act ack" data-id="'+esc(a.id)+'">Acknowledge</button>')+'</td></tr>').join('')+'</table>';
}
function render(doc){
  $('node').textContent=doc.role+' '+doc.node+(doc.version?' · mra-edge '+doc.version:'')+' · started '+doc.started;
  const d=doc.drain;
  $('maint').textContent=doc.maintenance?'(Maintenance mode)':'';
  $('maint-toggle').textContent=doc.maintenance?'Leave maintenance mode':'Enter maintenance mode';
  $('maint-toggle').dataset.on=doc.maintenance?'1':'';
  $('drain').textContent=!doc.maintenance||!d?'':d.drained?'drained: no calls or chat sessions left; safe to stop'+(d.registrations?' ('+d.registrations+' registrations move as clients refresh)':''):'draining: '+Object.entries(d.active).map(([k,v])=>k+' '+v).join(', ');
  $('updated').textContent='updated '+new Date().toLocaleTimeString();
  const al=doc.alarms||[];
  document.querySelector('#alarms .body').innerHTML=alarmsHtml(al);
  $('tab-alarms').textContent='Alarms'+(al.length?' ('+al.length+')':'');
  const main=$('sections');
  for(const [name,val] of Object.entries(doc)){
    if(HEADER.includes(name))continue;
    let s=$('s-'+name);
    if(!s){
      s=document.createElement('section');s.id='s-'+name;s.innerHTML='<h2>'+esc(TITLES[name]||name)+'</h2><div class="body"></div>';
      main.insertBefore(s,[...main.children].find(c=>rank(c.id)>rank(s.id))||null);
    }
    let html=sectionHtml(val);
    s.classList.toggle('wide',html.includes('<h3>')||Array.isArray(val));
    if(name==='traversal'&&val&&val.state)html='<p id="link-state" class="badge '+(val.state==='up'?'up':'down')+'">link '+esc(val.state)+'</p>'+html;
    s.querySelector('.body').innerHTML=html;
  }
  document.querySelector('#s-cluster .body').innerHTML=clusterHtml(doc);
}
/* The peers of the other role this node is linked with: core lists each edge peer's link, the edge each core. */
function clusterHtml(doc){
  if(doc.role!=='core'&&doc.role!=='edge')return '<p class="muted">This node runs alone.</p>';
  const t=doc.traversal||{};
  const peers=doc.role==='core'
    ?(t.links||[]).map(l=>({Peer:l.peerNode||'edge',Address:l.peer||'',State:l.state,Since:l.since,'Round trip':l.rttMs!=null?l.rttMs+' ms':''}))
    :(t.cores||[]).map(c=>({Peer:c.node,Address:c.remote,State:'up',Since:c.since,'Round trip':''}));
  const other=doc.role==='core'?'edge':'core';
  const head=peers.length>1?'<p>Linked with '+peers.length+' '+other+' peers.</p>':'<p class="muted">This node runs alone: one '+other+' peer'+(peers.length?'':' (none linked now)')+'.</p>';
  return head+(peers.length?listTable(peers):'');
}
const ago=iso=>{const s=Math.max(0,Math.round((Date.now()-Date.parse(iso))/1000));return isNaN(s)?'–':s<60?s+' s':s<3600?Math.floor(s/60)+' min':Math.floor(s/3600)+' h '+Math.floor(s%3600/60)+' min';};
const filter=(u,d)=>new URLSearchParams({...(u?{user:u}:{}),...(d?{domain:d}:{})}).toString();
async function showRegistrations(){
  const list=await api('/api/registrations?'+filter($('reg-user').value,$('reg-domain').value));
  $('reg-list').className='';
  $('reg-list').innerHTML=list.length?'<table class="list"><tr><th>AOR</th><th>Client</th><th>Registered for</th><th>Expires</th></tr>'+list.map(r=>'<tr><td>'+esc(r.aor||'')+'</td><td>'+scalar(r.remote)+'</td><td>'+ago(r.since)+'</td><td>'+esc(r.expires)+'</td></tr>').join('')+'</table>':'<span class="muted">no registrations</span>';
}
async function showCalls(){
  const calls=await api('/api/calls?'+filter($('call-user').value,$('call-domain').value));
  $('call-list').className='';
  $('call-list').innerHTML=calls.length?'<table class="list"><tr><th>Call-ID</th><th>Client</th><th>Peer</th><th>Direction</th><th>State</th><th>Kind</th><th>Duration</th><th></th></tr>'+calls.flatMap(c=>c.legs.map(l=>'<tr><td>'+esc(c.callId)+'</td><td>'+esc(l.client)+'</td><td>'+esc(l.peer)+'</td><td>'+esc(l.direction)+'</td><td>'+esc(l.state)+'</td><td class="kind">'+esc(l.kind||'')+'</td><td>'+ago(l.answeredAt||l.since)+'</td><td><button class="act call" data-id="'+esc(c.callId)+'">Media</button></td></tr>')).join('')+'</table>':'<span class="muted">no calls</span>';
}
const SIDE_COLS=[['packetsIn','Packets in'],['packetsOut','Packets out'],['bytesIn','Bytes in'],['bytesOut','Bytes out'],['rtcpIn','RTCP in'],['rtcpOut','RTCP out'],['rtpExpected','RTP expected'],['rtpLost','RTP lost'],['lossPercent','Loss %'],['authFailures','SRTP auth failures'],['dropped','Dropped'],['latched','Latched to'],['path','Path']];
async function showCall(id){
  const c=await api('/api/calls/'+encodeURIComponent(id));
  const legs=c.legs.map(l=>'<h3>'+esc(l.client)+' ↔ '+esc(l.peer)+' · '+esc(l.direction)+' · '+esc(l.state)+'</h3>'+
    ((l.media||[]).length?'<table class="list media"><tr><th>Stream</th><th>Side</th><th>Ports</th>'+SIDE_COLS.map(([,label])=>'<th>'+label+'</th>').join('')+'</tr>'+
    l.media.flatMap(s=>['a','b'].map(side=>'<tr><td>'+s.stream+(s.media?' '+esc(s.media):'')+'</td><td>'+side+'</td><td>'+(s.ports&&s.ports[side]?s.ports[side].rtp+'/'+s.ports[side].rtcp:'–')+'</td>'+SIDE_COLS.map(([k])=>'<td>'+scalar(s[side]?s[side][k]:null)+'</td>').join('')+'</tr>')).join('')+'</table>':'<span class="muted">no media</span>'));
  $('call-detail').hidden=false;
  $('call-detail').querySelector('h2').textContent='Call '+c.callId;
  $('call-detail').querySelector('.body').innerHTML=legs.join('');
}
async function showAlarms(){ $('alarm-list').className=''; $('alarm-list').innerHTML=alarmsHtml(await api('/api/alarms')); }
const VIEWS={overview:null,registrations:showRegistrations,calls:showCalls,alarms:showAlarms};
let view='overview';
function select(name){
  view=name;
  for(const v of Object.keys(VIEWS)){$('view-'+v).hidden=v!==name;$('tab-'+v).setAttribute('aria-selected',String(v===name));}
  refreshView();
}
const fail=e=>{$('error').textContent=e.message;};
function refreshView(){ if(VIEWS[view])VIEWS[view]().then(()=>{$('error').textContent='';},fail); }
for(const v of Object.keys(VIEWS))$('tab-'+v).addEventListener('click',()=>select(v));
$('reg-form').addEventListener('submit',e=>{e.preventDefault();showRegistrations().catch(fail);});
$('call-form').addEventListener('submit',e=>{e.preventDefault();showCalls().catch(fail);});
document.addEventListener('click',e=>{
  const t=e.target;
  if(t.classList.contains('ack'))api('/api/alarms/'+encodeURIComponent(t.dataset.id)+'/acknowledge',{}).then(()=>{poll(false);refreshView();},fail);
  if(t.classList.contains('call'))showCall(t.dataset.id).catch(fail);
});
$('maint-toggle').addEventListener('click',()=>api('/api/maintenance',{on:!$('maint-toggle').dataset.on}).then(()=>poll(false),fail));
async function poll(again=true){
  try{
    render(await api('/api/status'));
  }catch(e){$('updated').textContent='admin API unreachable: '+e.message;}
  if(again)setTimeout(poll,1000);
}
setInterval(refreshView,5000);
poll();
</script></body></html>
`;
