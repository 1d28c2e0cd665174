"""The dataset explorer: `build_report` writes a static, offline site for a GFR dataset.

This subpackage owns the `gfr report` site: collecting a dataset's records
(and optionally fits and processed recordings) into compact browser data
(`data.py`), computing what the pages plot with the project's own model code
(`curves.py`), writing and atomically swapping the site folder (`site.py`),
and the site's own scripts and styles (`assets/`: vanilla JavaScript drawing
SVG, no third-party code, nothing fetched from a network).

Layering: the top of the library beside `serving`; it may import any other
subpackage, and nothing in the library imports it.
"""

from gfr_keras.report.site import ReportError, build_report

__all__ = ["ReportError", "build_report"]
