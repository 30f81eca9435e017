"""The generator: reads the API description in ``codegen/losant-api`` and writes
``losant_async/_generated``.

Not imported at runtime. Run ``python -m codegen`` to regenerate, ``--check`` to prove the
committed output is current. The modules, in the order the data flows:

- ``spec``: reads the description, mending the few schema files that are not valid;
- ``models``: JSON Schema -> msgspec Struct definitions and type aliases, each nested
  type named for where it lives (the naming rule is in its docstring);
- ``actions``: apiInfo.json -> a view of each resource, action and parameter (Python
  names, annotations, defaults, encodings, docstring text);
- ``templates``: the source of each generated module, with fixed import lists;
- ``serverdata``: the compact routes and schemas the local server serves (``api.json``);
- ``__main__``: writes everything to a fresh folder, runs ``ruff check --fix`` and
  ``ruff format`` on it, then replaces ``_generated`` or, with ``--check``, compares.
"""

# Raised whenever a change to the generator changes what it writes.
__version__ = "3"
