"""The C extension and the package list; the rest of the metadata is in pyproject.toml."""

import glob

from setuptools import Extension, find_packages, setup

setup(
    # memifctl lives in tools/ beside the benchmarks but installs under its own
    # name: a top-level "tools" package would collide with anything else so
    # named, and the benchmarks are scripts, not an installed package.
    packages=find_packages(include=["agent", "agent.*", "dataplane", "dataplane.*"]) + ["memifctl"],
    package_dir={"memifctl": "tools/memifctl"},
    ext_modules=[
        Extension(
            "dataplane._memif",
            sources=sorted(glob.glob("dataplane/src/*.c")),
            include_dirs=["dataplane/src"],
            extra_compile_args=[
                "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter",
                "-Wno-missing-field-initializers", "-Wno-cast-function-type",
            ],
            extra_link_args=["-lpthread"],
        )
    ]
)
