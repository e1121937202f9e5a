"""Log lines for people (the default: the seed's lines) or for machines (`LOG_FORMAT=json`: one JSON object per
line, the same events with their fields, for log aggregation).

The core logs each event once, with its fields as the record's `extra` (`user`, `peer`, `call_id`, `outcome`,
`duration_s`); the text format shows the message, the JSON format the message and the fields. Every line says
which process wrote it (`instance`): in text only when there are several processes, in JSON always.

The log tells the truth: `SafeMessages`, a filter on every handler, escapes control characters (CR, LF and the
rest of C0 and C1, the Unicode line and paragraph separators, the bidirectional overrides) in the final message of
every record, whoever logged it (the app, NiceGUI, uvicorn, aioice...), and bounds it to MAX_MESSAGE characters.
Text a stranger chose (a URL path, a field name) cannot start a line of its own nor flood the log. A traceback
stays as Python prints it: it is the record's exception, not its message.
"""

import copy
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal

FIELDS = ('user', 'peer', 'call_id', 'outcome', 'duration_s', 'address', 'member')
MAX_MESSAGE = 2000  # characters of a record's message, after escaping; the rest is cut and counted
_CONTROLS = re.compile(r'[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]')
_NAMED = {'\n': '\\n', '\r': '\\r', '\t': '\\t'}
# uvicorn's access lines are formatted from their arguments by uvicorn's own formatter: those keep their shape
_ARGS_KEPT = ('uvicorn.access',)


def escape_controls(text: str) -> str:
    """`\\n`, `\\r`, `\\t`, `\\u001b`...: one line, and every character in it still shows."""
    return _CONTROLS.sub(lambda found: _NAMED.get(found[0]) or f'\\u{ord(found[0]):04x}', text)


def bounded(text: str, limit: int = MAX_MESSAGE) -> str:
    if len(text) <= limit:
        return text
    return f'{text[:limit]}… [{len(text) - limit} more characters]'


def safe_text(text: str) -> str:
    return bounded(escape_controls(text))


class SafeMessages(logging.Filter):
    """On a handler: every record it writes has its final message escaped and bounded (see the module's doc)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, 'vc_safe', False):  # a record written by several handlers is made safe once
            return True
        try:
            if record.name in _ARGS_KEPT and isinstance(record.args, tuple):
                record.msg = safe_text(str(record.msg))
                record.args = tuple(safe_text(arg) if isinstance(arg, str) else arg for arg in record.args)
            else:
                record.msg, record.args = safe_text(record.getMessage()), ()
        except Exception:  # a record that cannot be formatted: logging reports that as it always does
            return True
        record.vc_safe = True
        return True


def guard(handler: logging.Handler) -> logging.Handler:
    if not any(isinstance(existing, SafeMessages) for existing in handler.filters):
        handler.addFilter(SafeMessages())
    return handler


def guarded_config(config: dict[str, Any]) -> dict[str, Any]:
    """A `logging.config.dictConfig` configuration (uvicorn's) whose every handler has the SafeMessages filter."""
    config = copy.deepcopy(config)
    config.setdefault('filters', {})['vc_safe_messages'] = {'()': SafeMessages}
    for handler in config.get('handlers', {}).values():
        handler['filters'] = [*handler.get('filters', []), 'vc_safe_messages']
    return config


def call_fields(caller: str, callee: str, call_id: str, **more: Any) -> dict[str, Any]:
    """The fields of a line about a call: `user` is the caller, `peer` the callee."""
    return {'user': caller, 'peer': callee, 'call_id': call_id, **more}


class JsonLines(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, instance, message, and its fields."""

    def __init__(self, instance: str) -> None:
        super().__init__()
        self.instance = instance

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            'time': datetime.fromtimestamp(record.created, UTC).isoformat(timespec='milliseconds'),
            'level': record.levelname,
            'logger': record.name,
            'instance': self.instance,
            'message': record.getMessage(),
        }
        line.update({name: getattr(record, name) for name in FIELDS if hasattr(record, name)})
        if record.exc_info:
            line['exception'] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(log_format: Literal['text', 'json'], instance: str, name_the_instance: bool) -> None:
    """INFO and above to stdout, in the chosen format (`name_the_instance`: prefix text lines with it)."""
    handler = guard(logging.StreamHandler(sys.stdout))
    if log_format == 'json':
        handler.setFormatter(JsonLines(instance))
    else:
        handler.setFormatter(logging.Formatter(f'[{instance}] %(message)s' if name_the_instance else '%(message)s'))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
