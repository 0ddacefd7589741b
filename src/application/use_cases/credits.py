"""GetBalance and GrantCredits: reading and topping up an account's ledger."""

from __future__ import annotations

from application.conflicts import retry_on_conflict
from application.errors import NotFound
from application.ports import Clock, UnitOfWorkFactory
from domain.credits import Balance
from domain.errors import InvalidRequest
from domain.limits import MAX_BALANCE, MAX_GRANT


class GetBalance:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, user_id: str, *, require_user: bool = False) -> Balance:
        """The balance (zero for an unknown account, or NotFound with `require_user`)."""
        async with self._uow() as uow:
            if require_user and await uow.users.get(user_id) is None:
                raise NotFound("user", user_id)
            return (await uow.ledgers.load(user_id)).balance


class GrantCredits:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, user_id: str, amount: int, reason: str = "grant", *,
                       require_user: bool = False) -> Balance:
        """Add `amount` (> 0) credits; raise InvalidRequest on the `amount` field otherwise.

        With `require_user`, raise NotFound for a user that does not exist (the CLI's default).
        """
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise InvalidRequest("amount", "must be a positive whole number of credits")
        if amount > MAX_GRANT:
            raise InvalidRequest("amount", f"at most {MAX_GRANT} credits in one grant")

        async def attempt() -> Balance:
            async with self._uow() as uow:
                if require_user and await uow.users.get(user_id) is None:
                    raise NotFound("user", user_id)
                await uow.lock_account(user_id)
                ledger = await uow.ledgers.load(user_id)
                if ledger.balance.available + ledger.balance.reserved + amount > MAX_BALANCE:
                    raise InvalidRequest("amount", f"a balance may not exceed {MAX_BALANCE} credits")
                ledger.grant(amount, now=self._clock.now(), reason=reason)
                await uow.ledgers.append(ledger)
                await uow.commit()
            return ledger.balance

        return await retry_on_conflict(attempt)
