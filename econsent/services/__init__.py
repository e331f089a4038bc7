"""E-consent use cases: ctx first, access checked, every step audited; no Flask."""
