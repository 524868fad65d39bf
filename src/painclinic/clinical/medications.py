"""Coded medications: free-text medication lines normalised to ingredients and drug classes.

The vocabulary ships as data (``medications.json``, clinic-overridable like every policy file):
each ingredient (lower-case generic name) with its classes, synonyms, Canadian brand names and
salts, plus brand names of combination products. :func:`code_medication` reads one line of a
medication list as a person writes it ("Tambocor 100 mg twice daily", "flecainide acetate
50mg", "AMIODARONE HCL", "Percocet 5/325 q6h prn") and returns the ingredients it names; what
is left once doses, units, frequencies, forms and salts are taken away must be empty, or the
line is reported as not (fully) recognised so that a person checks it by hand. Nothing is
silently ignored.

>>> vocab = load_medications()
>>> code_medication("Tambocor 100 mg twice daily", vocab).ingredients
('flecainide',)
>>> "class_i_antiarrhythmic" in code_medication("flecainide acetate 50mg", vocab).classes
True
>>> code_medication("foobarin 10 mg", vocab).recognised
False
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from painclinic.clinical._validate import as_list, as_mapping, as_str, check_keys, join
from painclinic.clinical.errors import ClinicalInputError
from painclinic.clinical.policy import load_policy


@dataclass(frozen=True)
class Ingredient:
    id: str
    classes: frozenset[str]
    brands: tuple[str, ...]
    synonyms: tuple[str, ...]
    salts: tuple[str, ...]


@dataclass(frozen=True)
class MedicationVocabulary:
    version: str
    source: str
    class_names: Mapping[str, str]
    ingredients: Mapping[str, Ingredient]
    # normalised phrase (tuple of tokens) -> ingredient ids
    phrases: Mapping[tuple[str, ...], tuple[str, ...]]
    noise: frozenset[str]
    longest_phrase: int

    def classes_of(self, ingredients: Iterable[str]) -> frozenset[str]:
        out: set[str] = set()
        for i in ingredients:
            out |= self.ingredients[i].classes
        return frozenset(out)

    def class_name(self, class_id: str) -> str:
        return self.class_names.get(class_id, class_id.replace("_", " "))


@dataclass(frozen=True)
class CodedMedication:
    """One line of a medication list with what it was recognised as.

    ``recognised`` is True only when at least one ingredient was found and no word was left
    over; ``unrecognised_words`` are the words that matched nothing (a misspelling, a drug
    missing from the vocabulary): the line must then be checked by hand."""

    text: str
    ingredients: tuple[str, ...]
    classes: frozenset[str]
    unrecognised_words: tuple[str, ...]

    @property
    def recognised(self) -> bool:
        return bool(self.ingredients) and not self.unrecognised_words

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "ingredients": list(self.ingredients),
            "classes": sorted(self.classes),
            "recognised": self.recognised,
            "unrecognised_words": list(self.unrecognised_words),
        }


def normalise(text: str) -> list[str]:
    """Lower-case tokens with punctuation removed; numbers kept (brands like "Tylenol 3")."""
    text = text.lower().replace("’", "'").replace("#", " ")
    text = re.sub(r"(?<![a-z0-9.,])(\d+(?:[.,]\d+)?)([a-zµ%])", r"\1 \2", text)  # "50mg" -> "50 mg"
    text = re.sub(r"[^a-z0-9µ%'/.\- ]+", " ", text)
    text = text.replace("-", " ")
    tokens = []
    for tok in text.split():
        tok = tok.strip(".'/")
        if tok:
            tokens.append(tok)
    return tokens


_NUMBER = re.compile(r"^(\d+([.,]\d+)?)(/\d+([.,]\d+)?)*$|^x\d+$|^q\d+(-\d+)?[hd]$|^\d+x$")


def _is_noise(token: str, noise: frozenset[str]) -> bool:
    return token in noise or bool(_NUMBER.match(token))


def load_medications(policy_dir: str | Path | None = None) -> MedicationVocabulary:
    """The medication vocabulary in force (clinic copy if present, else the packaged one)."""
    raw = load_policy("medications.json", policy_dir)
    check_keys(
        raw,
        "",
        ["version", "source", "classes", "salts", "noise_words", "combinations", "ingredients"],
        ["description", "_origin"],
    )
    classes = {
        cid: as_str(as_mapping(c, join("classes", cid)).get("name"), join("classes", cid))
        for cid, c in as_mapping(raw["classes"], "classes").items()
    }
    ingredients: dict[str, Ingredient] = {}
    phrases: dict[tuple[str, ...], set[str]] = {}

    def phrase(text: str, ingredient: str, path: str) -> None:
        key = tuple(normalise(text))
        if not key:
            raise ClinicalInputError(path, f"{text!r} has no words")
        phrases.setdefault(key, set()).add(ingredient)

    salts: set[str] = {
        as_str(s, join("salts", i)).lower() for i, s in enumerate(as_list(raw["salts"], "salts"))
    }
    for iid, value in as_mapping(raw["ingredients"], "ingredients").items():
        path = join("ingredients", iid)
        data = as_mapping(value, path)
        check_keys(data, path, ["classes", "brands", "synonyms", "salts"], ["note"])
        cls = frozenset(as_str(c, join(path, "classes")) for c in as_list(data["classes"], path))
        unknown = sorted(cls - set(classes))
        if unknown:
            raise ClinicalInputError(join(path, "classes"), f"unknown class(es) {unknown}")
        ing = Ingredient(
            iid,
            cls,
            tuple(as_str(b, join(path, "brands")) for b in as_list(data["brands"], path)),
            tuple(as_str(s, join(path, "synonyms")) for s in as_list(data["synonyms"], path)),
            tuple(as_str(s, join(path, "salts")).lower() for s in as_list(data["salts"], path)),
        )
        ingredients[iid] = ing
        for name in (iid, *ing.brands, *ing.synonyms):
            phrase(name, iid, path)
        for salt in ing.salts:
            salts.update(normalise(salt))
    for brand, members in as_mapping(raw["combinations"], "combinations").items():
        path = join("combinations", brand)
        for m in as_list(members, path):
            if m not in ingredients:
                raise ClinicalInputError(path, f"unknown ingredient {m!r}")
            phrase(brand, m, path)
    noise = frozenset(
        {as_str(w, "noise_words").lower() for w in as_list(raw["noise_words"], "noise_words")}
        | salts
    )
    frozen = {k: tuple(sorted(v)) for k, v in phrases.items()}
    return MedicationVocabulary(
        version=as_str(raw["version"], "version"),
        source=as_str(raw["source"], "source"),
        class_names=classes,
        ingredients=ingredients,
        phrases=frozen,
        noise=noise,
        longest_phrase=max(len(k) for k in frozen),
    )


def code_medication(text: str, vocabulary: MedicationVocabulary) -> CodedMedication:
    """Recognise the ingredients written in one medication line (longest phrase first)."""
    tokens = normalise(text)
    found: list[str] = []
    leftover: list[str] = []
    i = 0
    while i < len(tokens):
        for n in range(min(vocabulary.longest_phrase, len(tokens) - i), 0, -1):
            key = tuple(tokens[i : i + n])
            if key in vocabulary.phrases:
                found.extend(x for x in vocabulary.phrases[key] if x not in found)
                i += n
                break
        else:
            if not _is_noise(tokens[i], vocabulary.noise):
                leftover.append(tokens[i])
            i += 1
    return CodedMedication(
        text=text.strip(),
        ingredients=tuple(found),
        classes=vocabulary.classes_of(found),
        unrecognised_words=tuple(leftover),
    )


def code_medications(
    lines: Iterable[str], vocabulary: MedicationVocabulary | None = None
) -> tuple[CodedMedication, ...]:
    vocabulary = vocabulary or load_medications()
    return tuple(code_medication(line, vocabulary) for line in lines if line.strip())


def describe(med: CodedMedication, vocabulary: MedicationVocabulary) -> str:
    """What a line was recognised as, for a person: "flecainide (class I ... antiarrhythmic)",
    or "not recognised, check by hand"."""
    if not med.ingredients:
        return "not recognised, check by hand"
    parts = []
    for ing in med.ingredients:
        names = sorted(
            vocabulary.class_name(c)
            for c in vocabulary.ingredients[ing].classes
            if c != "antiarrhythmic" or len(vocabulary.ingredients[ing].classes) == 1
        )
        parts.append(f"{ing} ({', '.join(names)})" if names else ing)
    text = " + ".join(parts)
    if med.unrecognised_words:
        text += f"; not recognised: {' '.join(med.unrecognised_words)}, check by hand"
    return text
