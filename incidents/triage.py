"""Why a social post waits for an operator: the reasons as data, their words only where shown.

`social.ingest` decides with these: a post whose text names no category, or two, or that cannot
be placed, or whose report intake refuses, waits in the triage queue with one `Triage` per reason
(`SocialPost.triage`, as data). Their sentences are rendered when shown: in the active language
for people (the admin), and in English for the API's `triage_reason`, a wire text integrators
read.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from django.db import models
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


class TriageReason(models.TextChoices):
    """Why a post waits; the label names the reason, SENTENCES says it with its detail."""

    NO_CATEGORY_KEYWORD = "no_category_keyword", gettext_lazy("no category keyword")
    AMBIGUOUS_CATEGORY = "ambiguous_category", gettext_lazy("ambiguous category")
    NO_PLACE = "no_place", gettext_lazy("no place")
    AMBIGUOUS_PLACE = "ambiguous_place", gettext_lazy("ambiguous place")
    OUTSIDE_CITY = "outside_city", gettext_lazy("outside the city")
    NOT_ACCEPTED = "not_accepted", gettext_lazy("refused by intake")
    DISMISSED = "dismissed", gettext_lazy("dismissed by an operator")


# The sentence of each reason; %(choices)s are the rival categories or places, %(message)s the
# intake's refusal, %(note)s the operator's.
SENTENCES = {
    TriageReason.NO_CATEGORY_KEYWORD: gettext_lazy("no category keyword in the text"),
    TriageReason.AMBIGUOUS_CATEGORY: gettext_lazy("ambiguous category: %(choices)s"),
    TriageReason.NO_PLACE: gettext_lazy("no coordinates and no kelurahan or kecamatan name in the text"),
    TriageReason.AMBIGUOUS_PLACE: gettext_lazy("ambiguous place: %(choices)s"),
    TriageReason.OUTSIDE_CITY: gettext_lazy("the post's location is outside Kota Tangerang"),
    TriageReason.NOT_ACCEPTED: "%(message)s",  # intake's own message, as the API answers it
    TriageReason.DISMISSED: gettext_lazy("dismissed: %(note)s"),
}


@dataclass(frozen=True)
class Triage:
    """One reason a post waits, with its detail."""

    reason: TriageReason
    choices: tuple[str, ...] = ()  # AMBIGUOUS_*: the rivals, in the order they are named
    message: str = ""  # NOT_ACCEPTED: why intake refused the report
    note: str = ""  # DISMISSED: the operator's reason

    def as_data(self) -> dict:
        """What `SocialPost.triage` stores: the reason's code and the detail it has."""
        data: dict = {"reason": self.reason.value}
        if self.choices:
            data["choices"] = list(self.choices)
        if self.message:
            data["message"] = self.message
        if self.note:
            data["note"] = self.note
        return data

    @classmethod
    def from_data(cls, data: dict) -> Triage:
        """The reason `as_data` stored."""
        return cls(
            TriageReason(data["reason"]),
            choices=tuple(data.get("choices", ())),
            message=data.get("message", ""),
            note=data.get("note", ""),
        )

    def text(self) -> str:
        """The sentence, in the active language."""
        either = _("%(first)s or %(second)s")
        choices = ""
        if self.choices:
            choices = reduce(lambda a, b: either % {"first": a, "second": b}, self.choices[1:], self.choices[0])
        return str(SENTENCES[self.reason]) % {"choices": choices, "message": self.message, "note": self.note}


def text_of(reasons: list[Triage]) -> str:
    """The reasons as one line, in the active language."""
    return "; ".join(r.text() for r in reasons)


def api_text(reasons: list[Triage]) -> str:
    """The reasons as the API's `triage_reason` says them: in English."""
    with translation.override("en"):
        return text_of(reasons)
