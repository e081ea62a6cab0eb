"""Reading one resource of a practice for the API."""

from __future__ import annotations

from typing import TypeVar

import sqlalchemy as sa
from fastapi import Request
from pydantic import BaseModel

from openrcm_shared.http.problems import Problem

Model = TypeVar("Model", bound=BaseModel)


async def get_or_404(request: Request, model: type[Model], table: sa.Table, tenant_id: str, *, title: str,
                     **keys) -> Model:
    """The row of `table` with these key values in this practice, as `model`; 404 otherwise.

    The practice is always part of the lookup, so one practice can never read another's rows.
    """
    query = sa.select(*[table.c[name] for name in model.model_fields]).where(table.c.tenant_id == tenant_id)
    for column, value in keys.items():
        query = query.where(table.c[column] == value)
    async with request.app.state.runtime.engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        raise Problem(404, title, type_="not-found")
    return model(**row._mapping)
