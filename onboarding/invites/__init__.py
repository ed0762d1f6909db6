"""The invite journey in one home, by stage (see :mod:`onboarding.invites.service`).

The pages live in :mod:`onboarding.invites.views` (its blueprint ``bp``); importing this package does
not import them, so the journey's rules and its session detour can be used by any feature.
"""
