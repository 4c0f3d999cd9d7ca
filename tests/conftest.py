import os
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (CI=true) nothing may skip but tests marked ``hardware``: CI installs every reference
    library, tool and data file the tests use."""
    outcome = yield
    report = outcome.get_result()
    machine_bound = item.get_closest_marker("hardware") is not None
    if (
        os.environ.get("CI")
        and report.skipped
        and not machine_bound
        and not hasattr(report, "wasxfail")
    ):
        report.outcome = "failed"
        report.longrepr = (
            f"test skipped in CI, where everything it needs is installed: {report.longrepr}"
        )


#: the real MNIST / Fashion-MNIST files beside the repository (``../shared/data``)
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The shared data folder with the real MNIST files (skips where it is missing)."""
    if not (SHARED_DATA / "mnist").is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA
