"""The transactional outbox (spec §1.9): signals and emails written with the change, delivered by jobs."""
