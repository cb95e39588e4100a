"""Queue names, in one place."""

ISSUANCE_QUEUE = "tra-issuance"
