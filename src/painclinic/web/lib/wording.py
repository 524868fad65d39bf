"""Text from the cores' data files as a person reads it on a page."""

from __future__ import annotations

import re

# The reference's evidence tags ([S] checked, [S2] secondary, [U] unconfirmed) are for the
# medical director reviewing the data files, not for the people reading a page.
EVIDENCE_TAG = re.compile(r"\s*\[(?:S|S2|U)\]")


def without_evidence_tags(text: object) -> str:
    """A source or citation with its evidence tags taken out (and the punctuation they left)."""
    cleaned = EVIDENCE_TAG.sub("", str(text or ""))
    cleaned = re.sub(r"\s*;\s*(?=;|$)", "", cleaned)
    cleaned = re.sub(r"\(\s*\)", "", cleaned)
    return re.sub(r"^[\s;:,]+|[\s;:,]+$", "", cleaned)
