"""The Chinese upload page: a form to drop a draft file or paste its text, and the verdict on it, with the
three tables redrawn and the suspect cells marked as on the auditors' agency pages (nianbao.report).

Escaped as the data docs are: Jinja's autoescape for every value, nianbao.report's own escaping inside
the redrawn tables and findings. It loads nothing (inline CSS and JS; a Content-Security-Policy that
forbids every fetch) and works without its script: the form posts to `/` and the answer is a page.
"""

from __future__ import annotations

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from .. import report
from .. import schema as S
from ..run.errors import EXIT_ZH
from .verdict import Verdict

# The data docs' policy, except that the form may post to this service; sent as a header too, where it
# also keeps the page out of other sites' frames (browsers ignore frame-ancestors in <meta>).
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'self'"
)
CSP_HEADER = CSP + "; frame-ancestors 'none'"
TITLE = "政府信息公开工作年度报告 · 发布前检查"

_STYLE = Markup("""
.drop{border:2px dashed #999;border-radius:6px;padding:24px;text-align:center;background:#fafafa}
.drop.over{border-color:#8b1a1a;background:#fdf2f2}textarea{width:100%;box-sizing:border-box;font-family:monospace}
form p{margin:8px 0}.meta label{margin-right:12px;display:inline-block}button{font-size:16px;padding:4px 24px}
.verdict{font-size:18px;font-weight:bold}.code-0,.code-1{color:#1e8449}.code-2,.code-3,.code-4{color:#c0392b}
.refusal{color:#c0392b;font-weight:bold}
""")

_SCRIPT = Markup(r"""
(function(){
  var form=document.getElementById('gate-form'),drop=document.getElementById('drop'),file=document.getElementById('file');
  var chosen=document.getElementById('chosen');
  function show(){chosen.textContent=file.files.length?('已选择:'+file.files[0].name):'';}
  file.addEventListener('change',show);
  ['dragenter','dragover'].forEach(function(t){drop.addEventListener(t,function(e){e.preventDefault();drop.classList.add('over');});});
  ['dragleave','drop'].forEach(function(t){drop.addEventListener(t,function(e){e.preventDefault();drop.classList.remove('over');});});
  drop.addEventListener('drop',function(e){
    if(!e.dataTransfer||!e.dataTransfer.files.length)return;
    file.files=e.dataTransfer.files;show();
    if(!form.querySelector('[name=token]')||form.querySelector('[name=token]').value)form.submit();
  });
  form.addEventListener('submit',function(){document.getElementById('go').disabled=true;document.getElementById('go').textContent='检查中……';});
})();
""")

_ENV = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
PAGE = _ENV.from_string(
    """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title><style>{{ style }}{{ page_style }}</style></head>
<body><header><h1>{{ title }}</h1></header><main>
<section id="upload"><h2>上传报告草稿</h2>
<form id="gate-form" method="post" action="/" enctype="multipart/form-data">
<div id="drop" class="drop">把报告文件拖到这里,或选择文件:
<input type="file" name="file" id="file" accept=".txt,.md,.html,.htm,.docx,.doc,.wps,.pdf,.json">
<div id="chosen" class="small"></div>
<div class="small">可读取:网页(.html)、Word(.docx/.doc)、PDF、文本(.txt/.md),或 nianbao parse --json 的 JSON;不超过 {{ max_mb }} MB</div></div>
<p>或粘贴报告文字(含三张统计表):</p>
<textarea name="text" id="text" rows="8" placeholder="在此粘贴从网页或 Word 复制的报告文字"></textarea>
<p class="meta">报告信息(可选,报告中未写明时填写):
<label>机关 <input name="agency" size="18"></label>
<label>地区 <input name="region" size="18"></label>
<label>年度 <input name="year" size="5" inputmode="numeric"></label>
<label>行政层级 <select name="level"><option value="">(未指定)</option>
{% for key, zh in levels %}<option value="{{ key }}">{{ zh }}</option>{% endfor %}</select></label></p>
{% if token_required %}<p><label>访问令牌 <input type="password" name="token" autocomplete="off" required></label></p>{% endif %}
<p><button type="submit" id="go">检查</button> <span class="small">草稿只用于本次检查,检查完即删除。</span></p>
</form></section>
{% if refusal %}<section id="verdict"><p class="refusal">{{ refusal }}</p></section>{% endif %}
{% if verdict %}
<section id="verdict"><h2>结论</h2>
<p class="verdict code-{{ code }}" id="verdict-text">{{ verdict_zh }}</p>
<p class="small">文件:{{ source }}{% if who %} · 报告:{{ who }}{% endif %} · 退出码 {{ code }}({{ code_name }}:{{ code_zh }})</p>
{% if message %}<p class="refusal">原因:{{ message }}</p>{% endif %}
{% for note in notes %}<p>注意:{{ note }}</p>{% endfor %}
</section>
{% if checked %}<section id="findings"><h2>问题与修改建议({{ count }} 条)</h2>
{% if count %}{{ findings_html }}{% else %}<p>未发现问题。</p>{% endif %}</section>
{{ tables_html }}{% endif %}
{% endif %}
</main><script>{{ script }}</script></body></html>
"""
)


def upload_page(
    *, token_required: bool, max_mb: float, verdict: Verdict | None = None, refusal: str | None = None
) -> str:
    """The upload page; with a verdict, the verdict below the form; with a refusal, why nothing was checked."""
    fields = {}
    if verdict is not None:
        p, code = verdict.report, verdict.code
        findings_html, tables_html = (
            report.draft_sections(verdict.findings, verdict.rep, verdict.diagnosis)
            if verdict.checked
            else (Markup(""), Markup(""))
        )
        fields = {
            "code": int(code),
            "code_name": code.name,
            "code_zh": EXIT_ZH[code],
            "verdict_zh": report.VERDICT.get(int(code), EXIT_ZH[code]),
            "source": p.source_file,
            "who": " ".join(str(x) for x in (p.agency, p.region, p.year and f"{p.year} 年度") if x),
            "message": verdict.message,
            "notes": verdict.notes,
            "checked": verdict.checked,
            "count": len(verdict.findings),
            "findings_html": findings_html,
            "tables_html": tables_html,
        }
    return PAGE.render(
        csp=CSP,
        title=TITLE,
        style=report.STYLE,
        page_style=_STYLE,
        script=_SCRIPT,
        levels=list(S.LEVELS.items()),
        token_required=token_required,
        max_mb=f"{max_mb:g}",
        refusal=refusal,
        verdict=verdict is not None,
        **fields,
    )
