"""Only the C extension lives here; metadata is in pyproject.toml."""

import glob

from setuptools import Extension, setup

setup(
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
