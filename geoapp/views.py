"""Project-level views: the health check used by load balancers and `make faults`."""

from django.db import DatabaseError, connection
from django.http import JsonResponse


def health(request):
    """200 when the database answers and boundaries are loaded; 503 otherwise (with why)."""
    body = {"status": "ok"}
    try:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT postgis_lib_version(), (SELECT count(*) FROM kecamatan_boundaries_kecamatan k "
                "JOIN kecamatan_boundaries_generation g ON g.id = k.generation_id AND g.active)"
            )
            postgis, kecamatan = cur.fetchone()
        body.update(database="ok", postgis=postgis, kecamatan=kecamatan)
        if not kecamatan:
            body.update(status="degraded", reason="no kecamatan boundaries loaded")
            return JsonResponse(body, status=503)
    except DatabaseError as exc:
        body.update(status="unavailable", database="down", reason=str(exc).splitlines()[0][:200])
        return JsonResponse(body, status=503)
    return JsonResponse(body)
