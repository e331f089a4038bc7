"""E-consent: consent documents and country rules, signing sessions (in clinic, later remote),
signatures, the sealed PDF copy and withdrawal. It imports `edc` (access, audit, context,
subjects); `edc` never imports it, and learns a consent's outcome only through
`edc.services.consent_scope`."""
