"""Who may come in, and how: the organisation's own account (OpenID Connect) and the second
factor of local accounts. No Streamlit here; the login screens are in ``gka_dash.ui``."""
