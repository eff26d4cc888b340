"""What leaves the dashboard for a meeting: the gesprek report as HTML and PDF (``report``) and
as a PowerPoint deck (``slides``), built from the same Report and the same chart builders as the
screen. Chart images (PNG, SVG) come from ``gka_dash.charts.for_file``."""
