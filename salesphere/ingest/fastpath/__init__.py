"""Fast paths into the canonical event: the same answers as the rule, sooner.

The rule is in plain view elsewhere: a source layout (:mod:`salesphere.ingest.mapping`,
the YAML files), interpreted record by record by :class:`salesphere.ingest.mapper.Mapper`,
and judged by the model (:func:`salesphere.ingest.validate.validate`, pydantic's
:func:`salesphere.model.finalize`). Ingest is CPU-bound on one vCPU, so three shortcuts
run first for clean records:

- :mod:`.compiled` binds a mapping's fields to closures once (the mapper's clean-record
  engine);
- :mod:`.row` builds a clean draft's warehouse row without pydantic;
- :mod:`.kernel` fuses mapping and validation for the commonest layouts (one sale or
  return per record, plain columns).

Their only contract is "same result, faster": each returns exactly what the rule path
would, or ``None`` ("not sure"), and then the rule path decides and names the problems.
None of them may ever reject. The equivalence tests (``tests/**/test_*fused*``,
``test_*validate*``, the mapping tests) feed both paths the same mixed records and compare.

Why the functions here are long: ``kernel.compile_kernel``'s inner ``run``,
``row.fast_row`` and ``compiled.Compiled._compile`` are per-record inner loops, run once
per row of files of 10^5 rows and more. In CPython every call, attribute lookup and
global read in them is paid per row; they read the model's limits and the layout's
bindings as closure locals and check each field inline, which is what makes them faster
than the rule path at all (the ``ingest-files`` and ``ingest-http`` benchmarks time both).
Splitting them into helpers would turn those checks back into calls. They are written to
be checked, not read: the readable statement of each rule is the mapper and the model,
and the equivalence tests hold these functions to it.
"""
