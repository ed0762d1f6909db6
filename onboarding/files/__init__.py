"""Files stored as deduplicated 1 MiB blobs (Sentry's File / FileBlob / FileBlobIndex, spec §1.13).

The blueprint has no routes; it carries the ``onboarding files …`` commands.
"""

from flask import Blueprint

bp = Blueprint("files", __name__, cli_group="files")
bp.cli.help = "Stored files (avatars): clean-up of what nothing uses."

from onboarding.files import commands  # noqa: E402,F401
