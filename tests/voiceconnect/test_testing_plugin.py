"""The harness's pytest plugin, as a project testing its own extension loads it (README, "Test your extension"):
by its name `voiceconnect.testing.plugin`, or by its first name `voiceconnect.testing.harness`."""

import subprocess
import sys
from pathlib import Path

import pytest

from voiceconnect.testing.servers import clean_environment

FIXTURES = ('vc_server', 'vc_settings', 'people', 'redis_server', 'redis_url', 'playwright_sync')


@pytest.mark.parametrize('plugin', ['voiceconnect.testing.plugin', 'voiceconnect.testing.harness'])
def test_a_project_of_its_own_gets_the_fixtures_by_either_name(tmp_path: Path, plugin: str) -> None:
    (tmp_path / 'conftest.py').write_text(f'pytest_plugins = [{plugin!r}]\n')
    (tmp_path / 'test_extension.py').write_text('def test_settings(vc_settings):\n    assert vc_settings == {}\n')
    env = {k: v for k, v in clean_environment().items() if not k.startswith('PYTEST')}
    run = [sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider', str(tmp_path)]
    listed = subprocess.run([*run, '--fixtures'], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    for fixture in FIXTURES:
        assert f'\n{fixture} -- ' in listed.stdout or f'\n{fixture} [' in listed.stdout, fixture
    tested = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert tested.returncode == 0 and '1 passed' in tested.stdout, tested.stdout + tested.stderr
