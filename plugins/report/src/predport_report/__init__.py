"""predport-report: draw predictions on their images, and a self-contained HTML report.

Commands (added to ``predport`` through the core's ``register_commands`` hook):
``predport draw PREDICTIONS --images DIR -o OUT/`` and
``predport report PREDICTIONS --images DIR -o report.html``. The library functions
are :func:`predport_report.render.draw_folder`, :func:`predport_report.page.write_report`
and :func:`predport_report.draw.draw_frame`. Importing this package is cheap.
"""
__version__ = "0.1.0"
