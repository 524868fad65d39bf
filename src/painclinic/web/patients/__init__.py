"""Patient registry: demographics, weights, consents, and the patient portal's own-record pages."""
