"""The planner in front of graphql-core's executor.

graphql-core builds an executor for every operation once the document is parsed, validated
(both cached per worker) and its variables coerced, then asks it to `execute_operation`.
This executor answers a query the planner covers by running its plan, and leaves every
other operation, or a planned run that was abandoned, to graphql-core from the start.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from functools import lru_cache
from typing import Any

from graphql import ExecutionResult, GraphQLError, GraphQLSchema
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from graph.context import Context
from graph.database_faults import database_fault
from graph.planner.plan import ObjectPlan, PlanCache
from graph.planner.run import Abandoned, run_plan
from models.shielded_session import ShieldedSession
from models.statement_deadline import StatementDeadlinePassed

logger = logging.getLogger("congress.planner")

# A server builds one schema; the test suite builds one per app and must not keep them all.
_SCHEMAS_REMEMBERED = 8


@lru_cache(maxsize=_SCHEMAS_REMEMBERED)
def plan_cache_of(schema: GraphQLSchema) -> PlanCache:
    return PlanCache()


class PlannedExecutor(StrawberryGraphQLCoreExecutionContext):
    def execute_operation(self, serially: bool | None = None) -> Any:
        context = self.context_value
        # An extension that wraps every resolver (a field middleware) must see every field.
        middleware = self.middleware_manager
        if (
            not isinstance(context, Context)
            or not context.settings.planned_reads
            or (middleware is not None and middleware.middlewares)
        ):
            return super().execute_operation(serially)
        plan = plan_cache_of(self.schema).plan_for(
            self.schema, self.operation, self.fragment_definitions, self.variable_values
        )
        if plan is None:
            return super().execute_operation(serially)
        return self._answer_planned(plan, context, serially)

    async def _answer_planned(
        self, plan: ObjectPlan, context: Context, serially: bool | None
    ) -> Any:
        try:
            data = await run_plan(plan, context, self.variable_values)
        except StatementDeadlinePassed:
            # The request's time is up: answering it again from the start would only
            # spend more of a worker that is already slow.
            raise
        except Exception as error:
            if database_fault(error) is not None:
                # The database failed (down, locked, stalled): answering again from the
                # start would wait on it again, a lock's whole bound once more. The request
                # fails as a whole, answered UNAVAILABLE in our words (graph/errors.py).
                return ExecutionResult(None, [GraphQLError(str(error), original_error=error)])
            # graphql-core answers from the start, with its own errors, paths and nulls, on a
            # clean slate: a failed statement aborts a PostgreSQL transaction, and the
            # loaders would hand back what the abandoned run cached. The run only read.
            if isinstance(error, GraphQLError | Abandoned):
                logger.debug("planned run abandoned: %r", error)
            else:
                # Not a client's mistake: a bug in a planned read (which would double the
                # cost of every such query): worth seeing.
                logger.warning("planned run abandoned: %r", error)
            session = context.session
            if isinstance(session, ShieldedSession):
                await session.settle()
            await session.rollback()
            # graphql-core runs root fields concurrently: the session must hold its
            # connection before they start, as it does after authentication.
            await context.session.connection()
            context.reset_loaders()
            result = super().execute_operation(serially)
            if isinstance(result, Awaitable):
                return await result
            return result
        return ExecutionResult(data, None)
