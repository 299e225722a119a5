"""The transactions table's recategorize menu, built once per page (transaction_table tag)."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from categories.models import Category
from categories.selectors import category_list

pytestmark = pytest.mark.django_db

# What the table's template wrote out per row before the tag: the reference for the markup.
LOOP = Template(
    "{% for category in categories %}{% if not category.parent_id %}{% if not forloop.first %}</optgroup>"
    '{% endif %}<optgroup label="{{ category.name }}">{% endif %}<option value="{{ category.path }}"'
    "{% if category.id == selected %} selected{% endif %}>{% if category.parent_id %}{{ category.name }}"
    "{% else %}{{ category.name }}, other{% endif %}</option>{% if forloop.last %}</optgroup>{% endif %}{% endfor %}"
)
TAG = Template(
    "{% load transaction_table %}{% for selected in rows %}{% category_options categories selected %}|{% endfor %}"
)


def test_it_writes_what_the_template_loop_wrote_for_every_category_and_none():
    categories = category_list()
    rows = [*Category.objects.values_list("pk", flat=True), 0]
    rendered = TAG.render(Context({"categories": categories, "rows": rows})).split("|")[:-1]
    assert len(rendered) == len(rows)
    for selected, markup in zip(rows, rendered, strict=True):
        assert markup == LOOP.render(Context({"categories": categories, "selected": selected}))
        assert markup.count(" selected") == (1 if selected else 0)


def test_it_escapes_names():
    food = Category.objects.get(path="food")
    food.name = 'Food & "drink" <b>'
    food.save()
    markup = TAG.render(Context({"categories": category_list(), "rows": [food.pk]}))
    assert 'label="Food &amp; &quot;drink&quot; &lt;b&gt;"' in markup
    assert "<b>" not in markup
