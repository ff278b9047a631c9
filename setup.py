"""The one C extension, ``parley.gateway._sender`` (the gateway's socket writes on a
thread without the GIL, see ``gateway/outbound.py``); everything else is in
pyproject.toml. Optional: where it cannot be compiled the install goes on and the
gateway writes from the event loop."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "parley.gateway._sender",
            ["src/parley/gateway/_sender.c"],
            extra_compile_args=["-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        )
    ]
)
