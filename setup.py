"""Build the Cython kernels of jem._core, and jem_slurm's compiled launcher. Compiler directives are set
here and nowhere else.

JEM_CYTHON_DEBUG=1 turns every runtime check on (bounds, wraparound,
initialization, Python division semantics) for the kernel tests.
"""

import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from distutils.command.build_scripts import build_scripts  # noqa: E402 (setuptools' distutils: import it first)

LAUNCHER = "jem-launch"
LAUNCHER_SOURCE = "slurm-compat/jem_slurm/launch.c"
KERNELS = ["fit", "backfill", "replay", "records", "fairtree", "wire", "jsonrows"]
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

    def run(self):
        super().run()
        self.build_launcher()

    def launcher_path(self) -> str:
        if self.inplace:
            return os.path.join(self.get_finalized_command("build_py").get_package_dir("jem_slurm"), LAUNCHER)
        return os.path.join(self.build_lib, "jem_slurm", LAUNCHER)

    def build_launcher(self):
        """jem_slurm/jem-launch, the wrappers' interpreter (slurm-compat/jem_slurm/launch.c): an executable,
        not an extension, compiled and linked with the compiler that builds the kernels."""
        target = self.launcher_path()
        os.makedirs(os.path.dirname(target), exist_ok=True)
        objects = self.compiler.compile([LAUNCHER_SOURCE], output_dir=self.build_temp, extra_postargs=["-O2"])
        self.compiler.link_executable(objects, LAUNCHER, output_dir=os.path.dirname(target))
        os.chmod(target, 0o755)

    def get_outputs(self):
        return [*super().get_outputs(), self.launcher_path()]


class BuildScripts(build_scripts):
    """The scripts (bin/jem-python, the Python `jem`), and beside them the installed `jem`: the compiled
    launcher again, under that name (launch.c: named `jem`, it hands a served call to the user's command
    server by itself and runs jem-python for the rest). Copied as it is: pip rewrites only `#!python`."""

    def run(self):
        super().run()
        self.run_command("build_ext")
        target = os.path.join(self.build_dir, "jem")
        self.copy_file(self.get_finalized_command("build_ext").launcher_path(), target)
        os.chmod(target, 0o755)


CORES = os.cpu_count() or 1
setup(ext_modules=cythonize(extensions, compiler_directives=DIRECTIVES, force=DEBUG, nthreads=CORES),
      cmdclass={"build_ext": ParallelBuildExt, "build_scripts": BuildScripts},
      scripts=["bin/jem-python"])   # (and `jem`, see BuildScripts; not console-script entry points)
