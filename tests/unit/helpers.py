from __future__ import annotations

import json
from typing import Any, Callable

import pytest
from ansible.module_utils.testing import patch_module_args


def run_module(main: Callable[[], None], args: dict[str, Any], capsys: pytest.CaptureFixture) -> tuple[int, dict[str, Any]]:
    """Run a module's main() with these arguments; return its exit code and JSON result."""
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exited:
            main()
    return exited.value.code, json.loads(capsys.readouterr().out)
