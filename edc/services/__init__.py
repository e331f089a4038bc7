"""Use cases: actor first; they check access, record audit events and flush, never commit."""
