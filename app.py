"""WSGI entry point: ``gunicorn app:app`` (and ``flask --app app …``)."""

import gc
import sys
from pathlib import Path

from onboarding import create_app

# A web server's process leaves out what only commands use (migrations: Alembic, Mako, Pygments);
# ``flask --app app db …`` keeps it.
app = create_app(web=Path(sys.argv[0]).name != "flask")
# What was built so far (modules, the app, its templates) lives as long as the process: freeze it, so
# that the collector's full passes walk only what requests create (a full pass over the ~140k start-up
# objects cost 55-70 ms every ~50 requests), and so that a preloading server's forked workers keep
# sharing those pages instead of copying them when the collector touches them.
gc.collect()
gc.freeze()
