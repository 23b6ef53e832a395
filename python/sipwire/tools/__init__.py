"""What the ``sipwire`` command runs beyond parsing: ``sipwire analyze`` (:mod:`.analyze`), its
terminal ladder diagrams (:mod:`.ladder`) and its HTML report (:mod:`.report_html`).

The library never imports this package; it may import pyarrow, which the library does not need.
"""
