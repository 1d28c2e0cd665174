"""Shim so that `pip install -e .` works; the project metadata lives in pyproject.toml."""
from setuptools import setup

setup()
