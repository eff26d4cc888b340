"""Notes for the verdiepend gesprek: per gemeente, one running text per question.

Saving a note adds a version instead of overwriting, so the preparation of a meeting and what
was agreed in it stay readable afterwards. Every read and write takes the user's scope: notes of
a gemeente are for the people who may see that gemeente and for no one else.
"""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd
from sqlalchemy import select

from .. import audit, formatting
from ..errors import GkaError
from ..schema import note
from ..scope import Scope

QUESTIONS = ("Wat gebeurt er?", "Hoe verklaren we dit?", "Wat kunnen we doen?", "Wie hebben we daarvoor nodig?")
MAX_LENGTH = 20_000


class Note(NamedTuple):
    question: int  # 1..4
    text: str
    author: str
    at: object  # datetime (UTC)


def save(engine, scope: Scope, gemeente: str, question: int, text: str, author: str) -> bool:
    """Store a new version of a question's note; False when the text did not change."""
    scope.check(gemeente)
    if question not in range(1, len(QUESTIONS) + 1):
        raise GkaError(f"Vraag {question} bestaat niet; kies 1 tot en met {len(QUESTIONS)}.")
    text = text.strip()
    if len(text) > MAX_LENGTH:
        raise GkaError(f"Een notitie is hoogstens {MAX_LENGTH} tekens lang; deze heeft er {len(text)}.")
    current = latest(engine, scope, gemeente).get(question)
    if text == (current.text if current else ""):
        return False
    with engine.begin() as conn:
        conn.execute(note.insert().values(gemeente_code=gemeente, question=question, text=text,
                                          author=author, at=audit.now()))
        audit.log(conn, author, "note", f"{gemeente} vraag {question}")
    return True


def history(engine, scope: Scope, gemeente: str) -> list[Note]:
    """Every version, newest first."""
    scope.check(gemeente)
    with engine.connect() as conn:
        rows = conn.execute(select(note.c.question, note.c.text, note.c.author, note.c.at)
                            .where(note.c.gemeente_code == gemeente)
                            .order_by(note.c.at.desc(), note.c.id.desc())).all()
    return [Note(*row) for row in rows]


def latest(engine, scope: Scope, gemeente: str) -> dict[int, Note]:
    """The current text per question (the newest version; an emptied note counts as none)."""
    current: dict[int, Note] = {}
    for entry in history(engine, scope, gemeente):
        current.setdefault(entry.question, entry)
    return {q: entry for q, entry in current.items() if entry.text}


def as_frame(entries: list[Note]) -> pd.DataFrame:
    return pd.DataFrame({"Vraag": [QUESTIONS[e.question - 1] for e in entries],
                         "Tekst": [e.text for e in entries], "Door": [e.author for e in entries],
                         "Tijd": [formatting.moment(e.at) for e in entries]})
