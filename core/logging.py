"""Log formatting and redaction.

Secrets must never reach a log: device tokens, passwords and API keys travel in query strings
(the OsmAnd protocol, Open311's api_key) and headers, and Django's request logs print the path.
`RedactSecrets` masks them in every record; `JsonFormatter` gives one JSON object per line for
log shippers (LOG_FORMAT=json).
"""

from __future__ import annotations

import json
import logging
import re

SECRET_KEYS = r"(?:token|password|passwd|pass|secret|api_key|apikey|key|authorization|auth)"
_QUERY = re.compile(rf"(?i)(\b{SECRET_KEYS}=)[^&\s\"']+")
_JSONISH = re.compile(rf"(?i)([\"']{SECRET_KEYS}[\"']\s*:\s*[\"'])[^\"']+")
_BEARER = re.compile(r"(?i)\b(bearer|token|basic)\s+[A-Za-z0-9._~+/=-]{8,}")


def redact(text: str) -> str:
    text = _QUERY.sub(r"\1***", text)
    text = _JSONISH.sub(r"\1***", text)
    return _BEARER.sub(r"\1 ***", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for attr in ("status_code", "request_id", "device_id", "report", "reason"):
            if hasattr(record, attr):
                body[attr] = getattr(record, attr)
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)
