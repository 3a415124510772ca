import subprocess
import sys

HEAVY = ["matplotlib", "numba", "sklearn", "pandas", "scipy", "rich", "torch", "dask", "pyarrow", "click",
         "starlette", "uvicorn", "httpx", "httpx2", "anyio", "playwright"]


def test_import_descend_is_light():
    code = ("import sys, descend; heavy = %r; "
            "print(','.join(m for m in heavy if m in sys.modules))" % HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
