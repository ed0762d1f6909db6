"""WSGI entry point: ``flask --app app …`` and ``gunicorn app:app``."""

import gc

from onboarding import create_app

app = create_app()
# What was built so far (modules, the app, its templates) lives as long as the process: freeze it, so
# that the collector's full passes walk only what requests create (a full pass over the ~140k start-up
# objects cost 55-70 ms every ~50 requests), and so that a preloading server's forked workers keep
# sharing those pages instead of copying them when the collector touches them.
gc.collect()
gc.freeze()
