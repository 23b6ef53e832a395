// sipwire analyze --html: search, sort, outcome filters, a call's ladder and its messages.
(function(){
'use strict';
var table=document.getElementById('calls');
if(!table)return;
var tbody=table.tBodies[0];
var rows=Array.prototype.slice.call(tbody.querySelectorAll('tr.call'));
var q=document.getElementById('q');
var shown=document.getElementById('shown');
var active={};
function closeDetail(){
  var d=tbody.querySelector('tr.detail');
  if(d){d.parentNode.removeChild(d);}
  var o=tbody.querySelector('tr.open');if(o)o.classList.remove('open');
}
function filter(){
  var needle=(q.value||'').toLowerCase().trim();
  var any=Object.keys(active).length>0;var n=0;
  closeDetail();
  rows.forEach(function(r){
    var ok=(!needle||r.textContent.toLowerCase().indexOf(needle)>=0)&&(!any||active[r.getAttribute('data-outcome')]);
    r.hidden=!ok;if(ok)n++;
  });
  shown.textContent=n.toLocaleString()+' of '+rows.length.toLocaleString();
}
q.addEventListener('input',filter);
Array.prototype.forEach.call(document.querySelectorAll('.chip'),function(c){
  c.addEventListener('click',function(){
    var o=c.getAttribute('data-outcome');
    if(active[o]){delete active[o];c.setAttribute('aria-pressed','false');}
    else{active[o]=true;c.setAttribute('aria-pressed','true');}
    filter();
  });
});
Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
  th.addEventListener('click',function(){
    var asc=th.getAttribute('aria-sort')!=='ascending';
    Array.prototype.forEach.call(table.tHead.rows[0].cells,function(h){h.removeAttribute('aria-sort');});
    th.setAttribute('aria-sort',asc?'ascending':'descending');
    var num=th.getAttribute('data-type')==='num';
    closeDetail();
    rows.sort(function(a,b){
      var x=a.cells[i],y=b.cells[i];
      var u=x.hasAttribute('data-v')?x.getAttribute('data-v'):x.textContent;
      var v=y.hasAttribute('data-v')?y.getAttribute('data-v'):y.textContent;
      var c;
      if(num){var fu=u===''?Infinity:parseFloat(u),fv=v===''?Infinity:parseFloat(v);c=fu===fv?0:(fu<fv?-1:1);}
      else{c=u.localeCompare(v);}
      return asc?c:-c;
    });
    rows.forEach(function(r){tbody.appendChild(r);});
  });
});
function openCall(r){
  var was=r.classList.contains('open');
  closeDetail();
  if(was)return;
  r.classList.add('open');
  var tr=document.createElement('tr');tr.className='detail';
  var td=document.createElement('td');td.colSpan=r.cells.length;tr.appendChild(td);
  var k=r.getAttribute('data-ladder');
  var tpl=k===null?null:document.getElementById('ladder-'+k);
  if(tpl){td.appendChild(tpl.content.cloneNode(true));wireLadder(td);}
  else{var p=document.createElement('p');p.className='note';
    p.textContent='No ladder embedded for this call: run sipwire analyze CAPTURE --call '+r.cells[2].title;td.appendChild(p);}
  r.parentNode.insertBefore(tr,r.nextSibling);
}
function wireLadder(td){
  var box=td.querySelector('.msgbox');
  Array.prototype.forEach.call(td.querySelectorAll('.l-step[data-kind=sip]'),function(g){
    g.addEventListener('click',function(ev){
      ev.stopPropagation();
      var pre=td.querySelector('pre.msg[data-step="'+g.getAttribute('data-step')+'"]');
      if(!pre||!box)return;
      Array.prototype.forEach.call(td.querySelectorAll('.l-step.sel'),function(s){s.classList.remove('sel');});
      g.classList.add('sel');
      box.hidden=false;
      box.querySelector('.msghead').textContent=pre.getAttribute('data-head');
      box.querySelector('.msgtext').textContent=pre.textContent;
    });
  });
}
rows.forEach(function(r){
  r.addEventListener('click',function(){openCall(r);});
  r.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();openCall(r);}});
});
// #call=ID opens that call (links, and the browser test).
var m=/^#call=(.*)$/.exec(location.hash);
if(m){
  var id=decodeURIComponent(m[1]);
  rows.forEach(function(r){if(r.cells[2].title===id){openCall(r);r.scrollIntoView();}});
}
})();
