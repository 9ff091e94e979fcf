"""Operational endpoints: /healthz (open) and /api/v1/sources (admin tokens only)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.access import AdminDep
from api.deps import SessionDep
from api.problems import PROBLEM_RESPONSES
from api.schemas import Health, SourceHealthOut
from models import repository

router = APIRouter(tags=["ops"])


@router.get("/healthz", response_model=Health, summary="Liveness and database reachability",
            responses={503: {"model": Health, "description": "The database is unreachable"}})
def healthz(session: SessionDep):
    if not repository.database_reachable(session):
        return JSONResponse({"status": "degraded", "database": "unreachable"}, status_code=503)
    return Health(status="ok", database="ok")


@router.get("/api/v1/sources", response_model=list[SourceHealthOut], summary="Every source's health (admin)",
            responses=PROBLEM_RESPONSES)
def sources(session: SessionDep, _admin: AdminDep) -> list[SourceHealthOut]:
    return [SourceHealthOut(**row) for row in repository.sources_health(session)]
