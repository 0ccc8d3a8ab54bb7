"""Build the Cython kernels of jem._core. Compiler directives are set here and nowhere else.

JEM_CYTHON_DEBUG=1 turns every runtime check on (bounds, wraparound,
initialization, Python division semantics) for the kernel tests.
"""

import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

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



class ParallelBuildExt(build_ext):
    """build_ext that compiles the kernels side by side on every core unless told otherwise
    (`-j N`): setuptools compiles one extension after another by default, and every install,
    CI's debug build and the multi-user test's venv pay for the kernels' C compile."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1


CORES = os.cpu_count() or 1
setup(ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES, force=DEBUG, nthreads=CORES),
      cmdclass={"build_ext": ParallelBuildExt})
