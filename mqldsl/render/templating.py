"""The one Jinja2 environment for everything under render/: templates load
from ``mqldsl/render/templates`` inside the installed package, HTML templates
(``*.html.j2``) are autoescaped, Markdown templates (``*.md.j2``) are not."""

from __future__ import annotations

import functools
import html
import re
from typing import Any

import jinja2
import markupsafe


@functools.cache
def environment() -> jinja2.Environment:
    """The shared environment; load templates with ``get_template(name)``."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mqldsl", "render/templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = markdown_cell
    env.filters["mdtext"] = markdown_text
    env.filters["code"] = html_code
    env.filters["html_escape"] = html_escape
    return env


def render(name: str, **context: Any) -> str:
    """Render the template ``name`` with ``context``."""
    return environment().get_template(name).render(**context)


def html_escape(value: Any) -> markupsafe.Markup:
    """Escaped as :func:`html.escape` does it: quotes become ``&quot;`` and
    ``&#x27;`` where autoescape would write ``&#34;`` and ``&#39;``. The
    report pages used it before they were templates, so their bytes stay."""
    return markupsafe.Markup(html.escape(str(value)))


def html_code(value: Any) -> markupsafe.Markup:
    """Escaped text with `name` shown as code (HTML only)."""
    escaped = html.escape(str(value))
    return markupsafe.Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped))


_CODE_SPAN = re.compile(r"(`[^`\n]*`)")
# What Markdown reads as markup in running text: emphasis, links, escapes (written with a
# backslash before them, which a Markdown viewer does not show); `_` inside a word
# (`America/New_York`) makes no emphasis and stays as it is.
_MARKUP = re.compile(r"([\\*\[\]~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z]))")
# A line that starts with these is a heading, a quotation, a list item or a heading's
# underline (`1986.` starts a numbered list).
_LINE_MARKUP = re.compile(r"^(\s*)([#>+=-]|[0-9]+(?=[.)]))", re.MULTILINE)


def _escaped(part: str, cell: bool) -> str:
    """Text outside code spans, shown as written: markup characters escaped, ``&`` and ``<``
    as entities (no HTML tag or entity made of them), and in a table cell ``|`` escaped and
    no line break."""
    text = _MARKUP.sub(r"\\\g<1>", part.replace("&", "&amp;")).replace("<", "&lt;")
    if cell:
        return text.replace("|", "\\|").replace("\n", " ")
    return _LINE_MARKUP.sub(_line_start, text)


def _line_start(match: re.Match[str]) -> str:
    """A line's first character escaped; a number before `.` or `)` keeps its digits, the
    mark after them escaped (`1986\\.`)."""
    indent, mark = match[1], match[2]
    if mark[0].isdigit():
        return f"{indent}{mark}\\"
    return f"{indent}\\{mark}"


def markdown_text(value: Any) -> str:
    """Running Markdown text: a policy's words (its title, a description, an example's name, a
    literal in a rule) shown as written, as the HTML page shows them: no emphasis, link,
    heading or HTML tag made of them; code spans (`name`, which the document writes around
    names) as they are."""
    parts = _CODE_SPAN.split(str(value))
    return "".join(part if i % 2 else _escaped(part, False) for i, part in enumerate(parts))


def markdown_cell(value: Any) -> str:
    """Text safe inside a Markdown table cell (as :func:`markdown_text`, on one line, ``|``
    escaped, in code spans too)."""
    parts = _CODE_SPAN.split(str(value).replace("\n", " "))
    return "".join(
        part.replace("|", "\\|") if i % 2 else _escaped(part, True) for i, part in enumerate(parts)
    )
