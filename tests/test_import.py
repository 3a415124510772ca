import subprocess
import sys

HEAVY = ["matplotlib", "numba", "sklearn", "pandas", "scipy", "rich", "torch", "dask", "distributed", "dask_glm",
         "pyarrow", "click", "starlette", "uvicorn", "httpx", "httpx2", "anyio", "playwright"]


def test_import_descend_is_light():
    code = ("import sys, descend; heavy = %r; "
            "print(','.join(m for m in heavy if m in sys.modules))" % HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_touching_ds_data_imports_no_dask_until_a_source_is_made():
    code = ("import sys, descend as ds; ds.data; print('dask' in sys.modules, 'distributed' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
