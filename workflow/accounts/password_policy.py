"""What a password must be: long enough, not the user name, and not guessable.

"Guessable" is zxcvbn's estimate (the Python port of Dropbox's estimator), which knows
the 30,000 most common passwords of published leaks, common words and names, keyboard
patterns, repeats, sequences, dates and l33t substitutions. A score below
:data:`MIN_SCORE` (3: "safely unguessable", more than 10^8 guesses) is refused, so
every password on its list is refused whatever its length.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from zxcvbn import zxcvbn

MIN_LENGTH = 8
MIN_SCORE = 3
# zxcvbn refuses longer input, and its cost grows with the length; a password this long
# is judged by its beginning.
_ESTIMATED_LENGTH = 72
# A user name this short may well occur in a strong password by chance.
_CONTAINED_NAME_LENGTH = 3
# zxcvbn keeps the user inputs of a call in a module-level dictionary.
_estimating = threading.Lock()


def problems(password: str, username: str, *, hints: Iterable[str | None] = ()) -> list[str]:
    """Why ``password`` may not be set for ``username`` (empty when it may).

    ``hints`` are other things known about the person (display name, e-mail), which
    count as easy to guess when they occur in the password.
    """
    found = []
    if len(password) < MIN_LENGTH:
        found.append(f"Use at least {MIN_LENGTH} characters.")
    name = username.casefold()
    if name and (
        password.casefold() == name
        or (len(name) >= _CONTAINED_NAME_LENGTH and name in password.casefold())
    ):
        found.append("Do not use the user name in the password.")
    inputs = _inputs([username, *hints])
    with _estimating:
        estimate = zxcvbn(password[:_ESTIMATED_LENGTH], user_inputs=inputs)
    if estimate["score"] < MIN_SCORE:
        feedback = estimate["feedback"]
        advice = " ".join(filter(None, [feedback.get("warning"), *feedback.get("suggestions", [])]))
        found.append(
            "This password is too easy to guess (a common password, word, name or "
            "pattern); use a longer phrase of unrelated words." + (f" {advice}" if advice else "")
        )
    return found


def _inputs(hints: Iterable[str | None]) -> list[str]:
    """Each hint as given, without its spaces, and word by word (``Wang Xiaoming``)."""
    inputs: list[str] = []
    for hint in filter(None, hints):
        words = hint.replace("@", " ").replace(".", " ").split()
        inputs += [hint, "".join(words), *words]
    return inputs
