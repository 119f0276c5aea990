"""What the console's pages and APIs share: the language they answer in, the API base, the error schema."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.utils import translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.views import APIView

OBJ = OpenApiTypes.OBJECT
ERRORS = {
    400: OpenApiResponse(description="bad input (message per field)"),
    403: OpenApiResponse(description="not allowed for this user"),
    404: OpenApiResponse(description="no such report"),
}


def chosen_language(request) -> str:
    """The language the user chose (the language cookie), else Bahasa Indonesia; the browser's is not asked."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    return chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def indonesian_default(view):
    """A page in the chosen language (Bahasa Indonesia unless the user chose English)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        lang = chosen_language(request)
        translation.activate(lang)
        request.LANGUAGE_CODE = lang
        response = view(request, *args, **kwargs)
        response.headers.setdefault("Content-Language", lang)
        return response

    return wrapper


class ConsoleAPIView(APIView):
    """The pages' own APIs answer in the pages' language: the user's choice, else Bahasa Indonesia."""

    def initial(self, request, *args, **kwargs):
        lang = chosen_language(request)
        translation.activate(lang)
        request.LANGUAGE_CODE = lang
        super().initial(request, *args, **kwargs)
