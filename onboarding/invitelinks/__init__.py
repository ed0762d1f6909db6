"""Shareable invite links: ``/organizations/<slug>/invite-links/`` for managers, ``/join/<token>/`` for
everyone the link is shared with. The blueprint is :data:`onboarding.invitelinks.views.bp`; importing this
package imports nothing else, so any feature may use its session and service modules."""
