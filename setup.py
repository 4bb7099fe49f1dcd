"""The one compiled module: screening's per-character pass (central/_screening_core.pyx).
Everything else is in setup.cfg."""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(ext_modules=cythonize(
    [Extension("central._screening_core", ["central/_screening_core.pyx"])],
    compiler_directives={"language_level": "3"}))
