"""The Chinese pages of the data-docs site for auditors, and the gate's verdict as text.

Pages: `nianbao/index.html` (the landing page: failing agencies with filters and search, charts by
jurisdiction and by rule, links to each agency page and to GX's validation pages) and
`nianbao/agencies/<report_id>.html` (the three statutory tables redrawn as printed, failing cells
highlighted, each broken identity explained).

Safety: every value from report text is escaped, by Jinja2's autoescape or, where an agency page is
filled into a template Jinja rendered once, by `_esc` (the same entities, tested against markupsafe)
or `html.escape` (printed cell texts); the landing page's data is
JSON inside <script type="application/json"> with `<`, `>` and `&` escaped, and the script renders it
with textContent only. Pages load nothing: inline CSS and JS, inline SVG charts, and a
Content-Security-Policy that forbids every fetch. The list renders 100 rows a page from the
embedded data, so 100,000 reports and tens of thousands of failures stay fast.
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections import Counter, defaultdict, namedtuple
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from . import collector, forked, localise
from . import export_rows as X
from . import findings as F
from . import rules as R
from . import schema as S
from . import waivers as W
from .cells import fmt, label
from .datafolder import values_of
from .frames import isin
from .kinds import kind as rule_kind
from .page_cache import PageCache

PAGES_DIR = "nianbao"
SEVERITY_ZH = {R.ERROR: "错误", R.WARN: "警告"}
STATUS_ZH = {F.FAILED: "未通过", F.NOT_ASSESSABLE: "无法核验"}
HISTORY_ZH = {F.NEW: "新增", F.PERSISTING: "持续", F.RESOLVED: "已整改"}
SUITE_ZH = {
    "applications_2021": "表三",
    "applications_2019": "表三(2019)",
    "active_disclosure_2021": "表二",
    "active_disclosure_2019": "表二(2019)",
    "review_litigation": "表四",
}
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)

_ENV = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_JURISDICTION = re.compile(r"^(.+?(?:省|自治区|特别行政区)|(?:北京|天津|上海|重庆)市|新疆生产建设兵团)")


def severity_word(severity: str, status: str) -> str:
    """错误 or 警告 for a broken rule; 无法核验 for one that could not be checked (never 错误)."""
    return STATUS_ZH[F.NOT_ASSESSABLE] if status == F.NOT_ASSESSABLE else SEVERITY_ZH.get(severity, severity)


def text(value) -> str:
    """A cell of our tables as text: '' for None and NaN (pandas' missing string)."""
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def jurisdiction(region: str | None) -> str:
    """Province-level jurisdiction of a region ('江苏省淮安市洪泽区' -> '江苏省'); the region itself otherwise."""
    return _jurisdiction(text(region))


@functools.lru_cache(maxsize=65536)  # a night has a few thousand regions and hundreds of thousands of rows
def _jurisdiction(region: str) -> str:
    if not region:
        return "(未注明地区)"
    m = _JURISDICTION.match(region)
    return m.group(1) if m else region


# Below the province: a prefecture (市, 自治州, 地区, 盟), then a county (区, 县, 市, 旗, 自治县/旗, 特区,
# 林区). Non-greedy, so '淮安市洪泽区' splits after 淮安市 and '济南市市中区' keeps 市中区 whole.
_CITY = re.compile(r"^(.+?(?:自治州|地区|盟|市))")
_COUNTY = re.compile(r"^(.+?(?:自治县|自治旗|特区|林区|区|县|市|旗))")
_MUNICIPALITIES = ("北京市", "天津市", "上海市", "重庆市")


@functools.lru_cache(maxsize=65536)
def region_parts(region: str | None) -> tuple[str, str, str]:
    """省 / 市 / 县 of a region string: '江苏省淮安市洪泽区' -> ('江苏省', '淮安市', '洪泽区').

    A 直辖市 is its own city level ('北京市朝阳区' -> ('北京市', '北京市', '朝阳区')); a county-level
    unit under the province directly ('湖北省神农架林区') has no city (''); a province's own bodies
    ('江苏省') have neither city nor county.
    """
    region = text(region)
    province = _jurisdiction(region)
    rest = region[len(province) :] if region.startswith(province) else ""
    if province in _MUNICIPALITIES:
        city = province
    else:
        m = _CITY.match(rest)
        city = m.group(1) if m else ""
        rest = rest[len(city) :]
    m = _COUNTY.match(rest)
    county = m.group(1) if m else rest
    return province, city, county


BEIJING = timezone(timedelta(hours=8), "北京时间")


def beijing_time(stamp: str | None) -> str:
    """A UTC ISO time (as run_results.json keeps it) shown in Beijing time with the zone named;
    the text as given when it is not a time."""
    if not stamp:
        return ""
    try:
        moment = datetime.fromisoformat(str(stamp))
    except ValueError:
        return str(stamp)
    if moment.tzinfo is None:  # our runs write UTC; a naive time is taken as UTC too
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") + " 北京时间(UTC+8)"


def rule_name_zh(rule_id: str) -> str:
    """A rule or family as the rule filter names it: 'R4 复议诉讼合计', 'R4.review 表四「行政复议」…'."""
    rule = R.RULES_BY_ID.get(rule_id)
    name = rule.description if rule is not None else R.FAMILY_ZH.get(rule_id, "")
    return f"{rule_id} {name}".strip()


def json_script(data) -> Markup:
    """JSON safe inside <script type="application/json">: no `</script>`, no HTML entities."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e"))


# Our constant CSS: Markup, so autoescape does not turn its quotes into entities (not decoded in <style>).
STYLE = Markup("""
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei",sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#8b1a1a;color:#fff;padding:12px 24px}header h1{margin:0;font-size:20px}header a{color:#fff}
main{padding:16px 24px}section{background:#fff;border:1px solid #ddd;border-radius:4px;padding:12px 16px;margin-bottom:16px}
h2{font-size:16px;margin:0 0 8px}table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}th{background:#f0f0f0}
td.num{text-align:right;min-width:2.5em}td.bad{background:#f8c9c9;outline:2px solid #c0392b;font-weight:bold}
td.na{background:#fff0b3}td.missing{background:#fde2a7}.sev-error{color:#c0392b;font-weight:bold}.sev-warn{color:#b9770e}
.tag{display:inline-block;padding:0 4px;border-radius:3px;font-size:12px;margin-right:4px;border:1px solid #999}
.tag.new{background:#c0392b;color:#fff;border-color:#c0392b}.tag.resolved{background:#1e8449;color:#fff}
.tag.waived{background:#5d6d7e;color:#fff;border-color:#5d6d7e}.finding.waived{border-color:#5d6d7e;background:#f2f4f4}.waiver{color:#34495e}
.kpi{display:inline-block;margin-right:24px}.kpi b{font-size:20px;display:block}
.filters label{margin-right:12px}.filters input,.filters select{font-size:13px}#list{width:100%}
.charts{display:flex;flex-wrap:wrap;gap:24px}svg text{font-size:12px}svg .bar{fill:#c0392b;cursor:pointer}svg .bar:hover{fill:#8b1a1a}
.finding{border-left:4px solid #c0392b;padding:4px 8px;margin:6px 0;background:#fdf2f2}.finding.warn{border-color:#b9770e;background:#fef9e7}
.finding.not_assessable{border-color:#999;background:#f4f4f4}.fix{color:#555}.small{font-size:12px;color:#666}
.scroll{overflow-x:auto}
td.likely{background:#7b241c;color:#fff;outline:3px solid #c0392b;font-weight:bold}.proposed{display:block;font-size:11px;color:#ffe08a}
.diagnosis{border:2px solid #7b241c;background:#fff;padding:6px 10px;margin:6px 0}.diagnosis ol{margin:4px 0 0 0}
@page{size:A4 landscape;margin:10mm}
@media print{
body{background:#fff;font-size:10pt}header{background:#fff;color:#000;padding:0 0 4mm;border-bottom:2px solid #8b1a1a}header a{color:#000}
main{padding:0}section{border:0;padding:0;margin-bottom:4mm}.filters,.pager button,#page,noscript,.charts{display:none}
.scroll{overflow:visible}table{font-size:8pt;max-width:100%}th,td{padding:1px 3px}tr{break-inside:avoid}thead{display:table-header-group}
#list{table-layout:auto}#list td,#list th{word-break:break-all}
.statutory table{width:100%;table-layout:fixed;font-size:7.5pt}.statutory th,.statutory td{word-break:break-all;overflow-wrap:anywhere}
.statutory td.num{min-width:0}.statutory tr>th:first-child{width:9em}
td.bad,td.likely,td.na,td.missing,.tag,.finding{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
""")

_BASE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title><style>{{ style }}</style></head>
<body><header><h1>{{ title }}</h1>{% block nav %}{% endblock %}</header><main>{% block main %}{% endblock %}</main></body></html>
"""

LANDING = _ENV.from_string(
    _BASE.replace(
        "{% block nav %}{% endblock %}",
        """
<div class="small">{% if scope %}<a href="{{ home }}">返回全国未通过单位清单</a> · {% endif %}<a href="{{ base }}../index.html">GX 数据文档索引</a> · 检查点 {{ s.checkpoint }} · 运行 {{ s.run_id }}</div>
""",
    ).replace(
        "{% block main %}{% endblock %}",
        """
<section id="summary"><h2>本次检查{% if scope %}:{{ scope }}{% endif %}</h2>
<span class="kpi">检查报告<b id="kpi-reports">{{ s.reports_validated }}</b></span>
<span class="kpi">未通过的单位<b id="kpi-failing">{{ c.failing_reports }}</b></span>
<span class="kpi">错误<b class="sev-error">{{ c.by_severity.error }}</b></span>
<span class="kpi">警告<b class="sev-warn">{{ c.by_severity.warn }}</b></span>
<span class="kpi">无法核验<b>{{ c.by_status.not_assessable }}</b></span>
{% if c.get('localised') %}<span class="kpi">错误单元格唯一确定 / 有多种可能<b id="kpi-located">{{ c.localised.unique }} / {{ c.localised.ambiguous }}</b></span>{% endif %}
<span class="kpi">新增 / 持续 / 已整改<b>{{ c.history.new }} / {{ c.history.persisting }} / {{ c.history.resolved }}</b></span>
<p class="small">时间 <span id="started-at">{{ started_bj }}</span> · 数据 {{ s.data_dir }} · 选择 {{ s.select_text }} ·
{% if s.previous_run_id %}对比上次运行 {{ s.previous_run_id }}{% else %}没有可对比的上次运行,全部记为新增{% endif %}</p>
{% if problems %}<div class="finding"><b>检查本身出现问题(结果不可全信):</b><ul>
{% for p in problems %}<li>{{ p.code }} {{ p.rule_id or '' }} {{ p.message }}</li>{% endfor %}</ul></div>{% endif %}
<p class="small">GX 验证结果页面:{% for suite, link in gx_links %}<a href="{{ link }}">{{ suite }}</a> {% endfor %}</p>
</section>
{% if waived or waiver_notices %}<section id="waivers"><h2>已豁免的问题({{ waived|length }} 项,不计入未通过)</h2>
{% if waiver_notices %}<div class="finding warn"><b>豁免清单需要复核:</b><ul>
{% for n in waiver_notices %}<li data-code="{{ n.code }}">{{ n.message }}</li>{% endfor %}</ul></div>{% endif %}
{% if waived %}<div class="scroll"><table id="waived"><thead><tr><th>单位</th><th>地区</th><th>规则</th><th>状态</th><th>豁免理由</th></tr></thead><tbody>
{% for w in waived %}<tr><td><a href="{{ base }}agencies/{{ w[0] }}.html">{{ w[1] or w[0] }}</a></td><td>{{ w[2] }}</td><td>{{ w[3] }}</td><td><span class="tag waived">已豁免</span></td><td>{{ w[4] }}</td></tr>
{% endfor %}</tbody></table></div>{% endif %}
</section>{% endif %}
<section id="by-region"><h2>各地区检查与未通过 <span class="small" id="by-region-level"></span></h2>
<div class="scroll"><table id="region-counts"><thead><tr><th>地区</th><th>检查报告</th><th>未通过的单位</th><th>未通过比例</th></tr></thead><tbody></tbody></table></div>
<p class="small">检查报告为本次运行读取的数据中各地区的报告数(拒收的不计);按上方“省/市”筛选逐级下钻。</p></section>
<section class="charts" id="charts">
<div><h2>各地区未通过的单位数</h2>{{ chart_jur }}</div>
<div><h2>各类规则的未通过次数</h2>{{ chart_rule }}</div>
</section>
<section id="listing"><h2>未通过检查的单位</h2>
{% if shards %}<p id="shards">共 {{ listed }} 个单位,按省分页列出(每页一个省,可再按市、县、规则等筛选和搜索;这里只列出未通过规则最多的 {{ first|length }} 个):
{% for j, href, n in shards %}<a href="{{ href }}">{{ j }}</a>({{ n }}) {% endfor %}</p>{% endif %}
<div class="filters">
<label>搜索 <input id="q" type="search" placeholder="单位、地区、报告编号或规则" size="28"></label>
<label>省 <select id="f-jur"><option value="">全部</option>{% for j in jurs %}<option value="{{ j }}">{{ j }}</option>{% endfor %}</select></label>
<label>市 <select id="f-city"><option value="">全部</option></select></label>
<label>县 <select id="f-county"><option value="">全部</option></select></label>
<label>行政层级 <select id="f-lvl"><option value="">全部</option>{% for code, name in levels %}<option value="{{ loop.index0 }}">{{ name }}</option>{% endfor %}</select></label>
<label>级别 <select id="f-sev"><option value="">全部</option><option value="error">有错误</option><option value="warn">只有警告</option></select></label>
<label>规则 <select id="f-rule"><option value="">全部</option>{% for r, name in rule_options %}<option value="{{ r }}">{{ name }}</option>{% endfor %}</select></label>
<label>年度 <select id="f-year"><option value="">全部</option>{% for y in years %}<option value="{{ y }}">{{ y }}</option>{% endfor %}</select></label>
<label>定位 <select id="f-loc"><option value="">全部</option><option value="1">错误单元格已唯一确定</option><option value="2">有多种可能</option><option value="0">未定位</option></select></label>
<label>状态 <select id="f-hist"><option value="">当前未通过</option><option value="new">含新增问题</option><option value="persisting">只有持续问题</option><option value="resolved">已整改</option></select></label>
</div>
<p class="pager"><span id="count"></span> <button id="prev" type="button">上一页</button> <span id="page"></span> <button id="next" type="button">下一页</button>
<button id="dl-csv" type="button" title="当前筛选出的单位的每一项问题">下载 CSV</button> <button id="dl-xlsx" type="button" title="当前筛选出的单位的每一项问题">下载 XLSX</button> <span id="dl-note" class="small"></span></p>
<div class="scroll"><table id="list"><thead><tr><th>单位</th><th>地区</th><th>年度</th><th>错误</th><th>警告</th><th>无法核验</th><th>违反的规则</th><th>状态</th><th>GX 验证结果</th></tr></thead><tbody>
{% for r in first %}<tr><td><a href="{{ base }}agencies/{{ r[0] }}.html">{{ r[1] or r[0] }}</a></td><td>{{ r[2] }}</td><td class="num">{{ r[3] if r[3] is not none else '' }}</td>
<td class="num{{ ' sev-error' if r[5] }}">{{ r[5] }}</td><td class="num{{ ' sev-warn' if r[6] }}">{{ r[6] }}</td><td class="num">{{ r[7] }}</td><td>{{ r[8] }}</td><td>{{ hist[r[9]] }}</td>
<td>{% for k in r[10] %}<a href="{{ gx_links[k][1] }}">{{ gx_links[k][0] }}</a> {% endfor %}</td></tr>
{% endfor %}</tbody></table></div>
<noscript><p>此列表需要启用 JavaScript;各单位页面在 agencies/ 目录下。</p></noscript>
</section>
<script type="application/json" id="data">{{ data }}</script>
<script type="application/json" id="export-data">{{ export_data }}</script>
<script>{{ script }}</script>
""",
    )
)

SCRIPT = Markup(r"""
(function(){
"use strict";
var D=JSON.parse(document.getElementById("data").textContent),PER=100,page=0,view=[];
var RID=/^R[0-9A-F]{16}$/,HIST=["新增","持续","已整改"];
var $=function(id){return document.getElementById(id);};
D.rows.forEach(function(r){r.s=(r[1]+" "+r[2]+" "+r[0]+" "+r[8]).toLowerCase();});
function matchRule(rules,sel){if(!sel)return true;var a=rules.split(" ");
  for(var i=0;i<a.length;i++){if(a[i]===sel||a[i].indexOf(sel+".")===0)return true;}return false;}
// 省 / 市 / 县: each select lists the units under the one chosen above it (D.reg: [省, 市, 县] per region).
var FILTERS=["q","f-jur","f-city","f-county","f-lvl","f-sev","f-rule","f-year","f-hist","f-loc"];
function fill(id,names){var s=$(id),keep=s.value;s.replaceChildren();
  [""].concat(names).forEach(function(n){var o=document.createElement("option");o.value=n;o.textContent=n||"全部";s.appendChild(o);});
  s.value=names.indexOf(keep)>=0?keep:"";}
function below(level){var p=$("f-jur").value,c=$("f-city").value,seen={};
  D.reg.forEach(function(g){if(g[0]!==p||(level===2&&g[1]!==c)||!g[level])return;seen[g[level]]=1;});
  return Object.keys(seen).sort();}
function cascade(id){
  if(id==="f-jur")fill("f-city",$("f-jur").value?below(1):[]);
  if(id==="f-jur"||id==="f-city")fill("f-county",$("f-city").value?below(2):[]);}
// Filters in the URL's hash (a file:// page keeps it), so a shared link opens on the same view.
function stateHash(){var u=new URLSearchParams();
  FILTERS.forEach(function(id){var v=$(id).value;if(v!=="")u.set(id,v);});return u.toString();}
function saveState(){var h=stateHash();history.replaceState(null,"",h?"#"+h:location.pathname+location.search);}
function loadState(){var u=new URLSearchParams(location.hash.slice(1));
  FILTERS.forEach(function(id){if(!u.has(id))return;$(id).value=u.get(id);if(id==="f-jur"||id==="f-city")cascade(id);});}
function regionCounts(){
  var p=$("f-jur").value,c=$("f-city").value,lvl=c?2:p?1:0,checked={},failed={};
  function key(g){if(g[0]!==p&&lvl>0)return null;if(lvl===2&&g[1]!==c)return null;return g[lvl]||"(本级)";}
  D.checked.forEach(function(x){var k=key(D.reg[x[0]]);if(k!==null)checked[k]=(checked[k]||0)+x[1];});
  D.failed.forEach(function(x){var k=key(D.reg[x[0]]);if(k!==null)failed[k]=(failed[k]||0)+x[1];});
  var body=$("region-counts").tBodies[0];body.replaceChildren();
  Object.keys(Object.assign({},checked,failed)).sort(function(a,b){return (failed[b]||0)-(failed[a]||0)||(a<b?-1:a>b?1:0);}).forEach(function(k){
    var tr=document.createElement("tr"),n=checked[k]||0,f=failed[k]||0;tr.setAttribute("data-region",k);
    cell(tr,k);cell(tr,String(n),"num");cell(tr,String(f),f?"num sev-error":"num");cell(tr,n?(100*f/n).toFixed(1)+"%":"","num");body.appendChild(tr);});
  $("by-region-level").textContent=["(按省)","(按市,"+p+")","(按县,"+c+")"][lvl];}
// A page of one province (D.scope) or the national page listing only its first rows (D.shards: province
// -> its page): choosing another province opens that page with the same filters in the hash.
function leave(){var j=$("f-jur").value;if(!D.shards||j===D.scope)return false;
  location.href=(j?D.shards[j]:D.home)+"#"+stateHash();return true;}
function apply(){
  if(leave())return;
  var q=$("q").value.trim().toLowerCase(),j=$("f-jur").value,sv=$("f-sev").value,ru=$("f-rule").value,
      y=$("f-year").value,h=$("f-hist").value,lo=$("f-loc").value,ci=$("f-city").value,co=$("f-county").value,lv=$("f-lvl").value;
  view=D.rows.filter(function(r){
    if(h==="resolved"){if(r[9]!==2)return false;}else{if(r[9]===2)return false;if(h==="new"&&r[9]!==0)return false;if(h==="persisting"&&r[9]!==1)return false;}
    if(j!==""&&D.jurs[r[4]]!==j)return false;
    if(ci!==""&&D.reg[r[12]][1]!==ci)return false;if(co!==""&&D.reg[r[12]][2]!==co)return false;
    if(lv!==""&&r[13]!==+lv)return false;
    if(sv==="error"&&!(r[5]>0))return false;if(sv==="warn"&&!(r[5]===0&&r[6]>0))return false;
    if(y!==""&&String(r[3])!==y)return false;if(lo!==""&&r[11]!==+lo)return false;
    if(!matchRule(r[8],ru))return false;
    return !q||r.s.indexOf(q)>=0;});
  page=0;render();saveState();regionCounts();}
function cell(tr,text,cls){var td=document.createElement("td");td.textContent=text;if(cls)td.className=cls;tr.appendChild(td);return td;}
function render(all){
  var body=$("list").tBodies[0],pages=Math.max(1,Math.ceil(view.length/PER));
  body.replaceChildren();
  (all?view:view.slice(page*PER,page*PER+PER)).forEach(function(r){
    var tr=document.createElement("tr"),td=cell(tr,"");
    if(r[9]!==2&&RID.test(r[0])){var a=document.createElement("a");a.href=D.base+"agencies/"+r[0]+".html";a.textContent=r[1]||r[0];td.appendChild(a);}
    else td.textContent=r[1]||r[0];
    cell(tr,r[2]);cell(tr,r[3]==null?"":String(r[3]),"num");cell(tr,String(r[5]),r[5]?"num sev-error":"num");
    cell(tr,String(r[6]),r[6]?"num sev-warn":"num");cell(tr,String(r[7]),"num");cell(tr,r[8]);cell(tr,HIST[r[9]]);
    var g=cell(tr,"");r[10].forEach(function(k){var a=document.createElement("a");a.href=D.gx[k][1];a.textContent=D.gx[k][0];g.appendChild(a);g.appendChild(document.createTextNode(" "));});
    body.appendChild(tr);});
  $("count").textContent="共 "+view.length+" 个单位";
  $("page").textContent="第 "+(page+1)+" / "+pages+" 页";
  $("prev").disabled=page===0;$("next").disabled=page>=pages-1;}
var timer=null;
$("q").addEventListener("input",function(){clearTimeout(timer);timer=setTimeout(apply,120);});
FILTERS.slice(1).forEach(function(id){$(id).addEventListener("change",function(){cascade(id);apply();});});
$("prev").addEventListener("click",function(){if(page>0){page--;render();}});
$("next").addEventListener("click",function(){if((page+1)*PER<view.length){page++;render();}});
document.querySelectorAll("svg [data-filter]").forEach(function(b){b.addEventListener("click",function(){
  var f=b.getAttribute("data-filter").split(":");$(f[0]).value=f.slice(1).join(":");cascade(f[0]);apply();});});
// Printed, the list is every filtered row, not the page on screen; back to the page afterwards.
var printing=false;
function beforePrint(){if(!printing){printing=true;render(true);}}
function afterPrint(){if(printing){printing=false;render();}}
window.addEventListener("beforeprint",beforePrint);window.addEventListener("afterprint",afterPrint);
if(window.matchMedia){var mq=window.matchMedia("print");
  (mq.addEventListener?mq.addEventListener.bind(mq,"change"):mq.addListener.bind(mq))(function(e){if(e.matches)beforePrint();else afterPrint();});}
// Exports of the current filtered view: every finding of the agencies listed (and of the rule chosen),
// the columns of `nianbao export`. The finding rows are a second JSON block, parsed on the first
// download only: the page opens as fast as before, and the CSP (no fetch) and file:// rule out
// loading a separate data file. Texts are packed as a template (digits cut out) and its numbers.
var XD=null;
D.rows.forEach(function(r,i){r.i=i;});
function unpack(t,n){var p=XD.t[t].split("\u0001"),a=n===""?[]:n.split(","),s=p[0];
  for(var i=1;i<p.length;i++)s+=a[i-1]+p[i];return s;}
function exportRows(){
  if(!XD)XD=JSON.parse($("export-data").textContent);
  if(XD.off){$("dl-note").textContent=XD.off;return null;}
  var ru=$("f-rule").value,out=[];
  view.forEach(function(r){if(r[9]===2)return;(XD.f[r.i]||[]).forEach(function(e){
    var v=[];for(var k=0;k<e.length;k+=2)v.push(unpack(e[k],e[k+1]));
    if(!matchRule(v[0],ru))return;
    out.push([r[1],r[2],XD.lv[r[13]]||"",r[3],v[0],v[1],v[2],v[3],v[4],v[5]]);});});
  return out;}
// A text a spreadsheet would run as a formula (=, +, -, @) gets a leading apostrophe in the CSV.
function inert(v){return /^[=+\-@\t\r]/.test(v)?"'"+v:v;}
function toCsv(rows){return "\ufeff"+[XD.h].concat(rows).map(function(row){return row.map(function(v){
  if(v==null)return "";if(typeof v==="number")return String(v);v=inert(v);
  return /[",\r\n]/.test(v)?'"'+v.replace(/"/g,'""')+'"':v;}).join(",");}).join("\r\n")+"\r\n";}
// XLSX written here, not pre-generated per run: the view is whatever the filters make it, so only the
// page knows its rows. A minimal SpreadsheetML workbook (one sheet, inline strings: every text is a
// string cell, never a formula; the year a number) in a zip of stored (uncompressed) entries.
function xesc(v){return String(v).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g,"").replace(/&/g,"&amp;").replace(/</g,"&lt;").replace(/>/g,"&gt;").replace(/"/g,"&quot;");}
function sheetXml(rows){var x=['<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'];
  [XD.h].concat(rows).forEach(function(row,i){x.push('<row r="'+(i+1)+'">');row.forEach(function(v,j){
    var ref=String.fromCharCode(65+j)+(i+1);if(v==null||v==="")return;
    if(typeof v==="number")x.push('<c r="'+ref+'"><v>'+v+'</v></c>');
    else x.push('<c r="'+ref+'" t="inlineStr"><is><t xml:space="preserve">'+xesc(v)+'</t></is></c>');});x.push('</row>');});
  x.push('</sheetData></worksheet>');return x.join("");}
var CRC=(function(){var t=[];for(var n=0;n<256;n++){var c=n;for(var k=0;k<8;k++)c=c&1?0xEDB88320^(c>>>1):c>>>1;t.push(c>>>0);}return t;})();
function crc32(b){var c=0xFFFFFFFF;for(var i=0;i<b.length;i++)c=CRC[(c^b[i])&255]^(c>>>8);return (c^0xFFFFFFFF)>>>0;}
function zipStored(files){var enc=new TextEncoder(),parts=[],central=[],off=0;
  function u16(a,v){a.push(v&255,(v>>>8)&255);}function u32(a,v){a.push(v&255,(v>>>8)&255,(v>>>16)&255,(v>>>24)&255);}
  files.forEach(function(f){var name=enc.encode(f[0]),data=enc.encode(f[1]),crc=crc32(data),h=[];
    u32(h,0x04034b50);u16(h,20);u16(h,0x0800);u16(h,0);u16(h,0);u16(h,0x21);u32(h,crc);u32(h,data.length);u32(h,data.length);u16(h,name.length);u16(h,0);
    var c=[];u32(c,0x02014b50);u16(c,20);u16(c,20);u16(c,0x0800);u16(c,0);u16(c,0);u16(c,0x21);u32(c,crc);u32(c,data.length);u32(c,data.length);
    u16(c,name.length);u16(c,0);u16(c,0);u16(c,0);u16(c,0);u32(c,0);u32(c,off);
    parts.push(new Uint8Array(h),name,data);central.push(new Uint8Array(c),name);off+=h.length+name.length+data.length;});
  var size=central.reduce(function(s,p){return s+p.length;},0),e=[];
  u32(e,0x06054b50);u16(e,0);u16(e,0);u16(e,files.length);u16(e,files.length);u32(e,size);u32(e,off);u16(e,0);
  return parts.concat(central,[new Uint8Array(e)]);}
var NS='xmlns="http://schemas.openxmlformats.org/package/2006/relationships"',REL="http://schemas.openxmlformats.org/officeDocument/2006/relationships";
function toXlsx(rows){var H='<?xml version="1.0" encoding="UTF-8" standalone="yes"?>';return zipStored([
  ["[Content_Types].xml",H+'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'],
  ["_rels/.rels",H+'<Relationships '+NS+'><Relationship Id="rId1" Type="'+REL+'/officeDocument" Target="xl/workbook.xml"/></Relationships>'],
  ["xl/workbook.xml",H+'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="'+REL+'"><sheets><sheet name="检查结果" sheetId="1" r:id="rId1"/></sheets></workbook>'],
  ["xl/_rels/workbook.xml.rels",H+'<Relationships '+NS+'><Relationship Id="rId1" Type="'+REL+'/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'],
  ["xl/worksheets/sheet1.xml",sheetXml(rows)]]);}
function download(parts,type,name){var a=document.createElement("a");a.href=URL.createObjectURL(new Blob(parts,{type:type}));
  a.download=name;document.body.appendChild(a);a.click();a.remove();setTimeout(function(){URL.revokeObjectURL(a.href);},60000);}
$("dl-csv").addEventListener("click",function(){var rows=exportRows();if(rows)download([toCsv(rows)],"text/csv;charset=utf-8","检查结果.csv");});
$("dl-xlsx").addEventListener("click",function(){var rows=exportRows();if(!rows)return;
  download(toXlsx(rows),"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet","检查结果.xlsx");});
if(D.scope){$("f-jur").value=D.scope;cascade("f-jur");}
loadState();apply();
})();
""")

AGENCY = _ENV.from_string(
    _BASE.replace(
        "{% block nav %}{% endblock %}",
        """
<div class="small"><a href="../index.html">返回未通过单位清单</a> · <a href="../../index.html">GX 数据文档索引</a></div>
""",
    ).replace(
        "{% block main %}{% endblock %}",
        """
<section id="meta"><h2>报告信息</h2><table>
{% for k, v in meta %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table></section>
<section id="findings"><h2>未通过的规则({{ count }} 项)</h2>
{{ findings_html }}{{ resolved_html }}</section>
{{ tables_html }}
<p class="small">深红底为最可能需要改正的单元格(下方小字为应填的数字),红框为未通过规则涉及的其他单元格,黄色为缺失或无法核验的单元格;数字为报告原文。</p>
""",
    )
)


# The three statutory tables of an agency page. Rendered once per layout with a slot in each cell,
# then filled per report by string joins: Jinja per cell was 3/4 of the time of a night's pages.
TABLES = _ENV.from_string("""{% for t in tables %}<section class="statutory" id="{{ t.id }}"><h2>{{ t.title }}</h2>
{% if not t.rows %}<p>数据中没有这张表(报告未印出或未能解析)。</p>{% endif %}
{% for block in t.blocks %}<div class="scroll"><table>
{% for hr in block.head %}<tr>{% for h in hr %}<th colspan="{{ h[1] }}" rowspan="{{ h[2] }}">{{ h[0] }}</th>{% endfor %}</tr>{% endfor %}
{% for row in block.rows %}<tr><th>{{ row.label }}</th>{% for c in row.cells %}<td class="num {{ c.cls }}" data-column="{{ c.column }}">{{ c.text }}</td>{% endfor %}</tr>{% endfor %}
</table></div>{% endfor %}</section>{% endfor %}
""")
_SLOT = re.compile("\x01([^\x02]*)\x02")


def _format_template(rendered: str, *, named: bool) -> tuple[str, list[str]]:
    """Jinja output with \\x01slot\\x02 markers as a str.format template (literal braces doubled, each
    slot a field: named, or positional) and the slot names in order."""
    pieces = _SLOT.split(rendered)
    template = "".join(
        p.replace("{", "{{").replace("}", "}}") if i % 2 == 0 else "{" + p + "}" if named else "{}"
        for i, p in enumerate(pieces)
    )
    return template, pieces[1::2]


# --- charts -----------------------------------------------------------------------------------------


def bar_chart(items: list[tuple[str, int, str]], *, width: int = 460) -> Markup:
    """Horizontal bars as inline SVG; each item (label, value, filter 'select-id:value') filters the list."""
    if not items:
        return Markup('<p class="small">没有未通过的单位。</p>')
    top = max(v for _, v, _ in items) or 1
    row, left = 20, 150
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{row * len(items) + 8}" role="img">']
    for i, (lab, value, flt) in enumerate(items):
        y, w = i * row + 4, max(1, int((width - left - 50) * value / top))
        parts.append(
            Markup(
                '<g><text x="{x}" y="{ty}" text-anchor="end">{lab}</text>'
                '<rect class="bar" x="{left}" y="{y}" width="{w}" height="14" data-filter="{flt}">'
                '<title>{lab}:{v}</title></rect><text x="{tx}" y="{ty}">{v}</text></g>'
            ).format(x=left - 6, ty=y + 12, lab=lab, left=left, y=y, w=w, flt=flt, v=value, tx=left + w + 4)
        )
    parts.append("</svg>")
    return Markup("").join(Markup(p) if isinstance(p, str) else p for p in parts)


# --- landing page -----------------------------------------------------------------------------------

ROW_FIELDS = ("report_id", "agency", "region", "year", "rule_id", "severity", "status", "history", "suite")


def _records(frame: pd.DataFrame, columns=ROW_FIELDS) -> list[tuple]:
    """Rows of `columns` as plain tuples: per-row pandas access is far too slow at 100,000 rows."""
    if frame.empty:
        return []
    return list(zip(*(_pylist(frame[c]) for c in columns)))


def _pylist(column: pd.Series) -> list:
    """A column as Python values, missing ones as None (through Arrow: iterating a pandas column of
    Arrow strings costs a microsecond per value)."""
    try:
        return pa.array(column).to_pylist()
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed object columns: pandas' own conversion
        return column.astype(object).where(column.notna(), None).tolist()


def _named_rows(frame: pd.DataFrame) -> list:
    """The rows as named tuples of Python values, missing ones None (itertuples took 20 µs a row)."""
    row = namedtuple("Row", frame.columns, rename=True)
    return list(map(row._make, _records(frame, frame.columns)))


def _rows_by_report(frame: pd.DataFrame, ids: list[str]) -> dict[str, list]:
    """The rows of the given reports as named tuples, per report in the frame's order."""
    wanted = frame[isin(frame.report_id, ids)] if len(frame) else frame
    grouped: dict[str, list] = defaultdict(list)
    for f in _named_rows(wanted):
        grouped[f.report_id].append(f)
    return grouped


def _agency_rows(findings: pd.DataFrame, resolved: pd.DataFrame, jurs: list[str], suite_index: dict) -> list:
    """One compact row per report with findings (or only resolved ones) for the embedded JSON."""
    jidx = {j: i for i, j in enumerate(jurs)}
    # A jurisdiction per distinct region, not per report: a night has a few thousand regions.
    jur_of = {r: jidx[jurisdiction(r)] for r in pd.concat([findings.region, resolved.region]).unique()}

    def jur(region) -> int:
        return jur_of[region] if region in jur_of else jidx[jurisdiction(region)]  # None is not NaN

    acc: dict[str, list] = {}
    for rid, agency, region, year, rule, severity, status, history, suite in _records(findings):
        row = acc.get(rid)
        if row is None:
            row = acc[rid] = [
                rid,
                agency or "",
                region or "",
                None if year is None else int(year),
                jur(region),
                0,
                0,
                0,
                set(),
                1,
                set(),
            ]
        if status == F.FAILED:
            row[5 if severity == R.ERROR else 6] += 1
            row[8].add(rule)  # the rules broken; not-assessable ones are counted in row[7]
        else:
            row[7] += 1
        if history == F.NEW:
            row[9] = 0
        if suite in suite_index:
            row[10].add(suite_index[suite])
    for rid, agency, region, year, rule, *_ in _records(resolved):
        if rid in acc and acc[rid][9] != 2:
            continue
        row = acc.setdefault(
            rid,
            [
                rid,
                agency or "",
                region or "",
                None if year is None else int(year),
                jur(region),
                0,
                0,
                0,
                set(),
                2,
                set(),
            ],
        )
        row[8].add(rule)
    rows = [[*r[:8], " ".join(sorted(r[8])), r[9], sorted(r[10])] for r in acc.values()]
    rows.sort(key=lambda r: (r[9] == 2, -r[5], -r[6], -r[7], r[2], r[1]))
    return rows


_TEXT_COLUMNS = ("message", "cells", "fix", "left_value", "right_value", "difference", "first_seen", "last_seen")
LISTED_FIRST = 100  # rows a landing page draws before its script runs, and a national page split by province lists
LANDING_ROWS_MAX = 20_000  # agencies one landing page lists; beyond, one page per province (benchmarks/scale.md)


@dataclass(frozen=True)
class Shard:
    """Where a landing page sits when a night is split by province: `base` leads from it to nianbao/,
    `home` to the national page, `scope` is its province ("" on the national page), `jurs` every
    province of the night (the filter's options), `links` province -> its page from this one, `pages`
    (province, link, agencies) listed on the national page. A night of more than EMBEDDED_EXPORT_MAX
    findings embeds none in its province pages either: packing 700,000 took a minute."""

    base: str = ""
    home: str = ""
    scope: str = ""
    jurs: list[str] | None = None
    links: dict[str, str] = field(default_factory=dict)
    pages: list[tuple[str, str, int]] = field(default_factory=list)
    exports: bool = True  # the page carries its findings for its downloads (up to EMBEDDED_EXPORT_MAX)


def landing_page(
    summary: dict,
    findings: pd.DataFrame,
    resolved: pd.DataFrame,
    gx_links: dict[str, str],
    problems: list[dict],
    located: dict[str, int] | None = None,
    *,
    levels: dict[str, str | None] | None = None,
    checked: dict[str, int] | None = None,
    diagnosed: dict[str, localise.Diagnosis] | None = None,
    shard: Shard | None = None,
) -> str:
    """The auditors' landing page (relative links assume it sits in nianbao/); located: report id ->
    1 when its error is localised uniquely, 2 when ambiguously; levels: report id -> 行政层级 code;
    checked: region -> reports checked (the checked-versus-failed table). Waived findings are listed
    apart, as 已豁免 with their reason, and count nowhere else on the page. shard: this page is one
    province's (scope) or the national page listing only its first rows, when the night is too large
    for one page (write_pages)."""
    shard = shard or Shard()
    exports = not shard.pages and shard.exports and W.active_count(findings) <= EMBEDDED_EXPORT_MAX
    # Only the columns read here: filtering a bad night's million findings with their texts copied them all.
    findings = findings[[c for c in findings.columns if exports or c not in _TEXT_COLUMNS]]
    waived = []
    if "waived" in findings.columns:
        columns = ("report_id", "agency", "region", "rule_id", "waiver_reason", "waived")
        waived = [r[:5] for r in _records(findings, columns) if r[5]]
    findings = W.active(findings)
    regions = pd.concat([findings.region, resolved.region]).fillna("").unique()
    jurs = shard.jurs or sorted({jurisdiction(r) for r in regions})
    suites = sorted(gx_links)
    gx = [[SUITE_ZH.get(s, s), shard.base + "../" + gx_links[s]] for s in suites]
    rows = _agency_rows(findings, resolved, jurs, {s: i for i, s in enumerate(suites)})
    # Each row: [11] localised, [12] its region in `reg` ([省, 市, 县], shared by rows and the checked
    # counts: a few thousand regions, not one string per row), [13] its level in S.LEVELS (-1 unknown).
    checked = checked or {}
    reg_index: dict[str, int] = {}
    for region in [*regions, *checked]:
        reg_index.setdefault(region, len(reg_index))
    level_index = {code: i for i, code in enumerate(S.LEVELS)}
    for row in rows:
        row.append((located or {}).get(row[0], 0))
        row.append(reg_index[row[2]])
        row.append(level_index.get((levels or {}).get(row[0]), -1))
    failing_by_region = Counter(r[12] for r in rows if r[9] != 2 and r[5] + r[6] > 0)
    listed = sum(r[9] != 2 for r in rows)  # agencies with current findings; [9] == 2: only resolved ones
    if shard.pages:
        rows = [r for r in rows if r[9] != 2][:LISTED_FIRST]
    failed = findings[findings.status == F.FAILED]
    # Counted per distinct value, not per row: a bad night has 300,000 findings.
    by_jur, by_rule = Counter(), Counter()
    for region, n in failed.drop_duplicates("report_id").region.fillna("").value_counts().items():
        by_jur[jurisdiction(region)] += int(n)
    for rule_id, n in failed.rule_id.value_counts().items():
        by_rule[rule_id.split(".", 1)[0]] += int(n)
    top_jurs = sorted(by_jur.items(), key=lambda kv: (-kv[1], kv[0]))[:20]  # ties by name: stable pages
    chart_jur = bar_chart([(j, n, f"f-jur:{j}") for j, n in top_jurs])
    chart_rule = bar_chart(
        [
            (f"{fam} {_family_zh(fam)}", n, f"f-rule:{fam}")
            for fam, n in sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
    )
    broken = sorted(failed.rule_id.unique())
    families = sorted({r.split(".", 1)[0] for r in broken}, key=_family_key)
    rule_options = [
        (x, rule_name_zh(x)) for fam in families for x in [fam, *(r for r in broken if r.split(".", 1)[0] == fam)]
    ]
    years = sorted({int(y) for y in findings.year.dropna()}) if len(findings) else []
    return LANDING.render(
        title="政府信息公开工作年度报告 数据质量检查:未通过检查的单位",
        csp=CSP,
        style=STYLE,
        s={**summary, "select_text": " ".join(summary.get("select") or []) or "全部"},
        started_bj=beijing_time(summary.get("started_at")),
        levels=list(S.LEVELS.items()),
        c=summary["counts"],
        problems=problems,
        waived=[w for w in waived if S.REPORT_ID_PATTERN.match(w[0])],  # never a link from unvalidated text
        waiver_notices=(summary.get("waivers") or {}).get("notices", []),
        gx_links=[(g[0], g[1]) for g in gx],
        chart_jur=chart_jur,
        chart_rule=chart_rule,
        jurs=jurs,
        rule_options=rule_options,
        years=years,
        first=[r for r in rows if r[9] != 2][:LISTED_FIRST],
        hist=["新增", "持续", "已整改"],
        base=shard.base,
        scope=shard.scope,
        home=shard.home,
        shards=shard.pages,
        listed=listed,
        data=json_script(
            {
                "rows": rows,
                "gx": gx,
                "jurs": jurs,
                "reg": [region_parts(r) for r in reg_index],
                "checked": [[reg_index[r], n] for r, n in checked.items()],
                "failed": sorted(failing_by_region.items()),
                "base": shard.base,
                "scope": shard.scope,
                "home": shard.home,
                **({"shards": shard.links} if shard.links else {}),
            }
        ),
        export_data=json_script(
            {"h": X.HEADERS, "off": "全国清单只列出一部分单位:请先选择省份,在该省的页面下载"}
            if shard.pages
            else _export_data(findings, rows, diagnosed or {}, embed=exports)
        ),
        script=SCRIPT,
    )


_DIGITS = re.compile(r"(\d+)")
EMBEDDED_EXPORT_MAX = 30_000  # findings the landing page carries for its downloads (about 3 MB)
_EXPORT_FIELDS = ("report_id", "rule_id", "message", "cells", "left_value", "right_value")


def _export_data(
    findings: pd.DataFrame, rows: list, diagnosed: dict[str, localise.Diagnosis], embed: bool = True
) -> dict:
    """The finding rows the page downloads (nianbao.export_rows' columns), per landing row (f[i] for
    rows[i]). Each text is a template with its digits cut out (t, shared: a rule's messages differ
    only in their numbers) and those digits: a bad night's 60,000 findings in a few MB, not 40.
    Beyond EMBEDDED_EXPORT_MAX findings the page would grow by megabytes per 10,000: landing_page then
    passes embed=False, the page carries none, and its buttons point to `nianbao export` (benchmarks/site.md)."""
    if not embed:
        return {
            "h": X.HEADERS,
            "off": f"本次共 {len(findings):,} 条问题,超过页面内下载的上限 {EMBEDDED_EXPORT_MAX:,} 条;"
            "请用命令 nianbao export --region 地区 --out 文件.xlsx 导出",
        }
    templates: dict[str, int] = {}

    def pack(text: str) -> tuple[int, str]:
        parts = _DIGITS.split(text)
        return templates.setdefault("\x01".join(parts[0::2]), len(templates)), ",".join(parts[1::2])

    likely = {rid: diagnosed[rid].likely() for rid in findings.report_id.unique() if rid in diagnosed}
    by_report: dict[str, list] = defaultdict(list)
    for rid, rule, *rest in sorted(_records(findings, _EXPORT_FIELDS), key=lambda r: (r[0], r[1])):
        texts = (rule, *X.finding_fields(tuple(rest), likely.get(rid)))
        by_report[rid].append([x for t in texts for x in pack(t)])
    return {
        "h": X.HEADERS,
        "lv": list(S.LEVELS.values()),
        "t": list(templates),
        "f": [by_report.get(r[0], []) for r in rows],
    }


def _family_key(fam: str) -> tuple:
    digits = re.sub(r"\D", "", fam)
    return (int(digits) if digits else 999, fam)


def _family_zh(fam: str) -> str:
    return R.FAMILY_ZH.get(fam, "")


# --- agency page ------------------------------------------------------------------------------------


def _slot(table: str, column: str) -> dict:
    """A cell of the layout: its text and class are slots the page fills in (table and column named)."""
    return {"column": column, "text": f"\x01T{table}:{column}\x02", "cls": f"\x01C{table}:{column}\x02"}


def _active_blocks(version: str) -> list[dict]:
    """Table 二 as printed: one small table per 第二十条 item, rows × columns."""
    spec = S.ACTIVE_2019 if version == S.FORMAT_2019 else S.ACTIVE_2021
    blocks: dict[str, dict] = {}
    for _, _, column, lab in spec:
        block, row, col = lab.replace("(2019)", "").split("·")
        b = blocks.setdefault(block, {"cols": [], "rows": {}})
        if col not in b["cols"]:
            b["cols"].append(col)
        b["rows"].setdefault(row, []).append(_slot("active_disclosure", column))
    return [
        {
            "head": [[(name, 1 + len(b["cols"]), 1)], [("信息内容", 1, 1), *[(c, 1, 1) for c in b["cols"]]]],
            "rows": [{"label": r, "cells": cells} for r, cells in b["rows"].items()],
        }
        for name, b in blocks.items()
    ]


def _application_rows(rep: dict) -> tuple[str, ...]:
    """Row keys of table 三 as the report prints (六): three sub-rows, or one."""
    values = rep["values"].get("applications", {})
    single = (
        all(values.get(S.app_col(r, "total")) is None for r in S.OTHER_SUB_ROWS)
        and values.get(S.app_col("other", "total")) is not None
    )
    return S.APPLICATION_ROW_KEYS_SINGLE if single else S.APPLICATION_ROW_KEYS_SUBROWS


@functools.cache
def _layout(version: str, app_rows: tuple[str, ...], present: tuple[bool, bool, bool]) -> tuple:
    """The tables' HTML as a str.format template with two {} per cell (class, text), and the cells'
    columns grouped by table in page order."""
    has_active, has_apps, has_review = present
    active = {
        "id": "t2",
        "title": S.TABLE_TITLES["active_disclosure"],
        "rows": has_active,
        "blocks": _active_blocks(version) if has_active else [],
    }
    rows = {r.key: r.label for r in (*S.APPLICATION_ROWS, S.OTHER_SINGLE_ROW)}
    apps = {"id": "t3", "title": S.TABLE_TITLES["applications"], "rows": has_apps, "blocks": []}
    if has_apps:
        parts = [lab.split("·")[-1] for _, lab in S.APPLICANT_COLUMNS[1:-1]]
        head = [
            [("", 1, 3), ("申请人情况", len(S.APPLICANT_COLUMNS), 1)],
            [(S.APPLICANT_COLUMNS[0][1], 1, 2), ("法人或其他组织", len(parts), 1), (S.APPLICANT_COLUMNS[-1][1], 1, 2)],
            [(p, 1, 1) for p in parts],
        ]
        apps["blocks"] = [
            {
                "head": head,
                "rows": [
                    {
                        "label": rows[r],
                        "cells": [_slot("applications", S.app_col(r, c)) for c, _ in S.APPLICANT_COLUMNS],
                    }
                    for r in app_rows
                ],
            }
        ]
    review = {"id": "t4", "title": S.TABLE_TITLES["review_litigation"], "rows": has_review, "blocks": []}
    if has_review:
        n = len(S.REVIEW_OUTCOMES)
        (_, first), *litigation = S.REVIEW_GROUPS
        head = [
            [("", 1, 3), (first, n, 2), ("行政诉讼", n * len(litigation), 1)],
            [(g.split("·")[-1], n, 1) for _, g in litigation],
            [(o, 1, 1) for _ in S.REVIEW_GROUPS for _, o in S.REVIEW_OUTCOMES],
        ]
        review["blocks"] = [
            {
                "head": head,
                "rows": [
                    {
                        "label": "件数",
                        "cells": [
                            _slot("review_litigation", f"{g}_{o}")
                            for g, _ in S.REVIEW_GROUPS
                            for o, _ in S.REVIEW_OUTCOMES
                        ],
                    }
                ],
            }
        ]
    template, names = _format_template(TABLES.render(tables=[active, apps, review]), named=False)
    slots = [(p[0], *p[1:].split(":", 1)) for p in names]
    # Each cell is a class slot then a text slot; cells of one table are contiguous.
    assert [k for k, _, _ in slots] == ["C", "T"] * (len(slots) // 2)
    cells = [(t, c) for k, t, c in slots if k == "T"]
    groups = [(t, tuple(c for tt, c in cells if tt == t)) for t in dict.fromkeys(t for t, _ in cells)]
    assert [x for t, cols in groups for x in ((t, c) for c in cols)] == cells
    return template, tuple(groups)


def _cell_text(value) -> str:
    """A stored value as the page shows it when the printed text is unknown (ints need no escaping)."""
    if value is None:
        return ""
    return str(value) if type(value) is int else html.escape(fmt(value))


def _tables_html(rep: dict, marks: dict, likely: dict[str, int | None] | None = None) -> Markup:
    """The three statutory tables of one report: printed text, failing cells marked with their rules,
    the cells most likely wrong (`likely`: column -> the value it should hold) marked apart.

    A night's failing reports each get this page (20,000 at 1,000,000 reports), so the cells are
    filled into a cached template with plain list work: Jinja per cell took 2 ms a page.
    """
    version = rep["meta"].get("format_version") or S.FORMAT_2021
    present = tuple(t in rep["values"] for t in ("active_disclosure", "applications", "review_litigation"))
    template, groups = _layout(version, _application_rows(rep), present)
    args: list[str] = []
    for table, columns in groups:
        row = rep["values"].get(table)
        values = values_of(row, columns)
        texts = [str(v) if type(v) is int else _cell_text(v) for v in values]
        printed = rep["text"].get(table)
        if printed:
            texts = [html.escape(printed[c]) if printed.get(c) is not None else t for c, t in zip(columns, texts)]
        classes = [""] * len(columns)
        if marks:
            for i, column in enumerate(columns):
                if column in marks:
                    rules, css = marks[column]
                    joined = html.escape(" ".join(rules))
                    classes[i] = f'{css}" data-rules="{joined}" title="{joined}' if rules else css
        if likely:
            for i, column in enumerate(columns):
                if column in likely:
                    classes[i] = classes[i].replace("bad", "likely", 1) if "bad" in classes[i] else "likely"
                    if likely[column] is not None:
                        texts[i] += f'<span class="proposed">应为 {likely[column]}</span>'
        args += [x for pair in zip(classes, texts) for x in pair]
    return Markup(template.format(*args))


def _marks(items: list) -> dict[str, tuple[list[str], str]]:
    """Column -> (rule ids, css class): red for failed rules, yellow for missing / not assessable."""
    marks: dict[str, tuple[list[str], str]] = {}
    for f in items:
        cls = "bad" if f.status == F.FAILED else "na"
        rule = R.RULES_BY_ID.get(f.rule_id)
        for column, value in json.loads(f.cells or "{}").items():
            c = "missing" if value is None else cls
            if rule is not None and rule_kind(rule.kind).marks_missing:
                c = "missing"
            rules, old = marks.get(column, ([], ""))
            marks[column] = ([*rules, f.rule_id], "bad" if "bad" in (old, c) else c)
    return marks


# One finding of an agency page, filled by str.format: Jinja per finding was a third of a page's time.
_FINDING = (
    '<div class="finding {severity} {status}" data-rule="{rule_id}">\n<span class="tag {history}">{history_zh}'
    '</span><span class="sev-{severity}">{severity_zh}</span>\n<b>{rule_id}</b> {status_zh}:{message}<br>'
    '<span class="fix">修改建议:{fix}</span>\n{waiver}{gx}</div>'
)
_WAIVER = '<br><span class="tag waived">已豁免</span><span class="waiver">豁免理由:{}(不计入未通过)</span>\n'
_GX_LINK = ' <a class="small" href="{}">GX 验证结果</a>'
GX_PAGES = "gx"  # under PAGES_DIR: one page per suite leading to this run's GX validation page
_GX_REDIRECT = (
    '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
    '<meta http-equiv="refresh" content="0; url={href}"><title>GX 验证结果:{suite}</title></head>'
    '<body><p>正在打开最近一次运行的 GX 验证结果:<a href="{href}">{suite}</a></p></body></html>'
)


def _esc(value) -> str:
    """Jinja's autoescape of one value (markupsafe's entities), without a Markup object per call."""
    s = "" if value is None else str(value)
    if "&" in s:
        s = s.replace("&", "&amp;")
    return s.replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;").replace('"', "&#34;")


def gx_page(suite: str) -> str:
    """The file, under GX_PAGES, of the page that leads to a suite's GX validation page of the latest run."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", suite) + ".html"


def write_gx_pages(out: Path, gx_links: dict[str, str]) -> dict[str, str]:
    """One page per suite under out/GX_PAGES that opens its GX validation page of this run; suite -> the
    link an agency page gives it. Agency pages link these, not the run's own paths, so that a page
    nothing changed for is the same file from run to run (nianbao.page_cache)."""
    folder = out / GX_PAGES
    folder.mkdir(parents=True, exist_ok=True)
    for suite, link in gx_links.items():
        href = _esc("../../" + link)
        (folder / gx_page(suite)).write_text(_GX_REDIRECT.format(href=href, suite=_esc(suite)), encoding="utf-8")
    return {suite: f"../{GX_PAGES}/{gx_page(suite)}" for suite in gx_links}


@functools.lru_cache(maxsize=4096)  # a few hundred combinations recur on every page of a night
def _finding_codes(severity: str, status: str, rule_id: str, history: str, gx_link: str | None) -> dict[str, str]:
    """The escaped fields of a finding that are codes and their Chinese names, not free text."""
    return {
        "severity": _esc(severity),
        "status": _esc(status),
        "rule_id": _esc(rule_id),
        "history": _esc(history),
        "history_zh": _esc(HISTORY_ZH.get(history, history)),
        "severity_zh": _esc(severity_word(severity, status)),
        "status_zh": _esc(STATUS_ZH.get(status, status)),
        "gx": _GX_LINK.format(_esc(gx_link)) if gx_link else "",
    }


def _findings_html(items: list, gx_links: dict[str, str]) -> Markup:
    """The findings of one agency page, errors first, failed before not assessable; gx_links: suite ->
    the link to its GX page from the agency page."""
    order = {R.ERROR: 0, R.WARN: 1}
    parts = []
    # Waived findings last: what is still to fix comes first.
    key = lambda f: (bool(getattr(f, "waived", False)), f.status != F.FAILED, order.get(f.severity, 2), f.rule_id)
    for f in sorted(items, key=key):
        waived = bool(getattr(f, "waived", False))  # the service's drafts carry no waivers
        codes = _finding_codes(f.severity, f.status, f.rule_id, f.history, gx_links.get(f.suite))
        if waived:
            codes = {**codes, "status": codes["status"] + " waived"}
        parts.append(
            _FINDING.format(
                **codes,
                message=_esc(f.message),
                fix=_esc(f.fix),
                waiver=_WAIVER.format(_esc(f.waiver_reason)) if waived else "",
            )
        )
    return Markup("".join(parts))


_META_LABELS = (
    "机关",
    "地区",
    "行政层级",
    "报告年度",
    "报告编号",
    "格式版本",
    "格式偏差",
    "来源文件",
    "解析结果",
    "结果更新时间",  # when the page's results last changed (nianbao.page_cache); the run's time is on the landing page
)


@functools.cache
def _agency_shell() -> str:
    """AGENCY rendered once with a slot for every per-page value, as a str.format template: Jinja per
    page was a third of a bad night's 50,000 pages. Values are escaped as Jinja would (_esc)."""
    slots = {name: Markup(f"\x01{name}\x02") for name in ("title", "count", "findings", "resolved", "tables")}
    html = AGENCY.render(
        title=slots["title"],
        csp=CSP,
        style=STYLE,
        count=slots["count"],
        meta=[(k, Markup(f"\x01m{i}\x02")) for i, k in enumerate(_META_LABELS)],
        findings_html=slots["findings"],
        resolved_html=slots["resolved"],
        tables_html=slots["tables"],
    )
    return _format_template(html, named=True)[0]


def _resolved_html(resolved: list) -> str:
    if not resolved:
        return ""
    items = "".join(
        f'<li><span class="tag resolved">已整改</span>{_esc(f.rule_id)} {_esc(f.message)}</li>' for f in resolved
    )
    return f"<h2>上次运行以来已整改</h2><ul>{items}</ul>"


def diagnosis_html(diag: localise.Diagnosis | None) -> str:
    """Where the error is: the cheapest sets of cells to correct with their values, then the others."""
    if diag is None:
        return ""
    items = []
    for n, solution in enumerate(diag.solutions):
        tag = "" if n < diag.best else '<span class="small">(改动同样少,可能性较低)</span>'
        items.append(f"<li>{_esc(';'.join(localise.change_text(c) for c in solution))}{tag}</li>")
    if diag.ambiguous:
        head = "可能需要改正的单元格:有多种同样可能的改法,无法唯一确定,请逐一核对"
    else:
        head = "最可能需要改正的单元格"
    return f'<div class="diagnosis" id="diagnosis"><b>{head}</b><ol>{"".join(items)}</ol></div>'


def agency_page(
    rid: str,
    items: list,
    resolved: list,
    rep: dict,
    gx_links: dict[str, str],
    diagnosis: localise.Diagnosis | None = None,
    extra: str = "",
    updated_at: str = "",
) -> str:
    """One agency's page (items: its findings as row tuples): where the error is, findings explained,
    tables redrawn; gx_links: suite -> its link from the page (write_gx_pages); `extra`: escaped HTML
    after the findings (the history across runs); updated_at: when its results last changed, as shown
    (beijing_time)."""
    first = items[0]
    title, meta_slots = page_meta(rid, rep, first.agency, first.region, updated_at)
    return _agency_shell().format(
        title=title,
        count=len(items),
        findings=Markup(diagnosis_html(diagnosis)) + _findings_html(items, gx_links),
        resolved=_resolved_html(resolved) + extra,
        tables=_tables_html(rep, _marks(items), diagnosis.likely() if diagnosis else None),
        **meta_slots,
    )


def page_meta(rid: str, rep: dict, agency=None, region=None, updated_at: str = "") -> tuple[str, dict[str, str]]:
    """An agency page's escaped title and its 报告信息 slots (_META_LABELS, in order); agency and region
    stand in when the data folder has no meta for the report."""
    meta = rep.get("meta") or {"report_id": rid}
    values = (
        text(meta.get("agency") or agency),
        text(meta.get("region") or region),
        S.LEVELS.get(meta.get("level"), meta.get("level") or ""),
        meta.get("year"),
        rid,
        meta.get("format_version"),
        meta.get("format_deviations"),
        meta.get("source_file"),
        meta.get("parse_status"),
        updated_at,
    )
    title = f"{text(meta.get('agency') or agency) or rid} {text(meta.get('year'))} 年度报告:检查结果"
    return _esc(title), {f"m{i}": _esc(v) for i, v in enumerate(values)}


def draft_sections(items: list, rep: dict, diagnosis: localise.Diagnosis | None = None) -> tuple[Markup, Markup]:
    """One draft's findings (named tuples of the findings' columns) explained, and its three tables
    redrawn with the suspect cells marked, as on an agency page (the service's upload page shows them)."""
    likely = diagnosis.likely() if diagnosis else None
    return Markup(diagnosis_html(diagnosis)) + _findings_html(items, {}), _tables_html(rep, _marks(items), likely)


# --- the site ---------------------------------------------------------------------------------------

PARALLEL_FROM = 2000  # agency pages; below this, starting worker processes costs more than it saves


def _write_agency_pages(jobs: list, span: tuple[int, int]) -> int:
    """Render and write jobs[start:stop] (in a forked worker, or in this process)."""
    start, stop = span
    with collector.paused():
        for path, rid, items, resolved, rep, gx_links, diagnosis, *extra in jobs[start:stop]:
            page = agency_page(rid, items, resolved, rep, gx_links, diagnosis, *extra)
            path.write_text(page, encoding="utf-8")
    return stop - start


def _write_all_agency_pages(jobs: list) -> None:
    """Write every agency page, on every core when there are many.

    A bad night has tens of thousands of failing reports, each with its own page, and rendering is
    pure Python: forked workers (which see the jobs without pickling them) split the list. When a
    worker dies (out of memory on a smaller machine, a native crash), this process writes every page
    again; a page written twice is the same page.
    """
    processes = forked.workers()
    written = None
    if len(jobs) >= PARALLEL_FROM:
        step = -(-len(jobs) // (processes * 4))
        spans = [(i, min(i + step, len(jobs))) for i in range(0, len(jobs), step)]
        done = forked.forked_map(_write_agency_pages, jobs, spans, processes)
        written = None if done is None else sum(done)
    if written is None:
        written = _write_agency_pages(jobs, (0, len(jobs)))
    if written != len(jobs):
        raise RuntimeError(f"wrote {written} of {len(jobs)} agency pages")


def write_pages(
    site_dir: Path,
    summary: dict,
    findings: pd.DataFrame,
    resolved: pd.DataFrame,
    reports: dict[str, dict] | Callable[[list[str]], dict[str, dict]],
    gx_links: dict[str, str],
    problems: list[dict],
    diagnoses: pa.Table | None = None,
    before_landing=lambda: None,
    agency_extra: dict[str, str] | Callable[[list[str]], dict[str, str]] | None = None,
    landing_extra: str = "",
    checked: dict[str, int] | None = None,
    levels: dict[str, str | None] | None = None,
    chunk: int | None = None,
    pages: PageCache | None = None,
) -> Path:
    """Write one page per agency with findings, then the landing page, under site_dir/nianbao/.

    reports: the reports read back, or what reads those of a list of ids, asked `chunk` ids at a time
    (a bad night's 400,000 failing reports are not held at once); levels: report id -> 行政层级 code,
    for the landing page (by default from the reports). agency_extra (report id -> HTML) and landing_extra
    (HTML sections, below the summary) are escaped HTML from other modules: the history across runs, the
    roster; agency_extra may be what makes that HTML for a chunk of report ids. pages: the previous
    run's pages and their keys (nianbao.page_cache): a page whose key is unchanged is linked, not
    rendered, and its report not read."""
    if diagnoses is None:
        diagnoses = localise.DIAGNOSES_SCHEMA.empty_table()
    out = Path(site_dir) / PAGES_DIR
    (out / "agencies").mkdir(parents=True, exist_ok=True)
    links = write_gx_pages(out, gx_links)
    empty = {"meta": {}, "values": {}, "text": {}}
    now = summary.get("started_at")
    read = reports if callable(reports) else lambda ids: {r: reports[r] for r in ids if r in reports}
    # never a path from unvalidated text
    ids = [rid for rid in findings.report_id.unique() if S.REPORT_ID_PATTERN.match(rid)]
    if levels is None:
        if callable(reports):
            raise TypeError("write_pages: levels are needed when the reports are read chunk by chunk")
        levels = {rid: (rep.get("meta") or {}).get("level") for rid, rep in reports.items()}
    step = chunk or len(ids) or 1
    for start in range(0, len(ids), step):
        # The findings of a chunk of reports as Python rows, then their pages: a million findings as
        # named tuples at once took 1.6 GB.
        wanted = ids[start : start + step]
        keys = pages.keys(wanted, findings, resolved, diagnoses, links) if pages is not None else {}
        jobs = []
        for rid in wanted:
            path = out / "agencies" / f"{rid}.html"
            if pages is None:
                jobs.append([path, rid, now])
            elif not pages.link(rid, keys[rid], path):
                jobs.append([path, rid, pages.since(rid, keys[rid])])
        # The pages to draw: their findings as Python rows, their diagnoses, history and reports.
        drawn = [rid for _, rid, _ in jobs]
        by_report = _rows_by_report(findings, drawn)
        resolved_by = _rows_by_report(resolved, drawn)
        diagnosed = localise.from_table(
            diagnoses.filter(pc.is_in(diagnoses["report_id"], pa.array(drawn, pa.string())))
        )
        extra = agency_extra(drawn) if callable(agency_extra) else (agency_extra or {})
        got = read(drawn)
        _write_all_agency_pages(
            [
                (
                    path,
                    rid,
                    by_report[rid],
                    resolved_by.get(rid, []),
                    got.get(rid, empty),
                    links,
                    diagnosed.get(rid),
                    extra.get(rid, ""),
                    beijing_time(since),
                )
                for path, rid, since in jobs
            ]
        )
        del got, by_report, resolved_by, extra, diagnosed, jobs
    before_landing()
    landing = out / "index.html"
    per_report = diagnoses.group_by("report_id").aggregate([("ambiguous", "max")])
    located = {
        rid: 2 if ambiguous else 1
        for rid, ambiguous in zip(per_report["report_id"].to_pylist(), per_report["ambiguous_max"].to_pylist())
    }
    # The diagnoses as objects only for a page that embeds its download rows (a small night).
    small = W.active_count(findings) <= EMBEDDED_EXPORT_MAX
    page = functools.partial(landing_page, levels=levels, diagnosed=localise.from_table(diagnoses) if small else {})
    shard = _province_pages(out, page, summary, findings, resolved, gx_links, problems, checked or {}, located, small)
    landing.write_text(
        page(summary, findings, resolved, gx_links, problems, located, checked=checked, shard=shard), encoding="utf-8"
    )
    if landing_extra:
        landing.write_text(with_sections(landing.read_text(encoding="utf-8"), landing_extra), encoding="utf-8")
    return landing


def _province_pages(
    out: Path,
    page,
    summary: dict,
    findings: pd.DataFrame,
    resolved: pd.DataFrame,
    gx_links: dict[str, str],
    problems: list[dict],
    checked: dict[str, int],
    located: dict[str, int],
    embed: bool,
) -> Shard | None:
    """Above LANDING_ROWS_MAX agencies, one landing page per province under regions/ (its agencies, counts
    and downloads; `embed`: the night is small enough to carry its download rows), and the Shard of the
    national page that links them; None when one page lists all.

    A bad night at 1,000,000 reports lists 400,000 agencies: one page of them is 35 MB and takes seconds
    to open; a province's page is a thirtieth of it (benchmarks/site.md)."""
    if pd.concat([findings.report_id, resolved.report_id]).nunique() <= LANDING_ROWS_MAX:
        return None
    # jurisdiction() per distinct region, not per row: a bad night has a million findings.
    jur_of = {r: jurisdiction(r) for r in pd.concat([findings.region, resolved.region]).fillna("").unique()}
    f_jur = findings.region.fillna("").map(jur_of)
    r_jur = resolved.region.fillna("").map(jur_of)
    jurs = sorted(set(jur_of.values()))
    (out / "regions").mkdir(exist_ok=True)
    links = {jur: f"regions/{i:03d}.html" for i, jur in enumerate(jurs)}
    pages = []
    for jur, href in links.items():
        f, r = findings[(f_jur == jur).to_numpy()], resolved[(r_jur == jur).to_numpy()]
        local = {reg: n for reg, n in checked.items() if jurisdiction(reg) == jur}
        counts = {**F.counts(f, r), "localised": summary["counts"].get("localised")}
        if counts["localised"] is not None:
            here = [located.get(rid, 0) for rid in f.report_id.unique()]
            counts["localised"] = {"unique": here.count(1), "ambiguous": here.count(2)}
        scoped = {**summary, "counts": counts, "reports_validated": sum(local.values())}
        up = {j: "../" + h for j, h in links.items()}
        shard = Shard(base="../", home="../index.html", scope=jur, jurs=jurs, links=up, exports=embed)
        (out / href).write_text(page(scoped, f, r, gx_links, problems, located, checked=local, shard=shard), "utf-8")
        pages.append((jur, href, int(W.active(f).report_id.nunique())))
    return Shard(home="index.html", jurs=jurs, links=links, pages=pages)


def with_sections(page: str, sections: str) -> str:
    """A page with HTML sections added after its first section (the landing page's summary)."""
    at = page.find("</section>")
    at = page.find("</main>") if at < 0 else at + len("</section>")
    return page[:at] + "\n" + sections + page[at:] if at >= 0 else page + sections


# --- the gate's verdict -----------------------------------------------------------------------------

VERDICT = {
    0: "通过:所有规则均已满足,可以发布。",
    1: "通过(有警告):没有错误级问题,可以发布,但请核对下列警告。",
    2: "不通过:存在错误级问题,请修改后再发布。",
    3: "无法检查:报告无法读取或解析,请按下列原因处理。",
    4: "无法检查:检查配置或运行出错,请联系维护人员。",
}


def _verdict_word(severity: str, status: str) -> str:
    """错误·未通过, 警告·未通过, or 无法核验 alone (a rule not checked is neither error nor warning)."""
    word = severity_word(severity, status)
    return word if status == F.NOT_ASSESSABLE else f"{word}·{STATUS_ZH.get(status, status)}"


def gate_text(outcome, *, source: str, report_meta: dict | None = None, notes: list[str] = ()) -> str:
    """The gate's verdict in Chinese: each failing rule, the cells, expected against printed, the fix."""
    meta = report_meta or {}
    head = f"发布前检查:{source}"
    who = " ".join(
        str(x) for x in (meta.get("agency"), meta.get("region"), meta.get("year") and f"{meta['year']} 年度") if x
    )
    lines = [head] + ([f"报告:{who}"] if who else [])
    lines.append(f"结论:{VERDICT[int(outcome.exit_code)]}(退出码 {int(outcome.exit_code)})")
    diagnoses = getattr(outcome, "diagnoses", None)
    for diag in localise.from_table(diagnoses).values() if diagnoses is not None else ():
        lines.append(localise.headline(diag))
        lines += [f"   或:{';'.join(localise.change_text(c) for c in s)}" for s in diag.solutions[1:]]
    lines += [f"注意:{n}" for n in notes]
    lines += [f"注意:{n['message']}" for n in (outcome.summary.get("waivers") or {}).get("notices", [])]
    order = {F.FAILED: 0, F.NOT_ASSESSABLE: 1, R.ERROR: 0, R.WARN: 1}
    items = sorted(
        W.active(outcome.findings).itertuples(),
        key=lambda f: (order.get(f.status, 2), order.get(f.severity, 2), f.rule_id),
    )
    for i, f in enumerate(items, 1):
        lines.append(f"{i}. [{f.rule_id}] {_verdict_word(f.severity, f.status)} {f.message}")
        cells = json.loads(f.cells or "{}")
        if cells:
            lines.append("   涉及单元格:" + ";".join(f"{label(c)} = {fmt(v)}" for c, v in cells.items()))
        rule = R.RULES_BY_ID.get(f.rule_id)
        if pd.notna(f.left_value) and pd.notna(f.right_value) and rule is not None:
            lines.append("   " + rule_kind(rule.kind).sides(rule, f.left_value, f.right_value, f.difference))
        lines.append(f"   修改建议:{f.fix}")
    waived = outcome.findings.drop(W.active(outcome.findings).index)
    for f in waived.itertuples():  # acknowledged: shown, never part of the verdict
        lines.append(f"已豁免:[{f.rule_id}] {f.message}")
        lines.append(f"   豁免理由:{f.waiver_reason}")
    for r in outcome.summary.get("raised", []):
        lines.append(f"检查出错:{r.get('rule_id')} {r.get('message')}")
    if outcome.site_index:
        lines.append(f"详细页面:{outcome.site_index}")
    return "\n".join(lines)
