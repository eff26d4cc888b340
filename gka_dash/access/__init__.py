"""Who may come in, and how: accounts and their lock (``users``), the password check
(``auth``), the server-side sessions and their cookie (``sessions``), the organisation's own
account (``oidc``) and the second factor (``second_factor``). What a user may then see is the
Scope (``gka_dash.scope``), checked in every read of the data layer. No Streamlit here; the
login screens are in ``gka_dash.ui``."""
