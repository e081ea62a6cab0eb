"""Authentication, authorization and the acting principal (see context.py, tokens.py, dependencies.py)."""
