"""The Jinja environments templates render in.

Form templates are data: they come from a folder an administrator may edit,
so they render in Jinja's *immutable sandbox* (no attribute access to
internals, no mutation of context objects), with autoescaping on and
``StrictUndefined`` so a misspelt variable is an error, not a silent blank.
Values are never compiled as templates: ``{{ 7*7 }}`` in a name prints as is.
The HTML environment also offers the slot markup of ``rendering.slots``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from doc_service.rendering.context import cn_date, cn_month
from doc_service.rendering.slots import TEMPLATE_GLOBALS


def _box(checked: object) -> str:
    return "☒" if checked else "☐"


@cache
def html_environment(root: Path) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(str(root)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cn_date"] = cn_date
    env.filters["cn_month"] = cn_month
    env.globals.update(TEMPLATE_GLOBALS)
    return env


def docx_environment() -> ImmutableSandboxedEnvironment:
    """For docxtpl: same sandbox; autoescape so ``&`` or ``<`` cannot corrupt the XML."""
    env = ImmutableSandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
    env.filters["cn_date"] = cn_date
    env.filters["cn_month"] = cn_month
    env.filters["box"] = _box
    return env
