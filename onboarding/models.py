"""Imports every model module, so that metadata (migrations) and the buffer's table lookup see them all."""

from onboarding import buffer  # noqa: F401
from onboarding.accounts import models as accounts  # noqa: F401
from onboarding.audit import models as audit  # noqa: F401
from onboarding.avatars import models as avatars  # noqa: F401
from onboarding.files import models as files  # noqa: F401
from onboarding.invitelinks import models as invitelinks  # noqa: F401
from onboarding.invites import models as invites  # noqa: F401
from onboarding.ops import models as ops  # noqa: F401
from onboarding.orgs import models as orgs  # noqa: F401
from onboarding.orgs import onboarding_tasks, options  # noqa: F401
from onboarding.outbox import models as outbox  # noqa: F401
from onboarding.passkeys import models as passkeys  # noqa: F401
from onboarding.selfservice import models as selfservice  # noqa: F401
from onboarding.setup import models as setup  # noqa: F401
from onboarding.tokens import models as tokens  # noqa: F401
from onboarding.twofactor import models as twofactor  # noqa: F401
from onboarding.webhooks import models as webhooks  # noqa: F401
