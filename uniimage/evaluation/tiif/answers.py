"""Reading a judge's reply to one yes/no question.

Judges wrap the answer in many ways ("Yes.", "**No**", "Answer: yes, the cat is...", "I think not").
The first yes-like or no-like word decides, once markup and a leading "answer:" are dropped. Failing
that, a reply that names exactly one of the words "yes" / "no" is read as that one. Anything else
(noise, a refusal, both words with neither first) is unparsed: None, which never matches the expected
answer, so a judge that rambles scores low rather than being guessed for.
"""

from __future__ import annotations

import re

# Not "not", "y" or "n": "Not sure" and "N/A" are no answers.
_YES = {"yes", "yeah", "yep", "yup", "true", "correct", "affirmative"}
_NO = {"no", "nope", "nah", "false", "incorrect", "negative"}
# Words a judge puts before its verdict: "Answer: yes", "The answer is no", "Final answer - yes".
_LEAD = {"answer", "the", "is", "final", "my", "a", "short", "reply", "response", "verdict"}
_WORD = re.compile(r"[a-z]+")


def parse_yes_no(reply: str | None) -> str | None:
    """-> "yes", "no" or None."""
    if not reply:
        return None
    words = _WORD.findall(reply.lower())
    for word in words:
        if word in _LEAD:
            continue
        if word in _YES:
            return "yes"
        if word in _NO:
            return "no"
        break  # the reply opens with something else: fall back to looking for the bare words
    said = {w for w in words if w in ("yes", "no")}
    return said.pop() if len(said) == 1 else None
