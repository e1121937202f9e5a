"""Log lines for people (the default: the seed's lines) or for machines (`LOG_FORMAT=json`: one JSON object per
line, the same events with their fields, for log aggregation).

The core logs each event once, with its fields as the record's `extra` (`user`, `peer`, `call_id`, `outcome`,
`duration_s`); the text format shows the message, the JSON format the message and the fields. Every line says
which process wrote it (`instance`): in text only when there are several processes, in JSON always.
"""

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

FIELDS = ('user', 'peer', 'call_id', 'outcome', 'duration_s', 'address')


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
    handler = logging.StreamHandler(sys.stdout)
    if log_format == 'json':
        handler.setFormatter(JsonLines(instance))
    else:
        handler.setFormatter(logging.Formatter(f'[{instance}] %(message)s' if name_the_instance else '%(message)s'))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
