import subprocess
import sys

HEAVY = ["matplotlib", "numba", "sklearn", "pandas", "scipy", "rich", "torch", "dask", "distributed", "dask_glm",
         "pyarrow", "click", "starlette", "uvicorn", "httpx", "httpx2", "anyio", "playwright", "sqlite3", "tensorboardX",
         "tensorboard"]


def test_import_descend_is_light():
    code = ("import sys, descend; heavy = %r; "
            "print(','.join(m for m in heavy if m in sys.modules))" % HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_touching_ds_data_imports_no_dask_until_a_source_is_made():
    code = ("import sys, descend as ds; ds.data; print('dask' in sys.modules, 'distributed' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_the_run_store_loads_on_first_use_without_its_exporters():
    code = ("import sys, descend; store = descend.runs.Store('x'); "
            "print(type(store).__module__, ','.join(m for m in %r if m in sys.modules))"
            % ["matplotlib", "tensorboardX", "tensorboard", "pandas", "click", "numba"])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["descend.runs.store"]


def test_descend_data_is_light_until_a_file_is_opened():
    """``ds.data`` and its sources load neither pyarrow, pandas nor numba until a file is opened."""
    code = ("import sys, descend; descend.data.parquet, descend.data.csv, descend.data.arrays; "
            "import descend.data.engine, descend.data.sources; "
            "print(','.join(m for m in ('pyarrow', 'pandas', 'numba', 'dask') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
