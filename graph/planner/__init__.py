"""Planned reads: a query over the tree answered level by level, without per-field resolution.

graphql-core resolves a query one field of one object at a time: for every object of a
page it builds a resolve info, calls a resolver through strawberry's wrappers and completes
the value by its type, about 0.2 ms of Python per object. A planned read does that work
once per *field of the query* instead:

- `plan.py` turns an operation (with its fragments and the values of the variables that
  `@include`/`@skip` read) into a tree of `FieldPlan`s, once per worker: each field is
  read from its object (a plain attribute, or a method without arguments), or loaded for
  all objects of its level at once by the function its schema field names in its
  metadata (`fields.planned`), with that field's arguments;
- `run.py` walks that tree level by level: one call of each loading function per level
  (one statement, through the request's DataLoaders and `permissions/`), then every value
  of the level is completed in one pass over plain Python objects;
- `sql.py` goes further for tree pages: a `children(...)` (or a root `committee`) whose
  selection is columns, congresses and nested children is built as JSON by one statement;
- `executor.py` puts the planner in front of graphql-core: a query the planner covers is
  answered by it, anything else (mutations, introspection, a field without a plan) by
  graphql-core as before.

The planner never reports an error itself. A document whose directives graphql-core
would report on a field is not planned; a value it cannot complete exactly as
graphql-core would (an exception from a loading function, a null where the type forbids
one, a value its type refuses) abandons the planned run, and graphql-core answers the
query from the start with its own errors and paths; both read through the same functions,
so both give the same answer (tests/test_planned_reads.py compares them).
"""
