"""Every page of the compliance UI passes axe-core's WCAG 2.1 A/AA rules (labels,
contrast, landmarks, headings, names of links and buttons, tables …), signed in as the
role that sees the most of it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page
from webstore import RULE, customers

from proactive.review import list_items

from .conftest import Site, sign_in
from .test_preferences_ui import accessibility_problems

Serve = Callable[[list[str]], Site]


def test_the_sign_in_page_passes_axe(page: Page, serve: Serve) -> None:
    site = serve(customers(1))
    page.goto(f"{site.url}/login")
    assert accessibility_problems(page) == []


@pytest.mark.parametrize(
    "path",
    [
        "/queue",
        "/decisions",
        "/decisions?customer=C001",
        "/decisions/{item}",
        "/reports",
        f"/reports/{RULE}",
        "/exceptions",
        "/audit",
        "/callbacks",
    ],
)
def test_a_staff_page_passes_axe(page: Page, serve: Serve, path: str) -> None:
    site = serve(customers(2))
    item = list_items(site.store)[0].decision_id
    sign_in(page, site, "carol")
    page.goto(site.url + path.format(item=item))
    assert accessibility_problems(page) == []
