"""The installed Ion library is the fast one the archive path is built on."""

from __future__ import annotations

from importlib.metadata import version

from amazon.ion import simpleion


def test_amazon_ion_uses_its_c_extension() -> None:
    # Without it, parsing is 20-60x slower (QLDB-FORMATS.md): a broken install, not a detail.
    assert simpleion.c_ext, "amazon-ion's C extension did not load; reinstall amazon-ion>=0.15 from a wheel"
    assert int(version("amazon-ion").split(".")[1]) >= 15
