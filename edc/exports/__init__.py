"""Export builders: pure functions from rows to files (CSV now; ODM and FHIR to come)."""
