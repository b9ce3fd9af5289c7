"""Cluster-wide budgets of what kitsync asks of each server it talks to.

At most ``limit`` requests are in flight to AYON (and, separately, to Kitsu) from every kitsync
process together, so adding farm nodes speeds kitsync up to what the servers can take and no
further. A slot is held for one request; a process that dies while holding slots loses them when
their lease runs out. A 429 or 503 answer with ``Retry-After`` pauses the whole cluster.

``Budget`` is the contract; ``RedisBudget`` shares it through the queue's Redis, ``LocalBudget``
keeps it in one process (``kitsync run`` without Redis). ``BudgetTransport`` puts a budget under
an ``httpx.AsyncClient``, so every request of that client, whoever makes it, is counted.
"""

from kitsync.budget._budget import Budget, BudgetTimeout, BudgetUsage, LocalBudget
from kitsync.budget._redis import RedisBudget
from kitsync.budget._servers import Budgets, open_budgets, redis_budgets
from kitsync.budget._transport import BudgetTransport, budgeted_transport, retry_after

__all__ = [
    "Budget",
    "BudgetTimeout",
    "BudgetTransport",
    "BudgetUsage",
    "Budgets",
    "LocalBudget",
    "RedisBudget",
    "budgeted_transport",
    "open_budgets",
    "redis_budgets",
    "retry_after",
]
