"""The inbox filter form's fields and widgets: many values per parameter, rendered fast.

A filter takes repeated parameters or comma-separated values, and people spell values as they
know them (an email for a person, a name for an asset). The widgets render in Python, because
Django's one template per option cost as much as the page of reports under the form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe


class _FastChoices:
    """Render a multiple-choice widget in Python rather than one template per option.

    Django renders each option of a choice widget through its own template, which made the
    filter form cost as much as the page of reports beneath it (measured: ~25 ms of ~90).
    """

    choices: Any
    attrs: dict[str, Any]

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> SafeString:
        chosen = {str(v) for v in (value or [])}
        final = {**self.attrs, **(attrs or {})}
        options = [(str(key), str(label)) for key, label in self.choices]
        return self.render_options(name, final.get("id", f"id_{name}"), options, chosen)

    # Each widget below writes its options its own way: (name, id, options, chosen) -> HTML.
    render_options: Callable[[str, str, list[tuple[str, str]], set[str]], SafeString]


class FastCheckboxes(_FastChoices, forms.CheckboxSelectMultiple):
    """Checkboxes, one label each, in a div carrying the field's id."""

    def render_options(
        self, name: str, id_: str, options: list[tuple[str, str]], chosen: set[str]
    ) -> SafeString:
        boxes = format_html_join(
            "",
            '<label for="{}_{}"><input type="checkbox" name="{}" value="{}" id="{}_{}"{}> {}</label>',
            (
                (id_, n, name, key, id_, n, mark_safe(" checked") if key in chosen else "", label)
                for n, (key, label) in enumerate(options)
            ),
        )
        return format_html('<div id="{}">{}</div>', id_, boxes)


class FastSelectMultiple(_FastChoices, forms.SelectMultiple):
    """A multiple select."""

    def render_options(
        self, name: str, id_: str, options: list[tuple[str, str]], chosen: set[str]
    ) -> SafeString:
        items = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((key, mark_safe(" selected") if key in chosen else "", label) for key, label in options),
        )
        return format_html('<select name="{}" id="{}" multiple>{}</select>', name, id_, items)


class ValuesField(forms.MultipleChoiceField):
    """Zero or more values of one vocabulary: repeated parameters, or comma-separated in one.

    Each value may also be spelled as one of ``aliases`` (a lower-case spelling → the value: an
    email for a person, a name for an asset). An unknown value is an error naming it and listing
    what is accepted.
    """

    def __init__(self, *, noun: str, commas: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", FastCheckboxes)
        super().__init__(**kwargs)
        self.noun = noun
        self.commas = commas
        self.aliases: dict[str, str] = {}

    def to_python(self, value: Any) -> list[str]:
        items = value if isinstance(value, list | tuple) else [] if value in (None, "") else [value]
        parts: list[str] = []
        for item in items:
            parts.extend(str(item).split(",") if self.commas else [str(item)])
        return [part.strip() for part in parts if part.strip()]

    def options(self) -> list[str]:
        """The accepted values, in the order they are offered."""
        return [str(key) for key, _ in cast(Iterable[tuple[Any, Any]], self.choices)]

    def clean(self, value: Any) -> list[str]:
        known = set(self.options())
        lowered = {key.lower(): key for key in known} | self.aliases
        found: list[str] = []
        for item in self.to_python(value):
            canonical = item if item in known else lowered.get(item.lower())
            if canonical is None:
                options = ", ".join(self.options())
                raise ValidationError(
                    f"Unknown {self.noun} “{item[:80]}”: use one of {options}.", code="invalid_choice"
                )
            if canonical not in found:
                found.append(canonical)
        return found
