"""Reports over the run store: a self-contained HTML file per run or bench, and a live view served on 127.0.0.1.

`data` reads the store into plain values, `plots` turns them into Plotly figures, `render` fills the
Jinja2 templates, `server` serves the same pages read-only while runs are in progress.
"""
