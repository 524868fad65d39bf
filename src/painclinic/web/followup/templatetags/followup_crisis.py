"""``{% crisis_resources as resources %}``: the crisis lines in force (escalation_policy.json)."""

from __future__ import annotations

from django import template

from painclinic.clinical.escalation import CrisisResource, load_escalation_policy

register = template.Library()


@register.simple_tag
def crisis_resources() -> tuple[CrisisResource, ...]:
    return load_escalation_policy().crisis_resources
