"""The transactions table's recategorize menu, built once per page rather than once per row."""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from categories.models import Category

register = template.Library()
_BUILT = "transaction_table.category_options"


@register.simple_tag(takes_context=True)
def category_options(context: template.Context, categories: Iterable[Category], selected_id: int) -> SafeString:
    """The `<option>`s, grouped under their parents, with the transaction's category selected.

    The same ~75 options repeat on every row; written out by a template loop per row they
    were most of a page's time (about 150 ms for 50 rows), so the markup is built once per
    render of the table and each row only places its `selected`.
    """
    built = context.render_context.get(_BUILT)
    if built is None or built[0] is not categories:
        built = (categories, *_options(categories))
        context.render_context[_BUILT] = built
    _, markup, offsets = built
    at = offsets.get(selected_id)
    if at is None:
        return mark_safe(markup)  # noqa: S308  (built from escaped parts only)
    return mark_safe(f"{markup[:at]} selected{markup[at:]}")  # noqa: S308


def _options(categories: Iterable[Category]) -> tuple[str, dict[int, int]]:
    """The markup, and per category id where its option's `selected` goes."""
    parts: list[str] = []
    offsets: dict[int, int] = {}
    length = 0
    listed = list(categories)
    for index, category in enumerate(listed):
        piece = ""
        if not category.parent_id:
            piece += "</optgroup>" if index else ""
            piece += format_html('<optgroup label="{}">', category.name)
        piece += format_html('<option value="{}"', category.path)
        offsets[category.pk] = length + len(piece)
        label = category.name if category.parent_id else f"{category.name}, other"
        piece += format_html(">{}</option>", label)
        if index == len(listed) - 1:
            piece += "</optgroup>"
        parts.append(piece)
        length += len(piece)
    return "".join(parts), offsets
