"""Build the Cython kernels of jem._core. Compiler directives are set here and nowhere else.

JEM_CYTHON_DEBUG=1 turns every runtime check on (bounds, wraparound,
initialization, Python division semantics) for the kernel tests.
"""

import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

KERNELS = ["fit", "backfill", "replay", "records", "fairtree"]
DEBUG = os.environ.get("JEM_CYTHON_DEBUG") == "1"

DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
}

extensions = [
    Extension(
        f"jem._core.{name}",
        [f"jem/_core/{name}.pyx"],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for name in KERNELS
]

setup(ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES, force=DEBUG))
