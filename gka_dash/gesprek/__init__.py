"""The verdiepend gesprek: what stands out (``highlight``), the notes per question (``notes``),
the catalogue of approaches (``approaches``), and what was agreed and how it is followed up
(``agreements``). The highlights are the package's own face: ``gesprek.highlights(...)``."""

from .highlight import (AFSTROOM, OUDEROPLEIDING, Highlight, Highlights, afstroom_changes, highlights,
                        ouderopleiding_gap, school_extremes)

__all__ = ["AFSTROOM", "OUDEROPLEIDING", "Highlight", "Highlights", "afstroom_changes", "highlights",
           "ouderopleiding_gap", "school_extremes"]
