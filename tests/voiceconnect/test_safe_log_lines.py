"""The log tells the truth: every handler escapes control characters in a record's final message and bounds it,
whichever logger wrote it, in text and in JSON; a traceback stays as Python prints it (tests/security/test_misc.py
does the same against the running app)."""

import io
import json
import logging
import logging.config

import pytest
import uvicorn.config

from voiceconnect.logs import MAX_MESSAGE, JsonLines, SafeMessages, escape_controls, guard, guarded_config

FORGED = '📴 Call ended: 45s (alice → bob, completed)'


def written(formatter: logging.Formatter, logger: str, message: str, *args: object, **kwargs: object) -> str:
    """What a guarded handler with `formatter` writes for one record of `logger`."""
    stream = io.StringIO()
    handler = guard(logging.StreamHandler(stream))
    handler.setFormatter(formatter)
    log = logging.getLogger(logger)
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning(message, *args, **kwargs)  # type: ignore[arg-type]
    finally:
        log.removeHandler(handler)
        log.propagate = True
    return stream.getvalue()


@pytest.mark.parametrize('brk', ['\n', '\r', '\r\n', '\x0b', '\x0c', '\x1c', '\x85', '\u2028', '\u2029', '\x1b[2K'])
@pytest.mark.parametrize('logger', ['nicegui', 'uvicorn.error', 'aioice.ice', 'voiceconnect'])
def test_no_line_break_of_any_kind_reaches_the_log_from_any_logger(logger: str, brk: str) -> None:
    line = written(logging.Formatter('%(message)s'), logger, '%s not found', f'http://x/api/x{brk}{FORGED}')
    assert line.count('\n') == 1 and len(line.splitlines()) == 1, repr(line)
    assert line.endswith(' not found\n') and FORGED in line


def test_the_escapes_show_what_was_there() -> None:
    assert escape_controls('a\nb\rc\td\x1b[31me\u2028f\x00') == 'a\\nb\\rc\\td\\u001b[31me\\u2028f\\u0000'
    assert escape_controls('👤 User connected: alice → bob') == '👤 User connected: alice → bob'


def test_a_long_message_is_cut_and_says_how_much_was_left_out() -> None:
    line = written(logging.Formatter('%(message)s'), 'nicegui', 'GET %s', 'A' * 100_000).rstrip('\n')
    assert len(line) <= MAX_MESSAGE + 40
    assert line.endswith(f'… [{len("GET ") + 100_000 - MAX_MESSAGE} more characters]')


def test_json_lines_are_bounded_and_each_one_json_object() -> None:
    line = written(JsonLines('vc-1'), 'nicegui', '%s not found', f'x\u2028{FORGED}' + 'A' * 10_000)
    assert len(line.splitlines()) == 1
    message = json.loads(line)['message']
    assert message.startswith('x\\u2028📴 Call ended') and len(message) <= MAX_MESSAGE + 40


def test_a_traceback_stays_as_python_prints_it() -> None:
    try:
        raise ValueError('a real bug')
    except ValueError:
        line = written(logging.Formatter('%(message)s'), 'voiceconnect', 'could not record a call', exc_info=True)
    first, *rest = line.splitlines()
    assert first == 'could not record a call'
    assert rest[0] == 'Traceback (most recent call last):' and rest[-1] == 'ValueError: a real bug'
    assert any(part.startswith('  File ') for part in rest)


def test_uvicorns_own_handlers_get_the_filter_and_its_access_lines_keep_their_shape() -> None:
    config = guarded_config(uvicorn.config.LOGGING_CONFIG)
    assert 'filters' not in uvicorn.config.LOGGING_CONFIG['handlers']['default']  # a copy: uvicorn's is untouched
    stream = io.StringIO()
    config['handlers']['access']['stream'] = stream
    loggers = [logging.getLogger(name) for name in ('uvicorn', 'uvicorn.error', 'uvicorn.access')]
    before = [(log.handlers[:], log.level, log.propagate) for log in loggers]
    try:
        logging.config.dictConfig(config)
        for name in ('uvicorn', 'uvicorn.access'):
            (handler,) = logging.getLogger(name).handlers
            assert any(isinstance(f, SafeMessages) for f in handler.filters), name
        access = logging.getLogger('uvicorn.access')
        access.info('%s - "%s %s HTTP/%s" %d', '127.0.0.1:5000', 'GET', f'/x\n{FORGED}', '1.1', 404)
    finally:
        for log, (handlers, level, propagate) in zip(loggers, before, strict=True):
            log.handlers, log.propagate = handlers, propagate
            log.setLevel(level)
    line = stream.getvalue()
    assert len(line.splitlines()) == 1 and '"GET /x\\n📴 Call ended' in line and line.rstrip().endswith('404 Not Found')
