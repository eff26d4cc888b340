"""gka-dash core: data access, importers, indicator logic, privacy and authorisation.

Nothing in this package imports Streamlit except :mod:`gka_dash.ui`, so the CLI, the tests and
the benchmark can use the core without a browser.
"""
