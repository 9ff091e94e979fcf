"""POST /api/v1/tag: tag a text a qualifying tool supplies against the prospect list."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.access import ViewerDep
from api.deps import SessionDep, SettingsDep
from api.problems import BAD_REQUEST, PROBLEM_RESPONSES
from api.routes.items import viewer_scope
from api.schemas import MentionOut, SignalOut, TagIn, TagOut

router = APIRouter(prefix="/api/v1", tags=["tagging"], responses={**PROBLEM_RESPONSES, **BAD_REQUEST})


@router.post("/tag", response_model=TagOut,
             summary="Which prospects a text is about and which trigger events it reports")
def tag_text(body: TagIn, request: Request, session: SessionDep, settings: SettingsDep,
             viewer: ViewerDep) -> TagOut:
    # The current settings: a reloaded config's `signals:` overrides reach the tagger too.
    result = request.app.state.tagger.tag(session, body.title, body.text, body.url, settings)
    scope = viewer_scope(session, viewer)
    visible = None if scope is None else set(scope)

    def shown(prospect_id: str | None) -> bool:
        return visible is None or prospect_id is None or prospect_id in visible

    return TagOut(id=body.id,
                  mentions=[MentionOut(prospect=m.prospect_id, score=m.score, evidence=list(m.evidence))
                            for m in result.mentions if shown(m.prospect_id)],
                  signals=[SignalOut(type=s.type, score=s.score, prospect=s.prospect_id, role=s.role,
                                     evidence=list(s.evidence)) for s in result.signals if shown(s.prospect_id)])
