"""The lifecycle diagram of the definitions document, drawn twice from the
same facts: Mermaid for Markdown (wikis render it) and inline SVG for HTML.
Both show every stage with its description, the forward arrows, a
`disqualified` state when the policy has disqualifiers (reachable from any
stage) and one arc per recycle rule, labelled with its own condition."""

from __future__ import annotations

import html
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Diagram:
    """What both drawings show: ``stages`` as (name, description) in funnel
    order, ``recycles`` as (from index, to index, label) and the
    disqualifier ``reasons`` (empty: no `disqualified` state)."""

    stages: tuple[tuple[str, str], ...]
    recycles: tuple[tuple[int, int, str], ...]
    reasons: tuple[str, ...]
    locked: bool

    @property
    def disqualified_label(self) -> str:
        return "while a reason holds" + (" (keeps the stage reached)" if self.locked else "")


def _mermaid_text(text: str) -> str:
    """Text inside a quoted Mermaid label: entity codes for the characters
    Mermaid would read as syntax; backticks dropped (a label that starts
    with one is a Markdown string to Mermaid)."""
    return (
        text.replace("`", "")
        .replace("#", "#35;")
        .replace('"', "#quot;")
        .replace("<", "#lt;")
        .replace(">", "#gt;")
    )


def mermaid(diagram: Diagram) -> str:
    """A Mermaid flowchart (the lines between the fences, with a final newline)."""
    lines = ["flowchart LR"]
    if diagram.reasons:
        lines.append('  subgraph funnel ["stages"]')
        lines.append("  direction LR")
    for index, (name, description) in enumerate(diagram.stages, 1):
        label = name + (f": {description}" if description else "")
        lines.append(f'  s{index}["{_mermaid_text(label)}"]')
    for index in range(1, len(diagram.stages)):
        lines.append(f"  s{index} --> s{index + 1}")
    if diagram.reasons:
        lines.append("  end")
    for source, target, label in diagram.recycles:
        lines.append(f'  s{source} -. "{_mermaid_text(label)}" .-> s{target}')
    if diagram.reasons:
        reasons = "; ".join(diagram.reasons)
        lines.append(f'  dq(["disqualified: {_mermaid_text(reasons)}"])')
        lines.append(f'  funnel -. "{_mermaid_text(diagram.disqualified_label)}" .-> dq')
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int, most: int = 3) -> list[str]:
    """``text`` in lines of at most ``width`` characters (a longer word
    stands alone), at most ``most`` lines; a cut ends with an ellipsis."""
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    if len(lines) > most:
        lines = lines[:most]
        lines[-1] = lines[-1][: max(width - 1, 1)].rstrip() + "…"
    return lines


def _text(x: float, y: float, text: str, size: int, anchor: str = "middle", **extra: str) -> str:
    attributes = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in extra.items())
    return (
        f'<text x="{x:g}" y="{y:g}" text-anchor="{anchor}" font-size="{size}"{attributes}>'
        f"{html.escape(text)}</text>"
    )


def svg(diagram: Diagram) -> str:
    """The diagram as inline SVG (every text escaped)."""
    box, gap, pad = 150, 36, 10
    count = len(diagram.stages)
    wrapped = [_wrap(description, 24) for _, description in diagram.stages]
    height = 34 + 14 * max((len(w) for w in wrapped), default=0)
    width = count * box + (count - 1) * gap + 2 * pad
    middle_y = pad + height / 2
    parts: list[str] = []
    for index, ((name, _), lines) in enumerate(zip(diagram.stages, wrapped, strict=True)):
        x = pad + index * (box + gap)
        parts.append(
            f'<rect x="{x}" y="{pad}" width="{box}" height="{height}" rx="8" '
            'fill="#eef3f9" stroke="#3b6ea5"/>'
        )
        parts.append(_text(x + box / 2, pad + 20, name, 14, font_weight="bold"))
        for row, line in enumerate(lines):
            parts.append(_text(x + box / 2, pad + 37 + 14 * row, line, 11, fill="#333"))
        if index + 1 < count:
            parts.append(
                f'<line x1="{x + box}" y1="{middle_y}" x2="{x + box + gap - 2}" y2="{middle_y}" '
                'stroke="#555" marker-end="url(#arrow)"/>'
            )
    y = pad + height
    for depth, (source, target, label) in enumerate(diagram.recycles):
        a = pad + (source - 1) * (box + gap) + box / 2 + 8 * depth
        b = pad + (target - 1) * (box + gap) + box / 2 - 8 * depth
        bottom = y + 24 + 30 * depth
        parts.append(
            f'<path d="M{a:g},{y} L{a:g},{bottom} L{b:g},{bottom} L{b:g},{y + 3}" fill="none" '
            'stroke="#b0494b" stroke-dasharray="4 3" marker-end="url(#arrow-red)"/>'
        )
        parts.append(_text((a + b) / 2, bottom + 13, label, 11, fill="#b0494b"))
    if diagram.recycles:
        y += 24 + 30 * (len(diagram.recycles) - 1) + 16
    if diagram.reasons:
        left, right = pad + 20, width - pad - 20
        center = width / 2
        top = y + 14
        parts.append(
            f'<path d="M{left:g},{pad + height} L{left:g},{top} L{right:g},{top} '
            f'L{right:g},{pad + height}" fill="none" stroke="#777" stroke-dasharray="2 3"/>'
        )
        parts.append(
            f'<line x1="{center:g}" y1="{top}" x2="{center:g}" y2="{top + 30}" stroke="#777" '
            'stroke-dasharray="2 3" marker-end="url(#arrow)"/>'
        )
        parts.append(
            _text(center + 6, top + 19, diagram.disqualified_label, 11, "start", fill="#555")
        )
        reasons = _wrap("; ".join(diagram.reasons), 48, most=2)
        dq_height = 26 + 14 * len(reasons)
        parts.append(
            f'<rect x="{center - 160:g}" y="{top + 32}" width="320" height="{dq_height}" rx="8" '
            'fill="#fbeeee" stroke="#b0494b" stroke-dasharray="5 3"/>'
        )
        parts.append(_text(center, top + 50, "disqualified", 14, font_weight="bold"))
        for row, line in enumerate(reasons):
            parts.append(_text(center, top + 66 + 14 * row, line, 11, fill="#333"))
        y = top + 32 + dq_height
    total = y + pad
    head = (
        f'<svg role="img" aria-label="Lifecycle stages" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{total:g}" viewBox="0 0 {width} {total:g}" '
        'style="max-width: 100%; height: auto">'
        '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" '
        'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker>'
        '<marker id="arrow-red" markerWidth="8" markerHeight="8" refX="7" refY="4" '
        'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#b0494b"/></marker></defs>'
    )
    return head + "".join(parts) + "</svg>"


__all__ = ["Diagram", "mermaid", "svg"]
