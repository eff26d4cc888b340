"""The one part of the core that imports Streamlit, one idea per module: the engine
(``database``), the login gate (``login``), the sidebar, URL-bound filters (``filters``),
tables/charts with their downloads (``downloads``) and the page chrome (``chrome``). Pages use
the names below as ``ui.…`` and stay a screenful of "what the user sees"."""

from . import agreements
from .chrome import (SYNTHETIC_NOTE, about, controls, empty, empty_state, explain, key_figure, map_view,
                     page_header, part_select, plain, presenting, pseudonyms, statement, withheld_note)
from .database import engine
from .downloads import chart, download, plain_table, table
from .filters import (Gemeente, gemeente_select, indicator_select, presentation_controls, run_page, school_select,
                      share_link, url_choice, url_choices, url_flag, wijk_select)
from .login import current_user, logout, require_user, session_token
from .sidebar import sidebar

__all__ = ["SYNTHETIC_NOTE", "about", "agreements", "chart", "controls", "current_user", "download", "empty", "empty_state",
           "engine", "explain", "logout", "session_token", "gemeente_select", "Gemeente", "indicator_select", "key_figure", "map_view",
           "page_header", "part_select", "plain", "plain_table", "presentation_controls", "presenting", "pseudonyms",
           "require_user", "run_page", "school_select", "share_link", "sidebar", "statement", "table", "url_choice",
           "url_choices", "url_flag", "wijk_select", "withheld_note"]
