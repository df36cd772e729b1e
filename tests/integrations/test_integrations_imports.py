"""Importing the integrations imports none of the libraries they hook into."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

MODULES = ["sqlalchemy", "django_db", "dbapi", "flask"]


def test_importing_the_integrations_imports_no_optional_package() -> None:
    code = (
        "import sys\n"
        "import perfkit.integrations, perfkit.integrations.sqlalchemy\n"
        "import perfkit.integrations.django_db, perfkit.integrations.dbapi\n"
        "import perfkit.integrations.flask, perfkit.integrations.django\n"
        "loaded = {'sqlalchemy', 'django', 'psycopg', 'pymysql', 'flask', 'werkzeug'}\n"
        "loaded &= set(sys.modules)\n"
        "assert not loaded, loaded\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@pytest.mark.parametrize("name", MODULES)
def test_all_names_resolve(name: str) -> None:
    module = importlib.import_module(f"perfkit.integrations.{name}")
    public = {n for n, v in vars(module).items() if not n.startswith("_") and callable(v)}
    own = {n for n in public if getattr(vars(module)[n], "__module__", None) == module.__name__}
    assert own == set(module.__all__)
