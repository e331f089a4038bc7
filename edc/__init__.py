"""The EDC and shared platform: accounts, access, audit, CRF data capture."""
