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


def markdown_text(value: Any) -> str:
    """Running Markdown text: ``<`` outside code spans written ``&lt;``, so that a policy's
    words (its title, a description, an example's name) cannot open an HTML tag in the
    document; code spans show ``<`` as it is."""
    parts = _CODE_SPAN.split(str(value))
    return "".join(part if i % 2 else part.replace("<", "&lt;") for i, part in enumerate(parts))


def markdown_cell(value: Any) -> str:
    """Text safe inside a Markdown table cell."""
    text = str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")
