"""`{% load icons %}{% icon "bell" %}`: the admin's icons as inline SVG.

Emoji and symbol glyphs (🔔, ⓘ) render as empty boxes on machines without an emoji font, such
as a headless browser on a server; an inline SVG is drawn by the browser itself, in the text's
colour (`currentColor`) and at its size (1em). The shapes follow Feather's 24 by 24 outline icons.
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html, mark_safe

register = template.Library()

# Each icon: the SVG elements inside a 24 by 24 stroked viewBox (static markup, no user input).
SHAPES: dict[str, str] = {
    "bell": '<path d="M18 8A6 6 0 0 0 6 8c0 7-3 9-3 9h18s-3-2-3-9"/>'
    '<path d="M13.73 21a2 2 0 0 1-3.46 0"/>',
    "info": '<circle cx="12" cy="12" r="10"/><line x1="12" y1="16" x2="12" y2="12"/>'
    '<line x1="12" y1="8" x2="12.01" y2="8"/>',
    "alert": '<path d="M10.29 3.86 1.82 18a2 2 0 0 0 1.71 3h16.94a2 2 0 0 0 1.71-3L13.71 3.86'
    'a2 2 0 0 0-3.42 0z"/><line x1="12" y1="9" x2="12" y2="13"/>'
    '<line x1="12" y1="17" x2="12.01" y2="17"/>',
    "check": '<polyline points="20 6 9 17 4 12"/>',
    "x": '<line x1="18" y1="6" x2="6" y2="18"/><line x1="6" y1="6" x2="18" y2="18"/>',
    "external": '<path d="M18 13v6a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2h6"/>'
    '<polyline points="15 3 21 3 21 9"/><line x1="10" y1="14" x2="21" y2="3"/>',
    "arrow-right": '<line x1="5" y1="12" x2="19" y2="12"/><polyline points="12 5 19 12 12 19"/>',
}


def render_icon(name: str, label: str = "") -> str:
    """The SVG markup of one icon; with a label it is announced, without it is decoration."""
    try:
        shape = SHAPES[name]
    except KeyError:
        # A typo in a template must fail its test, not draw nothing.
        raise template.TemplateSyntaxError(
            f"Unknown icon {name!r}; known: {', '.join(sorted(SHAPES))}."
        ) from None
    if label:
        attrs = format_html('role="img" aria-label="{}"', label)
        title = format_html("<title>{}</title>", label)
    else:
        attrs, title = mark_safe('aria-hidden="true" focusable="false"'), ""
    return format_html(
        '<svg class="icon icon-{}" width="1em" height="1em" viewBox="0 0 24 24" fill="none" '
        'stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" '
        'style="vertical-align:-0.125em" {}>{}{}</svg>',
        name,
        attrs,
        title,
        mark_safe(shape),  # static markup of SHAPES, no user input
    )


@register.simple_tag
def icon(name: str, label: str = "") -> str:
    """`{% icon "info" %}` (decorative) or `{% icon "bell" "Notifications" %}` (announced)."""
    return render_icon(name, label)
