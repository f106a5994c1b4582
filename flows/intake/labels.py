"""Labels read by their place: the template's labels, in order, aligned with the texts found where
they stand (schemas/labels.yaml says how close is close enough, and why).

Only asked when a table's labels are not all found as the template prints them: a workbook filled
in from the template never comes here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise

import numpy as np
import yaml
from rapidfuzz.distance import Indel

from flows.format.edition import SCHEMAS, normalise_label


@cache
def settings() -> dict:
    return yaml.safe_load((SCHEMAS / "labels.yaml").read_text("utf-8"))


@cache
def _numbering() -> tuple[tuple[re.Pattern, str], ...]:
    return tuple((re.compile(item["pattern"]), item["as"]) for item in settings()["numbering"])


@cache
def _numbered() -> re.Pattern:
    return re.compile(settings()["numbered"])


@cache
def _annotation() -> re.Pattern:
    return re.compile(settings()["annotation"])


@cache
def comparable(text: str) -> str:
    """`text` normalised, with its numbering written as the template writes it."""
    text = normalise_label(text)
    for pattern, replacement in _numbering():
        text, replaced = pattern.subn(replacement, text, count=1)
        if replaced:
            break
    return text


def similarity(label: str, found: str) -> float:
    """How alike a template label and a text found in its place are, from 0 to 1: compared as
    normalised and in the comparable form (a digit typed at the start is not always numbering),
    and, when the label has no brackets, also without what the text has in brackets (an annotation)."""
    annotation, numbered = _annotation(), _numbered()
    labels = {normalise_label(label), comparable(label)}
    founds = {normalise_label(found), comparable(found)}
    if not annotation.search(normalise_label(label)):
        founds |= {bare for bare in (annotation.sub("", text) for text in founds) if bare}
    score = max(Indel.normalized_similarity(a, b) for a in labels for b in founds)
    bare_labels = {numbered.sub("", text) for text in labels} - labels
    if bare_labels and score < 1:  # the label is numbered: compared without its number too
        bare_founds = {numbered.sub("", text) for text in founds}
        pairs = [(a, b) for a in bare_labels for b in bare_founds if a and b]
        score = max([score] + [Indel.normalized_similarity(a, b) for a, b in pairs])
    return score


def best_similarity(texts: tuple[str, ...], found: str) -> float:
    """The similarity of `found` to a label given as its text and its aliases."""
    return max(similarity(text, found) for text in texts)


@dataclass
class Alignment:
    """What the labels expected (by index) are read as, among the texts found (by index)."""

    read: dict[int, int] = field(default_factory=dict)  # expected → found
    # expected → the found text it was paired with, and its rivals: ("found" | "expected", index)
    rivals: dict[int, tuple[int, list[tuple[str, int]]]] = field(default_factory=dict)
    places: dict[int, int] = field(default_factory=dict)  # an expected label not read → the found text in its place


def align(scores: np.ndarray) -> Alignment:
    """Align expected labels (rows of `scores`) with found texts (columns), both in reading order.

    `scores[i, j]` is how alike label i and text j are (1 for the label itself; 0 where text j is
    another label's). The alignment keeps the order of both and pairs what is close enough, most
    alike in total. A pairing with a rival close to it between the neighbouring pairs (another text
    for the label, another label for the text) is not read but reported with that rival: two
    columns headed 本年新制作数量 side by side are not read as one of them.
    """
    close, lead = settings()["close_enough"], settings()["clear_lead"]
    pairs = _best_pairs(np.where(scores >= close, scores, 0.0))
    alignment = Alignment()
    bounds = [(-1, -1), *pairs, (scores.shape[0], scores.shape[1])]
    for k, (i, j) in enumerate(pairs, start=1):
        (i0, j0), (i1, j1) = bounds[k - 1], bounds[k + 1]
        floor = max(close, scores[i, j] - lead)
        rivals = [("found", other) for other in range(j0 + 1, j1) if other != j and scores[i, other] >= floor]
        rivals += [("expected", other) for other in range(i0 + 1, i1) if other != i and scores[other, j] >= floor]
        if rivals:
            alignment.rivals[i] = (j, rivals)
        else:
            alignment.read[i] = j
    for (i0, j0), (i1, j1) in pairwise(bounds):
        missing, free = range(i0 + 1, i1), range(j0 + 1, j1)
        if len(missing) == len(free):  # then each missing label's place is certain
            alignment.places.update(zip(missing, free, strict=True))
    return alignment


def _best_pairs(scores: np.ndarray) -> list[tuple[int, int]]:
    """The order-keeping pairs (i, j) with scores[i, j] > 0 of the largest total score: the
    alignment of two sequences (Needleman–Wunsch with no cost for a gap)."""
    n, m = scores.shape
    total = np.zeros((n + 1, m + 1))
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            paired = total[i - 1, j - 1] + scores[i - 1, j - 1] if scores[i - 1, j - 1] > 0 else -1.0
            total[i, j] = max(total[i - 1, j], total[i, j - 1], paired)
    pairs = []
    i, j = n, m
    while i > 0 and j > 0:
        if scores[i - 1, j - 1] > 0 and total[i, j] == total[i - 1, j - 1] + scores[i - 1, j - 1]:
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif total[i, j] == total[i - 1, j]:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]
