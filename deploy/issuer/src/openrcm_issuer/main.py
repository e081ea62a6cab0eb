"""`uvicorn openrcm_issuer.main:app`: the issuer with its settings from the environment."""

from openrcm_issuer.app import create_app

app = create_app()
