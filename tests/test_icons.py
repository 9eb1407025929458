"""Icons are inline SVG (config/icons.py): no template draws an emoji or symbol glyph, which
renders as an empty box where no emoji font is installed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.template import Context, Template, TemplateSyntaxError

from config.icons import SHAPES

ROOT = Path(__file__).resolve().parent.parent
# Emoji and pictographs, dingbats and miscellaneous symbols, enclosed letters (ⓘ), and the same
# written as HTML character references (&#128276; is the bell).
GLYPH = re.compile(
    "[\u2460-\u24ff\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff\ufe0f]"
    "|&#(?:x(?:1f[0-9a-f]{3}|2[67][0-9a-f]{2}|24[6-9a-f][0-9a-f])|1[0-9]{5}|9[7-9][0-9]{2});",
    re.IGNORECASE,
)


def templates() -> list[Path]:
    return [
        path
        for path in ROOT.glob("**/templates/**/*.html")
        if ".venv" not in path.parts and "var" not in path.parts
    ]


def test_no_template_draws_an_emoji_or_symbol_glyph():
    found = [
        f"{path.relative_to(ROOT)}:{n}: {match.group()}"
        for path in templates()
        for n, line in enumerate(path.read_text().splitlines(), 1)
        for match in GLYPH.finditer(line)
    ]
    assert templates() and found == []


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_each_icon_is_an_svg_in_the_texts_colour(name):
    html = Template(f'{{% load icons %}}{{% icon "{name}" %}}').render(Context())
    assert html.startswith(f'<svg class="icon icon-{name}"') and html.endswith("</svg>")
    assert 'stroke="currentColor"' in html and 'aria-hidden="true"' in html


def test_a_labelled_icon_is_announced_and_its_label_escaped():
    html = Template('{% load icons %}{% icon "bell" label %}').render(
        Context({"label": "<b>Alerts</b>"})
    )
    assert 'role="img" aria-label="&lt;b&gt;Alerts&lt;/b&gt;"' in html
    assert "<title>&lt;b&gt;Alerts&lt;/b&gt;</title>" in html


def test_an_unknown_icon_is_an_error_not_an_empty_space():
    with pytest.raises(TemplateSyntaxError, match="Unknown icon 'bel'"):
        Template('{% load icons %}{% icon "bel" %}').render(Context())
