"""FHIR R4 at the claims service's edge: a Claim (alone or in a Bundle) read into the encounter the
JSON intake takes, and a stored claim shown as a FHIR Claim and ClaimResponse. Validated with the
`fhir.resources` package's R4B models (R4B changed nothing in Claim, ClaimResponse, Coverage,
Patient, Organization, Practitioner or Bundle that this mapping reads)."""
