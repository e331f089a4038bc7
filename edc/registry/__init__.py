"""The registry push: FHIR R4 payloads, linkage tokens, outbox and worker."""
