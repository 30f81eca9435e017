"""The generator: reads the Losant API description and writes ``losant_async/_generated``.

Not imported at runtime. Run ``python -m codegen`` to regenerate, ``--check`` to prove the
committed output is current.
"""
