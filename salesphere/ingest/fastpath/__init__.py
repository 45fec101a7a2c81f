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
"""
