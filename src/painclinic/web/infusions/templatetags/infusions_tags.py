from django import template

register = template.Library()


@register.filter
def human(value: object) -> str:
    """'reduce_rate' -> 'reduce rate'."""
    return str(value).replace("_", " ")


@register.filter
def get_item(mapping: dict, key: object) -> object:
    return mapping.get(key, "")
