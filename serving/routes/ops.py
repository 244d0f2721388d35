"""Operations routes: liveness, readiness, what is served, metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from notecheck.model.schema import CLASSIFIER_LABELS, VERDICTS
from notecheck.serving.deps import PROTECTED, ClassifierDep, MetricsDep, ModelStateDep, SettingsDep
from notecheck.serving.metrics import CONTENT_TYPE
from notecheck.serving.routes.schemas import HealthPublic, InfoPublic, LimitsPublic, ThresholdsPublic, error_responses

router = APIRouter()
_unavailable: dict[int | str, dict[str, Any]] = {
    503: {"model": HealthPublic, "description": "model loading, failed or stopping"}
}


@router.get("/healthz", response_model=HealthPublic, tags=["ops"])
async def healthz() -> HealthPublic:
    """The process answers (it may still be loading the model: see /readyz)."""
    return HealthPublic(status="alive")


@router.get("/readyz", response_model=HealthPublic, responses=_unavailable, tags=["ops"])
async def readyz(state: ModelStateDep) -> HealthPublic | JSONResponse:
    """200 once the model is loaded and a warm-up prediction has run; 503 before, or if loading failed."""
    if state.status == "ready" and state.classifier is not None:
        return HealthPublic(status="ready", model_version=state.classifier.metadata.version)
    body = HealthPublic(status=state.status, detail=state.error)
    return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": "1"})


@router.get(
    "/v1/info",
    response_model=InfoPublic,
    dependencies=PROTECTED,
    responses=error_responses(401, 503),
    tags=["predict"],
)
async def info(model: ClassifierDep, settings: SettingsDep) -> InfoPublic:
    """The model being served (version, base model, labels, thresholds, calibration) and the API limits."""
    meta = model.metadata
    return InfoPublic(
        model_version=meta.version,
        base_model=meta.base_model,
        backend=meta.backend,
        labels=list(CLASSIFIER_LABELS),
        verdicts=list(VERDICTS),
        thresholds=ThresholdsPublic(**vars(meta.thresholds)),
        temperature=meta.temperature,
        max_length=meta.max_length,
        runtime=getattr(getattr(model, "scorer", None), "runtime", settings.runtime),  # `auto` resolved
        limits=LimitsPublic(
            max_notes_per_request=settings.max_notes_per_request,
            max_note_chars=settings.max_note_chars,
            max_body_bytes=settings.max_body_bytes,
        ),
    )


@router.get("/metrics", dependencies=PROTECTED, include_in_schema=False)
async def metrics(m: MetricsDep) -> Response:
    """Prometheus text format."""
    return Response(m.render(), media_type=CONTENT_TYPE)
