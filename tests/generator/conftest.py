"""Fixtures for the generator tests."""

from __future__ import annotations

import pytest
from gen_helpers import FIXTURE_TEMPLATES, require_templates
from recipegen.generator.render import TemplateSource


@pytest.fixture
def real_templates() -> TemplateSource:
    """The shipped templates; skips (naming them) while some are still missing."""
    require_templates()
    return TemplateSource()


@pytest.fixture
def stub_templates() -> TemplateSource:
    """Minimal stand-in templates: exercise the engine independently of the real ones."""
    return TemplateSource(FIXTURE_TEMPLATES)
